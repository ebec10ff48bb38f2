//! The JSON Lines output is what `assets/schema/transcript.schema.json` documents: every line
//! of `run --json` (against the simulator and a raw scripted server) and of a saved `.jsonl`
//! validates, and the schema is closed (`additionalProperties`/`unevaluatedProperties`), so a
//! field added to the output without being documented fails here. The validator is Python's
//! `jsonschema`, the reference implementation (installed into `.venv` by `.ci/test`).

mod common;
mod sim_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json_lines, smtpscope, text};
use serde_json::{Value, json};
use sim_support::*;

/// The schema, checked by Python's `jsonschema` (the reference implementation, not ours):
/// `tests/peers/schema_check.py` validates a batch of lines and reports each one's errors.
struct Validator {
    schema: PathBuf,
}

impl Validator {
    /// Each instance's errors, in order (empty when it is valid).
    fn errors(&self, instances: &[Value]) -> Vec<Vec<String>> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/schema_check.py");
        let input = serde_json::to_vec(instances).expect("instances to JSON");
        let out = common::output_with_stdin(
            Command::new(common::python()).arg(script).arg(&self.schema),
            &input,
        );
        assert!(
            out.status.success(),
            "the schema checker failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Vec<Vec<String>> =
            serde_json::from_slice(&out.stdout).expect("the checker's report is JSON");
        assert_eq!(report.len(), instances.len(), "one report per instance");
        report
    }
}

fn validator() -> Validator {
    Validator {
        schema: Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/schema/transcript.schema.json"),
    }
}

/// Asserts that every line validates; returns the `type`s seen.
fn assert_valid(validator: &Validator, what: &str, lines: &[Value]) -> Vec<String> {
    assert!(!lines.is_empty(), "{what}: no output");
    for (line, errors) in lines.iter().zip(validator.errors(lines)) {
        assert!(
            errors.is_empty(),
            "{what}: a line does not match the schema:\n{line}\n{}",
            errors.join("\n")
        );
    }
    lines
        .iter()
        .filter_map(|l| l["type"].as_str().map(str::to_string))
        .collect()
}

fn run(sim: &TestSim, user: &str, password: Option<&str>, extra: &[&str]) -> Vec<Value> {
    let (key_id, real) = sim.credentials(user);
    let password = password.map_or_else(|| real.to_string(), str::to_string);
    let mut args = sim.run_args(&key_id, "sender@example.com", &["rcpt@example.com"]);
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(
        &args,
        &[
            ("SMTPSCOPE_PASSWORD", &password),
            (
                "SMTPSCOPE_OAUTH_TOKEN",
                "ya29.an-example-access-token-for-the-schema-test",
            ),
        ],
    );
    assert!(
        out.status.code().is_some_and(|c| c != 2),
        "usage error instead of a session: {}",
        text(&out)
    );
    json_lines(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn run_json_and_saved_jsonl_match_the_schema() {
    let validator = validator();
    let sim = start(demo_config()).await;
    let mut seen = Vec::new();
    let mut all = Vec::new();
    tokio::task::block_in_place(|| {
        let cases: [(&str, &str, Option<&str>, &[&str]); 6] = [
            ("accepted, message shown", "good", None, &["--show-message"]),
            // A malformed password: the credential lint's warning, then 535.
            (
                "authentication failed",
                "wrong-password",
                Some("abcdefg"),
                &[],
            ),
            ("authorization denied", "ip-restricted", None, &[]),
            (
                "AUTH LOGIN, user names shown",
                "good",
                None,
                &["--auth", "login", "--show-user"],
            ),
            ("insecure TLS", "good", None, &["--insecure"]),
            // SES offers no XOAUTH2: the redacted token line, then the refusal.
            ("AUTH XOAUTH2", "good", None, &["--auth", "xoauth2"]),
        ];
        for (what, user, password, extra) in cases {
            let lines = run(&sim, user, password, extra);
            seen.extend(assert_valid(&validator, what, &lines));
            all.push(lines);
        }
        // TLS that fails verification (no --ca-file): an error entry with the chain.
        let (key_id, password) = sim.credentials("good");
        let port = sim.port().to_string();
        let out = smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--user",
                &key_id,
                "--from",
                "a@example.com",
                "--to",
                "b@example.com",
                "--json",
            ],
            &[("SMTPSCOPE_PASSWORD", &password)],
        );
        let lines = json_lines(&out);
        seen.extend(assert_valid(&validator, "unverified TLS", &lines));
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "error" && l["kind"] == "tls"),
            "expected a TLS error: {}",
            text(&out)
        );
    });
    for kind in [
        "connecting",
        "connected",
        "tls-started",
        "sent",
        "message",
        "reply",
        "warning",
        "error",
        "closed",
        "summary",
    ] {
        assert!(
            seen.iter().any(|t| t == kind),
            "no `{kind}` line was checked"
        );
    }

    // The optional parts were exercised too, not only allowed.
    let flat: Vec<&Value> = all.iter().flatten().collect();
    assert!(
        flat.iter()
            .any(|l| l["type"] == "message" && l["view"]["text"].is_string()),
        "no message view was checked"
    );
    assert!(
        flat.iter()
            .any(|l| l["type"] == "sent" && l["redacted"]["kind"] == "o-auth-token"),
        "no redacted OAuth line was checked"
    );
    assert!(
        flat.iter()
            .any(|l| l["type"] == "tls-started" && l["info"]["chain"][0]["sha256"].is_string()),
        "no certificate facts were checked"
    );

    // The debugger's save writes the same entries as .jsonl: validate what it wrote.
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, lines) in all.iter().enumerate() {
        let jsonl: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let entries = smtpscope::engine::transcript::parse_jsonl(&jsonl).expect("parse run --json");
        let now = chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(i).unwrap());
        let files = smtpscope::tui::save::save(&entries, dir.path(), &now, i % 2 == 0)
            .expect("save the transcript");
        let saved = files
            .iter()
            .find(|f| Path::new(f).extension().is_some_and(|e| e == "jsonl"))
            .expect("a .jsonl was written");
        let saved = std::fs::read_to_string(dir.path().join(saved)).expect("read the save");
        let saved: Vec<Value> = saved
            .lines()
            .map(|l| serde_json::from_str(l).expect("saved line is JSON"))
            .collect();
        assert_eq!(saved.len(), entries.len());
        assert_valid(&validator, "saved .jsonl", &saved);
    }
}

