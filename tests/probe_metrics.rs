//! `smtpscope probe` against the built-in simulator: every mode and the outcomes a monitor
//! alerts on, each output accepted by `promtool check metrics` (lint included), with the
//! outcome, the failed phase and the step metrics it should have, and no secret in it.

mod common;
mod sim_support;

use common::prometheus::check_metrics;
use common::{assert_no_secret, smtpscope, text};
use sim_support::*;

/// The value of one sample (`name{labels}` as printed), if present.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .and_then(|v| v.parse().ok())
    })
}

/// The label value of the one series of `family` whose value is 1.
fn the_one(metrics: &str, family: &str, label: &str) -> Option<String> {
    let prefix = format!("{family}{{{label}=\"");
    let ones: Vec<String> = metrics
        .lines()
        .filter(|l| l.ends_with(" 1"))
        .filter_map(|l| {
            l.strip_prefix(&prefix)?
                .split_once('"')
                .map(|(v, _)| v.to_string())
        })
        .collect();
    assert!(ones.len() <= 1, "{family}: more than one set: {ones:?}");
    ones.into_iter().next()
}

struct Case<'a> {
    name: &'a str,
    /// Demo user, and the password to send instead of theirs.
    user: Option<(&'a str, Option<&'a str>)>,
    args: &'a [&'a str],
    exit: i32,
    success: bool,
    outcome: &'a str,
    phase: Option<&'a str>,
    /// Steps that must have a duration.
    steps: &'a [&'a str],
    tls: bool,
}

