//! SMTP extensions (issue 15 §3) against servers we did not write: a private Postfix
//! (PIPELINING, CHUNKING, SMTPUTF8, DSN, SIZE, 8BITMIME; it has no REQUIRETLS) and, where
//! the exact bytes a server received matter more than who wrote it, a scripted listener
//! that records them.

mod common;

use common::postfix::{GOOD, PostfixPeer, queue_id};
use common::*;
use std::io::{Read, Write};
use std::sync::OnceLock;

/// Postfix with SMTPUTF8 on, a 200 kB SIZE limit, and non-FQDN recipients refused at RCPT
/// (so a pipelined group can fail in the middle).
fn peer() -> &'static PostfixPeer {
    static P: OnceLock<PostfixPeer> = OnceLock::new();
    P.get_or_init(|| {
        PostfixPeer::with_main_cf(&[
            ("smtputf8_enable", "yes"),
            ("message_size_limit", "200000"),
            ("smtpd_recipient_restrictions", "reject_non_fqdn_recipient"),
        ])
    })
}

/// Postfix that advertises none of PIPELINING, CHUNKING, SMTPUTF8 and DSN.
fn bare_peer() -> &'static PostfixPeer {
    static P: OnceLock<PostfixPeer> = OnceLock::new();
    P.get_or_init(|| {
        PostfixPeer::with_main_cf(&[
            ("smtputf8_enable", "no"),
            (
                "smtpd_discard_ehlo_keywords",
                "pipelining, chunking, dsn, smtputf8",
            ),
        ])
    })
}

fn run(peer: &PostfixPeer, extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = peer.run_json(GOOD.0, GOOD.1, extra);
    let lines = json_lines(&out);
    (out, lines)
}

