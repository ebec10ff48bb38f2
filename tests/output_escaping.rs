//! Every output is escaped: error messages that quote input (replay's parser), `policy check`
//! (Sid, Resource, file names), the simulator's log, Unicode controls in text output, and JSON
//! (`run --json`, `explain --json`, certificate names, saved `.jsonl`), checked on the bytes.

mod common;
mod hostile;
mod sim_support;

use common::{smtpscope, text};
use hostile::{Server, Step, send};
use smtpscope::engine::transcript::{Entry, parse_jsonl};

/// Byte sequences that must never reach a terminal raw: ESC, BEL, C1 CSI (U+009B), the bidi
/// override U+202E, and the Unicode controls the issue found unescaped.
const RAW: &[(&str, &[u8])] = &[
    ("ESC", b"\x1b"),
    ("BEL", b"\x07"),
    ("U+009B", "\u{9b}".as_bytes()),
    ("U+202E", "\u{202e}".as_bytes()),
    ("U+061C", "\u{61c}".as_bytes()),
    ("U+2028", "\u{2028}".as_bytes()),
    ("U+2029", "\u{2029}".as_bytes()),
    ("U+E0041", "\u{e0041}".as_bytes()),
    ("U+2062", "\u{2062}".as_bytes()),
    ("U+FFFA", "\u{fffa}".as_bytes()),
    ("U+180E", "\u{180e}".as_bytes()),
    ("U+00AD", "\u{ad}".as_bytes()),
];

