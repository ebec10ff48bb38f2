//! `smtpscope run` against an SMTP server we did not write (Python aiosmtpd, dressed as SES),
//! for the three scenarios of the story (authentication, authorization, success) and for TLS
//! verification.

mod common;

use common::*;

const GOOD: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
);
const DENIED: (&str, &str) = (
    "AKIADENIEDEXAMPLE123",
    "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd",
);

fn peer(pki: &Pki) -> Peer {
    let good = format!("{}:{}", GOOD.0, GOOD.1);
    let denied = format!("{}:{}", DENIED.0, DENIED.1);
    let deny = format!(
        "{}:arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1",
        DENIED.0
    );
    start_ses_peer(
        "127.0.0.1",
        "starttls",
        Some(pki),
        &[
            "--user",
            &good,
            "--user",
            &denied,
            "--deny-user",
            &deny,
            "--require-tls-for-auth",
        ],
    )
}

fn run_json(
    port: u16,
    pki: &Pki,
    user: &str,
    password: &str,
    extra: &[&str],
) -> std::process::Output {
    let port = port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let mut args = vec![
        "run",
        "--host",
        "localhost",
        "--port",
        &port,
        "--ca-file",
        ca,
        "--user",
        user,
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.net",
        "--json",
        "--timeout",
        "10",
    ];
    args.extend_from_slice(extra);
    smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password)])
}

#[test]
fn seed_scenario_success() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let out = run_json(p.port, &pki, GOOD.0, GOOD.1, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let replies = replies(&lines);
    let codes: Vec<i64> = replies
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![220, 250, 220, 250, 235, 250, 250, 354, 250, 221],
        "{}",
        text(&out)
    );
    let accepted = replies[8];
    assert_eq!(accepted["after"], "data-end");
    assert_eq!(accepted["phase"], "data");
    assert_eq!(accepted["verdict"], "success");
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "tls-started"
                && l["info"]["verification"]["outcome"] == "verified")
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["exit_code"], 0);
    assert_no_secret(&text(&out), GOOD.0, GOOD.1);
}

#[test]
fn seed_scenario_wrong_password_535_then_530() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let out = run_json(p.port, &pki, GOOD.0, "abcdefg", &["--keep-going"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "authentication exit code\n{}",
        text(&out)
    );
    let lines = json_lines(&out);
    let replies = replies(&lines);
    let auth = replies.iter().find(|r| r["code"] == 535).expect("a 535");
    assert_eq!(auth["phase"], "authentication");
    assert_eq!(auth["verdict"], "permanent");
    assert!(
        auth["diagnosis"]["remedy"]
            .as_str()
            .unwrap()
            .contains("region")
    );
    let mail = replies
        .iter()
        .find(|r| r["code"] == 530)
        .expect("a 530 to MAIL");
    assert_eq!(mail["after"], "mail");
    assert_eq!(mail["phase"], "authentication");
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("Authentication required")
    );
    let summary = lines.last().unwrap();
    assert_eq!(
        summary["verdict"],
        "Authentication failed at AUTH (535): the server refused the credentials"
    );
    assert_eq!(summary["outcome"], "authentication_failed");
    assert_eq!(
        summary["failed_step"], "auth",
        "the 535, not the 530 that follows"
    );
    assert_no_secret(&text(&out), GOOD.0, "abcdefg");
}

