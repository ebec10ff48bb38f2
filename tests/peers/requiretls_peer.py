#!/usr/bin/env python3
"""A scripted SMTP server that offers REQUIRETLS (RFC 8689), for the extension tests.

Neither Postfix nor aiosmtpd implements REQUIRETLS, so this small server (Python's standard
library only: asyncio and ssl) stands in for one. It is not smtpscope's code and it judges
what it receives by itself:

* it offers STARTTLS before TLS and, after the handshake, REQUIRETLS in its EHLO reply
  (RFC 8689 section 2: the server advertises REQUIRETLS in the EHLO that follows STARTTLS).
  --advertise before-tls also offers it on the plain connection, as a misconfigured server
  might; --advertise never does not offer it at all;
* it parses MAIL FROM itself (RFC 5321 section 4.1.2: a reverse-path, then space-separated
  esmtp-keyword[=value] parameters) and accepts REQUIRETLS only inside TLS and only when its
  last EHLO reply offered it;
* it writes one JSON object per line to --log for every command, with the exact line it
  read (as a Latin-1 string, so no byte is lost), whether TLS was on, whether its EHLO
  offered REQUIRETLS, what the client had already sent after that line (``ahead``: a
  PIPELINING group shows there), and for MAIL the parameters it parsed and the reply it
  chose. The tests read this log, not smtpscope's transcript.

Start-up contract: bind 127.0.0.1 (or ::1) only, print ``READY <port>``, serve until
SIGTERM/SIGINT. Every read waits at most --idle seconds and lines are at most 4096 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import ssl
import sys

MAX_LINE = 4096
MAX_MESSAGE = 10 * 1024 * 1024
HOSTNAME = "requiretls-peer.test"

# RFC 5321: "MAIL FROM:" Reverse-path [SP Mail-parameters]; the path is <...> (may be <>).
MAIL_RE = re.compile(rb"^MAIL FROM:(<[^<>\s]*>)(?: (.*))?$", re.IGNORECASE)
# esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value: printable, no "=".
PARAM_RE = re.compile(rb"^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\x21-\x3c\x3e-\x7e]+))?$")


class Log:
    def __init__(self, path: str) -> None:
        self.f = open(path, "a", encoding="utf-8")

    def write(self, **event) -> None:
        self.f.write(json.dumps(event) + "\n")
        self.f.flush()


class Session:
    def __init__(self, reader, writer, cfg, ctx: ssl.SSLContext, log: Log) -> None:
        self.reader, self.writer, self.cfg, self.ctx, self.log = reader, writer, cfg, ctx, log
        self.tls = False
        self.offered_requiretls = False
        self.ehlo_done = False
        self.mail: dict | None = None

    async def reply(self, text: str) -> None:
        self.writer.write(text.encode("ascii") + b"\r\n")
        await self.writer.drain()

    async def readline(self) -> bytes | None:
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), self.cfg.idle)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            return None
        except asyncio.LimitOverrunError:
            await self.reply("500 5.5.2 line too long")
            return None
        return line[:-2]

    def note(self, line: bytes, **extra) -> None:
        # What the client had sent beyond this line before hearing its reply: with
        # PIPELINING, MAIL arrives with the RCPTs and DATA behind it (asyncio's read buffer).
        ahead = bytes(getattr(self.reader, "_buffer", b""))
        self.log.write(
            line=line.decode("latin-1"),
            tls=self.tls,
            offered_requiretls=self.offered_requiretls,
            ahead=ahead.decode("latin-1"),
            **extra,
        )

    async def serve(self) -> None:
        await self.reply(f"220 {HOSTNAME} ESMTP scripted REQUIRETLS peer")
        while True:
            line = await self.readline()
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                await self.ehlo(line)
            elif verb == b"STARTTLS":
                self.note(line)
                if self.tls:
                    await self.reply("503 5.5.1 TLS already active")
                    continue
                await self.reply("220 2.0.0 Ready to start TLS")
                try:
                    await asyncio.wait_for(self.writer.start_tls(self.ctx), self.cfg.idle)
                except (ssl.SSLError, ConnectionError, asyncio.TimeoutError) as e:
                    self.log.write(event="tls-failed", error=str(e))
                    return
                # RFC 3207 section 4.2: forget everything learnt before TLS.
                self.tls, self.ehlo_done, self.offered_requiretls, self.mail = True, False, False, None
                self.log.write(event="tls-started")
            elif verb == b"MAIL":
                await self.mail_from(line)
            elif verb == b"RCPT":
                self.note(line)
                if self.mail is None:
                    await self.reply("503 5.5.1 MAIL first")
                else:
                    self.mail["rcpts"] += 1
                    await self.reply("250 2.1.5 Recipient OK")
            elif verb == b"DATA":
                self.note(line)
                if self.mail is None or self.mail["rcpts"] == 0:
                    await self.reply("503 5.5.1 need MAIL and RCPT first")
                    continue
                await self.reply("354 End data with <CR><LF>.<CR><LF>")
                size = await self.read_message()
                if size is None:
                    return
                self.log.write(
                    event="message",
                    bytes=size,
                    requiretls=self.mail["requiretls"],
                    tls=self.tls,
                )
                self.mail = None
                await self.reply("250 2.0.0 Ok: queued")
            elif verb in (b"RSET", b"NOOP"):
                self.note(line)
                if verb == b"RSET":
                    self.mail = None
                await self.reply("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.note(line)
                await self.reply("221 2.0.0 Bye")
                return
            else:
                self.note(line)
                await self.reply("502 5.5.2 command not implemented")

    async def ehlo(self, line: bytes) -> None:
        advertise = self.cfg.advertise == "before-tls" or (
            self.cfg.advertise == "after-tls" and self.tls
        )
        self.offered_requiretls = advertise
        self.ehlo_done = True
        self.mail = None
        self.note(line)
        keywords = ["PIPELINING", "SIZE 10240000", "8BITMIME"]
        if not self.tls:
            keywords.append("STARTTLS")
        if advertise:
            keywords.append("REQUIRETLS")
        lines = [HOSTNAME] + keywords
        text = "\r\n".join(
            f"250{'-' if i < len(lines) - 1 else ' '}{l}" for i, l in enumerate(lines)
        )
        await self.reply(text)

    async def mail_from(self, line: bytes) -> None:
        m = MAIL_RE.match(line)
        params: list[str] = []
        bad = m is None
        if m and m.group(2):
            for word in m.group(2).split(b" "):
                p = PARAM_RE.match(word)
                if p is None:
                    bad = True
                    break
                params.append(word.decode("ascii"))
        keywords = [p.split("=", 1)[0].upper() for p in params]
        requiretls = "REQUIRETLS" in keywords
        known = {"SIZE", "BODY", "REQUIRETLS"}
        if not self.ehlo_done:
            code = "503 5.5.1 EHLO first"
        elif bad:
            code = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
        elif self.mail is not None:
            code = "503 5.5.1 nested MAIL command"
        elif any(k not in known for k in keywords):
            code = "555 5.5.4 unsupported MAIL FROM parameter"
        elif requiretls and not self.tls:
            code = "530 5.7.10 REQUIRETLS needs a TLS session"
        elif requiretls and not self.offered_requiretls:
            code = "555 5.5.4 REQUIRETLS was not offered"
        else:
            code = "250 2.1.0 Sender OK" + (", REQUIRETLS noted" if requiretls else "")
        self.note(
            line,
            path=m.group(1).decode("latin-1") if m else None,
            params=params,
            requiretls=requiretls,
            reply=code,
        )
        if code.startswith("250"):
            self.mail = {"requiretls": requiretls, "rcpts": 0}
        await self.reply(code)

    async def read_message(self) -> int | None:
        size = 0
        while True:
            line = await self.readline()
            if line is None:
                return None
            if line == b".":
                return size
            size += len(line) + 2
            if size > MAX_MESSAGE:
                await self.reply("552 5.3.4 message too big")
                return None


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--advertise", choices=["after-tls", "before-tls", "never"], default="after-tls")
    p.add_argument("--idle", type=float, default=30.0)
    cfg = p.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.cert, cfg.key)
    log = Log(cfg.log)

    async def handle(reader, writer):
        try:
            await Session(reader, writer, cfg, ctx, log).serve()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, cfg.host, cfg.port, limit=MAX_LINE)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
