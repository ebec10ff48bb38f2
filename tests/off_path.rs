//! Off the happy path: one table of sessions, each run with `smtpscope run --script` (or the
//! standard flow) against three servers written by different hands: the built-in simulator,
//! aiosmtpd dressed as SES, and a real Postfix with Dovecot SASL. Every row asserts the
//! outcome, the exit code and the verdict's words, so a verdict that follows the last
//! command's name instead of what the server knows shows up here.

mod common;
mod sim_support;

use std::path::Path;

use common::postfix::{PostfixOptions, PostfixPeer};
use common::*;

/// A server under test and what it needs from the client.
struct Target {
    name: &'static str,
    args: Vec<String>,
    /// The same server's implicit-TLS port, if it has one.
    implicit_port: Option<u16>,
    good: (String, String),
    denied: (String, String),
    /// Seconds of silence after which the server drops an idle client.
    idle_secs: u64,
}

/// What a row expects from one server (`None`: the row does not apply to it).
#[derive(Clone, Copy)]
struct Want {
    outcome: &'static str,
    exit: i32,
    /// Words the verdict must contain.
    says: &'static str,
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "a table row's expectation is optional; this builds a present one"
)]
const fn want(outcome: &'static str, exit: i32, says: &'static str) -> Option<Want> {
    Some(Want {
        outcome,
        exit,
        says,
    })
}

#[derive(Clone, Copy)]
enum Creds {
    Good,
    Wrong,
    Denied,
    None,
}

struct Row {
    name: &'static str,
    /// `None` runs the standard flow.
    script: Option<&'static str>,
    creds: Creds,
    flags: &'static [&'static str],
    /// Simulator, aiosmtpd, Postfix.
    want: [Option<Want>; 3],
    /// Connect to the server's implicit-TLS port instead of its STARTTLS port.
    implicit_port: bool,
}

const fn row(
    name: &'static str,
    script: Option<&'static str>,
    creds: Creds,
    flags: &'static [&'static str],
    want: [Option<Want>; 3],
) -> Row {
    Row {
        name,
        script,
        creds,
        flags,
        want,
        implicit_port: false,
    }
}

