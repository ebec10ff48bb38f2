//! `smtpscope explain`: one pasted reply in, the classifier's verdict out.

mod common;

use common::*;

#[test]
fn explains_the_ses_replies_as_json() {
    let cases = [
        (
            "535 Authentication Credentials Invalid",
            "auth",
            "authentication",
        ),
        ("530 Authentication required", "mail", "authentication"),
        ("530 Must issue a STARTTLS command first", "auth", "tls"),
        (
            "454 Throttling failure: Maximum sending rate exceeded.",
            "data-end",
            "throttling",
        ),
        (
            "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: a@example.com",
            "data-end",
            "authorization",
        ),
        (
            "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
            "rcpt",
            "envelope",
        ),
    ];
    for (reply, after, phase) in cases {
        let out = smtpscope(&["explain", reply, "--after", after, "--json"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["phase"], phase, "{reply}");
        assert!(!v["diagnosis"]["title"].as_str().unwrap().is_empty());
    }
}

#[test]
fn access_denied_names_user_action_resource_in_text() {
    let reply = "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:123456789012:identity/example.com'";
    let out = smtpscope(&["explain", reply], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for needle in [
        "phase:    authorization",
        "User ARN: arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1",
        "Action:   ses:SendRawEmail",
        "Identity: example.com",
        "Region:   ap-northeast-1",
        "authentication",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
}

#[test]
fn bad_input_is_exit_2_and_control_bytes_are_escaped() {
    let out = smtpscope(&["explain", "hello"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = smtpscope(&["explain", "250 ok", "--after", "bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = smtpscope(&["explain", "550 \u{1b}[31mred"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
    assert!(text(&out).contains("\\x1b[31m"));
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    // The reader goes away before smtpscope writes (as `| head -1` does after one line).
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpscope"))
        .args(["explain", "554 Access denied: x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn provider_option_tries_that_providers_replies_first() {
    // SES's IAM denial as a Postfix relay words it: with the provider known, no claim about SES.
    let relayed = "554 5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/x' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'";
    let out = smtpscope(
        &[
            "explain",
            relayed,
            "--after",
            "data-end",
            "--provider",
            "postfix",
            "--authenticated",
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("phase:    authorization"), "{t}");
    assert!(t.contains("IAM user: x"), "{t}");
    assert!(!t.contains("SES accepted"), "{t}");

    // The same words mean Postmark's token when Postmark is named, Postfix's SASL otherwise.
    let reply = "535 5.7.8 Error: authentication failed: ";
    let id = |extra: &[&str]| {
        let mut args = vec!["explain", reply, "--after", "auth-response", "--json"];
        args.extend_from_slice(extra);
        let out = smtpscope(&args, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["diagnosis"]["id"].as_str().unwrap().to_string()
    };
    assert_eq!(id(&["--provider", "postmark"]), "postmark-auth-failed");
    assert_eq!(id(&[]), "postfix-auth-failed");
}

#[test]
fn an_unknown_provider_is_a_usage_error_that_does_not_echo_it() {
    for bad in ["nosuch", "postfix\r\nX", &"p".repeat(5000)] {
        let out = smtpscope(&["explain", "535 nope", "--provider", bad], &[]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("known: ses,"), "{t}");
        assert!(!t.contains("nosuch") && !t.contains("ppppp"), "{t}");
    }
}

#[test]
fn gmail_app_password_and_a_221_read_right() {
    let out = smtpscope(
        &[
            "explain",
            "534-5.7.9 Application-specific password required. Learn more at\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor o13sm2119833lfg.90 - gsmtp",
            "--json",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["phase"], "authentication");
    assert_eq!(v["diagnosis"]["id"], "gmail-app-password-required");
    let out = smtpscope(
        &["explain", "221 2.0.0 Bye", "--after", "rcpt", "--json"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["phase"], "connection");
    assert_eq!(v["diagnosis"]["title"], "Server is closing the connection");
}

/// A new user's mistakes get the basic missing piece first, with the values that would work.
#[test]
fn usage_errors_name_what_would_work() {
    let out = smtpscope(&["explain", "250 Ok", "--after", "FOO"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for valid in [
        "connect", "ehlo", "auth", "mail", "rcpt", "data-end", "quit",
    ] {
        assert!(err.contains(valid), "{valid} missing from: {err}");
    }
    // `run` with nothing: the target is what is missing first, not a user for AUTH.
    let out = smtpscope(&["run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("say where to connect"), "{err}");
    assert!(err.contains("--region us-east-1"), "{err}");
    assert!(!err.contains("AUTH needs a user"), "{err}");

    // `replay` given the .txt of a save: it says it reads the .jsonl, and names the one beside.
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("session.txt");
    std::fs::write(&txt, "->  EHLO client\n").unwrap();
    std::fs::write(dir.path().join("session.jsonl"), "{}\n").unwrap();
    let out = smtpscope(&["replay", txt.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replay reads the .jsonl"), "{err}");
    assert!(err.contains("session.jsonl"), "{err}");
}