/// AUTH LOGIN with a wrong password, end to end: the 535 answers the password line (an
/// AUTH-RESPONSE, not the AUTH command), and is still authentication, with SES's own entry.
#[test]
fn auth_login_535_is_authentication_end_to_end() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let out = run_json(
        p.port,
        &pki,
        GOOD.0,
        "BWrongPasswordForLogin0000000000000000000000",
        &["--auth", "login", "--keep-going"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "authentication exit code\n{t}");
    let lines = json_lines(&out);
    let replies = replies(&lines);
    let prompts: Vec<_> = replies
        .iter()
        .filter(|r| r["code"] == 334)
        .map(|r| (r["after"].as_str().unwrap(), r["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        prompts,
        [("auth", "VXNlcm5hbWU6"), ("auth-response", "UGFzc3dvcmQ6")],
        "{t}"
    );
    let refused = replies.iter().find(|r| r["code"] == 535).expect("a 535");
    assert_eq!(refused["after"], "auth-response", "{t}");
    assert_eq!(refused["text"], "Authentication Credentials Invalid", "{t}");
    assert_eq!(refused["phase"], "authentication", "{t}");
    assert_eq!(refused["verdict"], "permanent", "{t}");
    assert_eq!(refused["diagnosis"]["id"], "ses-credentials-invalid", "{t}");
    let mail = replies
        .iter()
        .find(|r| r["after"] == "mail")
        .expect("--keep-going reaches MAIL FROM");
    assert_eq!(mail["code"], 530, "{t}");
    assert_eq!(mail["phase"], "authentication", "{t}");
    let summary = lines.last().unwrap();
    assert_eq!(
        summary["verdict"],
        "Authentication failed at AUTH (535): the server refused the credentials",
        "{t}"
    );
    assert_eq!(summary["outcome"], "authentication_failed", "{t}");
    assert_eq!(summary["failed_phase"], "authentication", "{t}");
    assert_no_secret(&t, GOOD.0, "BWrongPasswordForLogin0000000000000000000000");
}

#[test]
fn wrong_password_stops_at_auth_without_keep_going() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let out = run_json(p.port, &pki, GOOD.0, "abcdefg", &[]);
    assert_eq!(out.status.code(), Some(6));
    let lines = json_lines(&out);
    assert!(
        !replies(&lines).iter().any(|r| r["after"] == "mail"),
        "must stop after the failed AUTH"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "sent" && l["verb"] == "quit"),
        "QUIT after the failure"
    );
}

#[test]
fn seed_scenario_authorization_554_after_the_dot() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let out = run_json(p.port, &pki, DENIED.0, DENIED.1, &[]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "authorization exit code\n{}",
        text(&out)
    );
    let lines = json_lines(&out);
    let replies = replies(&lines);
    let by_after = |a: &str| {
        replies
            .iter()
            .find(|r| r["after"] == a)
            .copied()
            .unwrap_or_else(|| panic!("no reply after {a}"))
    };
    assert_eq!(by_after("auth")["code"], 235);
    assert_eq!(by_after("mail")["code"], 250);
    assert_eq!(by_after("rcpt")["code"], 250);
    assert_eq!(by_after("data")["code"], 354);
    let denied = by_after("data-end");
    assert_eq!(denied["code"], 554);
    assert_eq!(denied["phase"], "authorization");
    let details = denied["diagnosis"]["details"].to_string();
    assert!(
        details.contains("arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1"),
        "{details}"
    );
    assert!(details.contains("ses:SendRawEmail"), "{details}");
    assert!(details.contains("identity/example.com"), "{details}");
    assert!(
        denied["diagnosis"]["notes"]
            .to_string()
            .contains("Authentication had succeeded")
    );
    assert_eq!(
        lines.last().unwrap()["verdict"],
        "Authenticated; authorization denied after DATA"
    );
    assert_no_secret(&text(&out), DENIED.0, DENIED.1);
}

#[test]
fn text_transcript_marks_tls_and_redacts_auth() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            ca,
            "--user",
            GOOD.0,
            "--auth",
            "login",
            "--quit-after",
            "auth",
        ],
        &[("SMTPSCOPE_PASSWORD", GOOD.1)],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains(" -> STARTTLS"), "{t}");
    assert!(t.contains(" ~> AUTH LOGIN"), "{t}");
    assert!(t.contains("<~  235"), "{t}");
    assert!(t.contains("<redacted: base64 password>"), "{t}");
    assert!(
        !t.contains("MAIL FROM"),
        "--quit-after auth stops before MAIL: {t}"
    );
    assert_no_secret(&t, GOOD.0, GOOD.1);
}

#[test]
fn tls_without_the_ca_fails_with_a_clear_reason() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let port = p.port.to_string();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--auth",
            "none",
            "--quit-after",
            "tls",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("unknown issuer"), "{t}");
    assert!(t.contains("--ca-file"), "{t}");
}

#[test]
fn tls_name_mismatch_is_named_and_sni_fixes_it() {
    let pki = make_pki(LeafSpec {
        names: &["mail.example.test"],
        ..LeafSpec::default()
    });
    let p = peer(&pki);
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let base = [
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--ca-file",
        ca,
        "--auth",
        "none",
        "--quit-after",
        "tls",
    ];
    let out = smtpscope(&base, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("name mismatch"), "{t}");
    assert!(t.contains("mail.example.test"), "{t}");
    let mut with_sni = base.to_vec();
    with_sni.extend(["--sni", "mail.example.test"]);
    let out = smtpscope(&with_sni, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn insecure_is_loud_and_says_what_verification_would_have_said() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let port = p.port.to_string();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--insecure",
            "--auth",
            "none",
            "--quit-after",
            "tls",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("--insecure"), "{t}");
    assert!(t.contains("INSECURE"), "{t}");
    assert!(t.contains("unknown issuer"), "{t}");
}

