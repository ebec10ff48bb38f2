//! Every step moves the session forward or ends the run. A rule-driven fake server answers a
//! chosen command with a reply the command cannot take (250 to DATA, 354 to MAIL, 334 after
//! the last credential…), again and again; `smtpscope run` must end, having sent that command
//! at most twice and the credentials at most once. The same server, answering at random, is
//! the peer of a property test over random step sequences.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use smtpscope::engine::auth::{Credentials, Mechanism};
use smtpscope::engine::runner::{Runner, Values};
use smtpscope::engine::script::Script;
use smtpscope::engine::session::{MessageSource, Session, SessionConfig};
use smtpscope::engine::transport::TlsMode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const USER: &str = "AKIALOOPTESTEXAMPLE1";
const PASSWORD: &str = "loop-test-password-123";

/// How the fake server answers.
#[derive(Clone)]
enum Rule {
    /// Answer lines starting with this verb with this reply, forever; others normally.
    Answer(&'static str, &'static str),
    /// Answer every command with a reply drawn from this seed.
    Random(u64),
    /// After the first AUTH line, answer every line with this reply.
    AfterAuth(&'static str),
    /// Close the connection, without a reply, on this verb.
    DropAt(&'static str),
}

/// A fake server on 127.0.0.1 that serves any number of clients by `rule` and records every
/// line it reads.
struct RuleServer {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl RuleServer {
    async fn start(rule: Rule) -> RuleServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        tokio::spawn(async move {
            let mut conn_no = 0u64;
            while let Ok((sock, _)) = listener.accept().await {
                conn_no += 1;
                let (seen, rule) = (seen.clone(), rule.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, rule, seen, conn_no).await;
                });
            }
        });
        RuleServer { port, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.to_ascii_uppercase().starts_with(prefix))
            .count()
    }
}

const RANDOM_REPLIES: &[&str] = &[
    "220 Ready",
    "221 Bye",
    "235 ok",
    "250 Ok",
    "334 ",
    "334 VXNlcm5hbWU6",
    "354 go ahead",
    "421 4.7.0 closing",
    "451 local error",
    "454 4.7.0 TLS not available",
    "500 what",
    "503 bad sequence",
    "530 Authentication required",
    "535 Authentication Credentials Invalid",
    "550 no",
    "554 Access denied",
];

async fn serve(
    sock: tokio::net::TcpStream,
    rule: Rule,
    seen: Arc<Mutex<Vec<String>>>,
    conn_no: u64,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut rng = match rule {
        Rule::Random(seed) => Some(StdRng::seed_from_u64(seed ^ conn_no)),
        _ => None,
    };
    let mut authing = false;
    w.write_all(b"220 fake.test ESMTP\r\n").await?;
    let mut in_data = false;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let text = line.trim_end().to_string();
        if in_data {
            if text == "." {
                in_data = false;
                w.write_all(b"250 Ok queued\r\n").await?;
            }
            continue;
        }
        seen.lock().unwrap().push(text.clone());
        let upper = text.to_ascii_uppercase();
        let reply: String = match (&rule, rng.as_mut()) {
            (Rule::Random(_), Some(rng)) => {
                let r = RANDOM_REPLIES[rng.random_range(0..RANDOM_REPLIES.len())];
                if r.starts_with("354") && upper.starts_with("DATA") {
                    in_data = true;
                }
                r.to_string()
            }
            (Rule::Answer(verb, answer), _) if upper.starts_with(verb) => answer.to_string(),
            (Rule::DropAt(verb), _) if upper.starts_with(verb) => return Ok(()),
            (Rule::AfterAuth(answer), _) if authing || upper.starts_with("AUTH") => {
                authing = true;
                answer.to_string()
            }
            _ if upper.starts_with("EHLO") => {
                "250-fake.test\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 Ok".into()
            }
            _ if upper.starts_with("AUTH LOGIN") => "334 VXNlcm5hbWU6".into(),
            _ if upper.starts_with("AUTH") => "235 ok".into(),
            _ if upper.starts_with("DATA") => {
                in_data = true;
                "354 go ahead".into()
            }
            _ if upper.starts_with("QUIT") => {
                w.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => "250 Ok".into(),
        };
        w.write_all(format!("{reply}\r\n").as_bytes()).await?;
        if reply.starts_with("421") || reply.starts_with("221") {
            return Ok(());
        }
    }
}

/// `smtpscope run` against `server`, with a hang guard; returns the summary line.
fn run(server: &RuleServer, flags: &[&str]) -> (serde_json::Value, Duration) {
    let port = server.port.to_string();
    let mut args = vec![
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        USER,
        "--from",
        "a@example.com",
        "--to",
        "b@example.net",
        "--json",
        "--timeout",
        "5",
    ];
    args.extend_from_slice(flags);
    let started = Instant::now();
    let out = common::smtpscope(&args, &[("SMTPSCOPE_PASSWORD", PASSWORD)]);
    let took = started.elapsed();
    common::assert_no_secret(&common::text(&out), USER, PASSWORD);
    let summary = common::json_lines(&out).last().cloned().unwrap_or_default();
    assert_eq!(summary["type"], "summary", "{}", common::text(&out));
    (summary, took)
}