fn assert_no_raw(label: &str, bytes: &[u8]) {
    for (name, seq) in RAW {
        assert!(
            !bytes.windows(seq.len()).any(|w| w == *seq),
            "{label}: raw {name} in {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

fn assert_output_clean(label: &str, out: &std::process::Output) {
    assert_no_raw(&format!("{label} stdout"), &out.stdout);
    assert_no_raw(&format!("{label} stderr"), &out.stderr);
}

/// The output says `expected` (escaped) and nothing raw.
fn assert_says(label: &str, out: &std::process::Output, expected: &str) {
    let shown = text(out);
    assert!(shown.contains(expected), "{label}: {shown}");
    assert_output_clean(label, out);
}

/// Every unsafe character of [`RAW`] in one string.
fn hostile_text() -> String {
    "x\u{1b}]0;owned\u{7}\u{9b}2J\u{202e}\u{61c}\u{2028}\u{2029}\u{e0041}\u{2062}\u{fffa}\u{180e}\u{ad}y"
        .to_string()
}

#[test]
fn replay_parser_errors_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.jsonl");
    // The JSON escapes decode to the raw characters, which serde quotes in "unknown variant".
    let line = format!(
        "{{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"tls\":false,\"type\":{}}}\n",
        serde_json::to_string(&hostile_text()).unwrap()
    );
    std::fs::write(&path, line).unwrap();
    let out = smtpscope(&["replay", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1: unknown variant `x\\x1b]0;owned\\x07\\x9b2J\\u{202e}"),
        "{err}"
    );
    assert_output_clean("replay", &out);
    // A file name with escapes is shown escaped too.
    let named = dir.path().join("evil\u{1b}[2J.jsonl");
    std::fs::write(&named, "\n").unwrap();
    let out = smtpscope(&["replay", named.to_str().unwrap()], &[]);
    assert_says(
        "replay name",
        &out,
        "evil\\x1b[2J.jsonl: no transcript entries",
    );
}

#[test]
fn policy_check_escapes_sid_resource_and_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p\u{1b}[31m\u{202e}.json");
    let hostile = hostile_text();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": hostile,
            "Effect": "Deny",
            "Action": "ses:SendRawEmail",
            "Resource": format!("arn:aws:ses:*:*:identity/{hostile}*"),
        }, {
            "Sid": hostile,
            "Effect": "Allow",
            "Action": "ses:SendRawEmail",
            "Resource": "*",
        }]
    });
    std::fs::write(&path, serde_json::to_string(&policy).unwrap()).unwrap();
    for (from, json) in [
        ("a@example.com", false),
        ("a@example.com", true),
        (hostile.as_str(), false),
    ] {
        let mut args = vec![
            "policy",
            "check",
            "--policy",
            path.to_str().unwrap(),
            "--source-ip",
            "127.0.0.1",
            "--from",
            from,
            "--to",
            "b@example.com",
        ];
        if json {
            args.push("--json");
        }
        let out = smtpscope(&args, &[]);
        assert_output_clean(&format!("policy check json={json} from={from:?}"), &out);
        if from == "a@example.com" {
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            let shown = text(&out);
            let expect = if json {
                "\\u001b]0;owned"
            } else {
                "\\x1b]0;owned"
            };
            assert!(shown.contains(expect), "{shown}");
        } else {
            assert_eq!(out.status.code(), Some(2), "control characters are refused");
        }
    }
    // A broken policy: the error names the file, escaped.
    std::fs::write(&path, "{").unwrap();
    let out = smtpscope(
        &[
            "policy",
            "check",
            "--policy",
            path.to_str().unwrap(),
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_says("policy error", &out, "p\\x1b[31m\\u{202e}.json");
}

#[test]
fn simulator_log_escapes_policy_text() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = hostile_text();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": hostile,
            "Effect": "Deny",
            "Action": "ses:SendRawEmail",
            "Resource": "*",
        }]
    });
    std::fs::write(dir.path().join("deny.json"), policy.to_string()).unwrap();
    let toml = sim_support::GOOD_USER_TOML.replace("allow-all.json", "deny.json");
    let mut config = smtpscope::engine::sim::SimConfig::from_toml_str(
        &format!("verified_identities = [\"example.com\"]\n{toml}"),
        dir.path(),
    )
    .unwrap();
    sim_support::on_port_zero(&mut config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut sim = rt.block_on(sim_support::start(config));
    let mut events = sim.sim.take_events().unwrap();
    let (user, password) = sim.credentials("good");
    let port = sim.port().to_string();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            sim.ca.to_str().unwrap(),
            "--user",
            &user,
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ],
        &[("SMTPSCOPE_PASSWORD", password.as_str())],
    );
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let mut log = String::new();
    while let Ok(e) = events.try_recv() {
        log.push_str(&e.text);
        log.push('\n');
    }
    assert!(
        log.contains("\\x1b]0;owned\\x07"),
        "the Sid is logged, escaped: {log}"
    );
    assert_no_raw("sim log", log.as_bytes());
}

/// A server whose replies hold every unsafe character.
fn hostile_server() -> Server {
    let h = hostile_text();
    Server::start(vec![
        send(&format!("220 {h} ESMTP\r\n")),
        Step::Expect("EHLO"),
        send(&format!("250-{h}\r\n250 OK {h}\r\n")),
        Step::Expect("QUIT"),
        send(&format!("221 {h}\r\n")),
        Step::Close,
    ])
}

#[test]
fn run_text_and_json_are_escaped_on_the_bytes() {
    for json in [false, true] {
        let server = hostile_server();
        let port = server.port().to_string();
        let mut args = vec![
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--ehlo",
            "client.test",
            "--auth",
            "none",
            "--quit-after",
            "ehlo",
        ];
        if json {
            args.push("--json");
        }
        let out = smtpscope(&args, &[]);
        server.finish();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_output_clean(&format!("run json={json}"), &out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if json {
            assert!(
                stdout.contains("\\u009b2J\\u202e\\u061c\\u2028"),
                "{stdout}"
            );
            // The escapes decode back to what the server sent.
            let lines = common::json_lines(&out);
            let greeting = common::replies(&lines)[0]["text"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(greeting.contains(&hostile_text()), "{greeting:?}");
        } else {
            assert!(
                stdout.contains("\\x9b2J\\u{202e}\\u{061c}\\u{2028}"),
                "{stdout}"
            );
        }
    }
}

#[test]
fn explain_json_is_escaped_on_the_bytes() {
    let reply = format!("550 5.1.1 {}", hostile_text());
    for json in [false, true] {
        let mut args = vec!["explain", reply.as_str()];
        if json {
            args.push("--json");
        }
        let out = smtpscope(&args, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_output_clean(&format!("explain json={json}"), &out);
    }
}

#[test]
fn certificate_names_and_saved_jsonl_are_escaped_on_the_bytes() {
    // A tls-started entry whose certificate names hold a C1 CSI and a bidi override.
    let entry = r#"{"seq":3,"time":"2026-01-01T00:00:00Z","tls":true,"type":"tls-started","info":{"version":"TLS 1.3","cipher":"X","server_name":"s\u009b","chain":[{"subject":"CN=\u202eevil","issuer":"CN=x\u0085","not_before":"a","not_after":"b","sans":["a\u009b1m","b\u2028"],"serial":"01","self_signed":false}],"verification":{"outcome":"verified"}}}"#;
    let entries: Vec<Entry> = parse_jsonl(entry).unwrap();
    let json = entries[0].to_json();
    assert_no_raw("tls-started JSON", json.as_bytes());
    assert!(
        json.contains("a\\u009b1m") && json.contains("CN=\\u202eevil"),
        "{json}"
    );
    assert_eq!(parse_jsonl(&json).unwrap(), entries, "escapes decode back");

    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let names = smtpscope::tui::save::save(&entries, dir.path(), &now, false).unwrap();
    for name in names {
        let bytes = std::fs::read(dir.path().join(&name)).unwrap();
        assert_no_raw(&name, &bytes);
    }
}