#[test]
fn implicit_tls_and_ipv6_loopback() {
    let pki = make_pki(LeafSpec::default());
    let good = format!("{}:{}", GOOD.0, GOOD.1);
    let p = start_ses_peer("::1", "implicit", Some(&pki), &["--user", &good]);
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "::1",
            "--port",
            &port,
            "--tls",
            "implicit",
            "--sni",
            "localhost",
            "--ca-file",
            ca,
            "--user",
            GOOD.0,
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--json",
        ],
        &[("SMTPSCOPE_PASSWORD", GOOD.1)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let first_reply = replies(&lines)[0];
    assert_eq!(first_reply["code"], 220);
    assert_eq!(
        first_reply["tls"], true,
        "the greeting arrives inside TLS on implicit ports"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l["type"] == "sent" && l["line"] == "STARTTLS")
    );
}

#[test]
fn usage_errors_exit_2_and_never_prompt() {
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--user",
            "u",
            "--from",
            "a@b.c",
            "--to",
            "d@e.f",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("SMTPSCOPE_PASSWORD"), "{}", text(&out));
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--auth",
            "none",
            "--from",
            "a@b.c\r\nRCPT TO:<x@y.z>",
            "--to",
            "d@e.f",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("carriage return"), "{}", text(&out));
    let out = smtpscope(&["run", "--auth", "none", "--quit-after", "connect"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn connection_refused_is_exit_3() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    drop(l);
    let out = smtpscope(
        &[
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--auth",
            "none",
            "--quit-after",
            "connect",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("refused"));
}

/// Runs the binary under Python and returns (exit code, peak RSS of the child in KiB).
fn run_measuring_rss(args: &[&str], password: &str) -> (i32, u64, String) {
    let script = "import resource, subprocess, sys\n\
                  p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\n\
                  sys.stderr.write(p.stdout.decode('utf-8', 'replace')[-3000:])\n\
                  print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_smtpscope"))
        .args(args)
        .env("SMTPSCOPE_PASSWORD", password)
        .env("NO_COLOR", "1")
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut parts = stdout.split_whitespace();
    let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
    let rss = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, rss, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_40_mb_message_is_streamed_not_loaded() {
    use std::io::Write;
    let pki = make_pki(LeafSpec::default());
    let mailbox = tempfile::tempdir().unwrap();
    let good = format!("{}:{}", GOOD.0, GOOD.1);
    let mb = mailbox.path().to_str().unwrap().to_string();
    let p = start_ses_peer(
        "127.0.0.1",
        "starttls",
        Some(&pki),
        &["--user", &good, "--mailbox", &mb],
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.eml");
    let small = dir.path().join("small.eml");
    let mut f = std::fs::File::create(&big).unwrap();
    writeln!(
        f,
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r"
    )
    .unwrap();
    let line = format!("{}\r\n", "x".repeat(76));
    // Every 1000th line starts with a dot, which must travel stuffed and arrive unstuffed.
    let mut stuffed = 0u64;
    for i in 0..(40 * 1024 * 1024 / line.len()) {
        if i % 1000 == 0 {
            f.write_all(b".a line with a leading dot\r\n").unwrap();
            stuffed += 1;
        } else {
            f.write_all(line.as_bytes()).unwrap();
        }
    }
    drop(f);
    std::fs::write(
        &small,
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: small\r\n\r\nhello\r\n",
    )
    .unwrap();
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let args = |data: &str| {
        vec![
            "run".to_string(),
            "--host".into(),
            "localhost".into(),
            "--port".into(),
            port.clone(),
            "--ca-file".into(),
            ca.clone(),
            "--user".into(),
            GOOD.0.into(),
            "--from".into(),
            "a@example.com".into(),
            "--to".into(),
            "b@example.com".into(),
            "--data".into(),
            format!("@{data}"),
            "--timeout".into(),
            "60".into(),
        ]
    };
    let small_args = args(small.to_str().unwrap());
    let big_args = args(big.to_str().unwrap());
    let (code, small_rss, log) = run_measuring_rss(
        &small_args.iter().map(String::as_str).collect::<Vec<_>>(),
        GOOD.1,
    );
    assert_eq!(code, 0, "{log}");
    let (code, big_rss, log) = run_measuring_rss(
        &big_args.iter().map(String::as_str).collect::<Vec<_>>(),
        GOOD.1,
    );
    assert_eq!(code, 0, "{log}");
    // The transcript's summary of the message, with the counts of this very file.
    let original = std::fs::read(&big).unwrap();
    let lines = original.windows(2).filter(|w| w == b"\r\n").count();
    let summary = format!(
        "<message: {} bytes, {lines} lines, {stuffed} dot-stuffed; then \".\">",
        original.len()
    );
    assert!(
        log.contains(&summary),
        "the transcript summarises the message as {summary:?}: {log}"
    );
    assert!(
        !log.contains(&"x".repeat(76)) && !log.contains("a line with a leading dot"),
        "the transcript must not copy message lines"
    );
    eprintln!("peak RSS: small message {small_rss} KiB, 40 MB message {big_rss} KiB");
    assert!(
        big_rss < small_rss + 16 * 1024,
        "40 MB message added {} KiB",
        big_rss.saturating_sub(small_rss)
    );
    // The peer received the exact bytes: dot-stuffing undone by an independent server.
    let received = std::fs::read_dir(mailbox.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| std::fs::read(p).unwrap())
        .find(|m| m.starts_with(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n"))
        .expect("the peer kept the 40 MB message");
    let first_difference = received
        .iter()
        .zip(&original)
        .position(|(a, b)| a != b)
        .unwrap_or(received.len().min(original.len()));
    assert!(
        received == original,
        "received {} bytes, sent {}; first difference at byte {first_difference}",
        received.len(),
        original.len()
    );
}

#[test]
fn credential_lint_warns_before_auth_without_quoting_the_secret() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    // The IAM secret access key used as the SMTP password: the commonest SES mistake.
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--region",
            "us-east-1",
            "--port",
            &port,
            "--ca-file",
            ca,
            "--user",
            "ses-smtp-user",
            "--quit-after",
            "auth",
        ],
        &[("SMTPSCOPE_PASSWORD", secret)],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "{t}");
    let auth_at = t.find(" ~> AUTH PLAIN").expect("AUTH line");
    let warn_at = t.find("warning").expect("a lint warning");
    assert!(warn_at < auth_at, "warnings come before AUTH: {t}");
    assert!(t.to_lowercase().contains("secret"), "{t}");
    assert!(!t.contains(secret), "the secret must not be quoted");
    assert_no_secret(&t, "ses-smtp-user", secret);
}

#[test]
fn a_visible_password_flag_is_warned_about() {
    let pki = make_pki(LeafSpec::default());
    let p = peer(&pki);
    let port = p.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let out = smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            ca,
            "--user",
            GOOD.0,
            "--password",
            GOOD.1,
            "--quit-after",
            "auth",
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("process list"), "{t}");
    assert_no_secret(&t, GOOD.0, GOOD.1);
}

