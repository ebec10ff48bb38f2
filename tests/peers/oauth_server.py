#!/usr/bin/env python3
"""A mock OAuth 2.0 authorization server for the `smtpscope oauth` tests (stdlib only).

It listens on 127.0.0.1 only and implements:

* the device authorization endpoint (RFC 8628 section 3.1): any path ending in ``/devicecode``;
* the token endpoint (RFC 6749, RFC 8628 section 3.4): any path ending in ``/token``, with
  - ``urn:ietf:params:oauth:grant-type:device_code``: ``authorization_pending`` on the first
    poll, ``slow_down`` on the second, then ``authorization_pending`` until the test approves
    the code, then tokens; ``access_denied`` once denied, ``expired_token`` after expiry;
  - ``refresh_token``: a new access token and a rotated refresh token (the old one stops
    working); ``invalid_grant`` for an unknown or revoked one;
  - ``client_credentials``: an access token when the client secret matches, else
    ``invalid_client``;
* control endpoints for the test, which plays the user: ``POST /_approve`` and
  ``POST /_deny`` (form ``user_code``), ``POST /_revoke`` (every refresh token), and
  ``GET /_state`` (JSON: the polls with their times and answers, the tokens issued).

Start-up contract: print ``READY <port>`` on stdout, then serve until killed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE: dict = {
    "devices": {},  # device_code -> {user_code, approved, denied, expires, polls}
    "polls": [],  # [{time, answer}]
    "access_tokens": [],
    "refresh_tokens": [],  # every one issued, in order
    "valid_refresh": [],
    "requests": [],  # [{path, grant_type, client_id, has_secret}]
}
ARGS: argparse.Namespace


def new_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


class Handler(BaseHTTPRequestHandler):
    server_version = "mock-oauth/1"

    def log_message(self, fmt, *args):  # quiet: the tests read stdout
        pass

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, code: str, description: str) -> None:
        self.reply(status, {"error": code, "error_description": description})

    def form(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 65536)).decode()
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

    def do_GET(self):
        if self.path == "/_state":
            with LOCK:
                self.reply(200, {k: v for k, v in STATE.items() if k != "devices"})
            return
        self.error(404, "not_found", "no such endpoint")

    def do_POST(self):
        form = self.form()
        path = urllib.parse.urlparse(self.path).path
        with LOCK:
            if path.endswith("/devicecode"):
                self.device_code(form)
            elif path.endswith("/token"):
                STATE["requests"].append(
                    {
                        "path": path,
                        "grant_type": form.get("grant_type"),
                        "client_id": form.get("client_id"),
                        "has_secret": "client_secret" in form,
                    }
                )
                self.token(form)
            elif path in ("/_approve", "/_deny"):
                for d in STATE["devices"].values():
                    if d["user_code"] == form.get("user_code"):
                        d["approved" if path == "/_approve" else "denied"] = True
                        self.reply(200, {"ok": True})
                        return
                self.error(404, "not_found", "no such user code")
            elif path == "/_revoke":
                STATE["valid_refresh"].clear()
                self.reply(200, {"ok": True})
            else:
                self.error(404, "not_found", "no such endpoint")

    def client_ok(self, form: dict) -> bool:
        if form.get("client_id") != ARGS.client_id:
            self.error(400, "invalid_client", "Unknown client.")
            return False
        if ARGS.client_secret and form.get("client_secret") != ARGS.client_secret:
            self.error(401, "invalid_client", "The client secret is wrong.")
            return False
        return True

    def device_code(self, form: dict) -> None:
        if not self.client_ok(form):
            return
        device = new_token("dc")
        user = secrets.token_hex(4).upper()
        STATE["devices"][device] = {
            "user_code": user,
            "approved": False,
            "denied": False,
            "expires": time.time() + ARGS.expires_in,
            "polls": 0,
            "scope": form.get("scope", ""),
        }
        self.reply(
            200,
            {
                "device_code": device,
                "user_code": user,
                "verification_uri": "http://127.0.0.1/device",
                "expires_in": ARGS.expires_in,
                "interval": ARGS.interval,
            },
        )

    def issue(self, scope: str, refresh: bool) -> None:
        # --access-token: the one token a resource server in the same test knows (the
        # Dovecot peer's introspection endpoint), as a real authorization server's tokens are
        # known to the services it issues them for.
        access = ARGS.access_token or new_token("at")
        STATE["access_tokens"].append(access)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": scope,
        }
        if refresh:
            rt = new_token("rt")
            STATE["refresh_tokens"].append(rt)
            STATE["valid_refresh"].append(rt)
            body["refresh_token"] = rt
        self.reply(200, body)

    def poll(self, answer: str) -> None:
        STATE["polls"].append({"time": time.time(), "answer": answer})

    def token(self, form: dict) -> None:
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if not self.client_ok(form):
                return
            d = STATE["devices"].get(form.get("device_code", ""))
            if d is None:
                self.error(400, "invalid_grant", "Unknown device code.")
                return
            d["polls"] += 1
            if time.time() > d["expires"]:
                self.poll("expired_token")
                self.error(400, "expired_token", "The code expired.")
            elif d["denied"]:
                self.poll("access_denied")
                self.error(400, "access_denied", "The user declined the sign-in.")
            elif d["polls"] == 2:
                self.poll("slow_down")
                self.error(400, "slow_down", "Polling too fast.")
            elif d["polls"] < 3 or not d["approved"]:
                self.poll("authorization_pending")
                self.error(400, "authorization_pending", "Waiting for the user.")
            else:
                self.poll("success")
                del STATE["devices"][form["device_code"]]
                self.issue(d["scope"], refresh="offline_access" in d["scope"].split())
        elif grant == "refresh_token":
            if not self.client_ok(form):
                return
            rt = form.get("refresh_token", "")
            if rt not in STATE["valid_refresh"]:
                self.error(
                    400,
                    "invalid_grant",
                    "The refresh token was revoked or has expired.\r\nTrace ID: 0000",
                )
                return
            STATE["valid_refresh"].remove(rt)  # rotation: the old one stops working
            self.issue(form.get("scope", ""), refresh=True)
        elif grant == "client_credentials":
            if not self.client_ok(form):
                return
            self.issue(form.get("scope", ""), refresh=False)
        else:
            self.error(400, "unsupported_grant_type", "Unknown grant type.")


def main() -> int:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--client-id", default="test-app")
    p.add_argument("--client-secret", default="")
    p.add_argument("--interval", type=int, default=1)
    p.add_argument("--expires-in", type=int, default=600)
    p.add_argument("--access-token", default="", help="issue this access token every time")
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
