#!/usr/bin/env python3
"""A private Postfix + Dovecot SASL instance on loopback: an SMTP peer we did not write.

Usage (as root; Debian packages postfix and dovecot-core, which .ci/test installs):

    postfix_peer.py --dir DIR [--port N] [--implicit-port N] [--smtpd-timeout 10s]
                    [--set main.cf_param=value ...] [--stop-on-stdin-eof] [--remove-dir]
                    [--oauth2]

Everything lives in DIR: etc/main.cf and etc/master.cf, dovecot.conf, the queue, data and
Dovecot base directories, the generated test CA (ca.pem) and server certificate, the logs
(maillog, dovecot.log) and delivered mail (mail/QUEUEID.eml). Nothing is written to
/etc/postfix, /var/spool/postfix, /run/dovecot or /var/lib/dovecot. Port 0 (the --port
default) picks a free port; --implicit-port adds a TLS-on-connect listener (0: any port).
Both listen on 127.0.0.1 only.

Once both listeners have answered a 220 greeting (the implicit one through TLS verified
with the CA), exactly one line goes to stdout:

    READY {"port": N, "implicit_port": N|null, "ca_file": ..., "dir": ..., "pids": [...]}

Then it serves until SIGTERM/SIGINT/SIGHUP, until its parent dies, or (with
--stop-on-stdin-eof, which the Rust helper uses) until stdin closes: the write end is held
only by the test process, so the instance also goes away when the test is SIGKILLed.
Postfix's master and Dovecot each lead a session of their own; stopping SIGTERMs both and
then sweeps both sessions, and a forked watchdog does the same if the launcher itself is
SIGKILLed, so no process is left behind.

The site it imitates (write_configs says why each setting is there):
  * STARTTLS offered; AUTH (PLAIN, LOGIN) only after it (smtpd_tls_auth_only);
  * users good/goodpass and denied/deniedpass in Dovecot's passwd-file;
  * MAIL without AUTH refused at MAIL (smtpd_delay_reject = no);
  * "denied" passes AUTH, MAIL, RCPT, DATA and is refused after the final dot with SES's
    554 Access denied text (smtpd_end_of_data_restrictions = check_sasl_access), which
    Postfix prefixes with "<denied>: SASL login name rejected: ";
  * with --oauth2, AUTH also offers XOAUTH2 and OAUTHBEARER, checked by Dovecot's oauth2
    passdb against a mock token-introspection endpoint on 127.0.0.1 (../oauth_introspect.py)
    that knows OAUTH_TOKENS; any other token is inactive (refused). READY then also says
    "introspection_port";
  * accepted mail is piped to DIR/mail/<queue id>.eml as the client sent it after
    dot-unstuffing, with LF line ends (Postfix stores no CRs; its own Received: header is
    dropped by header_checks); the maillog's "status=sent" line says the file is complete.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

USERS = {"good": "goodpass", "denied": "deniedpass"}
# Access tokens the mock introspection endpoint calls active, and whose they are.
OAUTH_TOKENS = {"peer-good-token-7f3a9c1e5b-xq": "good"}
DENIED_554 = (
    "554 5.7.1 Access denied: User `arn:aws:iam::123456789012:user/denied' is not authorized "
    "to perform `ses:SendRawEmail' on resource "
    "`arn:aws:ses:us-east-1:123456789012:identity/example.com'"
)
HOSTNAME = "postfix.smtpscope.test"
POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def log(msg: str) -> None:
    print(f"postfix_peer: {msg}", file=sys.stderr, flush=True)


class PeerError(Exception):
    pass


def run(cmd: list[str]) -> str:
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        raise PeerError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def free_port() -> int:
    # Racy by nature (another instance may take it before master binds): start() retries.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def make_pki(d: Path) -> None:
    """A CA and a server certificate for localhost/127.0.0.1/::1, with the openssl CLI.

    Explicit extension sections (not openssl's defaults) because rustls/webpki insist on
    a v3 CA with keyCertSign and a leaf with SANs; EC P-256 keeps generation instant.
    """
    (d / "pki.cnf").write_text(
        "[req]\ndistinguished_name = dn\n[dn]\n"
        "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
        "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
        "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1\n"
        "authorityKeyIdentifier = keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    cnf = ["-config", str(d / "pki.cnf")]
    run(["openssl", "req", "-x509", *ec, *cnf, "-extensions", "ca", "-days", "30",
         "-subj", "/CN=smtpscope postfix peer test CA",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem")])
    run(["openssl", "req", "-new", *ec, *cnf, "-subj", "/CN=localhost",
         "-keyout", str(d / "server.key"), "-out", str(d / "server.csr")])
    run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-days", "30",
         "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-set_serial",
         str(int.from_bytes(os.urandom(8), "big")), "-extfile", str(d / "pki.cnf"),
         "-extensions", "leaf", "-out", str(d / "server.pem")])


def write_configs(d: Path, port: int, implicit_port: int | None, timeout: str,
                  overrides: list[str], introspection_url: str | None = None) -> None:
    q = d / "queue"
    main = {
        # Everything private: a unique syslog_name tells concurrent instances apart in
        # any shared log, and maillog_file (via postlogd) keeps logging out of syslog.
        "compatibility_level": "3.6",
        "queue_directory": str(q),
        "data_directory": str(d / "data"),
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "syslog_name": f"postfix-smtpscope-{port}",
        "maillog_file": str(d / "maillog"),
        # Postfix refuses a maillog_file outside these prefixes (default /var, /dev/stdout).
        "maillog_file_prefixes": str(d),
        "myhostname": HOSTNAME,
        "mydomain": "smtpscope.test",
        "myorigin": "$myhostname",
        # No local delivery, no trusted networks: only SASL users may send.
        "mydestination": "",
        "mynetworks": "",
        "relay_domains": "",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        # Keep the client's headers as sent (no Date/Message-ID added for "local" clients).
        "local_header_rewrite_clients": "",
        "smtpd_timeout": timeout,
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": f"{d / 'server.key'}, {d / 'server.pem'}",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_auth_only": "yes",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "dovecot",
        # Relative to queue_directory, where smtpd runs (chroot off in master.cf).
        "smtpd_sasl_path": "private/auth",
        # Refuse an unauthenticated MAIL at MAIL (as SES does), not only at RCPT.
        "smtpd_delay_reject": "no",
        "smtpd_sender_restrictions": "permit_sasl_authenticated, reject",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
        "smtpd_recipient_restrictions": "",
        # The authorization failure after the final dot, keyed by the SASL login name.
        "smtpd_end_of_data_restrictions": f"check_sasl_access texthash:{d / 'sasl_access'}",
        # Drop only the Received: line smtpd prepends, so that a stored message is what
        # the client sent, with LF line ends (Postfix's queue keeps no CRs).
        "header_checks": f"regexp:{d / 'etc' / 'header_checks'}",
        # Every accepted message goes to the file sink below; one next-hop name for all
        # domains keeps a message's recipients in one delivery, hence one file.
        "default_transport": "sink:all",
        "relay_transport": "sink:all",
    }
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise PeerError(f"--set wants main.cf_param=value, got {item!r}")
        main[key.strip()] = value.strip()
    (d / "etc" / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))

    # chroot "n" everywhere: the private paths (SASL socket, TLS files) stay reachable.
    services = [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "tlsmgr unix - - n 1000? 1 tlsmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
        # dd, not tee: pipe(8) may not drain the command's stdout while it writes.
        f"sink unix - n n - - pipe user=nobody argv=/bin/dd of={d / 'mail'}/${{queue_id}}.eml"
        " status=none",
    ]
    if implicit_port is not None:
        services.insert(1, f"127.0.0.1:{implicit_port} inet n - n - - smtpd\n"
                           "  -o smtpd_tls_wrappermode=yes\n"
                           "  -o smtpd_tls_security_level=encrypt")
    (d / "etc" / "master.cf").write_text("\n".join(services) + "\n")

    (d / "etc" / "header_checks").write_text(
        f"/^Received: from .*[[:space:]]by {HOSTNAME.replace('.', '[.]')} [(]Postfix[)] "
        "with E?SMTPS?A? id [0-9A-Za-z]+/ IGNORE\n")
    (d / "sasl_access").write_text(f"denied {DENIED_554}\n")
    (d / "dovecot-users").write_text(
        "".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in USERS.items()))
    # Dovecot's oauth2 passdb, only for the OAuth mechanisms (passwords never reach it).
    mechanisms = "plain login"
    oauth_passdb = ""
    if introspection_url is not None:
        mechanisms += " xoauth2 oauthbearer"
        (d / "dovecot-oauth2.conf.ext").write_text(
            f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            "scope = smtp\ntimeout_msecs = 5000\n")
        oauth_passdb = f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d / 'dovecot-oauth2.conf.ext'}
}}
"""
    # Auth only: no protocols, no SSL; the auth socket sits where smtpd looks for it.
    # auth_failure_delay 0 and no anvil auth penalty (which would delay every AUTH from
    # 127.0.0.1 by up to 15 s after a failure) keep tests fast; the 535 text is unchanged.
    (d / "dovecot.conf").write_text(f"""\
base_dir = {d / 'dovecot'}
state_dir = {d / 'dovecot-state'}
instance_name = smtpscope-{port}
log_path = {d / 'dovecot.log'}
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {d / 'dovecot-users'}
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {q / 'private' / 'auth'} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
""")


def prepare_dirs(d: Path) -> None:
    # The postfix and nobody users must reach files under d (TempDir makes it 0700).
    d.chmod(0o755)
    # etc/ apart from the queue: "postfix check" then finds only root-owned files there.
    for sub in ("etc", "queue", "data", "dovecot", "dovecot-state", "mail"):
        (d / sub).mkdir(exist_ok=True)
    pf = pwd.getpwnam("postfix")
    os.chown(d / "data", pf.pw_uid, pf.pw_gid)
    nobody = pwd.getpwnam("nobody")
    os.chown(d / "mail", nobody.pw_uid, nobody.pw_gid)


STARTED: list[subprocess.Popen] = []
INTROSPECTION: list = []  # the mock introspection server, with --oauth2
STOPPING: list[int] = []


def spawn(cmd: list[str], out: Path, watchdog: int) -> subprocess.Popen:
    """Start a daemon in a session of its own: Postfix's master signals its whole process
    group on SIGTERM, and stopping can sweep every process left in the session."""
    with open(out, "ab") as f:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                 start_new_session=True, close_fds=True)
    STARTED.append(child)
    os.write(watchdog, f"{child.pid}\n".encode())
    return child


