//! The simulator driven by smtpscope's own engine (`Session`), over real loopback sockets
//! and real TLS: each scenario checks SES's exact reply text and the phase the classifier
//! gives it.

mod sim_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sim_support::{TestSim, config_from, demo_config, message, start};
use smtpscope::engine::auth::{Credentials, Mechanism};
use smtpscope::engine::classify::Phase;
use smtpscope::engine::command::{Command, Verb};
use smtpscope::engine::reply::Reply;
use smtpscope::engine::session::{Event, MessageSource, Session, SessionConfig};
use smtpscope::engine::transcript::{Entry, EntryKind};
use smtpscope::engine::transport::{TlsMode, TlsSettings};
use zeroize::Zeroizing;

/// The whole last line of a reply, code included, as SES sent it.
trait Full {
    fn full(&self) -> String;
}

impl Full for Reply {
    fn full(&self) -> String {
        self.lines
            .last()
            .map(|l| String::from_utf8_lossy(&l.raw).into_owned())
            .unwrap_or_default()
    }
}

/// A session against the simulator plus the transcript it records.
struct Client {
    session: Session,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Client {
    async fn connect(sim: &TestSim, mode: TlsMode) -> Client {
        let port = match mode {
            TlsMode::Implicit => sim.implicit_port(),
            _ => sim.port(),
        };
        let mut cfg = SessionConfig::new("127.0.0.1", port, mode);
        cfg.tls = TlsSettings {
            ca_file: Some(sim.ca.clone()),
            no_native_roots: true,
            ..TlsSettings::default()
        };
        cfg.reply_timeout = Duration::from_secs(10);
        let entries = Arc::new(Mutex::new(Vec::new()));
        let sink_entries = entries.clone();
        let mut session = Session::new(
            cfg,
            Box::new(move |event| {
                if let Event::Entry(e) = event {
                    sink_entries.lock().unwrap().push(e);
                }
            }),
        );
        let greeting = session.connect().await.expect("connect");
        assert_eq!(greeting.code, 220);
        let mut client = Client { session, entries };
        client.expect_phase(Phase::Connection);
        client
    }

    /// The phase the classifier gave the most recent reply.
    fn last_phase(&self) -> Phase {
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EntryKind::Reply(r) => Some(r.class.phase),
                _ => None,
            })
            .expect("a reply was recorded")
    }

    fn expect_phase(&mut self, phase: Phase) {
        assert_eq!(self.last_phase(), phase);
    }

    async fn cmd(&mut self, command: Command) -> Reply {
        self.session.command(&command).await.expect("command")
    }

    async fn ehlo(&mut self) -> Reply {
        let r = self.cmd(Command::Ehlo("client.example".into())).await;
        assert_eq!(r.code, 250);
        r
    }

    /// EHLO, STARTTLS, EHLO again.
    async fn starttls(&mut self) {
        let before = self.ehlo().await;
        assert!(before.text().contains("STARTTLS"));
        let r = self.cmd(Command::StartTls).await;
        assert_eq!(r.full(), "220 Ready to start TLS");
        self.expect_phase(Phase::Tls);
        let after = self.ehlo().await;
        assert_eq!(
            after.text(),
            "email-smtp.amazonaws.com\n8BITMIME\nAUTH PLAIN LOGIN\nOk"
        );
    }

    async fn auth(&mut self, user: &str, password: &str, mechanism: Mechanism) -> Reply {
        let creds = Credentials::new(user, Zeroizing::new(password.to_string())).unwrap();
        self.session
            .auth(mechanism, &creds, true)
            .await
            .expect("auth")
    }

    async fn login(&mut self, sim: &TestSim, user: &str) {
        let (key, password) = sim.credentials(user);
        let r = self.auth(&key, &password, Mechanism::Plain).await;
        assert_eq!(r.full(), "235 Authentication successful.");
        self.expect_phase(Phase::Authentication);
    }

    async fn envelope(&mut self, from: &str, to: &[&str]) {
        let r = self
            .cmd(Command::Mail {
                from: from.into(),
                params: vec![],
            })
            .await;
        assert_eq!(r.full(), "250 Ok");
        for rcpt in to {
            let r = self
                .cmd(Command::Rcpt {
                    to: rcpt.to_string(),
                    params: vec![],
                })
                .await;
            assert_eq!(r.full(), "250 Ok");
        }
        let r = self.cmd(Command::Data).await;
        assert_eq!(r.full(), "354 End data with <CR><LF>.<CR><LF>");
    }

    /// MAIL, RCPT, DATA, the message: returns the reply to the final dot.
    async fn send(&mut self, from: &str, to: &[&str], body: String) -> Reply {
        self.envelope(from, to).await;
        let (reply, _) = self
            .session
            .send_message(MessageSource::Text(body))
            .await
            .expect("message");
        reply
    }
}

