//! Composing, linting and viewing the message, and sending several (`--count`, `--rate`,
//! `--reconnect-every`): against the aiosmtpd peer, which keeps the bytes it received, and
//! against the simulator for SES's throttling.

mod common;
mod sim_support;

use common::*;
use sim_support::*;

const USER: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
);

/// `run` against the aiosmtpd peer in the clear (loopback), with `extra` flags.
fn run_peer(port: u16, extra: &[&str]) -> std::process::Output {
    let port = port.to_string();
    smtpscope(&peer_args(&port, extra), &[("SMTPSCOPE_PASSWORD", USER.1)])
}

/// `run`'s arguments for the aiosmtpd peer on `port`, then `extra`.
fn peer_args<'a>(port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--tls",
        "none",
        "--user",
        USER.0,
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.com",
        "--timeout",
        "10",
    ];
    args.extend_from_slice(extra);
    args
}

fn received(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| String::from_utf8(std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn composed_messages_arrive_as_built_over_two_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let cred = format!("{}:{}", USER.0, USER.1);
    let peer = start_ses_peer(
        "127.0.0.1",
        "none",
        None,
        &["--user", &cred, "--mailbox", mailbox.to_str().unwrap()],
    );
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "first line\n.dot line\nlast line\n").unwrap();
    let attachment = dir.path().join("notes.csv");
    std::fs::write(&attachment, "a,b\n1,2\n").unwrap();
    let body_arg = format!("@{}", body.display());
    let out = run_peer(
        peer.port,
        &[
            "--subject",
            "compose test",
            "--header",
            "X-Test: yes",
            "--body",
            &body_arg,
            "--attach",
            attachment.to_str().unwrap(),
            "--count",
            "3",
            "--reconnect-every",
            "2",
            "--show-message",
        ],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    // Three messages, two sessions (2 + 1), each logged in.
    assert_eq!(shown.matches("=== Connected to").count(), 2, "{shown}");
    assert_eq!(
        shown.matches("235 Authentication successful").count(),
        2,
        "{shown}"
    );
    assert!(shown.contains("3 messages were accepted"), "{shown}");
    // The message view shows the wire form: the dot-stuffed line has two dots.
    assert!(
        shown.contains("=== message as sent (after dot-stuffing):"),
        "{shown}"
    );
    assert!(shown.contains("  | ..dot line"), "{shown}");
    assert!(shown.contains("  | Subject: compose test"), "{shown}");
    let got = received(&mailbox);
    assert_eq!(got.len(), 3);
    let mut ids: Vec<&str> = got
        .iter()
        .map(|m| m.lines().find(|l| l.starts_with("Message-ID:")).unwrap())
        .collect();
    for m in &got {
        assert!(m.contains("Subject: compose test\r\n"), "{m}");
        assert!(m.contains("X-Test: yes\r\n"));
        assert!(
            m.contains("\r\n.dot line\r\n"),
            "unstuffed by the server: {m}"
        );
        assert!(m.contains("multipart/mixed"));
        assert!(m.contains("filename=\"notes.csv\""));
        assert!(m.contains("text/csv"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "each message has its own Message-ID");
}

#[test]
fn lint_warns_before_data_and_does_not_block() {
    let cred = format!("{}:{}", USER.0, USER.1);
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let peer = start_ses_peer(
        "127.0.0.1",
        "none",
        None,
        &["--user", &cred, "--mailbox", mailbox.to_str().unwrap()],
    );
    let out = run_peer(
        peer.port,
        &["--header", "Content-Type: text/html", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let lint = lines
        .iter()
        .position(|l| {
            l["type"] == "warning"
                && l["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("duplicate-header") && t.contains("RFC 5322 §3.6"))
        })
        .unwrap_or_else(|| panic!("no lint warning: {}", text(&out)));
    let data = lines
        .iter()
        .position(|l| l["type"] == "sent" && l["line"] == "DATA")
        .unwrap();
    assert!(lint < data, "the lint comes before DATA");
    // Not asked for: no message text in the JSON.
    assert!(lines.iter().all(|l| l.get("view").is_none()));
    // Sent anyway: the server got both Content-Type headers.
    let got = received(&mailbox);
    assert_eq!(got[0].matches("Content-Type:").count(), 2, "{}", got[0]);
}

/// A simulator whose user may send 6 recipients a day, or 1 a second.
fn limited_sim(limits: &str) -> SimConfig {
    config_from(&format!(
        "verified_identities = [\"example.com\"]\n[limits]\n{limits}\n{GOOD_USER_TOML}"
    ))
}

use smtpscope::engine::sim::SimConfig;

fn run_sim(sim: &TestSim, extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let (user, password) = sim.credentials("good");
    let mut args = sim.run_args(&user, "sender@example.com", &["rcpt@example.com"]);
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password.as_str())]);
    let lines = json_lines(&out);
    (out, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn message_seven_of_ten_is_throttled() {
    let sim = start(limited_sim("daily_quota = 6")).await;
    let (out, lines) = tokio::task::block_in_place(|| run_sim(&sim, &["--count", "10"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["messages_accepted"], 6, "{}", text(&out));
    assert_eq!(summary["outcome"], "throttled");
    assert_eq!(summary["failed_phase"], "throttling");
    assert_eq!(
        out.status.code(),
        Some(i32::try_from(summary["exit_code"].as_i64().unwrap()).unwrap())
    );
    assert_ne!(out.status.code(), Some(0));
    let ends: Vec<i64> = replies(&lines)
        .iter()
        .filter(|r| r["after"] == "data-end")
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ends,
        [250, 250, 250, 250, 250, 250, 454],
        "the run stops at the 7th"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_throttle_and_pacing_that_avoids_it() {
    let sim = start(limited_sim("max_send_rate = 1")).await;
    // Unpaced: the second message comes within the second and is throttled.
    let (out, lines) = tokio::task::block_in_place(|| run_sim(&sim, &["--count", "3"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["messages_accepted"], 1, "{}", text(&out));
    assert_eq!(summary["outcome"], "throttled");
    let throttled = replies(&lines)
        .into_iter()
        .find(|r| r["code"] == 454)
        .unwrap()
        .clone();
    let remedy = throttled["diagnosis"]["remedy"]
        .as_str()
        .unwrap_or_default();
    assert!(
        remedy.contains("backoff") && remedy.contains("--rate"),
        "{throttled}"
    );
    // Paced below the rate: all three go through (after a pause that refills the bucket).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (out, lines) =
        tokio::task::block_in_place(|| run_sim(&sim, &["--count", "3", "--rate", "0.8/s"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(lines.last().unwrap()["messages_accepted"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_session_limit_and_reconnecting_below_it() {
    let sim = start(limited_sim("max_messages_per_session = 2")).await;
    let (out, lines) = tokio::task::block_in_place(|| run_sim(&sim, &["--count", "5"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["messages_accepted"], 2, "{}", text(&out));
    assert_eq!(summary["outcome"], "throttled");
    let refused = replies(&lines)
        .into_iter()
        .find(|r| r["code"] == 421)
        .unwrap()
        .clone();
    assert_eq!(refused["after"], "mail", "{refused}");
    assert_eq!(refused["diagnosis"]["id"], "too-many-messages-per-session");
    assert!(
        refused["diagnosis"]["remedy"]
            .as_str()
            .unwrap()
            .contains("--reconnect-every")
    );
    let (out, lines) =
        tokio::task::block_in_place(|| run_sim(&sim, &["--count", "5", "--reconnect-every", "2"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(lines.last().unwrap()["messages_accepted"], 5);
    let connects = lines.iter().filter(|l| l["type"] == "connected").count();
    assert_eq!(connects, 3);
}

/// `run_peer`'s session with `--data -`, `input` piped to standard input.
fn run_peer_stdin(port: u16, extra: &[&str], input: &[u8]) -> std::process::Output {
    let port = port.to_string();
    let mut args = peer_args(&port, &["--data", "-"]);
    args.extend_from_slice(extra);
    smtpscope_stdin(&args, &[("SMTPSCOPE_PASSWORD", USER.1)], input)
}

#[test]
fn a_message_from_standard_input_is_linted_and_measured_like_a_file() {
    let cred = format!("{}:{}", USER.0, USER.1);
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let peer = start_ses_peer(
        "127.0.0.1",
        "none",
        None,
        &["--user", &cred, "--mailbox", mailbox.to_str().unwrap()],
    );
    // Two Subjects, no Date, no Message-ID; a dot to stuff and a Latin-1 byte (not UTF-8).
    let msg: &[u8] = b"From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: one\r\nSubject: two\r\n\r\n.dot line\r\ncaf\xe9\r\n";
    // This peer, like SES, does not advertise SIZE: forced, SIZE= shows the size is known.
    let out = run_peer_stdin(peer.port, &["--json", "--force-ext", "size"], msg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let mail = lines
        .iter()
        .position(|l| {
            l["type"] == "sent" && l["line"].as_str().is_some_and(|t| t.starts_with("MAIL"))
        })
        .unwrap_or_else(|| panic!("no MAIL FROM: {}", text(&out)));
    for rule in ["duplicate-header", "missing-date", "missing-message-id"] {
        let at = lines
            .iter()
            .position(|l| {
                l["type"] == "warning"
                    && l["text"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("message lint:") && t.contains(rule))
            })
            .unwrap_or_else(|| panic!("no {rule} warning: {}", text(&out)));
        assert!(at < mail, "{rule}: the lint comes before MAIL FROM");
    }
    // Measured like a file: its size and its 8-bit byte are declared on MAIL FROM.
    let mail = lines[mail]["line"].as_str().unwrap();
    assert!(mail.contains(&format!("SIZE={}", msg.len())), "{mail}");
    assert!(mail.contains("BODY=8BITMIME"), "{mail}");
    // And sent as read: the server holds exactly these bytes.
    let emls: Vec<_> = std::fs::read_dir(&mailbox)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 1, "{emls:?}");
    assert_eq!(std::fs::read(&emls[0]).unwrap(), msg);

    // The text output shows the warnings before the envelope, too; and standard input, read
    // once, can be sent more than once.
    let out = run_peer_stdin(peer.port, &["--count", "2"], msg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lint = stdout
        .find("warning: message lint: Subject appears 2 times")
        .unwrap_or_else(|| panic!("no lint in the text output: {stdout}"));
    let mail = stdout.find("-> MAIL FROM:").unwrap();
    assert!(lint < mail, "{stdout}");
    assert_eq!(stdout.matches("-> MAIL FROM:").count(), 2, "{stdout}");
    let count = std::fs::read_dir(&mailbox)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .count();
    assert_eq!(count, 3);
}
