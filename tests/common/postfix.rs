//! A real Postfix with Dovecot SASL on 127.0.0.1, run privately by
//! `tests/peers/postfix/postfix_peer.py` (whose doc lists what the site accepts and refuses):
//! an SMTP server nobody on this project wrote, for sessions off the happy path.
//!
//! ```ignore
//! let peer = PostfixPeer::shared();             // one instance per test binary
//! let mut args = vec!["run".to_string()];
//! args.extend(peer.target_args());              // --host 127.0.0.1 --port P --ca-file CA
//! args.extend(["--user", "good", "--from", "a@example.com", "--to", "b@example.net"].map(String::from));
//! let out = smtpscope(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[("SMTPSCOPE_PASSWORD", "goodpass")]);
//! ```
//!
//! Needs root and Debian's postfix and dovecot-core (`bash .ci/test` installs them). A
//! missing peer panics: it is a test failure, never a skip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Users in the peer's Dovecot passwd-file: (user, password).
pub const GOOD: (&str, &str) = ("good", "goodpass");
/// Authenticates, then is refused after the final "." of DATA.
pub const DENIED: (&str, &str) = ("denied", "deniedpass");

/// A cold start (certificates, `postfix check`, both daemons) takes about 2 s; leave room
/// for a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_mins(1);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start an instance of your own; `Default` is the shared instance's set-up.
#[derive(Clone, Debug)]
pub struct PostfixOptions {
    /// Also listen with TLS from the first byte (`smtpd_tls_wrappermode`) on `implicit_port`.
    pub implicit_tls: bool,
    /// Postfix's `smtpd_timeout`: idle clients get `421 4.4.2 … Error: timeout exceeded`.
    pub smtpd_timeout: String,
    /// Extra or replaced main.cf parameters, e.g. `("smtpd_tls_security_level", "encrypt")`.
    pub main_cf: Vec<(String, String)>,
    /// Also offer XOAUTH2 and OAUTHBEARER, checked by Dovecot's oauth2 passdb against the
    /// launcher's mock token-introspection endpoint ([`OAUTH_GOOD_TOKEN`] is active).
    pub oauth2: bool,
}

impl Default for PostfixOptions {
    fn default() -> Self {
        PostfixOptions {
            implicit_tls: true,
            smtpd_timeout: "10s".into(),
            main_cf: Vec::new(),
            oauth2: false,
        }
    }
}

/// The access token the mock introspection endpoint calls active, for user "good"
/// (`OAUTH_TOKENS` in `postfix_peer.py`). Every other token is inactive. No word of it is in
/// the peer's certificate, whose DER `run --json` carries: the leak check looks for any
/// 12-character run of the token's base64 in the output.
pub const OAUTH_GOOD_TOKEN: &str = "peer-good-token-7f3a9c1e5b-xq";

pub struct PostfixPeer {
    /// SMTP with STARTTLS (AUTH only after it).
    pub port: u16,
    /// TLS from the first byte, when asked for.
    pub implicit_port: Option<u16>,
    /// The CA that signed the server certificate (names localhost, 127.0.0.1, `::1`).
    pub ca_file: PathBuf,
    /// The instance's private directory: etc/, queue/, maillog, dovecot.log, mail/.
    pub dir: PathBuf,
    /// Postfix's master and Dovecot, each the leader of its own session.
    pub pids: Vec<u32>,
    launcher: Child,
    /// Its write end is the instance's lifeline: closing it (or our death) stops it.
    lifeline: Option<ChildStdin>,
}

