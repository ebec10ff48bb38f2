//! `smtpscope run --json --auth xoauth2|oauthbearer` against the simulator's Microsoft 365 and
//! Gmail profiles: each test token of the profile gets its outcome (`accepted` or
//! `authentication_failed`, exit 0 or 6), the provider's final reply, and, where the provider
//! sends one (Gmail), the decoded JSON error in the diagnosis. The token never shows.

mod common;
mod sim_support;

use common::{json_lines, replies, smtpscope, text};
use sim_support::*;

struct Case<'a> {
    token: &'a str,
    auth: &'a str,
    outcome: &'a str,
    exit: i32,
    /// The start of the final reply to AUTH.
    reply: &'a str,
    /// Text the diagnosis details must hold (the decoded reason), if any.
    reason: Option<&'a str>,
    /// Codes of the token lint `run` must warn with before AUTH.
    lint: &'a [&'a str],
}

async fn check(provider: &str, cases: &[Case<'_>]) {
    let mut config = demo_config();
    config.set_provider(provider).expect("built-in profile");
    let sim = start(config).await;
    let profile = sim.sim.config().profile.clone().expect("a profile");
    for case in cases {
        let t = profile
            .tokens
            .iter()
            .find(|t| t.name == case.token)
            .unwrap_or_else(|| panic!("{provider}: no token {}", case.token));
        let token = t.token();
        let mut args =
            sim.provider_run_args(&t.username, "sender@example.com", &["rcpt@example.com"]);
        args.extend(["--auth".to_string(), case.auth.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tokio::task::block_in_place(|| {
            smtpscope(&args, &[("SMTPSCOPE_OAUTH_TOKEN", token.as_str())])
        });
        let shown = text(&out);
        let who = format!("{provider} token {} ({})", case.token, case.auth);
        assert_eq!(out.status.code(), Some(case.exit), "{who}: {shown}");
        assert!(!shown.contains(token.as_str()), "{who}: the token leaked");
        common::assert_no_secret(&shown, &t.username, &token);
        let lines = json_lines(&out);
        let summary = lines
            .iter()
            .find(|l| l["type"] == "summary")
            .expect("summary");
        assert_eq!(summary["outcome"], case.outcome, "{who}: {shown}");
        let last = replies(&lines)
            .into_iter()
            .rev()
            .find(|r| r["after"].as_str().is_some_and(|a| a.starts_with("auth")))
            .unwrap_or_else(|| panic!("{who}: no reply to AUTH"));
        assert!(
            last["text"].as_str().unwrap().starts_with(case.reply)
                || last["lines"][0].as_str().unwrap().starts_with(case.reply),
            "{who}: {last}"
        );
        assert_eq!(last["phase"], "authentication", "{who}");
        if let Some(reason) = case.reason {
            let details = last["diagnosis"]["details"].to_string();
            assert!(details.contains(reason), "{who}: {details}");
        }
        let lints: Vec<&str> = lines
            .iter()
            .filter_map(|l| l["lint"].as_str())
            .filter(|c| c.starts_with("oauth-"))
            .collect();
        assert_eq!(lints, case.lint, "{who}: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn microsoft365_test_tokens() {
    let fail = "535 5.7.3 Authentication unsuccessful";
    let case = |token, outcome, exit, reply, lint| Case {
        token,
        auth: "xoauth2",
        outcome,
        exit,
        reply,
        reason: None,
        lint,
    };
    check(
        "microsoft365",
        &[
            case("valid", "accepted", 0, "235 2.7.0", &[]),
            case(
                "expired",
                "authentication_failed",
                6,
                fail,
                &["oauth-expired"],
            ),
            case(
                "wrong-audience",
                "authentication_failed",
                6,
                fail,
                &["oauth-graph-audience", "oauth-scope"],
            ),
            case(
                "missing-scope",
                "authentication_failed",
                6,
                fail,
                &["oauth-scope"],
            ),
            case(
                "smtp-auth-disabled",
                "authentication_failed",
                6,
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
                &[],
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_test_tokens_with_the_json_challenge() {
    let refused = |token, auth| Case {
        token,
        auth,
        outcome: "authentication_failed",
        exit: 6,
        reply: "535-5.7.8 Username and Password not accepted",
        reason: Some("status 400"),
        lint: &[],
    };
    check(
        "gmail",
        &[
            Case {
                token: "valid",
                auth: "xoauth2",
                outcome: "accepted",
                exit: 0,
                reply: "235 2.7.0",
                reason: None,
                lint: &[],
            },
            Case {
                token: "valid",
                auth: "oauthbearer",
                outcome: "accepted",
                exit: 0,
                reply: "235 2.7.0",
                reason: None,
                lint: &[],
            },
            refused("expired", "xoauth2"),
            refused("wrong-audience", "xoauth2"),
            refused("missing-scope", "oauthbearer"),
        ],
    )
    .await;
}