/// The PLAIN blob as it goes over the wire (the credentials, in the form the server sees).
fn blob() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0{PASSWORD}"))
}

struct LoopCase {
    name: &'static str,
    rule: Rule,
    flags: &'static [&'static str],
    /// The command that got the unexpected reply, and how often it may be sent.
    verb: &'static str,
    outcome: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_prone_replies_end_the_run_after_one_try() {
    let plain = &["--tls", "none", "--auth", "none"][..];
    let starttls = &["--tls", "starttls", "--auth", "none"][..];
    let cases = [
        LoopCase {
            name: "250 to STARTTLS",
            rule: Rule::Answer("STARTTLS", "250 Ok"),
            flags: starttls,
            verb: "STARTTLS",
            outcome: "tls_failed",
        },
        LoopCase {
            name: "334 to STARTTLS",
            rule: Rule::Answer("STARTTLS", "334 VXNlcm5hbWU6"),
            flags: starttls,
            verb: "STARTTLS",
            outcome: "tls_failed",
        },
        LoopCase {
            name: "354 to STARTTLS",
            rule: Rule::Answer("STARTTLS", "354 go ahead"),
            flags: starttls,
            verb: "STARTTLS",
            outcome: "tls_failed",
        },
        LoopCase {
            name: "221 to STARTTLS",
            rule: Rule::Answer("STARTTLS", "221 Bye"),
            flags: starttls,
            verb: "STARTTLS",
            outcome: "tls_failed",
        },
        LoopCase {
            name: "454 to STARTTLS, keep going",
            rule: Rule::Answer(
                "STARTTLS",
                "454 4.7.0 TLS not available due to local problem",
            ),
            flags: &["--tls", "starttls", "--auth", "none", "--keep-going"],
            verb: "STARTTLS",
            outcome: "tls_failed",
        },
        LoopCase {
            name: "550 to EHLO, keep going",
            rule: Rule::Answer("EHLO", "550 5.7.1 go away"),
            flags: &["--tls", "none", "--auth", "none", "--keep-going"],
            verb: "EHLO",
            outcome: "ehlo_refused",
        },
        LoopCase {
            name: "250 to DATA",
            rule: Rule::Answer("DATA", "250 Ok"),
            flags: plain,
            verb: "DATA",
            outcome: "protocol_error",
        },
        LoopCase {
            name: "354 to MAIL",
            rule: Rule::Answer("MAIL", "354 go ahead"),
            flags: plain,
            verb: "MAIL",
            outcome: "protocol_error",
        },
        LoopCase {
            name: "334 after the PLAIN initial response",
            rule: Rule::Answer("AUTH", "334 "),
            flags: &["--tls", "none", "--auth", "plain"],
            verb: "AUTH",
            outcome: "protocol_error",
        },
    ];
    for case in cases {
        let server = RuleServer::start(case.rule.clone()).await;
        let (summary, took) = tokio::task::block_in_place(|| run(&server, case.flags));
        let sent = server.count(case.verb);
        println!(
            "{}: {} in {took:?}, {} sent {sent} time(s)",
            case.name, summary["outcome"], case.verb
        );
        assert_eq!(summary["outcome"], case.outcome, "{}: {summary}", case.name);
        assert!(sent <= 2, "{}: {} sent {sent} times", case.name, case.verb);
        assert!(
            took < Duration::from_secs(5),
            "{}: hang guard: the run took {took:?}",
            case.name
        );
        assert!(
            server
                .lines()
                .iter()
                .filter(|l| l.contains(&blob()))
                .count()
                <= 1,
            "{}: credentials sent twice",
            case.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_334_after_the_last_login_credential_is_cancelled_once() {
    // AUTH LOGIN: user, password, then the server asks again. The client answers "*".
    let server = RuleServer::start(Rule::AfterAuth("334 UGFzc3dvcmQ6")).await;
    let (summary, _) =
        tokio::task::block_in_place(|| run(&server, &["--tls", "none", "--auth", "login"]));
    let lines = server.lines();
    use base64::Engine as _;
    let pw = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    assert_eq!(lines.iter().filter(|l| **l == pw).count(), 1, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| *l == "*").count(), 1, "{lines:?}");
    assert_eq!(summary["outcome"], "protocol_error", "{summary}");
    assert_eq!(summary["failed_step"], "auth", "{summary}");
}

/// 421 and a dropped connection at each step of the standard flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_or_a_drop_at_each_step_has_its_own_outcome() {
    for (verb, step) in [
        ("EHLO", "ehlo"),
        ("AUTH", "auth"),
        ("MAIL", "mail"),
        ("RCPT", "rcpt"),
        ("DATA", "data"),
    ] {
        let server = RuleServer::start(Rule::Answer(verb, "421 4.3.2 Service shutting down")).await;
        let (summary, _) =
            tokio::task::block_in_place(|| run(&server, &["--tls", "none", "--auth", "plain"]));
        assert_eq!(
            summary["outcome"], "server_unavailable",
            "{verb}: {summary}"
        );
        assert_eq!(summary["failed_step"], step, "{verb}: {summary}");
        assert_eq!(summary["exit_code"], 11, "{verb}: {summary}");
        let verdict = summary["verdict"].as_str().unwrap();
        assert!(!verdict.contains("Authentication failed"), "{verdict}");
        if verb == "AUTH" {
            assert!(verdict.contains("credentials not judged"), "{verdict}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_at_each_step_is_a_lost_connection() {
    for (verb, step) in [
        ("EHLO", "ehlo"),
        ("AUTH", "auth"),
        ("MAIL", "mail"),
        ("RCPT", "rcpt"),
        ("DATA", "data"),
    ] {
        let server = RuleServer::start(Rule::DropAt(verb)).await;
        let (summary, _) =
            tokio::task::block_in_place(|| run(&server, &["--tls", "none", "--auth", "plain"]));
        assert_eq!(summary["outcome"], "connection_failed", "{verb}: {summary}");
        assert_eq!(summary["failed_step"], step, "{verb}: {summary}");
        assert_eq!(summary["exit_code"], 3, "{verb}: {summary}");
        let verdict = summary["verdict"].as_str().unwrap();
        assert!(!verdict.contains("Authentication failed"), "{verdict}");
    }
}

/// Random replies to random step sequences: every run ends within the step bound and never
/// sends the credentials twice for one AUTH step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sessions_end_and_never_resend_credentials() {
    const STEPS: &[&str] = &[
        "EHLO",
        "HELO",
        "AUTH PLAIN",
        "AUTH LOGIN",
        "MAIL",
        "RCPT",
        "DATA",
        "RSET",
        "NOOP",
        "QUIT",
        "RAW VRFY x",
        "RECONNECT",
    ];
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for case in 0..150u64 {
        let server = RuleServer::start(Rule::Random(case)).await;
        let n = rng.random_range(1..25);
        let script: String = (0..n)
            .map(|_| format!("{}\n", STEPS[rng.random_range(0..STEPS.len())]))
            .collect();
        let parsed = Script::parse(script.as_bytes()).unwrap();
        let auth_steps = parsed
            .steps
            .iter()
            .filter(|(_, s)| s.line().starts_with("AUTH"))
            .count();
        let mut cfg = SessionConfig::new("127.0.0.1", server.port, TlsMode::None);
        cfg.reply_timeout = Duration::from_secs(2);
        let mut session = Session::new(cfg, Box::new(|_| {}));
        let values = Values {
            ehlo: "client.test".into(),
            credentials: Some(
                Credentials::new(USER, zeroize::Zeroizing::new(PASSWORD.into())).unwrap(),
            ),
            mechanism: Mechanism::Plain,
            from: Some("a@example.com".into()),
            to: vec!["b@example.net".into(); 3],
            message: Some(MessageSource::Text("Subject: t\r\n\r\nhi\r\n".into())),
            auth_warnings: vec![],
        };
        let keep_going = case % 2 == 0;
        let mut runner = Runner::new(values, keep_going);
        let run = async {
            if case % 3 == 0 {
                runner.standard(&mut session, None).await;
            } else {
                runner.script(&mut session, &parsed).await;
            }
            session.close().await;
        };
        tokio::time::timeout(Duration::from_mins(1), run)
            .await
            .unwrap_or_else(|_| panic!("case {case} did not end: {script:?}"));
        let lines = server.lines();
        let commands = lines.len();
        let bound = smtpscope::engine::model::MAX_STEPS + 3 + 10;
        assert!(
            commands <= bound.max(3 * n),
            "case {case}: {commands} commands for {n} steps"
        );
        let blobs = lines.iter().filter(|l| l.contains(&blob())).count();
        let max_auth = if case % 3 == 0 { 1 } else { auth_steps };
        assert!(
            blobs <= max_auth,
            "case {case}: the PLAIN blob went out {blobs} times for {max_auth} AUTH step(s): {script:?} {lines:?}"
        );
        use base64::Engine as _;
        let pw = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
        let pws = lines.iter().filter(|l| **l == pw).count();
        assert!(
            pws <= max_auth,
            "case {case}: the LOGIN password went out {pws} times"
        );
    }
}

/// A timeout that cannot be added to a clock is refused up front, never a panic.
#[test]
fn a_huge_timeout_is_a_usage_error() {
    for t in ["18446744073709551615", "86401", "0"] {
        let out = common::smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                "9",
                "--auth",
                "none",
                "--from",
                "a@example.com",
                "--to",
                "b@example.net",
                "--timeout",
                t,
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--timeout {t}: {stderr}");
        assert!(
            stderr.contains("--timeout must be between 1 and 86400 seconds"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
