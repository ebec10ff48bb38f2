#!/usr/bin/env python3
"""An independent SMTP peer that answers like Amazon SES's SMTP interface.

Built on aiosmtpd (pinned in requirements.txt) so that smtpscope is tested against
a server we did not write. It reproduces SES's three classic outcomes:

* good credentials: 235 at AUTH, 250 Ok at MAIL/RCPT, 354 at DATA, then
  ``250 Ok <ses-style-message-id>`` after the final dot;
* bad credentials: ``535 Authentication Credentials Invalid`` at AUTH, then
  ``530 Authentication required`` at MAIL FROM;
* an IAM-denied user (--deny-user): everything passes until the final dot, which
  gets SES's exact ``554 Access denied: User `ARN' is not authorized ...`` reply.

Start-up contract for tests: bind HOST:PORT (port 0 = any free port), print exactly
one line ``READY <port>`` to stdout, flush, then serve until SIGTERM/SIGINT (exit 0).
Nothing else is written to stdout. Passwords never appear in any output.

SES's reply texts are not written here: they are read from the captured transcripts in
tests/fixtures/ses/transcripts.toml (by their `role`), the same file the Rust tests check
the catalog and the simulator against. Where aiosmtpd's own wording differs from SES, the
methods below override it (each override says which reply it fixes).
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import hmac
import json
import logging
import os
import re
import signal
import socket
import ssl
import sys
import time
import tomllib
import uuid
from base64 import b64decode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from aiosmtpd.smtp import SMTP, syntax

HOSTNAME = "email-smtp.amazonaws.com"
IDENT = "ESMTP SimpleEmailService-d-TESTPEER0 aiosmtpd"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
# SMTP's 40 MB limit; aiosmtpd answers "552 Error: Too much mail data" above it.
DATA_SIZE_LIMIT = 40 * 1024 * 1024

IAM_USER_ARN = re.compile(r"^arn:aws:iam::(\d{12}):user/(.+)$")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ses" / "transcripts.toml"
# The roles this peer sends, each the `reply` of one captured fixture.
ROLES = (
    "auth-ok", "envelope-ok", "accepted", "bad-base64", "auth-required", "access-denied",
    "credentials-invalid", "login-user-prompt", "login-password-prompt",
)


def load_texts(path: Path = FIXTURES) -> dict[str, str]:
    """role -> SES's exact reply text, from the captured transcripts."""
    with open(path, "rb") as f:
        fixtures = tomllib.load(f)["fixture"]
    texts = {fx["role"]: fx["reply"] for fx in fixtures if "role" in fx}
    missing = [r for r in ROLES if r not in texts]
    if missing:
        raise SystemExit(f"ses_peer: {path} has no fixture for role(s) {', '.join(missing)}")
    return texts


TEXTS = load_texts()
# A quoted name in SES's 554: opened with a backtick, closed with an apostrophe.
QUOTED = re.compile(r"`[^']*'")


class UsageError(Exception):
    """A command-line value that cannot be used; the message never holds a password."""


@dataclass(frozen=True)
class DeniedUser:
    """Where the 554 reply's user ARN comes from."""

    account: str
    name: str


@dataclass
class PeerConfig:
    """Everything one peer process needs; passwords live only in `users`."""

    host: str
    port: int
    tls: str
    cert: Optional[str]
    key: Optional[str]
    users: dict[bytes, bytes] = field(repr=False)
    denied: dict[bytes, DeniedUser]
    require_tls_for_auth: bool
    mailbox: Optional[Path]
    region: str
    account: str
    idle_timeout: float
    log_level: str


def parse_user(spec: str) -> tuple[bytes, bytes]:
    """USER:PASSWORD, split at the first colon: user names cannot hold one, passwords can."""
    user, sep, password = spec.partition(":")
    if not sep or not user or not password:
        # Do not echo the value: it may hold a password.
        raise UsageError("--user expects USER:PASSWORD (both non-empty)")
    return os.fsencode(user), os.fsencode(password)