fn probe(sim: &TestSim, case: &Case<'_>) -> String {
    let port = sim.port().to_string();
    let mut args: Vec<String> = [
        "probe",
        "--host",
        "localhost",
        "--region",
        "us-east-1",
        "--port",
        &port,
        "--ca-file",
        sim.ca.to_str().unwrap(),
        "--timeout",
        "10",
    ]
    .map(String::from)
    .to_vec();
    args.extend(case.args.iter().map(std::string::ToString::to_string));
    let mut env = Vec::new();
    let mut secret = None;
    if let Some((user, password)) = case.user {
        let (key, real) = sim.credentials(user);
        let password = password.map_or_else(|| real.to_string(), str::to_string);
        args.extend(["--user".to_string(), key.clone()]);
        secret = Some((key, password));
    }
    if let Some((_, p)) = &secret {
        env.push(("SMTPSCOPE_PASSWORD", p.as_str()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &env);
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(case.exit),
        "{}: {}",
        case.name,
        text(&out)
    );
    if let Some((user, password)) = &secret {
        assert_no_secret(&text(&out), user, password);
        assert!(
            !metrics.contains(user.as_str()),
            "{}: user name in a label",
            case.name
        );
    }
    check_metrics(&metrics);
    let expect = if case.success { 1.0 } else { 0.0 };
    assert_eq!(
        value(&metrics, "probe_success"),
        Some(expect),
        "{}:\n{metrics}",
        case.name
    );
    assert_eq!(
        the_one(&metrics, "smtp_probe_outcome", "outcome").as_deref(),
        Some(case.outcome),
        "{}:\n{metrics}",
        case.name
    );
    assert_eq!(
        the_one(&metrics, "smtp_probe_failed_phase", "phase").as_deref(),
        case.phase,
        "{}:\n{metrics}",
        case.name
    );
    for step in case.steps {
        let d = value(
            &metrics,
            &format!("smtp_probe_step_duration_seconds{{step=\"{step}\"}}"),
        );
        assert!(
            d.is_some_and(|d| d >= 0.0),
            "{}: no {step} duration:\n{metrics}",
            case.name
        );
    }
    assert_eq!(
        value(&metrics, "probe_tls_version_info{version=\"TLS 1.3\"}").is_some(),
        case.tls,
        "{}:\n{metrics}",
        case.name
    );
    if case.tls {
        let expiry = value(&metrics, "probe_ssl_earliest_cert_expiry").expect("expiry");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            expiry > now,
            "{}: the simulator's certificate is valid now",
            case.name
        );
    }
    metrics
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mode_and_outcome_gives_valid_metrics() {
    let sim = start(demo_config()).await;
    let send = [
        "--mode",
        "send",
        "--from",
        "sender@example.com",
        "--to",
        "success@simulator.amazonses.com",
    ];
    let cases = [
        Case {
            name: "connect",
            user: None,
            args: &["--mode", "connect"],
            exit: 0,
            success: true,
            outcome: "incomplete",
            phase: None,
            steps: &["connect", "greeting"],
            tls: false,
        },
        Case {
            name: "tls",
            user: None,
            args: &["--mode", "tls"],
            exit: 0,
            success: true,
            outcome: "incomplete",
            phase: None,
            steps: &["connect", "greeting", "ehlo", "starttls", "tls_handshake"],
            tls: true,
        },
        Case {
            name: "auth, good user",
            user: Some(("good", None)),
            args: &["--mode", "auth"],
            exit: 0,
            success: true,
            outcome: "authenticated",
            phase: None,
            steps: &["tls_handshake", "auth"],
            tls: true,
        },
        Case {
            name: "auth, wrong password",
            user: Some(("wrong-password", Some("not-the-password-0123456789"))),
            args: &["--mode", "auth"],
            exit: 6,
            success: false,
            outcome: "authentication_failed",
            phase: Some("authentication"),
            steps: &["auth"],
            tls: true,
        },
        Case {
            name: "send, good user",
            user: Some(("good", None)),
            args: &send,
            exit: 0,
            success: true,
            outcome: "accepted",
            phase: None,
            steps: &["auth", "mail", "rcpt", "data", "dot"],
            tls: true,
        },
        Case {
            name: "send, IAM-denied user",
            user: Some(("send-email-only", None)),
            args: &send,
            exit: 9,
            success: false,
            outcome: "authorization_denied",
            phase: Some("authorization"),
            steps: &["auth", "dot"],
            tls: true,
        },
    ];
    for case in &cases {
        let metrics = probe(&sim, case);
        if case.name == "send, good user" {
            assert_eq!(
                value(&metrics, "smtp_probe_reply_code{step=\"dot\"}"),
                Some(250.0),
                "{metrics}"
            );
            assert_eq!(
                value(&metrics, "smtp_probe_provider_info{provider=\"ses\"}"),
                Some(1.0),
                "{metrics}"
            );
        }
        if case.name == "send, IAM-denied user" {
            assert_eq!(
                value(&metrics, "smtp_probe_reply_code{step=\"dot\"}"),
                Some(554.0),
                "{metrics}"
            );
        }
    }
    // The user name shows only when asked for.
    let (key, _) = sim.credentials("good");
    let port = sim.port().to_string();
    let (_, password) = sim.credentials("good");
    let out = smtpscope(
        &[
            "probe",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            sim.ca.to_str().unwrap(),
            "--user",
            &key,
            "--mode",
            "auth",
            "--label-user",
        ],
        &[("SMTPSCOPE_PASSWORD", password.as_str())],
    );
    let metrics = String::from_utf8_lossy(&out.stdout);
    assert!(
        metrics.contains(&format!("smtp_probe_user_info{{user=\"{key}\"}} 1")),
        "{metrics}"
    );
    check_metrics(&metrics);
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_and_failures_before_smtp() {
    let sim = start(demo_config()).await;
    let implicit = sim.implicit_port().to_string();
    let ca = sim.ca.to_str().unwrap().to_string();
    // Implicit TLS: the handshake comes before the greeting.
    let out = smtpscope(
        &[
            "probe",
            "--host",
            "localhost",
            "--port",
            &implicit,
            "--tls",
            "implicit",
            "--ca-file",
            &ca,
            "--mode",
            "tls",
        ],
        &[],
    );
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_metrics(&metrics);
    assert!(
        value(
            &metrics,
            "smtp_probe_step_duration_seconds{step=\"tls_handshake\"}"
        )
        .is_some()
    );
    assert!(
        value(
            &metrics,
            "smtp_probe_step_duration_seconds{step=\"starttls\"}"
        )
        .is_none()
    );
    assert_eq!(
        value(&metrics, "smtp_probe_reply_code{step=\"greeting\"}"),
        Some(220.0)
    );

    // No trusted CA: the handshake fails (the platform's roots do not know the simulator's).
    let port = sim.port().to_string();
    let out = smtpscope(
        &[
            "probe",
            "--host",
            "localhost",
            "--port",
            &port,
            "--mode",
            "tls",
            "--timeout",
            "5",
        ],
        &[],
    );
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    check_metrics(&metrics);
    assert_eq!(value(&metrics, "probe_success"), Some(0.0));
    assert_eq!(
        the_one(&metrics, "smtp_probe_outcome", "outcome").as_deref(),
        Some("tls_failed")
    );
    assert_eq!(
        the_one(&metrics, "smtp_probe_failed_phase", "phase").as_deref(),
        Some("tls")
    );

    // Nothing listening: connection_failed, and still valid metrics.
    let closed = common::prometheus::free_port().to_string();
    let out = smtpscope(
        &[
            "probe",
            "--host",
            "127.0.0.1",
            "--port",
            &closed,
            "--mode",
            "connect",
            "--timeout",
            "5",
        ],
        &[],
    );
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    check_metrics(&metrics);
    assert_eq!(value(&metrics, "probe_success"), Some(0.0));
    assert_eq!(
        the_one(&metrics, "smtp_probe_outcome", "outcome").as_deref(),
        Some("connection_failed")
    );
    assert_eq!(
        the_one(&metrics, "smtp_probe_failed_phase", "phase").as_deref(),
        Some("connection")
    );
}

#[test]
fn usage_errors_print_no_metrics() {
    for (args, says) in [
        (
            &[
                "probe",
                "--host",
                "127.0.0.1",
                "--mode",
                "auth",
                "--auth",
                "none",
            ][..],
            "--mode auth needs credentials",
        ),
        (
            &[
                "probe",
                "--host",
                "127.0.0.1",
                "--mode",
                "send",
                "--user",
                "u",
            ][..],
            "--from",
        ),
        (
            &["probe", "--host", "h\r\nx", "--mode", "connect"][..],
            "carriage return",
        ),
    ] {
        let out = smtpscope(args, &[("SMTPSCOPE_PASSWORD", "p")]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) || text(&out).contains(says),
            "{args:?}: {err}"
        );
    }
}