fn accepted_id(reply: &Reply) -> String {
    let text = reply.full();
    let id = text
        .strip_prefix("250 Ok ")
        .unwrap_or_else(|| panic!("not accepted: {text}"));
    let re = regex::Regex::new(
        r"^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$",
    )
    .unwrap();
    assert!(re.is_match(id), "{id}");
    id.to_string()
}

#[tokio::test]
async fn good_user_sends_and_the_message_lands_in_the_mailbox() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "good").await;
    let reply = c
        .send(
            "sender@example.com",
            &["rcpt@example.org"],
            message("sender@example.com", "rcpt@example.org", "hello-sim"),
        )
        .await;
    let id = accepted_id(&reply);
    c.expect_phase(Phase::Data);
    let stored = sim.sim.mailbox().get(&id).expect("message in the mailbox");
    assert_eq!(stored.user, "good");
    assert_eq!(stored.mail_from, "sender@example.com");
    assert_eq!(stored.recipients, vec!["rcpt@example.org"]);
    assert!(String::from_utf8_lossy(&stored.data).contains("Subject: hello-sim\r\n"));
    let r = c.cmd(Command::Quit).await;
    assert_eq!(r.full(), "221 Bye");
}

#[tokio::test]
async fn wrong_password_gets_535_then_530_at_mail() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    let (key, _) = sim.credentials("wrong-password");
    let r = c
        .auth(
            &key,
            "BxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxX",
            Mechanism::Plain,
        )
        .await;
    assert_eq!(r.full(), "535 Authentication Credentials Invalid");
    c.expect_phase(Phase::Authentication);
    let r = c
        .cmd(Command::Mail {
            from: "auth-fail@example.com".into(),
            params: vec![],
        })
        .await;
    assert_eq!(r.full(), "530 Authentication required");
    c.expect_phase(Phase::Authentication);
}

#[tokio::test]
async fn auth_login_works_too() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    let (key, password) = sim.credentials("good");
    let r = c.auth(&key, &password, Mechanism::Login).await;
    assert_eq!(r.full(), "235 Authentication successful.");
}

#[tokio::test]
async fn ip_restricted_user_gets_554_access_denied_after_the_dot() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "ip-restricted").await;
    let reply = c
        .send(
            "policy-fail@example.com",
            &["xxxxx@example.com"],
            message("policy-fail@example.com", "xxxxx@example.com", "denied"),
        )
        .await;
    assert_eq!(
        reply.full(),
        "554 Access denied: User `arn:aws:iam::123456789012:user/ip-restricted' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
    );
    c.expect_phase(Phase::Authorization);
    assert!(sim.sim.mailbox().is_empty());
}