def parse_denied(spec: str, account: str) -> tuple[bytes, DeniedUser]:
    """USER[:ARN]; ARN may be a full IAM user ARN or just the user name part."""
    user, sep, rest = spec.partition(":")
    if not user:
        raise UsageError(f"--deny-user expects USER[:ARN], got {spec!r}")
    if not sep or not rest:
        return os.fsencode(user), DeniedUser(account, user)
    m = IAM_USER_ARN.match(rest)
    if m:
        return os.fsencode(user), DeniedUser(m.group(1), m.group(2))
    if rest.startswith("arn:"):
        raise UsageError(f"--deny-user ARN must look like arn:aws:iam::<12 digits>:user/NAME, got {rest!r}")
    return os.fsencode(user), DeniedUser(account, rest)


def parse_args(argv: list[str]) -> PeerConfig:
    p = argparse.ArgumentParser(
        description="aiosmtpd peer that answers like Amazon SES's SMTP interface",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    p.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    p.add_argument("--cert", help="PEM certificate chain (needed unless --tls none)")
    p.add_argument("--key", help="PEM private key (needed unless --tls none)")
    p.add_argument("--user", action="append", default=[], metavar="USER:PASSWORD",
                   help="accepted credentials; repeatable")
    p.add_argument("--deny-user", action="append", default=[], metavar="USER[:ARN]",
                   help="authenticates, but every message gets SES's IAM 554 after the final dot")
    p.add_argument("--require-tls-for-auth", action="store_true",
                   help="AUTH without TLS gets '530 Must issue a STARTTLS command first'")
    p.add_argument("--mailbox", type=Path, help="write each accepted message to DIR/<id>.eml")
    p.add_argument("--region", default=DEFAULT_REGION, help="region in the 554 resource ARN")
    p.add_argument("--account", default=DEFAULT_ACCOUNT, help="account id for ARNs not given in full")
    p.add_argument("--idle-timeout", type=float, default=300.0,
                   help="seconds without a command before '451 4.4.2 Timeout ...' and close (SES: ~10)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="warning",
                   help="aiosmtpd's log on stderr (AUTH secrets are never logged)")
    a = p.parse_args(argv)

    try:
        if not re.fullmatch(r"\d{12}", a.account):
            raise UsageError("--account must be 12 digits")
        if not 0 <= a.port <= 65535:
            raise UsageError("--port must be 0..65535")
        if a.idle_timeout <= 0:
            raise UsageError("--idle-timeout must be positive")
        if a.tls != "none" and not (a.cert and a.key):
            raise UsageError(f"--tls {a.tls} needs --cert and --key")
        users = dict(parse_user(u) for u in a.user)
        denied = dict(parse_denied(d, a.account) for d in a.deny_user)
        for name in denied:
            if name not in users:
                raise UsageError(f"--deny-user {name.decode(errors='replace')!r} has no --user entry")
    except UsageError as e:
        p.error(str(e))

    if a.mailbox is not None:
        a.mailbox.mkdir(parents=True, exist_ok=True)
    return PeerConfig(
        host=a.host, port=a.port, tls=a.tls, cert=a.cert, key=a.key,
        users=users, denied=denied, require_tls_for_auth=a.require_tls_for_auth,
        mailbox=a.mailbox, region=a.region, account=a.account, idle_timeout=a.idle_timeout,
        log_level=a.log_level,
    )


def ses_message_id() -> str:
    """SES layout: 16 hex (0100 + ms timestamp) - uuid (8-4-4-4-12) - 000000."""
    millis = int(time.time() * 1000) & 0xFFFF_FFFF_FFFF
    return f"0100{millis:012x}-{uuid.uuid4()}-000000"


def access_denied(denied: DeniedUser, region: str, mail_from: str) -> str:
    """The captured 554 with this user's ARN, the action and this resource put in its quotes."""
    domain = mail_from.rpartition("@")[2]
    values = iter([
        f"arn:aws:iam::{denied.account}:user/{denied.name}",
        "ses:SendRawEmail",
        f"arn:aws:ses:{region}:{denied.account}:identity/{domain}",
    ])
    text, n = QUOTED.subn(lambda _: f"`{next(values)}'", TEXTS["access-denied"])
    assert n == 3, "the captured 554 quotes a user, an action and a resource"
    return text


def accepted(msg_id: str) -> str:
    """The captured "250 Ok <message id>" with this message's id."""
    return f"{TEXTS['accepted'].rpartition(' ')[0]} {msg_id}"


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SesHandler:
    """aiosmtpd handler hooks: envelope replies and the verdict after the final dot."""

    def __init__(self, cfg: PeerConfig):
        self.cfg = cfg

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return TEXTS["envelope-ok"]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return TEXTS["envelope-ok"]

    async def handle_RSET(self, server, session, envelope):
        return TEXTS["envelope-ok"]

    async def handle_NOOP(self, server, session, envelope, arg):
        return TEXTS["envelope-ok"]

    async def handle_DATA(self, server, session, envelope):
        user: bytes = session.auth_data
        denied = self.cfg.denied.get(user)
        if denied is not None:
            return access_denied(denied, self.cfg.region, envelope.mail_from)
        msg_id = ses_message_id()
        if self.cfg.mailbox is not None:
            # Envelope first, then the message: a test that sees the .eml sees both.
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "user": user.decode("utf-8", "replace"),
            }
            write_atomically(self.cfg.mailbox / f"{msg_id}.json",
                             json.dumps(meta, indent=2).encode())
            # original_content: the bytes after the dot-stuffing is undone, CRLFs intact.
            write_atomically(self.cfg.mailbox / f"{msg_id}.eml", envelope.original_content)
        return accepted(msg_id)


