//! The simulator driven by clients smtpscope did not write: Python's smtplib, OpenSSL's
//! `s_client` and swaks. If one of them is missing the test fails and says how to install
//! it; it never skips silently.

mod sim_support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sim_support::{TestSim, demo_config, start};

/// Drives one demo scenario with smtplib and prints what the server said as JSON.
const SMTPLIB_SCRIPT: &str = r#"
import json, smtplib, ssl, sys
host, port, ca, user, password, sender, rcpt = sys.argv[1:8]
out = {}
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP(host, int(port), timeout=20)
code, msg = s.ehlo("client.example")
out["ehlo"] = [code, msg.decode()]
code, msg = s.starttls(context=ctx)
out["starttls"] = [code, msg.decode()]
code, msg = s.ehlo("client.example")
out["ehlo_tls"] = [code, msg.decode()]
try:
    code, msg = s.login(user, password)
    out["auth"] = [code, msg.decode()]
except smtplib.SMTPAuthenticationError as e:
    out["auth"] = [e.smtp_code, e.smtp_error.decode()]
    code, msg = s.docmd("MAIL FROM:<%s>" % sender)
    out["mail"] = [code, msg.decode()]
    s.quit()
    print(json.dumps(out))
    sys.exit(0)
code, msg = s.mail(sender)
out["mail"] = [code, msg.decode()]
code, msg = s.rcpt(rcpt)
out["rcpt"] = [code, msg.decode()]
body = "From: %s\r\nTo: %s\r\nSubject: from ses\r\n\r\nIm from SES\r\n" % (sender, rcpt)
code, msg = s.data(body)
out["data"] = [code, msg.decode()]
code, msg = s.quit()
out["quit"] = [code, msg.decode()]
print(json.dumps(out))
"#;

fn require(tool: &str, install: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    assert!(
        found,
        "{tool} is not on PATH; this test needs it (install: {install}). It fails rather than skip."
    );
}

async fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_mins(1), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish within 60 s"))
        .unwrap()
}

