#!/usr/bin/env python3
"""Smoke test of ses_peer.py, driven by Python's smtplib (and swaks when installed), and of
requiretls_peer.py (the scripted REQUIRETLS server), driven by smtplib.

Checks the seed's three scenarios (good user, wrong password, IAM-denied user) and the
reply texts smtpscope's Rust tests assert on. Not part of the cargo suite; run it with
the venv that .ci/test builds:  .venv/bin/python tests/peers/smoke_test.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

PEER = Path(__file__).with_name("ses_peer.py")
REQUIRETLS_PEER = Path(__file__).with_name("requiretls_peer.py")
GOOD = ("AKIAGOODUSER00000001", "BGoodPassword+/=withsymbols")
DENIED = ("AKIADENIEDUSER000002", "BDeniedPassword")
BANNER = b"email-smtp.amazonaws.com ESMTP SimpleEmailService-d-TESTPEER0 aiosmtpd"
MSG_ID = re.compile(rb"^Ok [0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$")
DENY_554 = (
    b"Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808' is not authorized "
    b"to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
)
# Lines starting with "." must survive dot-stuffing; CRLFs must survive as sent.
MESSAGE = (
    b"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: smoke\r\n\r\n"
    b"Im from SES\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n"
)

TMP = Path(tempfile.mkdtemp(prefix="ses_peer_smoke."))
CERT, KEY = TMP / "cert.pem", TMP / "key.pem"


def setUpModule():
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(KEY), "-out", str(CERT),
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
        check=True, capture_output=True,
    )


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def client_tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CERT))  # verifies chain and IP SAN


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Peer:
    """ses_peer.py as a child process; `port` comes from its READY line."""

    def __init__(self, *args: str, host: str = "127.0.0.1", script: Path = PEER):
        self.host = host
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--host", host, "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else b""
        m = re.fullmatch(rb"READY (\d+)\n", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"peer did not start: {line!r} {self.proc.stderr.read()!r}")
        self.port = int(m.group(1))

    def stop(self) -> tuple[int, bytes, bytes]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err


def plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def send_raw_data(s: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA with our own dot-stuffing so the test sees the 354 and final replies verbatim."""
    assert s.docmd("DATA") == (354, b"End data with <CR><LF>.<CR><LF>")
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    s.send(stuffed + b".\r\n")
    return s.getreply()


