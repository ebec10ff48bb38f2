//! `smtpscope run --auth xoauth2|oauthbearer` against servers we did not write: Postfix with
//! Dovecot's oauth2 passdb, which asks a mock token-introspection endpoint on 127.0.0.1
//! whether the token is active (`tests/peers/oauth_introspect.py`, started by the launcher).
//!
//! Dovecot answers a refused token with its JSON error challenge in a 334:
//! `{"status":"401","schemes":"bearer","scope":"mail"}` for XOAUTH2 and
//! `{"status":"invalid_token"}` for OAUTHBEARER; smtpscope must acknowledge it as each
//! mechanism requires, get the final 535, call it an authentication failure (exit 6) and
//! show why from the decoded JSON. The token never appears in any output.

mod common;

use std::sync::OnceLock;

use common::postfix::{OAUTH_GOOD_TOKEN, PostfixOptions, PostfixPeer};
use common::*;

/// A token the endpoint does not know: Dovecot refuses it.
const REVOKED_TOKEN: &str = "peer-revoked-token-0c4d2e8a91-zk";

fn peer() -> &'static PostfixPeer {
    static PEER: OnceLock<PostfixPeer> = OnceLock::new();
    PEER.get_or_init(|| {
        PostfixPeer::start_with(&PostfixOptions {
            implicit_tls: false,
            oauth2: true,
            ..PostfixOptions::default()
        })
    })
}

fn run_args(mechanism: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(peer().target_args());
    args.extend(
        [
            "--user",
            "good",
            "--auth",
            mechanism,
            "--from",
            "sender@example.com",
            "--to",
            "rcpt@example.net",
            "--timeout",
            "10",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(ToString::to_string));
    args
}

/// `run` with the token in `SMTPSCOPE_OAUTH_TOKEN`.
fn run(mechanism: &str, token: &str, extra: &[&str]) -> std::process::Output {
    let args = run_args(mechanism, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    smtpscope(&args, &[("SMTPSCOPE_OAUTH_TOKEN", token)])
}

fn summary(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("summary line")
}

/// Every form the token could leak in: itself, its base64, and the mechanisms' blobs.
fn assert_no_token(haystack: &str, token: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        token.to_string(),
        b64.encode(token),
        b64.encode(format!("user=good\x01auth=Bearer {token}\x01\x01")),
        b64.encode(format!("auth=Bearer {token}\x01\x01")),
    ];
    for form in &forms {
        // Any 12-character run of the token-bearing part leaks it.
        let tail = &form[form.len().saturating_sub(24)..];
        assert!(
            !haystack.contains(tail),
            "a form of the token leaked: {tail}"
        );
    }
    assert_no_secret(haystack, "good", token);
}

fn sent_auth_lines(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            l["type"] == "sent" && l["verb"].as_str().is_some_and(|v| v.starts_with("auth"))
        })
        .map(|l| l["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn xoauth2_good_token_is_accepted_and_the_message_sent() {
    let out = run("xoauth2", OAUTH_GOOD_TOKEN, &["--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let lines = json_lines(&out);
    assert_eq!(summary(&lines)["outcome"], "accepted", "{t}");
    let auth = replies(&lines)
        .into_iter()
        .find(|r| r["after"] == "auth")
        .expect("a reply to AUTH");
    assert_eq!(auth["code"], 235, "{t}");
    assert_eq!(
        sent_auth_lines(&lines),
        ["AUTH XOAUTH2 <redacted: user hidden, access token hidden>"]
    );
    assert_no_token(&t, OAUTH_GOOD_TOKEN);
}

#[test]
fn oauthbearer_good_token_is_accepted() {
    let out = run("oauthbearer", OAUTH_GOOD_TOKEN, &["--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(summary(&json_lines(&out))["outcome"], "accepted", "{t}");
    assert_no_token(&t, OAUTH_GOOD_TOKEN);
}

#[test]
fn xoauth2_refused_token_is_exit_6_with_the_decoded_reason() {
    let out = run("xoauth2", REVOKED_TOKEN, &["--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "{t}");
    let lines = json_lines(&out);
    assert_eq!(summary(&lines)["outcome"], "authentication_failed", "{t}");
    let replies = replies(&lines);
    let challenge = replies
        .iter()
        .find(|r| r["code"] == 334)
        .expect("the 334 challenge");
    assert_eq!(challenge["after"], "auth");
    // The empty line XOAUTH2 answers with, then Postfix's final 535.
    assert_eq!(
        sent_auth_lines(&lines)[1],
        "(empty line: ends the exchange, as XOAUTH2 asks)"
    );
    let last = replies
        .iter()
        .find(|r| r["after"] == "auth-response")
        .expect("the final reply");
    assert_eq!(last["code"], 535, "{t}");
    assert_eq!(last["phase"], "authentication");
    let details = last["diagnosis"]["details"].to_string();
    assert!(details.contains("status 401"), "{details}");
    assert!(
        details.contains(r#"{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}"#),
        "{details}"
    );
    assert!(
        lines.iter().any(|l| l["type"] == "info"
            && l["text"]
                .as_str()
                .is_some_and(|s| s.contains("error for the token decodes to"))),
        "{t}"
    );
    assert_no_token(&t, REVOKED_TOKEN);
}

#[test]
fn oauthbearer_refused_token_is_acknowledged_with_ctrl_a() {
    let out = run("oauthbearer", REVOKED_TOKEN, &["--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "{t}");
    let lines = json_lines(&out);
    assert_eq!(summary(&lines)["outcome"], "authentication_failed");
    assert!(sent_auth_lines(&lines)[1].starts_with("AQ=="), "{t}");
    let last = replies(&lines)
        .into_iter()
        .find(|r| r["after"] == "auth-response")
        .expect("the final reply");
    assert_eq!(last["code"], 535);
    assert!(
        last["diagnosis"]["details"]
            .to_string()
            .contains("invalid token"),
        "{t}"
    );
    assert_no_token(&t, REVOKED_TOKEN);
}

#[test]
fn refused_token_in_text_mode_says_why_and_hides_the_token() {
    let out = run("xoauth2", REVOKED_TOKEN, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "{t}");
    assert!(t.contains("status 401"), "{t}");
    assert!(t.contains("Authentication failed"), "{t}");
    assert_no_token(&t, REVOKED_TOKEN);
}

#[test]
fn token_file_and_token_command_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{OAUTH_GOOD_TOKEN}\nignored second line\n")).unwrap();
    let file_arg = file.display().to_string();
    let args = run_args("xoauth2", &["--json", "--token-file", &file_arg]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_token(&text(&out), OAUTH_GOOD_TOKEN);

    let cmd = format!("cat {file_arg}");
    let args = run_args("oauthbearer", &["--json", "--token-command", &cmd]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_token(&text(&out), OAUTH_GOOD_TOKEN);

    // A failing command: exit 2, its status named, its output (the token) never shown.
    let cmd = format!("cat {file_arg}; exit 4");
    let args = run_args("xoauth2", &["--token-command", &cmd]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("exited with status 4"), "{t}");
    assert_no_token(&t, OAUTH_GOOD_TOKEN);
}
