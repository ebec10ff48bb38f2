//! The beginner walk, headless: `smtpscope run --json` through the sessions a learner meets
//! first, read the way a learner reads them: the verdict line, and the diagnosis of the reply
//! that decided it (issue 18: teach, don't mislead).
//!
//! The sessions: the simulator's demo scenarios (good, wrong-password, ip-restricted,
//! sandbox), a real Postfix with the good and the denied user, and a scripted server that
//! answers AUTH with `421 4.7.0 Temporary System Problem. Try again later.` Then `smtpscope
//! explain` on success replies of several servers and on Postfix's "SASL login name
//! rejected".
//!
//! The rules every session is held to:
//! - never "Authentication failed" where the server did not check the credentials;
//! - never a rate-limit story unless the server's own words name a rate or a limit;
//! - a positive reply's diagnosis says what went well, never "a problem with an address".

mod common;
mod sim_support;

use common::postfix::{DENIED, GOOD, PostfixPeer};
use common::{assert_no_secret, json_lines, replies, smtpscope, text};
use serde_json::Value;
use sim_support::{TestSim, demo_config, start};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a beginner reads at the end of a run.
struct Walk {
    exit: i32,
    /// The summary's verdict line.
    verdict: String,
    /// The reply that decided the outcome (for an accepted message: the reply to ".").
    decisive: Value,
    lines: Vec<Value>,
    /// The whole output, for failure messages.
    output: String,
}

impl Walk {
    fn of(out: &std::process::Output) -> Walk {
        let lines = json_lines(out);
        let summary = lines.last().cloned().unwrap_or_default();
        assert_eq!(summary["type"], "summary", "{}", text(out));
        let decisive = match summary["decided_by"].as_u64() {
            Some(seq) => lines.iter().find(|l| l["seq"] == seq).cloned(),
            None => replies(&lines)
                .into_iter()
                .find(|r| r["after"] == "data-end")
                .cloned(),
        }
        .unwrap_or_else(|| panic!("no deciding reply: {}", text(out)));
        Walk {
            exit: out.status.code().unwrap_or(-1),
            verdict: summary["verdict"].as_str().unwrap_or_default().to_string(),
            decisive,
            lines,
            output: text(out),
        }
    }

    /// The diagnosis of `reply` as one text: title, meaning, parsed parts, notes, next step.
    fn reads(reply: &Value) -> String {
        let d = &reply["diagnosis"];
        let mut out = vec![
            d["title"].as_str().unwrap_or_default().to_string(),
            d["meaning"].as_str().unwrap_or_default().to_string(),
        ];
        for pair in d["details"].as_array().into_iter().flatten() {
            out.push(format!("{}: {}", pair[0], pair[1]).replace('"', ""));
        }
        for n in d["notes"].as_array().into_iter().flatten() {
            out.push(n.as_str().unwrap_or_default().to_string());
        }
        out.push(d["remedy"].as_str().unwrap_or_default().to_string());
        out.join("\n")
    }

    fn diagnosis(&self) -> String {
        Walk::reads(&self.decisive)
    }

    fn title(&self) -> &str {
        self.decisive["diagnosis"]["title"]
            .as_str()
            .unwrap_or_default()
    }

    fn notes(&self) -> Vec<&str> {
        self.decisive["diagnosis"]["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    fn reply_after(&self, after: &str) -> &Value {
        replies(&self.lines)
            .into_iter()
            .find(|r| r["after"] == after)
            .unwrap_or_else(|| panic!("no reply after {after}:\n{}", self.output))
    }

    /// The rules of the module doc, for any session.
    fn holds_the_rules(&self, credentials_checked_and_refused: bool) {
        let said = format!("{}\n{}", self.verdict, self.diagnosis());
        if !credentials_checked_and_refused {
            assert!(
                !said.contains("Authentication failed"),
                "the credentials were not refused, yet:\n{said}\n---\n{}",
                self.output
            );
        }
        let server_said = self.decisive["text"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let names_a_rate = ["rate", "limit", "throttl", "too many", "quota"]
            .iter()
            .any(|w| server_said.contains(w));
        if !names_a_rate {
            let lower = said.to_ascii_lowercase();
            for story in ["rate limit", "too fast", "throttl", "slow down"] {
                assert!(
                    !lower.contains(story),
                    "a rate-limit story ({story:?}) the server never told:\n{said}"
                );
            }
            assert_ne!(self.decisive["phase"], "throttling", "{said}");
        }
        for r in replies(&self.lines) {
            if r["verdict"] == "success" || r["verdict"] == "intermediate" {
                let read = Walk::reads(r).to_ascii_lowercase();
                for wrong in [
                    "problem",
                    "failed",
                    "refused",
                    "connection accepted",
                    "addressing status",
                ] {
                    assert!(
                        !read.contains(wrong),
                        "a success read as trouble ({wrong:?}): {} {}\n{read}",
                        r["code"],
                        r["text"]
                    );
                }
            }
        }
    }
}

fn has_all(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "{n:?} missing from:\n{haystack}");
    }
}