async fn smtplib(sim: &TestSim, user: &str, password: &str, sender: &str) -> Value {
    require("python3", "apt-get install -y python3");
    let script = sim.dir.path().join("drive.py");
    std::fs::write(&script, SMTPLIB_SCRIPT).unwrap();
    let port = sim.port().to_string();
    let out = run(
        "python3",
        &[
            script.to_str().unwrap(),
            "127.0.0.1",
            &port,
            sim.ca.to_str().unwrap(),
            user,
            password,
            sender,
            "xxxxx@example.com",
        ],
        b"",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python3 failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn pair(v: &Value, key: &str) -> (i64, String) {
    let p = &v[key];
    (
        p[0].as_i64().unwrap_or_else(|| panic!("no {key} in {v}")),
        p[1].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_success_as_in_the_article() {
    let sim = start(demo_config()).await;
    let (key, password) = sim.credentials("good");
    let v = smtplib(&sim, &key, &password, "auth-fail@example.com").await;
    assert_eq!(
        pair(&v, "ehlo"),
        (
            250,
            "email-smtp.amazonaws.com\n8BITMIME\nSTARTTLS\nAUTH PLAIN LOGIN\nOk".into()
        )
    );
    assert_eq!(pair(&v, "starttls"), (220, "Ready to start TLS".into()));
    assert_eq!(
        pair(&v, "ehlo_tls"),
        (
            250,
            "email-smtp.amazonaws.com\n8BITMIME\nAUTH PLAIN LOGIN\nOk".into()
        )
    );
    assert_eq!(pair(&v, "auth"), (235, "Authentication successful.".into()));
    assert_eq!(pair(&v, "mail"), (250, "Ok".into()));
    assert_eq!(pair(&v, "rcpt"), (250, "Ok".into()));
    let (code, text) = pair(&v, "data");
    assert_eq!(code, 250);
    let id = text.strip_prefix("Ok ").expect("250 Ok <id>");
    let stored = sim.sim.mailbox().get(id).expect("in the mailbox");
    assert!(String::from_utf8_lossy(&stored.data).contains("Im from SES"));
    assert_eq!(pair(&v, "quit"), (221, "Bye".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_wrong_password_as_in_the_article() {
    let sim = start(demo_config()).await;
    let (key, _) = sim.credentials("wrong-password");
    let v = smtplib(
        &sim,
        &key,
        "BwrongwrongwrongwrongwrongwrongwrongwrongwrongX",
        "auth-fail@example.com",
    )
    .await;
    assert_eq!(
        pair(&v, "auth"),
        (535, "Authentication Credentials Invalid".into())
    );
    assert_eq!(pair(&v, "mail"), (530, "Authentication required".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_policy_denial_as_in_the_article() {
    let sim = start(demo_config()).await;
    let (key, password) = sim.credentials("ip-restricted");
    let v = smtplib(&sim, &key, &password, "policy-fail@example.com").await;
    assert_eq!(pair(&v, "auth"), (235, "Authentication successful.".into()));
    assert_eq!(pair(&v, "mail"), (250, "Ok".into()));
    assert_eq!(pair(&v, "rcpt"), (250, "Ok".into()));
    assert_eq!(
        pair(&v, "data"),
        (
            554,
            "Access denied: User `arn:aws:iam::123456789012:user/ip-restricted' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'".into()
        )
    );
    assert!(sim.sim.mailbox().is_empty());
}

fn openssl_args<'a>(ca: &'a Path, target: &'a str, starttls: bool) -> Vec<&'a str> {
    let mut args = vec!["s_client"];
    if starttls {
        args.extend(["-starttls", "smtp"]);
    }
    args.extend([
        "-connect",
        target,
        "-CAfile",
        ca.to_str().unwrap(),
        "-verify_return_error",
        "-verify_hostname",
        "email-smtp.us-east-1.amazonaws.com",
        "-servername",
        "email-smtp.us-east-1.amazonaws.com",
        "-quiet",
        "-crlf",
    ]);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_starttls_handshake_and_ehlo() {
    require("openssl", "apt-get install -y openssl");
    let sim = start(demo_config()).await;
    let target = format!("127.0.0.1:{}", sim.port());
    let out = run(
        "openssl",
        &openssl_args(&sim.ca, &target, true),
        b"EHLO client.example\nNOOP\nQUIT\n",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("verify return:1"), "{stderr}");
    assert!(
        stderr.contains("CN = email-smtp.us-east-1.amazonaws.com"),
        "{stderr}"
    );
    // s_client handles the greeting and its own plaintext EHLO itself (their last line goes
    // to stderr, as in the article's transcript); the replies to our commands, in TLS, follow.
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        vec![
            "250-email-smtp.amazonaws.com",
            "250-8BITMIME",
            "250-AUTH PLAIN LOGIN",
            "250 Ok",
            "250 Ok",
            "221 Bye"
        ],
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_implicit_tls_gets_the_greeting_inside_tls() {
    require("openssl", "apt-get install -y openssl");
    let sim = start(demo_config()).await;
    let target = format!("127.0.0.1:{}", sim.implicit_port());
    let out = run(
        "openssl",
        &openssl_args(&sim.ca, &target, false),
        b"STARTTLS\nQUIT\n",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "454 TLS not available due to temporary reason: TLS already active"
    );
    assert_eq!(lines[2], "221 Bye");
}

async fn swaks(sim: &TestSim, user: &str, extra: &[&str]) -> (bool, String) {
    require(
        "swaks",
        "apt-get install -y swaks (the test set-up installs it)",
    );
    let (key, password) = sim.credentials(user);
    let server = format!("127.0.0.1:{}", sim.port());
    let mut args = vec![
        "--server",
        &server,
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        sim.ca.to_str().unwrap(),
        "--auth-user",
        &key,
        "--auth-password",
        &password,
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.org",
        "--ehlo",
        "client.example",
        "--timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    let out = run("swaks", &args, b"").await;
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_sends_with_plain_and_login_and_sees_the_denial() {
    let sim = start(demo_config()).await;
    let (ok, transcript) = swaks(&sim, "good", &["--auth", "PLAIN"]).await;
    assert!(ok, "{transcript}");
    assert!(
        transcript.contains("<~  235 Authentication successful."),
        "{transcript}"
    );
    assert!(transcript.contains("<~  250 Ok 0100"), "{transcript}");
    let (ok, transcript) = swaks(&sim, "good", &["--auth", "LOGIN"]).await;
    assert!(ok, "{transcript}");
    assert!(transcript.contains("<~  334 VXNlcm5hbWU6"), "{transcript}");
    assert!(transcript.contains("<~  334 UGFzc3dvcmQ6"), "{transcript}");
    assert_eq!(sim.sim.mailbox().len(), 2);

    let (ok, transcript) = swaks(&sim, "ip-restricted", &["--auth", "PLAIN"]).await;
    assert!(!ok, "swaks must report the refused send: {transcript}");
    assert!(
        transcript
            .contains("<~* 554 Access denied: User `arn:aws:iam::123456789012:user/ip-restricted'"),
        "{transcript}"
    );
    assert_eq!(sim.sim.mailbox().len(), 2);
}