impl PostfixPeer {
    /// One instance per test binary, for sessions that do not depend on server settings.
    /// It stops when the test binary exits (statics are never dropped, but the launcher
    /// sees its stdin close), and removes its directory then.
    pub fn shared() -> &'static PostfixPeer {
        static SHARED: OnceLock<PostfixPeer> = OnceLock::new();
        SHARED.get_or_init(|| PostfixPeer::start_with(&PostfixOptions::default()))
    }

    /// An instance of its own with the default set-up, stopped on drop.
    pub fn start() -> PostfixPeer {
        PostfixPeer::start_with(&PostfixOptions::default())
    }

    /// An instance of your own: the shared set-up with these main.cf parameters added or
    /// replaced.
    pub fn with_main_cf(params: &[(&str, &str)]) -> PostfixPeer {
        PostfixPeer::start_with(&PostfixOptions {
            main_cf: params
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ..PostfixOptions::default()
        })
    }

    pub fn start_with(opts: &PostfixOptions) -> PostfixPeer {
        for (bin, package) in [
            ("/usr/sbin/postfix", "postfix"),
            ("/usr/sbin/dovecot", "dovecot-core"),
        ] {
            assert!(
                Path::new(bin).exists(),
                "the Postfix peer needs {bin}: install Debian's {package} (`bash .ci/test` does)"
            );
        }
        // The launcher removes the directory when it stops, whoever stops it.
        let dir = tempfile::Builder::new()
            .prefix("smtpscope-postfix-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let mut cmd = Command::new("python3");
        cmd.arg(launcher_script())
            .arg("--dir")
            .arg(&dir)
            .args(["--smtpd-timeout", &opts.smtpd_timeout])
            .args(["--stop-on-stdin-eof", "--remove-dir"]);
        if opts.implicit_tls {
            cmd.args(["--implicit-port", "0"]);
        }
        if opts.oauth2 {
            cmd.arg("--oauth2");
        }
        for (k, v) in &opts.main_cf {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        let mut launcher = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 tests/peers/postfix/postfix_peer.py");
        let lifeline = launcher.stdin.take();
        let stdout = launcher.stdout.take().expect("launcher stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(json) = line.strip_prefix("READY ") {
                    let _ = tx.send(json.to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let Ok(ready) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = launcher.kill();
            let status = launcher.wait();
            panic!(
                "the Postfix peer did not start within {START_TIMEOUT:?} (launcher: {status:?}; its stderr is above; it must run as root)"
            );
        };
        let info: serde_json::Value = serde_json::from_str(&ready).expect("READY JSON");
        let port = |key: &str| info[key].as_u64().map(|p| u16::try_from(p).unwrap());
        PostfixPeer {
            port: port("port").expect("READY port"),
            implicit_port: port("implicit_port"),
            ca_file: PathBuf::from(info["ca_file"].as_str().expect("READY ca_file")),
            dir,
            pids: info["pids"]
                .as_array()
                .expect("READY pids")
                .iter()
                .filter_map(|p| p.as_u64().map(|p| u32::try_from(p).unwrap()))
                .collect(),
            launcher,
            lifeline,
        }
    }

    /// `--host 127.0.0.1 --port P --ca-file CA` for `smtpscope run` (STARTTLS port).
    pub fn target_args(&self) -> Vec<String> {
        vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            self.port.to_string(),
            "--ca-file".into(),
            self.ca_file.display().to_string(),
        ]
    }

    /// `smtpscope run --json` on the STARTTLS port as `user`, from sender@example.com to
    /// rcpt@example.net, plus `extra` flags; the password goes through the environment.
    pub fn run_json(&self, user: &str, password: &str, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(self.target_args());
        args.extend(
            [
                "--user",
                user,
                "--from",
                "sender@example.com",
                "--to",
                "rcpt@example.net",
                "--json",
                "--timeout",
                "10",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(std::string::ToString::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        super::smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password)])
    }

    /// Postfix's log so far (smtpd, cleanup, qmgr, pipe lines).
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// The message Postfix accepted as `queue_id`, once delivered to the file sink:
    /// the bytes the client sent after dot-unstuffing, with LF line ends. Waits up to 10 s.
    pub fn message(&self, queue_id: &str) -> Vec<u8> {
        let delivered = format!("{queue_id}: to=<");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // pipe(8) logs status=sent only after the sink command has exited.
            let log = self.maillog();
            if log
                .lines()
                .any(|l| l.contains(&delivered) && l.contains("status=sent"))
            {
                let path = self.dir.join("mail").join(format!("{queue_id}.eml"));
                return std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            assert!(
                Instant::now() < deadline,
                "{queue_id} not delivered within 10 s; maillog:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl PostfixPeer {
    /// SIGKILLs the launcher, as a crash would; its watchdog then stops the daemons.
    pub fn kill_launcher(&mut self) {
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

impl Drop for PostfixPeer {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.launcher.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The launcher's watchdog stops the daemons once the launcher is gone.
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

/// The queue ID in Postfix's reply to the final ".": `2.0.0 Ok: queued as 4A1B2C3D4E`.
pub fn queue_id(reply_text: &str) -> Option<&str> {
    reply_text.split_once("queued as ").map(|(_, id)| id.trim())
}

pub fn launcher_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/postfix/postfix_peer.py")
}