class StartTlsPeer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mailbox = TMP / "mailbox"
        cls.peer = Peer(
            "--tls", "starttls", "--cert", str(CERT), "--key", str(KEY),
            "--user", ":".join(GOOD), "--user", ":".join(DENIED),
            "--deny-user", f"{DENIED[0]}:arn:aws:iam::123456789012:user/ses-smtp-user.20230808",
            "--require-tls-for-auth", "--mailbox", str(cls.mailbox),
            "--log-level", "debug",  # the most verbose log must still hold no password
        )

    @classmethod
    def tearDownClass(cls):
        code, out, err = cls.peer.stop()
        assert code == 0, (code, err)
        assert out == b"", out  # nothing after the READY line
        for secret in (GOOD[1], DENIED[1], plain(*GOOD), plain(*DENIED)):
            assert secret.encode() not in out + err, "a password leaked to the peer's output"

    def connect(self, tls: bool = True) -> smtplib.SMTP:
        s = smtplib.SMTP("127.0.0.1", self.peer.port, timeout=10)
        self.addCleanup(s.close)
        if tls:
            s.starttls(context=client_tls())
            s.ehlo("mail.example.com")
        return s

    def test_banner_ehlo_and_tls_required_for_auth(self):
        s = smtplib.SMTP(timeout=10)
        self.addCleanup(s.close)
        self.assertEqual(s.connect("127.0.0.1", self.peer.port), (220, BANNER))
        self.assertEqual(s.ehlo("mail.example.com"),
                         (250, b"email-smtp.amazonaws.com\n8BITMIME\nSTARTTLS\nAUTH PLAIN LOGIN\nOk"))
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(*GOOD)),
                         (530, b"Must issue a STARTTLS command first"))
        self.assertEqual(s.docmd("MAIL", "FROM:<a@example.com>"), (530, b"Authentication required"))
        self.assertEqual(s.docmd("STARTTLS"), (220, b"Ready to start TLS"))
        s.sock = client_tls().wrap_socket(s.sock, server_hostname="127.0.0.1")
        s.file = None
        self.assertEqual(s.ehlo("mail.example.com"),
                         (250, b"email-smtp.amazonaws.com\n8BITMIME\nAUTH PLAIN LOGIN\nOk"))
        self.assertEqual(s.docmd("STARTTLS"),
                         (454, b"TLS not available due to temporary reason: TLS already active"))
        self.assertEqual(s.quit(), (221, b"Bye"))

    def test_good_user_gets_message_id_and_exact_bytes_land(self):
        s = self.connect()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(*GOOD)), (235, b"Authentication successful."))
        self.assertEqual(s.docmd("MAIL", "FROM:<sender@example.com>"), (250, b"Ok"))
        self.assertEqual(s.docmd("RCPT", "TO:<rcpt@example.net>"), (250, b"Ok"))
        code, text = send_raw_data(s, MESSAGE)
        self.assertEqual(code, 250)
        self.assertRegex(text, MSG_ID)
        msg_id = text.split()[1].decode()
        self.assertEqual((self.mailbox / f"{msg_id}.eml").read_bytes(), MESSAGE)
        # A second message in the same session gets a fresh id.
        self.assertEqual(s.docmd("MAIL", "FROM:<sender@example.com>"), (250, b"Ok"))
        self.assertEqual(s.docmd("RCPT", "TO:<rcpt@example.net>"), (250, b"Ok"))
        self.assertNotEqual(send_raw_data(s, MESSAGE)[1], text)

    def test_smtplib_login_and_sendmail(self):
        s = self.connect()
        self.assertEqual(s.login(*GOOD), (235, b"Authentication successful."))
        self.assertEqual(s.sendmail("sender@example.com", ["rcpt@example.net"], MESSAGE), {})

    def test_wrong_password_535_then_mail_530(self):
        s = self.connect()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(GOOD[0], "wrong")),
                         (535, b"Authentication Credentials Invalid"))
        self.assertEqual(s.docmd("MAIL", "FROM:<auth-fail@example.com>"), (530, b"Authentication required"))

    def test_malformed_plain_blob_as_in_seed(self):
        s = self.connect()
        self.assertEqual(s.docmd("AUTH", "PLAIN abcdefg"), (535, b"Authentication failed"))

    def test_auth_login_prompts(self):
        s = self.connect()
        b64 = lambda v: base64.b64encode(v.encode()).decode()  # noqa: E731
        self.assertEqual(s.docmd("AUTH", "LOGIN"), (334, b"VXNlcm5hbWU6"))
        self.assertEqual(s.docmd(b64(GOOD[0])), (334, b"UGFzc3dvcmQ6"))
        self.assertEqual(s.docmd(b64(GOOD[1])), (235, b"Authentication successful."))
        self.assertEqual(s.docmd("AUTH", "LOGIN"), (503, b"Refusing any other AUTH command."))

    def test_denied_user_passes_until_final_dot(self):
        s = self.connect()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(*DENIED)), (235, b"Authentication successful."))
        self.assertEqual(s.docmd("MAIL", "FROM:<policy-fail@example.com>"), (250, b"Ok"))
        self.assertEqual(s.docmd("RCPT", "TO:<rcpt@example.net>"), (250, b"Ok"))
        self.assertEqual(send_raw_data(s, MESSAGE), (554, DENY_554))

    @unittest.skipUnless(shutil.which("swaks"), "swaks not installed")
    def test_swaks_starttls_auth_plain(self):
        r = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{self.peer.port}", "--tls", "--tls-verify",
             "--tls-ca-path", str(CERT), "--auth", "PLAIN", "--auth-user", GOOD[0],
             "--auth-password", GOOD[1], "--from", "sender@example.com", "--to", "rcpt@example.net",
             "--ehlo", "mail.example.com", "--body", "smoke via swaks"],
            capture_output=True, timeout=30,
        )
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"<~  235 Authentication successful.", r.stdout)
        self.assertRegex(r.stdout, rb"<~  250 Ok [0-9a-f]{16}-")


class ImplicitTlsPeer(unittest.TestCase):
    def test_implicit_tls_session(self):
        peer = Peer("--tls", "implicit", "--cert", str(CERT), "--key", str(KEY), "--user", ":".join(GOOD))
        try:
            raw = socket.create_connection(("127.0.0.1", peer.port), timeout=10)
            with client_tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.recv(4096), b"220 " + BANNER + b"\r\n")
            with smtplib.SMTP_SSL("127.0.0.1", peer.port, timeout=10, context=client_tls()) as s:
                self.assertEqual(s.ehlo("mail.example.com"),
                                 (250, b"email-smtp.amazonaws.com\n8BITMIME\nAUTH PLAIN LOGIN\nOk"))
                self.assertEqual(s.docmd("STARTTLS")[0], 454)
                self.assertEqual(s.login(*GOOD), (235, b"Authentication successful."))
                self.assertEqual(s.sendmail("a@example.com", ["b@example.net"], MESSAGE), {})
        finally:
            self.assertEqual(peer.stop()[0], 0)