/// `smtpscope run --json` against the simulator as a demo user.
fn run_sim(sim: &TestSim, user: &str, password: Option<&str>, to: &str) -> Walk {
    let (key, right) = sim.credentials(user);
    let password = password.map_or_else(|| right.to_string(), str::to_string);
    let args = sim.run_args(&key, "sender@example.com", &[to]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtpscope(&args, &[("SMTPSCOPE_PASSWORD", &password)]);
    assert_no_secret(&text(&out), &key, &password);
    Walk::of(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_scenarios_read_right() {
    let sim = start(demo_config()).await;
    let walk = |user: &str, password: Option<&str>, to: &str| {
        tokio::task::block_in_place(|| run_sim(&sim, user, password, to))
    };

    // good: every step passes, and every success says what went well.
    let w = walk("good", None, "recipient@example.com");
    assert_eq!(w.exit, 0, "{}", w.output);
    assert_eq!(
        w.verdict,
        "Authenticated and authorized: the message was accepted"
    );
    assert_eq!(w.title(), "Message accepted by SES");
    assert_eq!(
        w.reply_after("mail")["diagnosis"]["title"],
        "Sender accepted"
    );
    assert_eq!(
        w.reply_after("rcpt")["diagnosis"]["title"],
        "Recipient accepted"
    );
    assert_eq!(
        w.reply_after("quit")["diagnosis"]["title"],
        "Session closed"
    );
    w.holds_the_rules(false);

    // wrong-password: the one session where "Authentication failed" is the truth.
    let w = walk("wrong-password", Some("abcdefg"), "recipient@example.com");
    assert_eq!(w.exit, 6, "{}", w.output);
    assert!(
        w.verdict.starts_with("Authentication failed at AUTH (535)"),
        "{}",
        w.verdict
    );
    assert_eq!(w.decisive["code"], 535);
    assert_eq!(w.decisive["phase"], "authentication");
    assert!(
        w.title().starts_with("Authentication failed"),
        "{}",
        w.title()
    );
    w.holds_the_rules(true);

    // ip-restricted: authenticated, then the IAM policy refuses; the parts are named.
    let w = walk("ip-restricted", None, "recipient@example.com");
    assert_eq!(w.exit, 9, "{}", w.output);
    assert_eq!(w.verdict, "Authenticated; authorization denied after DATA");
    assert_eq!(w.decisive["phase"], "authorization");
    has_all(
        &w.diagnosis(),
        &[
            "Authorization denied",
            "User ARN: arn:aws:iam::123456789012:user/ip-restricted",
            "Action: ses:SendRawEmail",
            "Identity: example.com",
            "Authentication had succeeded (235)",
        ],
    );
    w.holds_the_rules(false);

    // sandbox: the recipient is not verified; the note names it and both ways out.
    let rcpt = "someone@unverified.example.net";
    let w = walk("sandbox-user", None, rcpt);
    assert_eq!(w.exit, 9, "{}", w.output);
    assert_eq!(w.verdict, "Authenticated; authorization denied after DATA");
    let sandbox = w
        .notes()
        .into_iter()
        .find(|n| n.contains("sandbox"))
        .unwrap_or_else(|| panic!("no sandbox note:\n{}", w.diagnosis()))
        .to_string();
    has_all(
        &sandbox,
        &[
            &format!("{rcpt} is a recipient"),
            "us-east-1",
            &format!("verify {rcpt}"),
            "request production access",
        ],
    );
    let said = w.diagnosis();
    assert!(!said.contains("identity behind them"), "{said}");
    assert!(!said.contains("IAM policy does not allow"), "{said}");
    w.holds_the_rules(false);
}

/// `smtpscope run --json` against the shared Postfix peer.
fn run_postfix(user: &str, password: &str) -> Walk {
    let out = PostfixPeer::shared().run_json(user, password, &[]);
    assert_no_secret(&text(&out), user, password);
    Walk::of(&out)
}

#[test]
fn postfix_good_and_denied_users_read_right() {
    // good: Postfix's enhanced codes (2.1.0, 2.1.5, 2.0.0) are details under the headline.
    let w = run_postfix(GOOD.0, GOOD.1);
    assert_eq!(w.exit, 0, "{}", w.output);
    assert_eq!(
        w.verdict,
        "Authenticated and authorized: the message was accepted"
    );
    assert_eq!(w.title(), "Message accepted");
    assert!(w.diagnosis().contains("Queue ID: "), "{}", w.diagnosis());
    for (after, title) in [
        ("connect", "Server ready"),
        ("start-tls", "Ready for TLS"),
        ("auth", "Authenticated"),
        ("mail", "Sender accepted"),
        ("rcpt", "Recipient accepted"),
        ("data", "Ready for the message"),
        ("quit", "Session closed"),
    ] {
        let r = w.reply_after(after);
        assert_eq!(r["diagnosis"]["title"], title, "{}", Walk::reads(r));
    }
    w.holds_the_rules(false);

    // denied: authenticated, then Postfix's check_sasl_access refuses after the final ".".
    let w = run_postfix(DENIED.0, DENIED.1);
    assert_eq!(w.exit, 9, "{}", w.output);
    assert_eq!(w.verdict, "Authenticated; authorization denied after DATA");
    assert_eq!(w.decisive["code"], 554);
    assert_eq!(w.decisive["phase"], "authorization");
    assert!(
        w.decisive["text"]
            .as_str()
            .unwrap()
            .contains("SASL login name rejected"),
        "{}",
        w.decisive
    );
    let said = w.diagnosis();
    assert!(w.title().starts_with("Authorization denied"), "{said}");
    has_all(
        &said,
        &[
            "not a login failure",
            "That is authorization",
            "User ARN: arn:aws:iam::123456789012:user/denied",
            "Action: ses:SendRawEmail",
            "Resource: arn:aws:ses:us-east-1:123456789012:identity/example.com",
        ],
    );
    assert!(!said.contains("SES accepted"), "not SES:\n{said}");
    w.holds_the_rules(false);
}

/// A server that greets, answers EHLO, and answers AUTH with a temporary 421, then hangs up.
async fn temporary_problem_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 mx.example.test ESMTP\r\n").await?;
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-mx.example.test\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else if upper.starts_with("AUTH") {
                        w.write_all(b"421 4.7.0 Temporary System Problem. Try again later.\r\n")
                            .await?;
                        return Ok(());
                    } else if upper.starts_with("QUIT") {
                        w.write_all(b"221 2.0.0 Bye\r\n").await?;
                        return Ok(());
                    } else {
                        b"250 2.0.0 Ok\r\n"
                    };
                    w.write_all(reply).await?;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_problem_at_auth_is_neither_a_bad_password_nor_a_rate_limit() {
    let port = temporary_problem_server().await.to_string();
    let (user, password) = ("learner@example.test", "Xq7-walk-pw-9f3k2");
    let args = [
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--user",
        user,
        "--from",
        "a@example.test",
        "--to",
        "b@example.test",
        "--json",
        "--timeout",
        "5",
    ];
    let out = tokio::task::block_in_place(|| smtpscope(&args, &[("SMTPSCOPE_PASSWORD", password)]));
    assert_no_secret(&text(&out), user, password);
    let w = Walk::of(&out);
    assert_eq!(w.decisive["code"], 421, "{}", w.output);
    assert_eq!(w.decisive["after"], "auth");
    assert_eq!(w.decisive["phase"], "service");
    assert_ne!(w.exit, 6, "exit 6 is 'authentication failed': {}", w.output);
    let said = w.diagnosis();
    has_all(
        &said,
        &["Temporary server problem", "did not judge the credentials"],
    );
    w.holds_the_rules(false);
}

/// `smtpscope explain` (text, as a learner pastes from a log).
fn explain(reply: &str, after: Option<&str>) -> String {
    let mut args = vec!["explain", reply];
    if let Some(a) = after {
        args.extend(["--after", a]);
    }
    let out = smtpscope(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    text(&out)
}

#[test]
fn explain_reads_successes_as_successes() {
    let cases = [
        ("250 2.1.0 Ok", Some("mail"), "Sender accepted"),
        ("250 2.1.5 Ok", Some("rcpt"), "Recipient accepted"),
        ("250 2.1.0 Ok", None, "Sender accepted"),
        ("250 2.1.5 Ok", None, "Recipient accepted"),
        ("221 2.0.0 Bye", Some("quit"), "Session closed"),
        ("221 2.0.0 Bye", None, "Session closed"),
        (
            "250 2.0.0 Ok: queued as 4ABC123DEF",
            Some("data-end"),
            "Message accepted",
        ),
        (
            "235 2.7.0 Authentication successful",
            Some("auth"),
            "Authenticated",
        ),
        (
            "220 2.0.0 Ready to start TLS",
            Some("starttls"),
            "Ready for TLS",
        ),
    ];
    for (reply, after, title) in cases {
        let t = explain(reply, after);
        assert!(t.contains("verdict:  success"), "{t}");
        assert!(t.contains(&format!("title:    {title}\n")), "{reply}: {t}");
        for wrong in ["problem", "Connection accepted", "Addressing status"] {
            assert!(!t.contains(wrong), "{reply}: {wrong:?} in\n{t}");
        }
    }
    let t = explain("250 2.1.5 Ok", Some("rcpt"));
    assert!(
        t.contains("Enhanced code: 2.1.5: Destination address valid."),
        "{t}"
    );
}

#[test]
fn explain_reads_postfix_sasl_login_name_rejected_as_authorization() {
    let reply = "554 5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/denied' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'";
    for after in [None, Some("data-end")] {
        let t = explain(reply, after);
        has_all(
            &t,
            &[
                "phase:    authorization",
                "title:    Authorization denied",
                "SASL login: denied",
                "User ARN: arn:aws:iam::123456789012:user/denied",
                "Action:   ses:SendRawEmail",
                "Identity: example.com",
                "only after a successful AUTH",
                "not authentication",
            ],
        );
        assert!(!t.contains("Authentication failed"), "{t}");
        assert!(!t.contains("SES accepted"), "{t}");
    }
}
