//! `smtpscope run --json` against the simulator speaking like Microsoft 365 and Gmail
//! (`sim --provider`): every profile user gets its outcome, its reply word for word (Gmail's
//! over two lines), the authentication phase, and the summary names the provider from the
//! simulated greeting.

mod common;
mod sim_support;

use common::{json_lines, replies, smtpscope, text};
use sim_support::*;

struct Case<'a> {
    user: &'a str,
    /// The AUTH mechanism `run` uses (`plain`, `login`).
    auth: &'a str,
    /// Sent instead of the user's demo password.
    password: Option<&'a str>,
    outcome: &'a str,
    exit: i32,
    /// The reply to AUTH, line by line, as the provider sends it.
    auth_reply: &'a [&'a str],
}

/// Runs every case against a simulator with `provider`'s profile and checks it.
async fn check_provider(provider: &str, cases: &[Case<'_>]) {
    let mut config = demo_config();
    config.set_provider(provider).expect("built-in profile");
    let sim = start(config).await;
    let profile = sim.sim.config().profile.clone().expect("a profile");
    for case in cases {
        let user = profile
            .user(case.user)
            .unwrap_or_else(|| panic!("{provider}: no user {}", case.user));
        let password = case
            .password
            .map_or_else(|| user.password().to_string(), str::to_string);
        let mut args =
            sim.provider_run_args(&user.username, "sender@example.com", &["rcpt@example.com"]);
        args.extend(["--auth".to_string(), case.auth.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tokio::task::block_in_place(|| {
            smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password.as_str())])
        });
        let shown = text(&out);
        let who = format!("{provider} user {}", case.user);
        assert_eq!(out.status.code(), Some(case.exit), "{who}: {shown}");
        common::assert_no_secret(&shown, &user.username, &password);
        let lines = json_lines(&out);
        // The last reply of the AUTH exchange (LOGIN has 334 prompts before it).
        let auth = replies(&lines)
            .into_iter()
            .rev()
            .find(|r| r["after"].as_str().is_some_and(|a| a.starts_with("auth")))
            .unwrap_or_else(|| panic!("{who}: no reply to AUTH: {shown}"));
        let got: Vec<&str> = auth["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(got, case.auth_reply, "{who}");
        assert_eq!(auth["phase"], "authentication", "{who}");
        let summary = lines
            .iter()
            .find(|l| l["type"] == "summary")
            .unwrap_or_else(|| panic!("{who}: no summary"));
        assert_eq!(summary["outcome"], case.outcome, "{who}: {summary}");
        assert_eq!(summary["provider"], provider, "{who}: {summary}");
        assert_eq!(summary["provider_from"], "greeting", "{who}: {summary}");
        if case.outcome == "authentication_failed" {
            assert_eq!(
                summary["failed_phase"], "authentication",
                "{who}: {summary}"
            );
            // The provider's catalog explains it, not the generic one.
            let id = auth["diagnosis"]["id"].as_str().unwrap_or_default();
            assert!(
                id.starts_with(if provider == "gmail" {
                    "gmail-"
                } else {
                    "m365-"
                }),
                "{who}: diagnosed as {id:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn microsoft365_profile_through_run() {
    check_provider(
        "microsoft365",
        &[
            Case {
                user: "good",
                auth: "login",
                password: None,
                outcome: "accepted",
                exit: 0,
                auth_reply: &["235 2.7.0 Authentication successful"],
            },
            Case {
                user: "wrong-password",
                auth: "login",
                password: Some("abcdefg"),
                outcome: "authentication_failed",
                exit: 6,
                auth_reply: &[
                    "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. [PH0PR07CA0004.namprd07.prod.outlook.com]",
                ],
            },
            Case {
                user: "basic-auth-disabled",
                auth: "login",
                password: None,
                outcome: "authentication_failed",
                exit: 6,
                auth_reply: &[
                    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [BM1P287CA0015.INDP287.PROD.OUTLOOK.COM]",
                ],
            },
            Case {
                user: "smtp-auth-disabled",
                auth: "login",
                password: None,
                outcome: "authentication_failed",
                exit: 6,
                auth_reply: &[
                    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
                ],
            },
            // AUTH PLAIN, which smtp.office365.com does not take: refused before any password
            // is weighed.
            Case {
                user: "good",
                auth: "plain",
                password: None,
                outcome: "not_authenticated",
                exit: 12,
                auth_reply: &[
                    "504 5.7.4 Unrecognized authentication type [DBBPR09CA0015.eurprd09.prod.outlook.com]",
                ],
            },
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_profile_through_run() {
    check_provider(
        "gmail",
        &[
            Case {
                user: "good",
                auth: "plain",
                password: None,
                outcome: "accepted",
                exit: 0,
                auth_reply: &["235 2.7.0 Accepted"],
            },
            Case {
                user: "wrong-password",
                auth: "plain",
                password: Some("abcdefg"),
                outcome: "authentication_failed",
                exit: 6,
                auth_reply: &[
                    "535-5.7.8 Username and Password not accepted. Learn more at",
                    "535 5.7.8 https://support.google.com/mail/?p=BadCredentials n19-20020a05600c4f9300b0037c06fe68casm3105077wmq.44 - gsmtp",
                ],
            },
            Case {
                user: "app-password-required",
                auth: "plain",
                password: None,
                outcome: "authentication_failed",
                exit: 6,
                auth_reply: &[
                    "534-5.7.9 Application-specific password required. Learn more at",
                    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor o13sm2119833lfg.90 - gsmtp",
                ],
            },
        ],
    )
    .await;
}

/// The flag as a user types it: `sim --provider gmail --print-users` lists the profile's users,
/// an unknown provider is refused, and SES stays the default.
#[test]
fn provider_flag_selects_the_profile() {
    let out = smtpscope(&["sim", "--provider", "gmail", "--print-users"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("twostep.sender@gmail.example"), "{shown}");
    assert!(shown.contains("534 5.7.9"), "{shown}");
    let out = smtpscope(&["sim", "--provider", "microsoft365", "--print-users"], &[]);
    assert!(
        text(&out).contains("basic@contoso.example"),
        "{}",
        text(&out)
    );
    let out = smtpscope(&["sim", "--print-users"], &[]);
    assert!(
        text(&out).contains("AKIAIOSFODNN7EXAMPLE"),
        "{}",
        text(&out)
    );
    let out = smtpscope(&["sim", "--provider", "yahoo", "--print-users"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// `--pipeline --auth plain`: AUTH PLAIN leads the envelope group only where EHLO offers
/// PLAIN (the Gmail profile); Microsoft 365 offers LOGIN and XOAUTH2, so AUTH PLAIN goes alone,
/// with its warning, and its 504 decides the run.
#[tokio::test(flavor = "multi_thread")]
async fn auth_plain_leads_the_pipelined_group_only_where_plain_is_offered() {
    for (provider, grouped) in [("gmail", true), ("microsoft365", false)] {
        let mut config = demo_config();
        config.set_provider(provider).expect("built-in profile");
        let sim = start(config).await;
        let profile = sim.sim.config().profile.clone().expect("a profile");
        let user = profile.user("good").expect("a good user");
        let password = user.password().to_string();
        let mut args =
            sim.provider_run_args(&user.username, "sender@example.com", &["rcpt@example.com"]);
        args.extend(["--auth", "plain", "--pipeline"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tokio::task::block_in_place(|| {
            smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password.as_str())])
        });
        let lines = json_lines(&out);
        let group = lines.iter().find(|l| {
            l["type"] == "info"
                && l["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("PIPELINING: sending"))
        });
        let first_in_group = group.and_then(|g| g["text"].as_str()).unwrap_or_default();
        if grouped {
            assert!(
                first_in_group.contains("order: AUTH PLAIN <redacted"),
                "{provider}: {}",
                text(&out)
            );
            assert_eq!(out.status.code(), Some(0), "{provider}: {}", text(&out));
        } else {
            assert!(group.is_none(), "{provider}: {}", text(&out));
            let auth = replies(&lines)
                .into_iter()
                .find(|r| r["after"] == "auth")
                .expect("a reply to AUTH");
            assert_eq!(auth["code"], 504, "{provider}: {}", text(&out));
            assert!(
                !lines.iter().any(|l| l["type"] == "sent"
                    && l["line"].as_str().is_some_and(|s| s.starts_with("MAIL"))),
                "{provider}: MAIL went out after a refused AUTH: {}",
                text(&out)
            );
        }
        common::assert_no_secret(&text(&out), &user.username, &password);
    }
}
