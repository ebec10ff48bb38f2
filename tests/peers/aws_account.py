#!/usr/bin/env python3
"""An AWS account for `smtpscope aws diagnose` to read, served by moto on loopback.

moto (pinned in requirements.txt) is an independent implementation of the AWS APIs, so
smtpscope's SDK calls are tested against answers we did not write. This helper starts
moto's server in-process on 127.0.0.1 (port 0 = any free port), builds the account described
by a JSON file with boto3 through that server, and then serves until SIGTERM/SIGINT or until
standard input closes.

Account file (every part optional):
    {"region": "us-east-1",
     "verified_emails": ["app@example.com"], "verified_domains": ["example.com"],
     "managed_policies": {"NAME": {policy document}},
     "groups": {"NAME": {"inline": {"NAME": {document}}, "attached": ["MANAGED NAME"]}},
     "users": {"NAME": {"inline": {"NAME": {document}}, "attached": ["MANAGED NAME"],
                        "groups": ["NAME"], "boundary": "MANAGED NAME",
                        "keys": ["Active", "Inactive"]}}}

Start-up contract: prints exactly two lines to stdout, then nothing else:
    KEYS {"USER": ["AKIA...", ...], ...}     (access key IDs, in the order of "keys")
    READY <port>
Secret access keys are never printed.

moto 5.2.5 implements permissions boundaries for roles only. `PutUserPermissionsBoundary`
and the user's `PermissionsBoundary` in `GetUser` are added below the way moto does them for
roles, so a test can give a user a boundary; everything else is moto's own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import boto3
from moto.core.responses import EmptyResult
from moto.core.serialize import return_if_not_empty
from moto.iam import models as iam_models
from moto.iam import responses as iam_responses
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

ACCOUNT = "123456789012"


def add_user_permissions_boundary() -> None:
    """PutUserPermissionsBoundary and GetUser's PermissionsBoundary, as moto has for roles."""

    def backend_put(self, user_name: str, permissions_boundary: str) -> None:
        self.get_user(user_name).permissions_boundary_arn = permissions_boundary

    def boundary(self):
        arn = getattr(self, "permissions_boundary_arn", None)
        if arn:
            return {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": arn,
            }
        return None

    def response_put(self):
        self.backend.put_user_permissions_boundary(
            self._get_param("UserName"), self._get_param("PermissionsBoundary")
        )
        return EmptyResult()

    iam_models.IAMBackend.put_user_permissions_boundary = backend_put
    iam_models.User.permissions_boundary = property(boundary)
    iam_responses.IamResponse.put_user_permissions_boundary = response_put
    iam_responses.IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER[
        "GetUserResponse.User.PermissionsBoundary"
    ] = return_if_not_empty


def build(endpoint: str, spec: dict) -> dict[str, list[str]]:
    region = spec.get("region", "us-east-1")
    session = boto3.session.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name=region,
    )
    iam = session.client("iam", endpoint_url=endpoint)
    ses = session.client("ses", endpoint_url=endpoint)
    arns = {}
    for name, document in spec.get("managed_policies", {}).items():
        arns[name] = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))[
            "Policy"
        ]["Arn"]
    for name, group in spec.get("groups", {}).items():
        iam.create_group(GroupName=name)
        for pname, document in group.get("inline", {}).items():
            iam.put_group_policy(
                GroupName=name, PolicyName=pname, PolicyDocument=json.dumps(document)
            )
        for pname in group.get("attached", []):
            iam.attach_group_policy(GroupName=name, PolicyArn=arns[pname])
    keys: dict[str, list[str]] = {}
    for name, user in spec.get("users", {}).items():
        iam.create_user(UserName=name)
        for pname, document in user.get("inline", {}).items():
            iam.put_user_policy(UserName=name, PolicyName=pname, PolicyDocument=json.dumps(document))
        for pname in user.get("attached", []):
            iam.attach_user_policy(UserName=name, PolicyArn=arns[pname])
        for group in user.get("groups", []):
            iam.add_user_to_group(GroupName=group, UserName=name)
        if "boundary" in user:
            iam.put_user_permissions_boundary(
                UserName=name, PermissionsBoundary=arns[user["boundary"]]
            )
        keys[name] = []
        for status in user.get("keys", ["Active"]):
            key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            if status != "Active":
                iam.update_access_key(UserName=name, AccessKeyId=key, Status=status)
            keys[name].append(key)
    for address in spec.get("verified_emails", []):
        ses.verify_email_identity(EmailAddress=address)
    for domain in spec.get("verified_domains", []):
        ses.verify_domain_identity(Domain=domain)
    return keys


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: aws_account.py ACCOUNT.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    add_user_permissions_boundary()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    keys = build(f"http://{host}:{port}", spec)
    print("KEYS " + json.dumps(keys), flush=True)
    print(f"READY {port}", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    # The test holds our stdin; when it goes away (even by a crash), so do we.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    sys.exit(main())
