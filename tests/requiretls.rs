//! REQUIRETLS (RFC 8689) against a server that offers it, and `probe` with the extension
//! flags. Postfix and aiosmtpd do not implement REQUIRETLS, so the server here is
//! `tests/peers/requiretls_peer.py`: Python's asyncio and ssl, offering STARTTLS and, after
//! TLS only, REQUIRETLS. It parses MAIL FROM itself and logs every line it read; the tests
//! judge by that log (what the server received and answered), not by our transcript.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// A running scripted peer, its log and the CA that signed its certificate.
struct RtlsPeer {
    peer: Peer,
    log: PathBuf,
    pki: Pki,
}

/// `advertise`: after-tls (as RFC 8689 §2 says), before-tls (also on the plain connection,
/// as a misconfigured server might) or never.
fn start(advertise: &str) -> RtlsPeer {
    let pki = make_pki(LeafSpec::default());
    let log = pki.dir.path().join("peer.jsonl");
    let mut cmd = Command::new(python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/requiretls_peer.py"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--advertise",
            advertise,
        ])
        .arg("--cert")
        .arg(&pki.leaf_pem)
        .arg("--key")
        .arg(&pki.leaf_key)
        .arg("--log")
        .arg(&log);
    RtlsPeer {
        peer: start_ready(cmd),
        log,
        pki,
    }
}

impl RtlsPeer {
    /// What the server logged, one object per command or event.
    fn logged(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The MAIL FROM lines the server received, as it logged them.
    fn mails(&self) -> Vec<Value> {
        self.logged()
            .into_iter()
            .filter(|e| {
                e["line"]
                    .as_str()
                    .is_some_and(|l| l.to_ascii_uppercase().starts_with("MAIL "))
            })
            .collect()
    }

    /// The target flags for `run` and `probe`.
    fn target(&self, tls: &str) -> Vec<String> {
        [
            "--host",
            "127.0.0.1",
            "--port",
            &self.peer.port.to_string(),
            "--tls",
            tls,
            "--ca-file",
            self.pki.ca_pem.to_str().unwrap(),
            "--auth",
            "none",
            "--from",
            "a@example.com",
            "--to",
            "b@example.net",
            "--timeout",
            "10",
        ]
        .map(String::from)
        .to_vec()
    }

    fn command(&self, command: &str, tls: &str, extra: &[&str]) -> Output {
        let mut args = vec![command.to_string()];
        args.extend(self.target(tls));
        args.extend(extra.iter().map(ToString::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        smtpscope(&args, &[])
    }

    /// `run --json` with `extra`.
    fn run(&self, tls: &str, extra: &[&str]) -> (Output, Vec<Value>) {
        let out = self.command("run", tls, &[&["--json"], extra].concat());
        let lines = json_lines(&out);
        (out, lines)
    }
}

fn sent_mail(lines: &[Value]) -> Option<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "sent")
        .filter_map(|l| l["line"].as_str())
        .find(|l| l.starts_with("MAIL"))
        .map(String::from)
}

/// The "Offered: … Not offered: …" summary of the last EHLO reply.
fn last_ehlo_summary(lines: &[Value]) -> String {
    let ehlo = lines
        .iter()
        .rfind(|l| l["type"] == "reply" && l["after"] == "ehlo")
        .expect("an EHLO reply");
    ehlo["diagnosis"]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|n| n.starts_with("Offered:"))
        .unwrap_or_else(|| panic!("no EHLO summary in {ehlo}"))
        .to_string()
}

fn offered_part(summary: &str) -> &str {
    summary.split(" Not offered:").next().unwrap()
}

