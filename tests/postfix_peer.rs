//! `smtpscope run` against a real Postfix with Dovecot SASL (tests/common/postfix.rs).
//!
//! Where smtpscope's verdict on a Postfix reply is still being reworked (the session-model
//! rewrite), these tests assert only what Postfix replied, not smtpscope's wording.

mod common;

use common::postfix::{DENIED, GOOD, PostfixOptions, PostfixPeer, queue_id};
use common::*;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

/// `smtpscope run --json` against the shared peer's STARTTLS port.
fn run(user: &str, password: &str, extra: &[&str]) -> std::process::Output {
    PostfixPeer::shared().run_json(user, password, extra)
}

/// The first reply that answers `after` (a command verb, or "data-end" for the final ".").
fn reply_after<'a>(lines: &'a [serde_json::Value], after: &str) -> &'a serde_json::Value {
    replies(lines)
        .into_iter()
        .find(|r| r["after"] == after)
        .unwrap_or_else(|| panic!("no reply after {after}: {lines:#?}"))
}

fn codes(lines: &[serde_json::Value]) -> Vec<i64> {
    replies(lines)
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect()
}

#[test]
fn good_user_is_accepted_and_postfix_stores_the_message_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("message.eml");
    let message = "From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: postfix peer\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n";
    std::fs::write(&eml, message).unwrap();
    let data = format!("@{}", eml.display());
    let out = run(GOOD.0, GOOD.1, &["--data", &data]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    assert_eq!(
        codes(&lines),
        vec![220, 250, 220, 250, 235, 250, 250, 354, 250, 221],
        "{}",
        text(&out)
    );
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "tls-started"
                && l["info"]["verification"]["outcome"] == "verified"),
        "the launcher's CA verifies Postfix's certificate"
    );
    let accepted = reply_after(&lines, "data-end");
    let id = queue_id(accepted["text"].as_str().unwrap()).expect("queued as ID");
    // Postfix keeps no CRs; dot-stuffing was added by smtpscope and undone by Postfix.
    let stored = PostfixPeer::shared().message(id);
    assert_eq!(
        String::from_utf8_lossy(&stored),
        message.replace("\r\n", "\n")
    );
    assert_no_secret(&text(&out), GOOD.0, GOOD.1);
}