/// A server that answers in bytes that are not UTF-8 and ends a line with a bare LF: the
/// reply line becomes `{"base64":…,"bare_lf":true}`.
#[test]
fn raw_reply_lines_match_the_schema() {
    let validator = validator();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut out = stream.try_clone().expect("clone");
        let mut lines = BufReader::new(stream);
        out.write_all(b"220 raw.example ESMTP \xff\xfe\n")
            .expect("greet");
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            let reply: &[u8] = if line.starts_with("QUIT") {
                b"221 bye\r\n"
            } else {
                b"250 raw.example\r\n"
            };
            out.write_all(reply).expect("reply");
            if line.starts_with("QUIT") {
                break;
            }
            line.clear();
        }
    });
    let out = smtpscope(
        &[
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--auth",
            "none",
            "--quit-after",
            "ehlo",
            "--json",
        ],
        &[],
    );
    server.join().expect("server thread");
    let lines = json_lines(&out);
    assert_valid(&validator, "raw reply", &lines);
    let greeting = lines
        .iter()
        .find(|l| l["type"] == "reply" && l["code"] == 220)
        .unwrap_or_else(|| panic!("no greeting: {}", text(&out)));
    assert_eq!(greeting["lines"][0]["bare_lf"], true, "{greeting}");
}

/// The schema is closed: an undocumented field, a wrong type or an unknown phase is refused.
#[test]
fn the_schema_refuses_what_it_does_not_document() {
    let summary = json!({
        "type": "summary", "verdict": "ok", "outcome": "accepted", "exit_code": 0,
        "messages_accepted": 1, "provider": "ses", "provider_from": "greeting"
    });
    let mut extra_summary = summary.clone();
    extra_summary["surprise"] = json!(1);
    let info = json!({"seq": 1, "time": "2026-12-01T00:00:00Z", "tls": false, "type": "info", "text": "hi"});
    let mut extra_info = info.clone();
    extra_info["surprise"] = json!(true);
    let mut bad_time = info.clone();
    bad_time["time"] = json!("yesterday");
    let error = json!({"seq": 2, "time": "2026-12-01T00:00:00Z", "tls": false, "type": "error",
                       "phase": "delivery", "kind": "io", "text": "x"});
    // One run of the checker for all six.
    let reports = validator().errors(&[summary, extra_summary, info, extra_info, bad_time, error]);
    let valid: Vec<bool> = reports.iter().map(Vec::is_empty).collect();
    let [summary, extra_summary, info, extra_info, bad_time, error] = valid[..] else {
        panic!("six reports expected: {reports:?}");
    };
    assert!(summary);
    assert!(!extra_summary, "an undocumented summary field");
    assert!(info);
    assert!(!extra_info, "an undocumented entry field");
    assert!(!bad_time, "a time that is not RFC 3339");
    assert!(!error, "an unknown phase");
}