class _AuthAbort(Exception):
    """The SASL exchange ended; `reply` (if any) has not been sent yet."""

    def __init__(self, reply: Optional[str]):
        super().__init__(reply)
        self.reply = reply


class SesSMTP(SMTP):
    """aiosmtpd's SMTP with SES's reply texts where aiosmtpd words them differently."""

    def __init__(self, handler: SesHandler, cfg: PeerConfig, implicit_tls: bool, **kwargs):
        super().__init__(
            handler,
            hostname=HOSTNAME,
            ident=IDENT,
            data_size_limit=DATA_SIZE_LIMIT,
            # We enforce "AUTH first" ourselves; auth_require_tls=True only keeps
            # aiosmtpd from warning about the combination on every connection.
            auth_required=True,
            auth_require_tls=True,
            timeout=cfg.idle_timeout,
            **kwargs,
        )
        self.cfg = cfg
        self.implicit_tls = implicit_tls

    def _tls_active(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    # aiosmtpd: "530 5.7.0 Authentication required"; SES has no enhanced code.
    async def check_auth_needed(self, caller_method: str) -> bool:
        if not self.session.authenticated:
            await self.push(TEXTS["auth-required"])
            return True
        return False

    # SES's capability list: no SIZE/HELP, AUTH advertised even before TLS, "250 Ok" last.
    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str):
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        caps = [self.hostname, "8BITMIME"]
        if self.tls_context is not None and not self._tls_active():
            caps.append("STARTTLS")
        caps += ["AUTH PLAIN LOGIN", "Ok"]
        for cap in caps[:-1]:
            await self.push(f"250-{cap}")
        await self.push(f"250 {caps[-1]}")

    # aiosmtpd would start a TLS handshake inside TLS; SES refuses.
    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str):
        if self._tls_active():
            await self.push("454 TLS not available due to temporary reason: TLS already active")
            return
        if arg:
            await self.push("501 Syntax error (no parameters allowed)")
            return
        await super().smtp_STARTTLS(arg)

    # SES's AUTH: 530 before STARTTLS (when required), SubEthaSMTP-style errors,
    # "Username:"/"Password:" LOGIN prompts, "334 Ok" for PLAIN without initial response.
    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        if await self.check_helo_needed("EHLO"):
            return
        if not self.session.extended_smtp:
            await self.push("500 Error: command 'AUTH' not recognized")
            return
        if self.cfg.require_tls_for_auth and not self._tls_active():
            await self.push("530 Must issue a STARTTLS command first")
            return
        if self.session.authenticated:
            await self.push("503 Refusing any other AUTH command.")
            return
        args = arg.split() if arg else []
        if not 1 <= len(args) <= 2:
            await self.push("501 Syntax: AUTH mechanism [initial-response]")
            return
        mechanism = args[0].upper()
        initial = args[1] if len(args) == 2 else None
        try:
            if mechanism == "PLAIN":
                user, password = await self._sasl_plain(initial)
            elif mechanism == "LOGIN":
                user, password = await self._sasl_login(initial)
            else:
                await self.push("504 The requested authentication mechanism is not supported")
                return
        except _AuthAbort as abort:
            if abort.reply is not None:
                await self.push(abort.reply)
            return
        expected = self.cfg.users.get(user)
        if expected is not None and hmac.compare_digest(expected, password):
            self.session.authenticated = True
            self.session.auth_data = user  # the user name only, never the password
            await self.push(TEXTS["auth-ok"])
        else:
            await self.push(TEXTS["credentials-invalid"])

    async def _challenge(self, text: str) -> bytes:
        """Send '334 text', read one response line and decode it (never logged)."""
        await self.push(f"334 {text}")
        line = await self._reader.readline()
        if not line:
            raise _AuthAbort(None)  # peer closed the connection
        return self._b64(line.strip())

    @staticmethod
    def _b64(blob) -> bytes:
        if isinstance(blob, str):
            blob = blob.encode("ascii", "replace")
        if blob == b"*":
            raise _AuthAbort("501 Authentication canceled by client.")
        try:
            return b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            # What SES answered to "AUTH PLAIN abcdefg" in a captured transcript.
            raise _AuthAbort(TEXTS["bad-base64"]) from None

    async def _sasl_plain(self, initial: Optional[str]) -> tuple[bytes, bytes]:
        blob = self._b64(initial) if initial is not None else await self._challenge("Ok")
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            raise _AuthAbort(TEXTS["bad-base64"])
        _authzid, user, password = parts
        return user, password

    async def _sasl_login(self, initial: Optional[str]) -> tuple[bytes, bytes]:
        # "334 " + base64("Username:") and base64("Password:"), as captured.
        user_prompt = TEXTS["login-user-prompt"].removeprefix("334 ")
        password_prompt = TEXTS["login-password-prompt"].removeprefix("334 ")
        user = self._b64(initial) if initial is not None else await self._challenge(user_prompt)
        password = await self._challenge(password_prompt)
        return user, password

    # aiosmtpd closes silently on idle; SES says why first.
    def _timeout_cb(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"451 4.4.2 Timeout waiting for data from client.\r\n")
        super()._timeout_cb()


def server_tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # SES offers TLS 1.2 and 1.3
    ctx.load_cert_chain(cert, key)
    return ctx


def bind_listener(host: str, port: int) -> socket.socket:
    """One listening socket, so port 0 yields exactly one port to report."""
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                               socket.AI_PASSIVE)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(cfg: PeerConfig) -> None:
    loop = asyncio.get_running_loop()
    ctx = server_tls_context(cfg.cert, cfg.key) if cfg.tls != "none" else None
    handler = SesHandler(cfg)
    implicit = cfg.tls == "implicit"

    def factory() -> SesSMTP:
        return SesSMTP(
            handler, cfg, implicit,
            tls_context=ctx if cfg.tls == "starttls" else None,
            loop=loop,
        )

    sock = bind_listener(cfg.host, cfg.port)
    server = await loop.create_server(factory, sock=sock, ssl=ctx if implicit else None)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="ses_peer %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(cfg))
    except (OSError, ssl.SSLError) as e:
        # e.g. address in use, unreadable cert/key; no credentials are in these messages.
        print(f"ses_peer: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