#[tokio::test]
async fn the_article_policy_allows_loopback_and_denies_the_apparent_address() {
    let sim = start(demo_config()).await;
    for (user, allowed) in [("loopback-only", true), ("loopback-remote", false)] {
        let mut c = Client::connect(&sim, TlsMode::Starttls).await;
        c.starttls().await;
        c.login(&sim, user).await;
        let reply = c
            .send(
                "a@example.com",
                &["b@example.com"],
                message("a@example.com", "b@example.com", user),
            )
            .await;
        if allowed {
            accepted_id(&reply);
        } else {
            assert!(reply.full().starts_with(
                "554 Access denied: User `arn:aws:iam::123456789012:user/loopback-remote'"
            ));
            c.expect_phase(Phase::Authorization);
        }
    }
}

#[tokio::test]
async fn sandbox_user_gets_554_message_rejected() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "sandbox-user").await;
    let reply = c
        .send(
            "sender@example.com",
            &["someone@gmail.example", "colleague@example.com"],
            message("sender@example.com", "someone@gmail.example", "sandbox"),
        )
        .await;
    assert_eq!(
        reply.full(),
        "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: someone@gmail.example"
    );
    c.expect_phase(Phase::Authorization);
}

#[tokio::test]
async fn send_email_only_policy_is_not_enough_for_smtp() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "send-email-only").await;
    let reply = c
        .send(
            "a@example.com",
            &["b@example.com"],
            message("a@example.com", "b@example.com", "x"),
        )
        .await;
    assert!(reply.full().starts_with("554 Access denied: User `arn:aws:iam::123456789012:user/send-email-only' is not authorized to perform `ses:SendRawEmail'"));
}

#[tokio::test]
async fn throttling_gets_454_for_rate_and_daily_quota() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "throttled").await;
    let body = || message("a@example.com", "b@example.com", "t");
    accepted_id(&c.send("a@example.com", &["b@example.com"], body()).await);
    let reply = c.send("a@example.com", &["b@example.com"], body()).await;
    assert_eq!(
        reply.full(),
        "454 Throttling failure: Maximum sending rate exceeded."
    );
    c.expect_phase(Phase::Throttling);

    let config = config_from(&format!(
        "verified_identities = [\"example.com\"]\n[limits]\ndaily_quota = 2\n{}",
        sim_support::GOOD_USER_TOML
    ));
    let sim = start(config).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "good").await;
    accepted_id(
        &c.send("a@example.com", &["b@example.com", "c@example.com"], body())
            .await,
    );
    let reply = c.send("a@example.com", &["b@example.com"], body()).await;
    assert_eq!(
        reply.full(),
        "454 Throttling failure: Daily message quota exceeded."
    );
    c.expect_phase(Phase::Throttling);
}

#[tokio::test]
async fn more_than_50_recipients_get_554_after_all_rcpts_got_250() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "good").await;
    let rcpts: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
    let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let reply = c
        .send(
            "a@example.com",
            &refs,
            message("a@example.com", "r0@example.com", "many"),
        )
        .await;
    assert_eq!(
        reply.full(),
        "554 Transaction failed: Recipient count exceeds 50."
    );
    c.expect_phase(Phase::Content);
}

#[tokio::test]
async fn too_big_gets_552() {
    let config = config_from(&format!(
        "verified_identities = [\"example.com\"]\n[limits]\nmax_message_bytes = 2000\n{}",
        sim_support::GOOD_USER_TOML
    ));
    let sim = start(config).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    c.login(&sim, "good").await;
    let mut body = message("a@example.com", "b@example.com", "big");
    body.push_str(&"0123456789abcdef\r\n".repeat(200));
    let reply = c.send("a@example.com", &["b@example.com"], body).await;
    assert_eq!(reply.full(), "552 Message is too long.");
    c.expect_phase(Phase::Content);
    // The session goes on: a small one still passes.
    accepted_id(
        &c.send(
            "a@example.com",
            &["b@example.com"],
            message("a@example.com", "b@example.com", "small"),
        )
        .await,
    );
}