/// `--ca-file` adds to the platform's roots, which are read only when the chain does not
/// verify against the file alone. The platform store honours `SSL_CERT_FILE`, which stands in
/// for it here: a server whose CA is only there still verifies when `--ca-file` names another
/// CA (and the anchor named is the platform's); with neither holding its CA, it fails.
#[test]
fn ca_file_adds_to_the_platform_roots_read_when_needed() {
    let pki = make_pki(LeafSpec::default());
    let other = make_pki(LeafSpec {
        ca_name: "another test CA",
        ..LeafSpec::default()
    });
    let p = peer(&pki);
    let port = p.port.to_string();
    let run = |platform: &Pki| {
        smtpscope(
            &[
                "run",
                "--host",
                "localhost",
                "--port",
                &port,
                "--ca-file",
                other.ca_pem.to_str().unwrap(),
                "--auth",
                "none",
                "--quit-after",
                "tls",
                "--json",
            ],
            &[("SSL_CERT_FILE", platform.ca_pem.to_str().unwrap())],
        )
    };
    let out = run(&pki);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = json_lines(&out);
    let started = lines
        .iter()
        .find(|l| l["type"] == "tls-started")
        .unwrap_or_else(|| panic!("no tls-started: {}", text(&out)));
    assert_eq!(
        started["info"]["trust_anchor"], "CN=smtpscope test CA",
        "{started}"
    );
    let out = run(&other);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("unknown issuer"), "{}", text(&out));
}