fn sent(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "sent")
        .map(|l| l["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn reply_codes_after(lines: &[serde_json::Value], after: &str) -> Vec<i64> {
    replies(lines)
        .iter()
        .filter(|r| r["after"] == after)
        .map(|r| r["code"].as_i64().unwrap())
        .collect()
}

fn summary(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines.last().expect("a summary line")
}

fn has_text(lines: &[serde_json::Value], kind: &str, needle: &str) -> bool {
    lines
        .iter()
        .any(|l| l["type"] == kind && l["text"].as_str().is_some_and(|t| t.contains(needle)))
}

/// Index of the first entry of `kind` whose `key` starts with `prefix`.
fn position(lines: &[serde_json::Value], kind: &str, key: &str, prefix: &str) -> usize {
    lines
        .iter()
        .position(|l| l["type"] == kind && l[key].as_str().is_some_and(|t| t.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no {kind} with {key} {prefix}: {lines:#?}"))
}

fn write_message(dir: &tempfile::TempDir, bytes: &[u8]) -> String {
    let path = dir.path().join("m.eml");
    std::fs::write(&path, bytes).unwrap();
    format!("@{}", path.display())
}

/// Index of the first `reply` entry after entry `after`.
fn first_reply_after(lines: &[serde_json::Value], after: usize) -> usize {
    lines
        .iter()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l["type"] == "reply")
        .map_or_else(
            || panic!("no reply after entry {after}: {lines:#?}"),
            |(i, _)| i,
        )
}

#[test]
fn pipelined_group_goes_out_before_any_reply_and_each_reply_answers_its_command() {
    let (out, lines) = run(peer(), &["--pipeline", "--to", "second@example.org"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // AUTH PLAIN with its initial response opens the group (RFC 4954 §4).
    assert!(
        has_text(&lines, "info", "PIPELINING: sending 5 commands"),
        "{}",
        text(&out)
    );
    let auth = position(&lines, "sent", "line", "AUTH PLAIN");
    let data = position(&lines, "sent", "line", "DATA");
    assert!(
        data < first_reply_after(&lines, auth),
        "DATA went out before AUTH's reply"
    );
    let group: Vec<&str> = lines[auth..=data]
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(group, ["sent"; 5]);
    assert_eq!(reply_codes_after(&lines, "auth"), [235]);
    assert_eq!(reply_codes_after(&lines, "mail"), [250]);
    assert_eq!(reply_codes_after(&lines, "rcpt"), [250, 250]);
    assert_eq!(reply_codes_after(&lines, "data"), [354]);
    // QUIT follows the message without waiting for its answer; each reply answers its own.
    let message = lines
        .iter()
        .position(|l| l["type"] == "message")
        .expect("a message entry");
    let quit = position(&lines, "sent", "line", "QUIT");
    assert!(
        quit < first_reply_after(&lines, message),
        "QUIT went out before the message's reply"
    );
    assert_eq!(reply_codes_after(&lines, "data-end"), [250]);
    assert_eq!(reply_codes_after(&lines, "quit"), [221]);
    assert_eq!(summary(&lines)["messages_accepted"], 1);
    // Postfix took the group as proper pipelining (it logs any command sent after one that
    // must end a group, such as EHLO or DATA).
    let log = peer().maillog();
    assert!(!log.contains("improper command pipelining"), "{log}");
}

/// A wrong password in a pipelined group: Postfix answers AUTH with 535 and refuses the
/// rest, and the verdict, outcome and exit code are those of the same run without
/// `--pipeline`.
#[test]
fn pipelined_auth_with_a_wrong_password_is_still_an_authentication_failure() {
    let piped = peer().run_json(GOOD.0, "not-the-password", &["--pipeline"]);
    let plain = peer().run_json(GOOD.0, "not-the-password", &[]);
    let (lp, ln) = (json_lines(&piped), json_lines(&plain));
    assert!(
        has_text(&lp, "info", "PIPELINING: sending 4 commands"),
        "{}",
        text(&piped)
    );
    assert_eq!(reply_codes_after(&lp, "auth"), [535], "{}", text(&piped));
    assert_eq!(reply_codes_after(&ln, "auth"), [535], "{}", text(&plain));
    let mail = reply_codes_after(&lp, "mail");
    assert!(mail.len() == 1 && mail[0] >= 500, "{}", text(&piped));
    assert!(
        !lp.iter().any(|l| l["type"] == "message"),
        "{}",
        text(&piped)
    );
    let (sp, sn) = (summary(&lp), summary(&ln));
    assert_eq!(sp["outcome"], "authentication_failed", "{sp}");
    assert_eq!(sp["outcome"], sn["outcome"]);
    assert_eq!(sp["verdict"], sn["verdict"]);
    assert_eq!(piped.status.code(), plain.status.code());
    let auth_reply = lp
        .iter()
        .find(|l| l["type"] == "reply" && l["after"] == "auth")
        .unwrap();
    assert_eq!(sp["decided_by"], auth_reply["seq"], "{sp}");
    assert!(!text(&piped).contains("not-the-password"));
}

/// A server that takes mail without AUTH (here: Postfix relaying for its local network) answers the
/// group's MAIL, RCPT and DATA after refusing AUTH. The message must not go out
/// unauthenticated: smtpscope hangs up at the 354, and Postfix queues nothing.
#[test]
fn a_failed_pipelined_auth_never_sends_the_message_even_when_data_opens() {
    let open = PostfixPeer::with_main_cf(&[
        ("mynetworks", "127.0.0.0/8"),
        ("smtpd_sender_restrictions", "permit"),
        ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
    ]);
    let out = open.run_json(GOOD.0, "not-the-password", &["--pipeline"]);
    let lines = json_lines(&out);
    assert_eq!(reply_codes_after(&lines, "auth"), [535], "{}", text(&out));
    assert_eq!(reply_codes_after(&lines, "mail"), [250], "{}", text(&out));
    assert_eq!(reply_codes_after(&lines, "data"), [354], "{}", text(&out));
    assert!(
        has_text(&lines, "info", "nothing goes out unauthenticated"),
        "{}",
        text(&out)
    );
    assert!(
        !lines.iter().any(|l| l["type"] == "message"),
        "{}",
        text(&out)
    );
    assert_eq!(summary(&lines)["outcome"], "authentication_failed");
    assert_ne!(out.status.code(), Some(0));
    // Postfix saw the connection end inside DATA and queued nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = open.maillog();
        if log.contains("disconnect from") || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(log.contains("lost connection after DATA"), "{log}");
    assert!(!log.contains("message-id="), "{log}");
}

#[test]
fn pipelined_group_with_a_refused_recipient_is_decided_by_the_rcpt() {
    // rcpt@localhost is not fully qualified: Postfix refuses it at RCPT, then DATA gets
    // "554 no valid recipients". The verdict is the RCPT's, not DATA's.
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(peer().target_args());
    args.extend(
        [
            "--user",
            GOOD.0,
            "--from",
            "a@example.com",
            "--to",
            "rcpt@localhost",
            "--json",
            "--timeout",
            "10",
            "--pipeline",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[("SMTPSCOPE_PASSWORD", GOOD.1)]);
    let lines = json_lines(&out);
    assert_eq!(reply_codes_after(&lines, "mail"), [250], "{}", text(&out));
    assert_eq!(reply_codes_after(&lines, "rcpt"), [504], "{}", text(&out));
    assert_eq!(reply_codes_after(&lines, "data"), [554], "{}", text(&out));
    let s = summary(&lines);
    assert_eq!(s["outcome"], "recipient_refused", "{s}");
    assert_eq!(s["failed_step"], "rcpt", "{s}");
    let rcpt_reply = lines
        .iter()
        .find(|l| l["type"] == "reply" && l["after"] == "rcpt")
        .unwrap();
    assert_eq!(s["decided_by"], rcpt_reply["seq"], "{s}");
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn bdat_sends_the_bytes_unstuffed_in_chunks_and_postfix_stores_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut msg =
        b"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: bdat\r\n\r\n".to_vec();
    msg.extend_from_slice(b".leading dot\r\n..two dots\r\n.\r\ncaf\xc3\xa9\r\n");
    for i in 0..60 {
        msg.extend_from_slice(format!("line {i:03} {}\r\n", "x".repeat(40)).as_bytes());
    }
    let data = write_message(&dir, &msg);
    let (out, lines) = run(peer(), &["--data", &data, "--bdat", "--bdat-chunk", "1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sent = sent(&lines);
    assert!(!sent.iter().any(|l| l == "DATA"), "{sent:?}");
    let chunks: Vec<&String> = sent.iter().filter(|l| l.starts_with("BDAT")).collect();
    let n = msg.len().div_ceil(1000);
    assert_eq!(chunks.len(), n, "{sent:?}");
    assert!(chunks[..n - 1].iter().all(|c| *c == "BDAT 1000"));
    assert_eq!(
        *chunks[n - 1],
        format!("BDAT {} LAST", msg.len() - (n - 1) * 1000)
    );
    let mail = sent.iter().find(|l| l.starts_with("MAIL")).unwrap();
    assert!(mail.contains(&format!("SIZE={}", msg.len())), "{mail}");
    assert!(mail.contains("BODY=8BITMIME"), "{mail}");
    let done = replies(&lines)
        .into_iter()
        .find(|r| r["after"] == "data-end")
        .unwrap();
    let id = queue_id(done["text"].as_str().unwrap()).unwrap();
    // Postfix stores LF line ends; the leading dots are as sent: nothing was stuffed.
    let expected: Vec<u8> = msg.iter().copied().filter(|b| *b != b'\r').collect();
    assert_eq!(peer().message(id), expected);
}

/// A scripted CHUNKING server: records every byte after BDAT's size, answers each chunk.
fn chunking_server() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        // A hang guard, not a time cap: a client that never connects fails the test.
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("no client connected: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        s.write_all(b"220 scripted ESMTP\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = Vec::new();
        let read_line = |s: &mut std::net::TcpStream, buf: &mut Vec<u8>| -> String {
            loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    let line: Vec<u8> = buf.drain(..p + 2).collect();
                    return String::from_utf8_lossy(&line[..p]).into_owned();
                }
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "client closed early");
                buf.extend_from_slice(&chunk[..n]);
            }
        };
        loop {
            let line = read_line(&mut s, &mut buf);
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                s.write_all(b"250-scripted\r\n250-CHUNKING\r\n250 8BITMIME\r\n")
                    .unwrap();
            } else if let Some(rest) = upper.strip_prefix("BDAT ") {
                let mut words = rest.split_whitespace();
                let size: usize = words.next().unwrap().parse().unwrap();
                let last = words.next() == Some("LAST");
                while buf.len() < size {
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).unwrap();
                    assert!(n > 0);
                    buf.extend_from_slice(&chunk[..n]);
                }
                got.extend(buf.drain(..size));
                let reply: &[u8] = if last {
                    b"250 2.0.0 message stored\r\n"
                } else {
                    b"250 2.0.0 chunk\r\n"
                };
                s.write_all(reply).unwrap();
            } else if upper.starts_with("QUIT") {
                s.write_all(b"221 bye\r\n").unwrap();
                return got;
            } else {
                s.write_all(b"250 ok\r\n").unwrap();
            }
        }
    });
    (port, handle)
}

#[test]
fn bdat_is_byte_exact_at_the_server() {
    // Dots at line starts, a bare LF, a bare CR, 8-bit bytes and no final CRLF: BDAT
    // carries all of it exactly (DATA would have stuffed and rewritten them).
    let dir = tempfile::tempdir().unwrap();
    let mut msg = b"Subject: exact\r\n\r\n.one\r\n..two\nbare lf\rbare cr\r\n\xff\xfe".to_vec();
    msg.extend((0..5000u32).map(|i| b"ab.\r\n"[(i % 5) as usize]));
    let data = write_message(&dir, &msg);
    let (port, server) = chunking_server();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tls",
            "none",
            "--auth",
            "none",
            "--from",
            "a@example.com",
            "--to",
            "b@example.net",
            "--data",
            &data,
            "--bdat",
            "--bdat-chunk",
            "777",
            "--json",
            "--timeout",
            "10",
        ],
        &[],
    );
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        got, msg,
        "the server received other bytes than the file holds"
    );
    let lines = json_lines(&out);
    assert!(has_text(&lines, "warning", "bare LF"), "{}", text(&out));
}

