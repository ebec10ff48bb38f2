#!/usr/bin/env python3
"""A mock OAuth 2.0 token-introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's
oauth2 passdb in the Postfix peer (postfix_peer.py --oauth2).

Dovecot (introspection_mode = post) POSTs ``token=<access token>`` to /introspect; this
server answers from a fixed table:

  * a known good token: ``{"active": true, "username": <its user>, "scope": "smtp", "exp": ...}``
  * anything else (revoked, unknown): ``{"active": false}``

Request bodies are bounded (16 KiB) and the server listens on loopback only. Run alone it
prints ``READY <port>`` and serves until stdin closes:

    oauth_introspect.py --token TOKEN=USER [--token ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 16 * 1024


def make_handler(tokens: dict[str, str], seen: list[str]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the test reads outcomes, not logs
            pass

        def reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if self.path.split("?")[0] != "/introspect" or not 0 < length <= MAX_BODY:
                self.reply(400, {"error": "invalid_request"})
                return
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            token = (form.get("token") or [""])[0]
            # What was asked, never the token itself: enough for a test to see a lookup.
            seen.append("known" if token in tokens else "unknown")
            user = tokens.get(token)
            if user is None:
                self.reply(200, {"active": False})
            else:
                self.reply(200, {"active": True, "username": user, "scope": "smtp",
                                 "exp": int(time.time()) + 3600})

        def do_GET(self):  # noqa: N802
            self.reply(405, {"error": "use POST"})

    return Handler


class Introspection:
    """The server on a thread of its own: ``port`` once started, ``stop()`` to end it."""

    def __init__(self, tokens: dict[str, str]):
        self.seen: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(tokens, self.seen))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_tokens(items: list[str]) -> dict[str, str]:
    tokens = {}
    for item in items:
        token, sep, user = item.rpartition("=")
        if not sep or not token or not user:
            raise SystemExit(f"--token wants TOKEN=USER, got {item!r}")
        tokens[token] = user
    return tokens


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN=USER")
    args = ap.parse_args()
    server = Introspection(parse_tokens(args.token))
    print(f"READY {server.port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