/// Every row, with what each server must make of it. Where the servers differ, the row says
/// why in its name or in a comment.
fn table() -> Vec<Row> {
    let accepted = want("accepted", 0, "the message was accepted");
    let all = |w: Option<Want>| [w, w, w];
    vec![
        row("standard flow", None, Creds::Good, &[], all(accepted)),
        row(
            "wrong password",
            None,
            Creds::Wrong,
            &[],
            all(want(
                "authentication_failed",
                6,
                "Authentication failed at AUTH",
            )),
        ),
        row(
            "wrong password, keep going to see MAIL refused",
            None,
            Creds::Wrong,
            &["--keep-going"],
            all(want(
                "authentication_failed",
                6,
                "Authentication failed at AUTH (535)",
            )),
        ),
        row(
            "denied after the final dot",
            None,
            Creds::Denied,
            &[],
            all(want(
                "authorization_denied",
                9,
                "Authenticated; authorization denied after DATA",
            )),
        ),
        row(
            "AUTH LOGIN, wrong password",
            None,
            Creds::Wrong,
            &["--auth", "login"],
            all(want(
                "authentication_failed",
                6,
                "the server refused the credentials",
            )),
        ),
        row(
            "AUTH LOGIN, good",
            None,
            Creds::Good,
            &["--auth", "login"],
            all(accepted),
        ),
        row(
            "AUTH before STARTTLS",
            Some("EHLO\nAUTH PLAIN\n"),
            Creds::Good,
            &[],
            all(want("tls_failed", 4, "credentials never checked")),
        ),
        row(
            "AUTH before STARTTLS, then the right order",
            Some("EHLO\nAUTH PLAIN\nSTARTTLS\nEHLO\nAUTH PLAIN\nMAIL\nRCPT\nDATA\nQUIT\n"),
            Creds::Good,
            &["--keep-going"],
            all(accepted),
        ),
        row(
            "--tls none against a server that wants TLS first",
            None,
            Creds::Good,
            &["--tls", "none"],
            all(want("tls_failed", 4, "TLS required first")),
        ),
        row(
            "MAIL with no AUTH",
            Some("EHLO\nSTARTTLS\nEHLO\nMAIL\n"),
            Creds::None,
            &[],
            all(want("not_authenticated", 12, "AUTH was never sent")),
        ),
        row(
            "AUTH twice",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "AUTH PLAIN\n"
            )),
            Creds::Good,
            &[],
            all(want("protocol_error", 13, "authentication still holds")),
        ),
        row(
            "AUTH twice, keep going",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "AUTH PLAIN\nMAIL\nRCPT\nDATA\n"
            )),
            Creds::Good,
            &["--keep-going"],
            all(accepted),
        ),
        row(
            "535 by hand, then a good AUTH",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\n",
                // "wrong\0wrong\0wrong" in base64: a credential the server refuses.
                "RAW AUTH PLAIN d3JvbmcAd3JvbmcAd3Jvbmc=\n",
                "AUTH PLAIN\nMAIL\nRCPT\nDATA\n"
            )),
            Creds::Good,
            &["--keep-going"],
            all(accepted),
        ),
        row(
            "RSET mid-transaction, then a fresh one",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "MAIL\nRCPT\nRSET\nMAIL\nRCPT\nDATA\nQUIT\n"
            )),
            Creds::Good,
            &[],
            all(accepted),
        ),
        row(
            "RCPT before MAIL",
            Some(concat!("EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n", "RCPT\n")),
            Creds::Good,
            &[],
            all(want("protocol_error", 13, "protocol error at RCPT (503)")),
        ),
        row(
            "DATA before RCPT",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "MAIL\nDATA\n"
            )),
            Creds::Good,
            &[],
            [
                want("protocol_error", 13, "protocol error at DATA (503)"),
                want("protocol_error", 13, "protocol error at DATA (503)"),
                // Postfix: "554 5.5.1 Error: no valid recipients".
                want("recipient_refused", 7, "recipient refused at DATA (554)"),
            ],
        ),
        row(
            "two messages in one session",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "MAIL\nRCPT\nDATA\nMAIL\nRCPT\nDATA\nQUIT\n"
            )),
            Creds::Good,
            &[],
            all(want("accepted", 0, "2 messages were accepted")),
        ),
        row(
            "the idle timeout after a success",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "MAIL\nRCPT\nDATA\nWAIT 8\n"
            )),
            Creds::Good,
            &[],
            all(accepted),
        ),
        row(
            "the idle timeout before any mail",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "WAIT 8\nMAIL\n"
            )),
            Creds::Good,
            &[],
            all(want("authenticated", 0, "the server closed the connection")),
        ),
        row(
            "STARTTLS twice",
            Some("EHLO\nSTARTTLS\nEHLO\nSTARTTLS\n"),
            Creds::None,
            &[],
            all(want("protocol_error", 13, "Protocol error at STARTTLS")),
        ),
        row(
            "RECONNECT, then the standard steps",
            Some(concat!(
                "EHLO\nRECONNECT\n",
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\nMAIL\nRCPT\nDATA\n"
            )),
            Creds::Good,
            &[],
            all(accepted),
        ),
        row(
            "NOOP and RSET before anything",
            Some("NOOP\nRSET\nQUIT\n"),
            Creds::None,
            &[],
            all(want("incomplete", 0, "No failure so far")),
        ),
        row(
            "an unknown command",
            Some("EHLO\nRAW FROBNICATE\n"),
            Creds::None,
            &[],
            all(want("protocol_error", 13, "Protocol error at raw")),
        ),
        row(
            "NOOP between every step",
            Some(concat!(
                "NOOP\nEHLO\nNOOP\nSTARTTLS\nNOOP\nEHLO\nAUTH PLAIN\nNOOP\n",
                "MAIL\nNOOP\nRCPT\nNOOP\nDATA\nNOOP\nQUIT\n"
            )),
            Creds::Good,
            &[],
            all(accepted),
        ),
        row(
            "AUTH, RSET and QUIT: no message",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "RSET\nQUIT\n"
            )),
            Creds::Good,
            &[],
            all(want("authenticated", 0, "no message sent yet")),
        ),
        row(
            "a refused AUTH, RECONNECT, then the right one",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\n",
                "RAW AUTH PLAIN d3JvbmcAd3JvbmcAd3Jvbmc=\n",
                "RECONNECT\nEHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\nMAIL\nRCPT\nDATA\n"
            )),
            Creds::Good,
            &["--keep-going"],
            all(accepted),
        ),
        row(
            "quit after AUTH",
            None,
            Creds::Good,
            &["--quit-after", "auth"],
            all(want("authenticated", 0, "no message sent yet")),
        ),
        row(
            "quit after TLS",
            None,
            Creds::Good,
            &["--quit-after", "tls"],
            all(want("incomplete", 0, "No failure so far")),
        ),
        row(
            "denied user, RSET, and a second try",
            Some(concat!(
                "EHLO\nSTARTTLS\nEHLO\nAUTH PLAIN\n",
                "MAIL\nRCPT\nDATA\nRSET\nMAIL\nRCPT\nDATA\n"
            )),
            Creds::Denied,
            &["--keep-going"],
            all(want(
                "authorization_denied",
                9,
                "authorization denied after DATA",
            )),
        ),
        Row {
            implicit_port: true,
            ..row(
                "STARTTLS on an implicit-TLS port",
                None,
                Creds::Good,
                &["--tls", "starttls", "--timeout", "2"],
                [
                    want("connection_failed", 3, "Connection failed at connect"),
                    None, // the aiosmtpd peer runs one mode per process
                    want("connection_failed", 3, "Connection failed at connect"),
                ],
            )
        },
        row(
            "implicit TLS on a plain-text port",
            None,
            Creds::Good,
            &["--tls", "implicit"],
            all(want("tls_failed", 4, "TLS failed at connect")),
        ),
    ]
}