class PlainPeer(unittest.TestCase):
    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_without_tls_allows_auth(self):
        peer = Peer("--tls", "none", "--user", ":".join(GOOD), host="::1")
        try:
            with smtplib.SMTP("::1", peer.port, timeout=10) as s:
                self.assertEqual(s.ehlo("x"), (250, b"email-smtp.amazonaws.com\n8BITMIME\nAUTH PLAIN LOGIN\nOk"))
                self.assertEqual(s.login(*GOOD), (235, b"Authentication successful."))
        finally:
            self.assertEqual(peer.stop()[0], 0)

    def test_idle_timeout_says_451_then_closes(self):
        peer = Peer("--tls", "none", "--idle-timeout", "0.5")
        try:
            with socket.create_connection(("127.0.0.1", peer.port), timeout=10) as c:
                start = time.monotonic()
                got = b""
                while chunk := c.recv(4096):
                    got += chunk
                self.assertEqual(got, b"220 " + BANNER + b"\r\n451 4.4.2 Timeout waiting for data from client.\r\n")
                self.assertLess(time.monotonic() - start, 5)
        finally:
            self.assertEqual(peer.stop()[0], 0)

    def test_bad_arguments_exit_2_without_echoing_password(self):
        r = subprocess.run([sys.executable, str(PEER), "--tls", "starttls", "--user", "u:secretpw"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--cert and --key", r.stderr)
        self.assertNotIn(b"secretpw", r.stdout + r.stderr)
        r = subprocess.run([sys.executable, str(PEER), "--tls", "none", "--user", "nopassword-secretpw"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertNotIn(b"secretpw", r.stdout + r.stderr)


class RequireTlsPeer(unittest.TestCase):
    """requiretls_peer.py against smtplib: REQUIRETLS offered after STARTTLS only, MAIL FROM's
    REQUIRETLS accepted only inside TLS, and each line logged as read."""

    def test_offers_and_accepts_requiretls_only_inside_tls(self):
        log = TMP / "requiretls.jsonl"
        peer = Peer("--cert", str(CERT), "--key", str(KEY), "--log", str(log),
                    script=REQUIRETLS_PEER)
        try:
            with smtplib.SMTP("127.0.0.1", peer.port, timeout=10) as s:
                code, text = s.ehlo("mail.example.com")
                self.assertEqual(code, 250)
                self.assertIn(b"STARTTLS", text.split(b"\n"))
                self.assertNotIn(b"REQUIRETLS", text.split(b"\n"))
                self.assertEqual(s.docmd("MAIL", "FROM:<a@example.com> REQUIRETLS")[0], 530)
                s.starttls(context=client_tls())
                code, text = s.ehlo("mail.example.com")
                self.assertIn(b"REQUIRETLS", text.split(b"\n"))
                self.assertNotIn(b"STARTTLS", text.split(b"\n"))
                self.assertEqual(s.docmd("MAIL", "FROM:<a@example.com> XTURBO")[0], 555)
                self.assertEqual(s.docmd("MAIL", "FROM:<a@example.com>REQUIRETLS")[0], 501)
                self.assertEqual(s.docmd("MAIL", "FROM:<a@example.com> SIZE=5 REQUIRETLS"),
                                 (250, b"2.1.0 Sender OK, REQUIRETLS noted"))
                self.assertEqual(s.docmd("RCPT", "TO:<b@example.net>")[0], 250)
                self.assertEqual(s.data(MESSAGE)[0], 250)
        finally:
            self.assertEqual(peer.stop()[0], 0)
        events = [json.loads(l) for l in log.read_text().splitlines()]
        mails = [e for e in events if e.get("line", "").upper().startswith("MAIL")]
        self.assertEqual([m["reply"][:3] for m in mails], ["530", "555", "501", "250"])
        self.assertEqual(mails[-1]["line"], "MAIL FROM:<a@example.com> SIZE=5 REQUIRETLS")
        self.assertEqual(mails[-1]["params"], ["SIZE=5", "REQUIRETLS"])
        self.assertEqual([m["tls"] for m in mails], [False, True, True, True])
        message = [e for e in events if e.get("event") == "message"]
        self.assertEqual(len(message), 1)
        self.assertTrue(message[0]["requiretls"])


if __name__ == "__main__":
    os.chdir(TMP)
    unittest.main(verbosity=2)