def session_members(sids: set[int]) -> list[int]:
    """Live (not zombie) processes whose session id is one of sids."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # After the ")" that closes the command name: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) in sids:
            pids.append(int(entry))
    return pids


def stop_started() -> None:
    stop_sessions({c.pid for c in STARTED}, STARTED)
    STARTED.clear()


def stop_sessions(sids: set[int], children: list[subprocess.Popen] = ()) -> None:
    """SIGTERM each session leader (Postfix's master and Dovecot each stop their own
    processes), wait a little, then SIGKILL whatever is left in those sessions."""
    for sid in sids:
        try:
            os.kill(sid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for c in children:  # reap our own children so they do not linger as zombies
        try:
            c.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
    while time.monotonic() < deadline and session_members(sids):
        time.sleep(0.05)
    for pid in session_members(sids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_watchdog(remove: Path | None) -> int:
    """Fork a process that stops the daemons if this launcher dies without doing so
    (SIGKILL, say). It reads their pids from a pipe; EOF without a final "done" line
    means the launcher is gone. PR_SET_PDEATHSIG cannot do this job: Postfix's master
    changes its credentials at start-up, which clears that setting."""
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            os.close(w)
            os.setsid()  # out of the launcher's process group and its signals
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)  # never hold the READY pipe open
            data = b""
            while chunk := os.read(r, 4096):
                data += chunk
            lines = data.split()
            if b"done" not in lines:
                stop_sessions({int(x) for x in lines})
                if remove:
                    shutil.rmtree(remove, ignore_errors=True)
        finally:
            os._exit(0)
    os.close(r)
    return w


def check_alive(children: list[subprocess.Popen], deadline: float, what: str) -> None:
    for c in children:
        if c.poll() is not None:
            raise PeerError(f"{c.args[0]} exited ({c.returncode}) while waiting for {what}")
    if time.monotonic() > deadline:
        raise PeerError(f"timed out waiting for {what}")


def greet(port: int, ca: Path | None, deadline: float,
          children: list[subprocess.Popen]) -> None:
    """Wait for a 220 greeting (through verified TLS when ca is given), then QUIT."""
    last: Exception | None = None
    while True:
        check_alive(children, deadline, f"a 220 greeting on 127.0.0.1:{port} (last: {last})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                sock = raw
                if ca is not None:
                    ctx = ssl.create_default_context(cafile=str(ca))
                    sock = ctx.wrap_socket(raw, server_hostname="localhost")
                f = sock.makefile("rb")
                line = f.readline()
                if not line.startswith(b"220 "):
                    raise PeerError(f"greeting on port {port}: {line!r}")
                sock.sendall(b"QUIT\r\n")
                f.readline()
                return
        except (OSError, ssl.SSLError) as e:
            last = e
            time.sleep(0.1)


def start(d: Path, args: argparse.Namespace,
          watchdog: int) -> tuple[list[subprocess.Popen], dict]:
    make_pki(d)
    prepare_dirs(d)
    master_path = run(["postconf", "-h", "-d", "daemon_directory"]).strip() + "/master"
    for attempt in range(3):
        port = args.port or free_port()
        implicit = None
        if args.implicit_port is not None:
            implicit = args.implicit_port or free_port()
        write_configs(d, port, implicit, args.smtpd_timeout, args.set or [],
                      INTROSPECTION[0].url if INTROSPECTION else None)
        # check creates the queue's subdirectories with Postfix's owners and modes.
        run([POSTFIX, "-c", str(d / "etc"), "check"])
        auth_socket = d / "queue/private/auth"
        auth_socket.unlink(missing_ok=True)
        deadline = time.monotonic() + START_TIMEOUT
        children = [spawn([DOVECOT, "-F", "-c", str(d / "dovecot.conf")], d / "dovecot.out",
                          watchdog)]
        children.append(spawn([master_path, "-c", str(d / "etc"), "-s"], d / "master.out",
                              watchdog))
        try:
            while not auth_socket.exists():
                check_alive(children, deadline, "Dovecot's auth socket")
                time.sleep(0.05)
            greet(port, None, deadline, children)
            if implicit is not None:
                greet(implicit, d / "ca.pem", deadline, children)
        except PeerError as e:
            stop_started()
            tail = (d / "master.out").read_text(errors="replace")[-2000:]
            mlog = (d / "maillog").read_text(errors="replace")[-2000:] if (
                d / "maillog").exists() else ""
            # master dies of a taken port before postlogd runs, so nothing logs why:
            # probe the ports ourselves, and pick again if we chose them.
            busy = [p for p in (port, implicit) if p and not port_free(p)]
            if busy and attempt < 2 and not (args.port or args.implicit_port):
                log(f"port {busy} taken meanwhile, retrying with others")
                for stale in ("master.out", "maillog"):
                    (d / stale).unlink(missing_ok=True)
                continue
            raise PeerError(f"{e}\nports in use by another process: {busy}\n"
                            f"master: {tail}\nmaillog: {mlog}\n"
                            f"dovecot: {(d / 'dovecot.out').read_text(errors='replace')}")
        info = {"port": port, "implicit_port": implicit, "ca_file": str(d / "ca.pem"),
                "dir": str(d), "pids": [c.pid for c in children],
                "introspection_port": INTROSPECTION[0].port if INTROSPECTION else None}
        return children, info
    raise PeerError("unreachable")


def serve(children: list[subprocess.Popen], watch_stdin: bool, parent: int) -> int:
    """Block until told to stop; returns the exit status."""
    while not STOPPING:
        if watch_stdin:
            ready, _, _ = select.select([sys.stdin], [], [], 0.5)
            if ready and not os.read(sys.stdin.fileno(), 4096):
                break
        else:
            time.sleep(0.5)
        if os.getppid() != parent:
            break
        dead = [c for c in children if c.poll() is not None]
        if dead:
            log(f"pid {dead[0].pid} exited by itself ({dead[0].returncode}); stopping")
            return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--implicit-port", type=int, default=None)
    ap.add_argument("--smtpd-timeout", default="10s")
    ap.add_argument("--set", action="append", metavar="PARAM=VALUE")
    ap.add_argument("--stop-on-stdin-eof", action="store_true")
    ap.add_argument("--remove-dir", action="store_true", help="delete DIR after stopping")
    ap.add_argument("--oauth2", action="store_true",
                    help="also offer XOAUTH2/OAUTHBEARER, checked by a mock introspection endpoint")
    args = ap.parse_args()
    if os.geteuid() != 0:
        log("must run as root (Postfix's master and Dovecot start as root)")
        return 2
    for binary, package in ((POSTFIX, "postfix"), (DOVECOT, "dovecot-core")):
        if not os.access(binary, os.X_OK):
            log(f"{binary} missing: install Debian's {package} (bash .ci/test does)")
            return 2
    d = args.dir.resolve()
    d.mkdir(parents=True, exist_ok=True)
    parent = os.getppid()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: STOPPING.append(1))
    watchdog = start_watchdog(d if args.remove_dir else None)
    if args.oauth2:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from oauth_introspect import Introspection
        INTROSPECTION.append(Introspection(OAUTH_TOKENS))
    try:
        children, info = start(d, args, watchdog)
        print("READY " + json.dumps(info), flush=True)
        return serve(children, args.stop_on_stdin_eof, parent)
    except PeerError as e:
        log(str(e))
        return 1
    finally:
        stop_started()
        for server in INTROSPECTION:
            server.stop()
        if args.remove_dir:
            shutil.rmtree(d, ignore_errors=True)
        os.write(watchdog, b"done\n")


if __name__ == "__main__":
    sys.exit(main())