/// Runs one row against one target; returns a line describing any mismatch.
fn check(target: &Target, r: &Row, want: Want, dir: &Path) -> Option<String> {
    let mut args: Vec<String> = vec!["run".into(), "--json".into()];
    args.extend(target.args.iter().cloned());
    if r.implicit_port {
        let port = target.implicit_port?;
        let at = args.iter().position(|a| a == "--port").unwrap();
        args[at + 1] = port.to_string();
    }
    if !r.flags.contains(&"--timeout") {
        args.extend(["--timeout", "10"].map(String::from));
    }
    args.extend(["--from", "sender@example.com", "--to", "rcpt@example.com"].map(String::from));
    let (user, password) = match r.creds {
        Creds::Good => target.good.clone(),
        Creds::Denied => target.denied.clone(),
        Creds::Wrong => (target.good.0.clone(), "wrong-password-123".into()),
        Creds::None => (String::new(), String::new()),
    };
    if !user.is_empty() {
        args.extend(["--user".into(), user.clone()]);
    }
    if let Some(script) = r.script {
        let file = dir.join(format!("{}.script", r.name.replace([' ', ',', '-'], "_")));
        std::fs::write(&file, script).unwrap();
        args.extend(["--script".into(), file.display().to_string()]);
    }
    args.extend(r.flags.iter().map(std::string::ToString::to_string));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: &[(&str, &str)] = if password.is_empty() {
        &[]
    } else {
        &[("SMTPSCOPE_PASSWORD", &password)]
    };
    let out = smtpscope(&argv, env);
    let lines = json_lines(&out);
    let summary = lines.last().cloned().unwrap_or_default();
    let got = (
        summary["outcome"].as_str().unwrap_or("?").to_string(),
        out.status.code(),
        summary["verdict"].as_str().unwrap_or("?").to_string(),
    );
    if !password.is_empty() {
        assert_no_secret(&text(&out), &user, &password);
    }
    let ok = got.0 == want.outcome && got.1 == Some(want.exit) && got.2.contains(want.says);
    (!ok).then(|| {
        format!(
            "{}: {:?}: want {} / exit {} / \"{}\", got {} / exit {:?} / \"{}\" {}",
            target.name,
            r.name,
            want.outcome,
            want.exit,
            want.says,
            got.0,
            got.1,
            got.2,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn run_table(target: &Target, column: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rows = table();
    assert!(rows.len() >= 30, "the table keeps at least 30 rows");
    // The idle-timeout rows WAIT 8 s: the server must drop the client before that.
    assert!(
        target.idle_secs < 8,
        "{}: idle timeout too long",
        target.name
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for r in &rows {
        let Some(w) = r.want[column] else { continue };
        ran += 1;
        if let Some(f) = check(target, r, w, dir.path()) {
            failures.push(f);
        }
    }
    println!("{}: {ran} rows, {} mismatches", target.name, failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_path_table_against_the_simulator() {
    let mut config = sim_support::demo_config();
    config.limits.idle_timeout = std::time::Duration::from_secs(2);
    let sim = sim_support::start(config).await;
    let (good_user, good_pass) = sim.credentials("good");
    let (denied_user, denied_pass) = sim.credentials("ip-restricted");
    let target = Target {
        name: "simulator",
        args: [
            "--host",
            "localhost",
            "--port",
            &sim.port().to_string(),
            "--ca-file",
            sim.ca.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        implicit_port: Some(sim.implicit_port()),
        good: (good_user, good_pass.to_string()),
        denied: (denied_user, denied_pass.to_string()),
        idle_secs: 2,
    };
    tokio::task::block_in_place(|| run_table(&target, 0));
}

#[test]
fn off_path_table_against_aiosmtpd() {
    const GOOD: (&str, &str) = (
        "AKIAIOSFODNN7EXAMPLE",
        "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
    );
    const DENIED: (&str, &str) = (
        "AKIADENIEDEXAMPLE123",
        "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd",
    );
    let pki = make_pki(LeafSpec::default());
    let good = format!("{}:{}", GOOD.0, GOOD.1);
    let denied = format!("{}:{}", DENIED.0, DENIED.1);
    let peer = start_ses_peer(
        "127.0.0.1",
        "starttls",
        Some(&pki),
        &[
            "--user",
            &good,
            "--user",
            &denied,
            "--deny-user",
            DENIED.0,
            "--require-tls-for-auth",
            "--idle-timeout",
            "2",
        ],
    );
    let target = Target {
        name: "aiosmtpd",
        args: [
            "--host",
            "localhost",
            "--port",
            &peer.port.to_string(),
            "--ca-file",
            pki.ca_pem.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        implicit_port: None,
        good: (GOOD.0.into(), GOOD.1.into()),
        denied: (DENIED.0.into(), DENIED.1.into()),
        idle_secs: 2,
    };
    run_table(&target, 1);
}

#[test]
fn off_path_table_against_postfix() {
    let peer = PostfixPeer::start_with(&PostfixOptions {
        smtpd_timeout: "2s".into(),
        ..PostfixOptions::default()
    });
    let target = Target {
        name: "postfix",
        args: peer.target_args(),
        implicit_port: peer.implicit_port,
        good: (
            common::postfix::GOOD.0.into(),
            common::postfix::GOOD.1.into(),
        ),
        denied: (
            common::postfix::DENIED.0.into(),
            common::postfix::DENIED.1.into(),
        ),
        idle_secs: 2,
    };
    run_table(&target, 2);
}