#[test]
fn requiretls_after_starttls_is_accepted_by_a_server_that_offers_it() {
    let peer = start("after-tls");
    let (out, lines) = peer.run("starttls", &["--requiretls"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The server's own view: one MAIL FROM, inside TLS, after an EHLO that offered
    // REQUIRETLS, with REQUIRETLS as a parameter it parsed, and accepted.
    let mails = peer.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    let line = mail["line"].as_str().unwrap();
    assert!(line.starts_with("MAIL FROM:<a@example.com> "), "{line}");
    assert!(line.ends_with(" REQUIRETLS"), "{line}");
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["offered_requiretls"], true, "{mail}");
    assert_eq!(mail["path"], "<a@example.com>", "{mail}");
    assert_eq!(
        mail["params"].as_array().unwrap().last().unwrap(),
        "REQUIRETLS",
        "{mail}"
    );
    assert!(
        mail["reply"].as_str().unwrap().starts_with("250 "),
        "{mail}"
    );
    let message = peer
        .logged()
        .into_iter()
        .find(|e| e["event"] == "message")
        .expect("the server logged the message");
    assert_eq!(message["requiretls"], true, "{message}");
    assert_eq!(message["tls"], true, "{message}");
    // What we say we sent is what the server read.
    assert_eq!(sent_mail(&lines).as_deref(), Some(line));

    // The EHLO summary after TLS lists REQUIRETLS as offered; the one before TLS does not.
    let after = last_ehlo_summary(&lines);
    assert!(offered_part(&after).contains("REQUIRETLS"), "{after}");
    let before = lines
        .iter()
        .find(|l| l["type"] == "reply" && l["after"] == "ehlo")
        .unwrap();
    let before = before["diagnosis"]["notes"].to_string();
    assert!(before.contains("Not offered:"), "{before}");
    assert!(
        !offered_part(&before).contains("REQUIRETLS"),
        "the plain EHLO offered REQUIRETLS: {before}"
    );
    assert!(
        lines.iter().any(|l| l["type"] == "info"
            && l["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("REQUIRETLS (RFC 8689)"))),
        "{}",
        text(&out)
    );

    // Without the flag, MAIL FROM carries no REQUIRETLS (the server parses both).
    let (out, _) = peer.run("starttls", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mails = peer.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1]["requiretls"], false, "{:?}", mails[1]);
}

#[test]
fn requiretls_is_never_sent_without_tls_even_forced() {
    // A server that (wrongly) offers REQUIRETLS on the plain connection: RFC 8689 §2 says
    // the option MUST only be used in a session that employs TLS, so nothing is sent.
    let peer = start("before-tls");
    for extra in [
        &["--requiretls"][..],
        &["--requiretls", "--force-ext", "requiretls"][..],
    ] {
        let (out, lines) = peer.run("none", extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out));
        assert!(
            text(&out).contains("only inside TLS (RFC 8689 §2)"),
            "{extra:?}: {}",
            text(&out)
        );
        assert_eq!(sent_mail(&lines), None, "{extra:?}: {}", text(&out));
        // The plain EHLO did offer it, and the summary says so.
        let summary = last_ehlo_summary(&lines);
        assert!(offered_part(&summary).contains("REQUIRETLS"), "{summary}");
    }
    let logged = peer.logged();
    assert!(
        logged
            .iter()
            .any(|e| e["offered_requiretls"] == true && e["tls"] == false),
        "{logged:?}"
    );
    assert_eq!(
        peer.mails(),
        Vec::<Value>::new(),
        "MAIL FROM reached the server"
    );
    // Without --requiretls the same plain session sends its message.
    let (out, _) = peer.run("none", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(peer.mails().len(), 1);
}

#[test]
fn requiretls_not_offered_is_refused_unless_forced() {
    let peer = start("never");
    let (out, lines) = peer.run("starttls", &["--requiretls"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("REQUIRETLS extension, which its EHLO reply did not offer"),
        "{}",
        text(&out)
    );
    assert_eq!(sent_mail(&lines), None);
    assert!(peer.mails().is_empty(), "{:?}", peer.mails());
    let summary = last_ehlo_summary(&lines);
    assert!(!offered_part(&summary).contains("REQUIRETLS"), "{summary}");
    assert!(summary.contains("REQUIRETLS"), "{summary}");

    // Forced: sent inside TLS with a FORCED warning; this server refuses what it did not
    // offer, and says so in its own log.
    let (out, lines) = peer.run("starttls", &["--requiretls", "--force-ext", "requiretls"]);
    assert!(
        lines.iter().any(|l| l["type"] == "warning"
            && l["text"].as_str().is_some_and(|t| t.starts_with("FORCED"))),
        "{}",
        text(&out)
    );
    let mails = peer.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["offered_requiretls"], false);
    assert_eq!(mails[0]["requiretls"], true);
    assert!(mails[0]["reply"].as_str().unwrap().starts_with("555 "));
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
}

/// `probe` with `target` flags and `extra`.
fn probe(peer: &RtlsPeer, mode: &str, extra: &[&str]) -> Output {
    peer.command("probe", "starttls", &[&["--mode", mode], extra].concat())
}

fn success(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == "probe_success 1")
}

#[test]
fn probe_takes_requiretls_and_pipeline_in_send_mode() {
    let peer = start("after-tls");
    let out = probe(&peer, "send", &["--requiretls", "--pipeline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(success(&out), "{}", text(&out));
    let mails = peer.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["requiretls"], true, "{:?}", mails[0]);
    assert_eq!(mails[0]["tls"], true, "{:?}", mails[0]);
    // Pipelined: when the server read MAIL, RCPT and DATA had arrived with it.
    let ahead = mails[0]["ahead"].as_str().unwrap();
    assert_eq!(
        ahead, "RCPT TO:<b@example.net>\r\nDATA\r\n",
        "{:?}",
        mails[0]
    );

    // The same probe without the flags: no REQUIRETLS, one command at a time.
    let out = probe(&peer, "send", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mails = peer.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1]["requiretls"], false, "{:?}", mails[1]);
    assert_eq!(mails[1]["ahead"], "", "{:?}", mails[1]);
}

#[test]
fn probe_refuses_requiretls_where_run_does() {
    let never = start("never");
    let out = probe(&never, "send", &["--requiretls"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!success(&out), "{}", text(&out));
    assert!(
        never.mails().is_empty(),
        "MAIL FROM reached the server: {:?}",
        never.mails()
    );
    // Forced, it is sent (and this server refuses it).
    let out = probe(
        &never,
        "send",
        &["--requiretls", "--force-ext", "requiretls"],
    );
    assert!(!success(&out), "{}", text(&out));
    assert_eq!(never.mails().len(), 1);
    assert_eq!(never.mails()[0]["requiretls"], true);
}

#[test]
fn probe_extension_flags_that_need_a_message_need_send_mode() {
    let peer = start("after-tls");
    for (mode, flags) in [
        ("connect", &["--requiretls"][..]),
        ("tls", &["--pipeline"][..]),
        ("auth", &["--dsn-notify", "failure"][..]),
        ("tls", &["--force-ext", "requiretls"][..]),
    ] {
        let out = probe(&peer, mode, flags);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{mode} {flags:?}: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("needs --mode send"),
            "{mode} {flags:?}: {}",
            text(&out)
        );
    }
    assert!(peer.logged().is_empty(), "a refused probe connected");
    // The address family applies to every mode.
    let out = probe(&peer, "tls", &["-4"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(success(&out), "{}", text(&out));
    let out = probe(&peer, "connect", &["-6"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!success(&out), "{}", text(&out));
    // 127.0.0.1 has no IPv6 address: the probe could not connect at all.
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("smtp_probe_outcome{outcome=\"connection_failed\"} 1"),
        "{}",
        text(&out)
    );
    let out = probe(&peer, "connect", &[]);
    assert!(success(&out), "{}", text(&out));
    // The help says which flags a probe takes where.
    let help = smtpscope(&["probe", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--requiretls"), "{help}");
    assert!(help.contains("-4/-6 apply in every mode"), "{help}");
}