#[test]
fn dsn_parameters_are_xtext_encoded_and_postfix_accepts_them() {
    let (out, lines) = run(
        peer(),
        &[
            "--dsn-notify",
            "success,failure",
            "--dsn-ret",
            "hdrs",
            "--envid",
            "id+1=x y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sent = sent(&lines);
    let mail = sent.iter().find(|l| l.starts_with("MAIL")).unwrap();
    assert!(mail.ends_with("RET=HDRS ENVID=id+2B1+3Dx+20y"), "{mail}");
    let rcpt = sent.iter().find(|l| l.starts_with("RCPT")).unwrap();
    assert_eq!(
        rcpt,
        "RCPT TO:<rcpt@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;rcpt@example.net"
    );
    assert_eq!(reply_codes_after(&lines, "mail"), [250]);
    assert_eq!(reply_codes_after(&lines, "rcpt"), [250]);
}

#[test]
fn dsn_values_are_checked_before_connecting() {
    for bad in [
        vec!["--dsn-notify", "never,success"],
        vec!["--dsn-notify", "often"],
        vec!["--dsn-ret", "all"],
        vec!["--envid", "a\r\nRSET"],
        vec!["--force-ext", "turbo"],
    ] {
        let out = smtpscope(
            &[
                &[
                    "run",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "9",
                    "--auth",
                    "none",
                    "--from",
                    "a@b.c",
                    "--to",
                    "d@e.f",
                ],
                &bad[..],
            ]
            .concat(),
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
        assert!(
            !text(&out).contains("Trying"),
            "{bad:?} connected: {}",
            text(&out)
        );
    }
}

#[test]
fn dsn_not_offered_is_an_error_unless_forced() {
    let (out, lines) = run(bare_peer(), &["--dsn-notify", "failure"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !sent(&lines).iter().any(|l| l.starts_with("MAIL")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("DSN"), "{}", text(&out));
    let (out, lines) = run(
        bare_peer(),
        &["--dsn-notify", "failure", "--force-ext", "dsn"],
    );
    assert!(has_text(&lines, "warning", "FORCED"), "{}", text(&out));
    // Postfix without DSN refuses the parameter it does not know.
    let rcpt = reply_codes_after(&lines, "rcpt");
    assert!(rcpt.iter().all(|c| *c >= 500), "{}", text(&out));
}

#[test]
fn smtputf8_is_used_for_a_non_ascii_address_and_refused_without_it() {
    let to = "пользователь@example.net";
    let (out, lines) = run(peer(), &["--to", to]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mail = sent(&lines)
        .into_iter()
        .find(|l| l.starts_with("MAIL"))
        .unwrap();
    assert!(mail.contains("SMTPUTF8"), "{mail}");
    assert!(sent(&lines).iter().any(|l| l.contains(to)));

    let (out, lines) = run(bare_peer(), &["--to", to]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !sent(&lines).iter().any(|l| l.starts_with("MAIL")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("SMTPUTF8"), "{}", text(&out));
}

#[test]
fn size_is_declared_and_a_message_over_the_limit_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    while msg.len() < 250_000 {
        msg.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    let data = write_message(&dir, &msg);
    let (out, lines) = run(peer(), &["--data", &data]);
    assert!(has_text(&lines, "warning", "SIZE 200000"), "{}", text(&out));
    let mail = sent(&lines)
        .into_iter()
        .find(|l| l.starts_with("MAIL"))
        .unwrap();
    assert!(mail.ends_with(&format!("SIZE={}", msg.len())), "{mail}");
    // Postfix refuses a declared size over its limit at MAIL FROM (RFC 1870).
    assert_eq!(reply_codes_after(&lines, "mail"), [552], "{}", text(&out));
}

#[test]
fn requiretls_needs_the_keyword_or_force() {
    // Postfix does not implement REQUIRETLS.
    let (out, lines) = run(peer(), &["--requiretls"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !sent(&lines).iter().any(|l| l.starts_with("MAIL")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("REQUIRETLS"), "{}", text(&out));
    let (out, lines) = run(peer(), &["--requiretls", "--force-ext", "requiretls"]);
    assert!(has_text(&lines, "warning", "FORCED"), "{}", text(&out));
    let mail = sent(&lines)
        .into_iter()
        .find(|l| l.starts_with("MAIL"))
        .unwrap();
    assert!(mail.ends_with(" REQUIRETLS"), "{mail}");
    assert!(
        reply_codes_after(&lines, "mail")[0] >= 500,
        "{}",
        text(&out)
    );
}

#[test]
fn pipeline_and_bdat_fall_back_when_not_offered() {
    let (out, lines) = run(bare_peer(), &["--pipeline", "--bdat"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !has_text(&lines, "info", "PIPELINING: sending"),
        "{}",
        text(&out)
    );
    assert!(sent(&lines).iter().any(|l| l == "DATA"), "{}", text(&out));
    assert!(
        has_text(&lines, "warning", "does not offer CHUNKING"),
        "{}",
        text(&out)
    );
    let codes = replies(&lines)
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(codes, [220, 250, 220, 250, 235, 250, 250, 354, 250, 221]);
}

#[test]
fn address_family_is_forced() {
    let port = peer().port.to_string();
    let base = [
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--quit-after",
        "connect",
        "--auth",
        "none",
        "--json",
    ];
    let out = smtpscope(&[&base[..], &["-4"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = smtpscope(&[&base[..], &["-6"]].concat(), &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("has no IPv6 (-6) address"),
        "{}",
        text(&out)
    );
}
