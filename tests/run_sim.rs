//! `smtpscope run` against the built-in simulator: every scenario of the demo config gets the
//! right phase and exit code.

mod common;
mod sim_support;

use common::{json_lines, replies, smtpscope, text};
use sim_support::*;

struct Case<'a> {
    user: &'a str,
    password: Option<&'a str>,
    extra: &'a [&'a str],
    exit: i32,
    /// (after, code, phase) of the deciding reply
    decisive: (&'a str, i64, &'a str),
}

/// `smtpscope run --json` against the simulator as `user`, sending `from` to `to` (SES region
/// us-east-1, so the credential lint applies), plus `extra` flags. Blocks: call it from
/// `block_in_place`.
fn run_json(
    sim: &TestSim,
    user: &str,
    password: &str,
    from: &str,
    to: &[&str],
    extra: &[&str],
) -> std::process::Output {
    let mut args = sim.run_args(user, from, to);
    args.extend(extra.iter().map(std::string::ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password)])
}

fn run_case(sim: &TestSim, case: &Case<'_>) -> Vec<serde_json::Value> {
    let (user, password) = sim.credentials(case.user);
    let password = case
        .password
        .map_or_else(|| password.to_string(), str::to_string);
    let out = run_json(
        sim,
        &user,
        &password,
        "sender@example.com",
        &["rcpt@example.com"],
        case.extra,
    );
    assert_eq!(
        out.status.code(),
        Some(case.exit),
        "user {}: {}",
        case.user,
        text(&out)
    );
    common::assert_no_secret(&text(&out), &user, &password);
    let lines = json_lines(&out);
    let (after, code, phase) = case.decisive;
    let found = replies(&lines)
        .into_iter()
        .find(|r| r["after"] == after && r["code"] == code)
        .unwrap_or_else(|| {
            panic!(
                "user {}: no {code} after {after}: {}",
                case.user,
                text(&out)
            )
        })
        .clone();
    assert_eq!(found["phase"], phase, "user {}", case.user);
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn every_demo_scenario_through_run() {
    let sim = start(demo_config()).await;
    let cases = [
        Case {
            user: "good",
            password: None,
            extra: &[],
            exit: 0,
            decisive: ("data-end", 250, "data"),
        },
        Case {
            user: "wrong-password",
            password: Some("abcdefg"),
            extra: &["--keep-going"],
            exit: 6,
            decisive: ("auth", 535, "authentication"),
        },
        Case {
            user: "ip-restricted",
            password: None,
            extra: &[],
            exit: 9,
            decisive: ("data-end", 554, "authorization"),
        },
        Case {
            user: "loopback-only",
            password: None,
            extra: &[],
            exit: 0,
            decisive: ("data-end", 250, "data"),
        },
        Case {
            user: "loopback-remote",
            password: None,
            extra: &[],
            exit: 9,
            decisive: ("data-end", 554, "authorization"),
        },
        Case {
            user: "sandbox-user",
            password: None,
            extra: &["--to", "someone@unverified.example.net"],
            exit: 9,
            decisive: ("data-end", 554, "authorization"),
        },
        Case {
            user: "send-email-only",
            password: None,
            extra: &[],
            exit: 9,
            decisive: ("data-end", 554, "authorization"),
        },
        Case {
            user: "good",
            password: None,
            extra: &["--tls", "none", "--quit-after", "auth"],
            exit: 4,
            decisive: ("auth", 530, "tls"),
        },
    ];
    for case in &cases {
        let lines = tokio::task::block_in_place(|| run_case(&sim, case));
        if case.user == "wrong-password" {
            let mail = replies(&lines)
                .into_iter()
                .find(|r| r["after"] == "mail")
                .expect("MAIL after the 535")
                .clone();
            assert_eq!(mail["code"], 530);
            assert_eq!(mail["phase"], "authentication");
        }
        if case.user == "ip-restricted" {
            let denied = replies(&lines)
                .into_iter()
                .find(|r| r["code"] == 554)
                .unwrap()
                .clone();
            let t = denied["text"].as_str().unwrap();
            assert_eq!(
                t,
                "Access denied: User `arn:aws:iam::123456789012:user/ip-restricted' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
            );
            assert_eq!(
                lines.last().unwrap()["verdict"],
                "Authenticated; authorization denied after DATA"
            );
        }
        if case.user == "sandbox-user" {
            let denied = replies(&lines)
                .into_iter()
                .find(|r| r["code"] == 554)
                .unwrap()
                .clone();
            assert!(
                denied["text"]
                    .as_str()
                    .unwrap()
                    .contains("in region US-EAST-1"),
                "{denied}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_recipient_limit_through_run() {
    let sim = start(demo_config()).await;
    // The throttled user may send one recipient per second and three a day.
    let mut last = 0;
    for _ in 0..5 {
        let (user, password) = sim.credentials("throttled");
        let out = tokio::task::block_in_place(|| {
            run_json(
                &sim,
                &user,
                &password,
                "sender@example.com",
                &["rcpt@example.com"],
                &[],
            )
        });
        last = out.status.code().unwrap();
        if last == 10 {
            let lines = json_lines(&out);
            let r = replies(&lines)
                .into_iter()
                .find(|r| r["code"] == 454)
                .expect("454")
                .clone();
            assert_eq!(r["phase"], "throttling");
            break;
        }
        assert_eq!(last, 0, "{}", text(&out));
    }
    assert_eq!(
        last, 10,
        "the throttled user must hit 454 within five sends"
    );

    let to: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
    let (user, password) = sim.credentials("good");
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let out = tokio::task::block_in_place(|| {
        run_json(&sim, &user, &password, "sender@example.com", &to, &[])
    });
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let lines = json_lines(&out);
    let r = replies(&lines)
        .into_iter()
        .find(|r| r["code"] == 554)
        .expect("554")
        .clone();
    assert_eq!(r["phase"], "content");
    assert_eq!(r["text"], "Transaction failed: Recipient count exceeds 50.");
}

/// What `run --json` prints can be opened by `smtpscope replay` as it is (summary line
/// included), and the replayed debugger tells the same story.
#[tokio::test(flavor = "multi_thread")]
async fn run_json_output_replays_in_the_debugger() {
    let sim = start(demo_config()).await;
    let (user, password) = sim.credentials("ip-restricted");
    let out = tokio::task::block_in_place(|| {
        run_json(
            &sim,
            &user,
            &password,
            "a@example.com",
            &["b@example.com"],
            &[],
        )
    });
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.jsonl");
    std::fs::write(&file, &out.stdout).unwrap();
    let entries = smtpscope::tui::replay::load(&file)
        .await
        .expect("run --json replays");
    let app = smtpscope::tui::replay::app_for(
        entries,
        "run.jsonl",
        smtpscope::engine::classify::Catalog::builtin(),
    );
    let screen = smtpscope::tui::view::render_to_text(&app, 120, 40);
    assert!(
        screen.contains("Authenticated; authorization denied after DATA"),
        "{screen}"
    );
    assert!(screen.contains("read-only"), "{screen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_names_the_provider_from_the_greeting() {
    // The simulator listens on 127.0.0.1, so only its SES greeting can name the provider.
    let sim = start(demo_config()).await;
    let case = Case {
        user: "good",
        password: None,
        extra: &[],
        exit: 0,
        decisive: ("data-end", 250, "data"),
    };
    let lines = tokio::task::block_in_place(|| run_case(&sim, &case));
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line");
    assert_eq!(summary["provider"], "ses", "{summary}");
    assert_eq!(summary["provider_from"], "greeting", "{summary}");
}

/// Reached by IP address, without --region: the SES credential checks still run, because the
/// greeting says SES. A 40-character secret key used as the password is named before AUTH.
#[tokio::test(flavor = "multi_thread")]
async fn the_greeting_alone_turns_on_the_ses_credential_checks() {
    let sim = start(demo_config()).await;
    let (user, _) = sim.credentials("good");
    let port = sim.port().to_string();
    let ca = sim.ca.to_str().unwrap().to_string();
    let out = tokio::task::block_in_place(|| {
        smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--ca-file",
                &ca,
                "--user",
                &user,
                "--quit-after",
                "auth",
                "--json",
            ],
            &[(
                "SMTPSCOPE_PASSWORD",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )],
        )
    });
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let lines = json_lines(&out);
    let lint = lines
        .iter()
        .find(|l| l["type"] == "warning" && l["lint"] == "secret-key-as-password");
    assert!(lint.is_some(), "no secret-key lint in:\n{}", text(&out));
}

/// The region check compares the password with `AWS_SECRET_ACCESS_KEY` only when that secret
/// is the SMTP user's own: exported with another `AWS_ACCESS_KEY_ID` (API credentials for
/// another user), it says nothing about this password and must not raise a warning.
#[tokio::test(flavor = "multi_thread")]
async fn an_exported_secret_of_another_key_is_not_compared() {
    let sim = start(demo_config()).await;
    let (user, password) = sim.credentials("good");
    // 40 characters, like a secret access key, but not the one the password came from.
    let other_secret = "EXAMPLEotherSECRETnotTHEsmtpUSERSkey0001";
    let lint_codes = |key_id: &str| {
        let args = sim.run_args(&user, "sender@example.com", &["rcpt@example.com"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tokio::task::block_in_place(|| {
            smtpscope(
                &args,
                &[
                    ("SMTPSCOPE_PASSWORD", password.as_str()),
                    ("AWS_ACCESS_KEY_ID", key_id),
                    ("AWS_SECRET_ACCESS_KEY", other_secret),
                ],
            )
        });
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        json_lines(&out)
            .iter()
            .filter_map(|l| l["lint"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(
        lint_codes("AKIAIOSFODNN7OTHERID").is_empty(),
        "another key's secret was compared"
    );
    // The same secret exported as the SMTP user's own: the check runs and finds the mismatch.
    assert_eq!(lint_codes(&user), ["password-other-key"]);
}