#[test]
fn wrong_password_is_postfix_535_at_auth_and_exit_6() {
    let out = run(GOOD.0, "wrongpass", &["--keep-going"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let lines = json_lines(&out);
    let auth = reply_after(&lines, "auth");
    assert_eq!(auth["code"], 535);
    assert_eq!(
        auth["text"],
        "5.7.8 Error: authentication failed: (reason unavailable)"
    );
    assert_eq!(auth["phase"], "authentication");
    // Postfix's own answer to MAIL after the failed AUTH (smtpd_sender_restrictions).
    let mail = reply_after(&lines, "mail");
    assert_eq!(mail["code"], 554);
    assert_eq!(
        mail["text"],
        "5.7.1 <sender@example.com>: Sender address rejected: Access denied"
    );
    assert_no_secret(&text(&out), GOOD.0, "wrongpass");
}

#[test]
fn auth_login_with_a_wrong_password_is_535_in_authentication() {
    let out = run(GOOD.0, "wrongpass", &["--auth", "login"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let lines = json_lines(&out);
    let auth: Vec<i64> = replies(&lines)
        .iter()
        .filter(|r| r["after"] == "auth" || r["phase"] == "authentication")
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(auth, vec![334, 334, 535], "{}", text(&out));
    let failed = replies(&lines)
        .into_iter()
        .find(|r| r["code"] == 535)
        .unwrap();
    assert_eq!(failed["phase"], "authentication");
    assert_no_secret(&text(&out), GOOD.0, "wrongpass");
}

#[test]
fn denied_user_authenticates_then_gets_554_after_the_final_dot() {
    let out = run(DENIED.0, DENIED.1, &[]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let lines = json_lines(&out);
    assert_eq!(reply_after(&lines, "auth")["code"], 235);
    assert_eq!(reply_after(&lines, "mail")["code"], 250);
    assert_eq!(reply_after(&lines, "rcpt")["code"], 250);
    assert_eq!(reply_after(&lines, "data")["code"], 354);
    let denied = reply_after(&lines, "data-end");
    assert_eq!(denied["code"], 554);
    assert_eq!(
        denied["text"],
        "5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/denied' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
    );
    assert_eq!(denied["phase"], "authorization");
    assert_no_secret(&text(&out), DENIED.0, DENIED.1);
}

#[test]
fn auth_without_tls_gets_postfix_refusal() {
    let out = run(GOOD.0, GOOD.1, &["--tls", "none"]);
    let lines = json_lines(&out);
    let ehlo = reply_after(&lines, "ehlo");
    // The server's lines, not smtpscope's explanation of them (which names AUTH in prose).
    assert!(
        !ehlo["lines"].to_string().contains("AUTH"),
        "smtpd_tls_auth_only: no AUTH offered before TLS: {ehlo}"
    );
    let auth = reply_after(&lines, "auth");
    assert_eq!(auth["code"], 503, "{}", text(&out));
    assert_eq!(auth["text"], "5.5.1 Error: authentication not enabled");
    assert!(
        !replies(&lines).iter().any(|r| r["tls"] == true),
        "nothing went through TLS"
    );
}

#[test]
fn mail_without_auth_is_refused_by_postfix_at_mail() {
    let out = run(GOOD.0, GOOD.1, &["--auth", "none", "--keep-going"]);
    let lines = json_lines(&out);
    let mail = reply_after(&lines, "mail");
    assert_eq!(mail["code"], 554, "{}", text(&out));
    assert_eq!(
        mail["text"],
        "5.7.1 <sender@example.com>: Sender address rejected: Access denied"
    );
    assert!(out.status.code() != Some(0), "{}", text(&out));
}

#[test]
fn implicit_tls_port_greets_inside_tls() {
    let peer = PostfixPeer::shared();
    let port = peer
        .implicit_port
        .expect("the shared peer has an implicit port");
    let out = smtpscope(
        &[
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tls",
            "implicit",
            "--ca-file",
            peer.ca_file.to_str().unwrap(),
            "--user",
            GOOD.0,
            "--quit-after",
            "auth",
            "--json",
            "--timeout",
            "10",
        ],
        &[("SMTPSCOPE_PASSWORD", GOOD.1)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    assert_eq!(replies(&lines)[0]["code"], 220);
    assert_eq!(replies(&lines)[0]["tls"], true);
    assert_eq!(reply_after(&lines, "auth")["code"], 235);
}

/// Live processes whose session id is one of `sids` (the peer's master and Dovecot lead
/// their own sessions).
fn session_members(sids: &[u32]) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let sid = fields.get(3).and_then(|s| s.parse::<u32>().ok());
        if fields.first() != Some(&"Z") && sid.is_some_and(|s| sids.contains(&s)) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn idle_timeout_then_stop_leaves_nothing_behind() {
    let peer = PostfixPeer::start_with(&PostfixOptions {
        implicit_tls: false,
        smtpd_timeout: "2s".into(),
        main_cf: Vec::new(),
        oauth2: false,
    });
    assert!(!session_members(&peer.pids).is_empty());
    let stream = std::net::TcpStream::connect(("127.0.0.1", peer.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("220 "), "{line}");
    let started = Instant::now();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "421 4.4.2 postfix.smtpscope.test Error: timeout exceeded\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap(), 0, "then it hangs up");
    drop((reader, stream));

    let (pids, dir) = (peer.pids.clone(), peer.dir.clone());
    drop(peer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !session_members(&pids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(session_members(&pids), Vec::<u32>::new(), "left running");
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[test]
fn a_killed_launcher_takes_its_daemons_with_it() {
    let mut peer = PostfixPeer::start_with(&PostfixOptions {
        implicit_tls: false,
        ..PostfixOptions::default()
    });
    let pids = peer.pids.clone();
    // SIGKILL leaves the launcher no say: its watchdog must stop master and Dovecot.
    peer.kill_launcher();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !session_members(&pids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(session_members(&pids), Vec::<u32>::new(), "left running");
}

#[test]
fn the_summary_names_postfix_from_its_greeting() {
    let out = run(GOOD.0, GOOD.1, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let greeting = reply_after(&lines, "connect");
    assert!(
        greeting["text"].as_str().unwrap().contains("ESMTP Postfix"),
        "{greeting}"
    );
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line");
    assert_eq!(summary["provider"], "postfix", "{summary}");
    assert_eq!(summary["provider_from"], "greeting", "{summary}");
}