#[tokio::test]
async fn auth_before_starttls_gets_530_must_issue_starttls() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.ehlo().await;
    let (key, password) = sim.credentials("good");
    let r = c.auth(&key, &password, Mechanism::Plain).await;
    assert_eq!(r.full(), "530 Must issue a STARTTLS command first");
    c.expect_phase(Phase::Tls);
    let r = c
        .cmd(Command::Mail {
            from: "a@example.com".into(),
            params: vec![],
        })
        .await;
    assert_eq!(r.full(), "530 Authentication required");
}

#[tokio::test]
async fn implicit_tls_listener_works() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Implicit).await;
    assert!(c.session.model().tls().is_some(), "TLS from the first byte");
    let caps = c.ehlo().await;
    assert!(!caps.text().contains("STARTTLS"));
    let r = c.cmd(Command::StartTls).await;
    assert_eq!(
        r.full(),
        "454 TLS not available due to temporary reason: TLS already active"
    );
    c.expect_phase(Phase::Tls);
    c.login(&sim, "good").await;
    let reply = c
        .send(
            "a@example.com",
            &["b@example.com"],
            message("a@example.com", "b@example.com", "implicit"),
        )
        .await;
    let id = accepted_id(&reply);
    assert!(sim.sim.mailbox().get(&id).is_some());
}

#[tokio::test]
async fn idle_connection_gets_451_4_4_2() {
    let config = config_from(&format!(
        "verified_identities = [\"example.com\"]\n[limits]\nidle_timeout_secs = 0.5\n{}",
        sim_support::GOOD_USER_TOML
    ));
    let sim = start(config).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    c.starttls().await;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), c.session.idle_read())
        .await
        .expect("the server speaks first")
        .expect("read");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let entries = c.entries.lock().unwrap();
    let last = entries
        .iter()
        .rev()
        .find_map(|e| e.reply())
        .expect("the 451");
    assert_eq!(last.text, "4.4.2 Timeout waiting for data from client.");
    assert_eq!(last.code, 451);
    assert_eq!(last.after, None);
    assert_eq!(last.class.phase, Phase::Connection);
}

#[tokio::test]
async fn unknown_and_disabled_commands() {
    let sim = start(demo_config()).await;
    let mut c = Client::connect(&sim, TlsMode::Starttls).await;
    let r = c.cmd(Command::Raw("VRFY postmaster".into())).await;
    assert_eq!(r.full(), "502 VRFY command is disabled");
    let r = c.cmd(Command::Raw("BDAT 10 LAST".into())).await;
    assert_eq!(r.full(), "500 Error: command not implemented");
    let r = c.cmd(Command::Data).await;
    assert_eq!(r.full(), "530 Authentication required");
    let r = c.cmd(Command::Noop).await;
    assert_eq!(r.full(), "250 Ok");
    assert_eq!(Verb::of_line("VRFY x"), Verb::Other);
}

#[tokio::test]
async fn listens_on_ipv6_loopback_with_a_matching_certificate() {
    let mut config = demo_config();
    config.listen.starttls = "[::1]:0".parse().unwrap();
    config.listen.implicit = None;
    let sim = start(config).await;
    assert!(sim.sim.starttls_addr.is_ipv6());
    assert_eq!(sim.sim.implicit_addr, None);
    let mut cfg = SessionConfig::new("::1", sim.port(), TlsMode::Starttls);
    cfg.tls = TlsSettings {
        ca_file: Some(sim.ca.clone()),
        no_native_roots: true,
        ..TlsSettings::default()
    };
    let mut session = Session::new(cfg, Box::new(|_| {}));
    assert_eq!(session.connect().await.unwrap().code, 220);
    session
        .command(&Command::Ehlo("v6.example".into()))
        .await
        .unwrap();
    let r = session.command(&Command::StartTls).await.unwrap();
    assert_eq!(r.code, 220);
    assert!(session.model().tls().is_some(), "verified TLS to [::1]");
    let (key, password) = sim.credentials("good");
    let creds = Credentials::new(&key, password).unwrap();
    let r = session.auth(Mechanism::Login, &creds, false).await.unwrap();
    assert_eq!(r.full(), "235 Authentication successful.");
}
