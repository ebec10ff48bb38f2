//! SES's reply texts have one source: replies captured in real sessions
//! (`tests/fixtures/ses/transcripts.toml`, each with where it was published). This test holds
//! the classifier, the catalog's examples, the simulator and the Python peer to them, so none
//! of them can drift into a wording SES never sent.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use smtpscope::engine::classify::{Catalog, Context};
use smtpscope::engine::command::Verb;
use smtpscope::engine::reply::Reply;
use smtpscope::engine::sim::account::SimAccount;
use smtpscope::engine::sim::{Action, Conversation, SimConfig};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    id: String,
    reply: String,
    quoted: Option<String>,
    after: Verb,
    catalog: String,
    phase: String,
    role: Option<String>,
    source: String,
}

#[derive(Deserialize)]
struct FixtureFile {
    fixture: Vec<Fixture>,
}

fn fixtures() -> Vec<Fixture> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ses/transcripts.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str::<FixtureFile>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .fixture
}

/// The fixture a role names.
fn role<'a>(fixtures: &'a [Fixture], name: &str) -> &'a Fixture {
    fixtures
        .iter()
        .find(|f| f.role.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no fixture has role {name:?}"))
}

/// A one-line reply from its text, `CODE TEXT`.
fn reply_of(line: &str) -> Reply {
    let (code, rest) = line.split_at(3);
    Reply::from_lines(code.parse().unwrap(), &[rest.trim_start()])
}

/// The catalog entry a reply line matches after `after`, and its named groups in order;
/// `none` for a plain success that the RFC tables explain (e.g. `250 Ok` to MAIL), which then
/// must match the fixture word for word.
fn matched(line: &str, after: Verb) -> (String, Vec<(String, String)>) {
    Catalog::builtin()
        .find(&reply_of(line), Some(after))
        .map_or_else(
            || ("none".into(), Vec::new()),
            |(e, caps)| (e.id.clone(), caps),
        )
}

/// Checks that `other` is the fixture's text: the same entry matches it, and putting its
/// named groups (ARNs, identities, message IDs…) into the fixture gives `other` exactly.
fn same_text(fixture: &Fixture, other: &str, who: &str) {
    let (_, fixture_caps) = matched(&fixture.reply, fixture.after);
    let (id, other_caps) = matched(other, fixture.after);
    assert_eq!(
        id, fixture.catalog,
        "{who}: {other:?} matches {id}, fixture {} is {}",
        fixture.id, fixture.catalog
    );
    let mut rebuilt = String::new();
    let mut rest = fixture.reply.as_str();
    for ((name, from), (_, to)) in fixture_caps.iter().zip(&other_caps) {
        let at = rest
            .find(from.as_str())
            .unwrap_or_else(|| panic!("{}: group {name} out of order", fixture.id));
        rebuilt.push_str(&rest[..at]);
        rebuilt.push_str(to);
        rest = &rest[at + from.len()..];
    }
    rebuilt.push_str(rest);
    assert_eq!(
        other, rebuilt,
        "{who} does not send SES's text (fixture {}, {})",
        fixture.id, fixture.source
    );
}

#[test]
fn every_fixture_is_well_formed_and_sourced() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 15, "{} fixtures", fixtures.len());
    let mut ids = std::collections::HashSet::new();
    let mut roles = std::collections::HashSet::new();
    for f in &fixtures {
        assert!(ids.insert(&f.id), "duplicate id {}", f.id);
        if let Some(r) = &f.role {
            assert!(roles.insert(r), "two fixtures have role {r}");
        }
        assert!(
            f.source.starts_with("https://")
                || f.source.starts_with("article shipped as reference: "),
            "{}: a source is a public URL or the article shipped as reference",
            f.id
        );
        assert!(!f.source.contains("seed"), "{}", f.id);
        if let Some(q) = &f.quoted {
            assert_eq!(
                f.reply,
                format!("{} {q}", &f.reply[..3]),
                "{}: reply is the code plus the text as quoted",
                f.id
            );
        }
        assert!(
            f.reply.len() > 4 && f.reply.as_bytes()[3] == b' ',
            "{}: one last reply line, CODE TEXT",
            f.id
        );
    }
}

#[test]
fn every_fixture_classifies_to_its_catalog_entry_and_phase() {
    for f in fixtures() {
        let (id, _) = matched(&f.reply, f.after);
        assert_eq!(id, f.catalog, "{}: {:?}", f.id, f.reply);
        let class = Catalog::builtin().classify(&reply_of(&f.reply), &Context::after(f.after));
        assert_eq!(class.phase.name(), f.phase, "{}: {:?}", f.id, f.reply);
    }
}

/// Every SES catalog entry that a captured reply classifies to has an example with that
/// reply's text.
#[test]
fn the_catalog_examples_are_the_captured_texts() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/replies.toml"))
            .unwrap();
    let catalog: toml::Table = toml::from_str(&text).unwrap();
    let fixtures = fixtures();
    let mut checked = 0;
    for entry in catalog["reply"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let example = entry["example"].as_str().unwrap();
        for f in fixtures.iter().filter(|f| f.catalog == id) {
            same_text(f, example, &format!("the example of catalog entry {id}"));
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} examples checked");
}

// ---------------------------------------------------------------------------------------------
// The simulator

/// One simulator connection, driven in-process (inside TLS, as after STARTTLS).
struct Sim {
    config: SimConfig,
    conversation: Conversation,
}

impl Sim {
    fn new(config: SimConfig) -> Sim {
        let account = Arc::new(SimAccount::new(config.clone()));
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        Sim {
            config,
            conversation: Conversation::new(account, peer, true),
        }
    }

    /// Sends one line (or a message and its dot) and returns the last reply line.
    fn say(&mut self, line: &str) -> String {
        let out = self.conversation.feed(format!("{line}\r\n").as_bytes());
        assert!(!matches!(out.action, Action::StartTls), "{line}");
        let last = out
            .replies
            .last()
            .unwrap_or_else(|| panic!("no reply to {line:?}"));
        last.rsplit("\r\n").next().unwrap().to_string()
    }

    fn auth(&mut self, user: &str, password: &str) -> String {
        let blob =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.say(&format!("AUTH PLAIN {blob}"))
    }

    fn login(&mut self, name: &str) -> String {
        let u = self.config.user(name).unwrap();
        let (key, password) = (
            u.access_key_id.clone(),
            u.smtp_password(&self.config.region),
        );
        self.say("EHLO client.example");
        self.auth(&key, &password)
    }

    /// MAIL, RCPT, DATA and a message; the reply after the final dot.
    fn send(&mut self, from: &str, to: &str) -> [String; 4] {
        let mail = self.say(&format!("MAIL FROM:<{from}>"));
        let rcpt = self.say(&format!("RCPT TO:<{to}>"));
        let data = self.say("DATA");
        let dot = self.say(&format!(
            "From: {from}\r\nTo: {to}\r\nSubject: t\r\n\r\nhello\r\n."
        ));
        [mail, rcpt, data, dot]
    }
}

fn demo_sim() -> Sim {
    Sim::new(SimConfig::default_demo().unwrap())
}

#[test]
fn the_simulator_sends_the_captured_texts() {
    let fx = fixtures();
    let check =
        |role_name: &str, sent: &str| same_text(role(&fx, role_name), sent, "the simulator");

    let mut sim = demo_sim();
    sim.say("EHLO client.example");
    check("auth-required", &sim.say("MAIL FROM:<sender@example.com>"));
    check("bad-base64", &sim.say("AUTH PLAIN abcdefg"));
    let u = sim.config.user("good").unwrap().access_key_id.clone();
    check("credentials-invalid", &sim.auth(&u, "abcdefg"));
    check("login-user-prompt", &sim.say("AUTH LOGIN"));
    check(
        "login-password-prompt",
        &sim.say(&base64::engine::general_purpose::STANDARD.encode(&u)),
    );
    check("credentials-invalid", &sim.say("YWJjZGVmZw=="));

    let mut sim = demo_sim();
    check("auth-ok", &sim.login("good"));
    let [mail, rcpt, data, dot] = sim.send("sender@example.com", "recipient@example.com");
    check("envelope-ok", &mail);
    check("envelope-ok", &rcpt);
    check("data-go-ahead", &data);
    check("accepted", &dot);
    check("bye", &sim.say("QUIT"));

    let mut sim = demo_sim();
    sim.login("ip-restricted");
    check(
        "access-denied",
        &sim.send("policy-fail@example.com", "recipient@example.com")[3],
    );

    let mut sim = demo_sim();
    sim.login("sandbox-user");
    check(
        "not-verified",
        &sim.send("sender@example.com", "someone@unverified.example.net")[3],
    );

    // A user allowed one message a second and one a day: the second message of the second
    // is throttled by rate; a day's second message, by quota.
    let throttled = |rate: u32, quota: u32| {
        let toml = format!(
            "region = \"us-east-1\"\naccount = \"123456789012\"\nverified_identities = [\"example.com\"]\n\
             [[user]]\nname = \"t\"\naccess_key_id = \"AKIAEXAMPLETHROTTL09\"\n\
             secret_access_key = \"EXAMPLEthrottledKEY/demo+000000000000000\"\npolicy = \"allow-all.json\"\n\
             max_send_rate = {rate}\ndaily_quota = {quota}\n"
        );
        let mut sim = Sim::new(SimConfig::from_toml_str(&toml, Path::new("/nonexistent")).unwrap());
        sim.login("t");
        let first = sim.send("sender@example.com", "recipient@example.com")[3].clone();
        assert!(first.starts_with("250 Ok "), "{first}");
        sim.send("sender@example.com", "recipient@example.com")[3].clone()
    };
    check("rate", &throttled(1, 100));
    check("daily-quota", &throttled(100, 1));
}

// ---------------------------------------------------------------------------------------------
// The Python peer

/// A line-at-a-time client over plain TCP.
struct Wire {
    reader: std::io::BufReader<TcpStream>,
    writer: TcpStream,
}

impl Wire {
    fn connect(port: u16) -> (Wire, String) {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut wire = Wire {
            reader: std::io::BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = wire.read();
        (wire, greeting)
    }

    /// The last line of the next reply.
    fn read(&mut self) -> String {
        use std::io::BufRead;
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "closed");
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    }

    fn say(&mut self, line: &str) -> String {
        use std::io::Write;
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.read()
    }
}

#[test]
fn the_python_peer_sends_the_captured_texts() {
    const USER: &str = "AKIAIOSFODNN7EXAMPLE";
    const PASSWORD: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";
    const DENIED: &str = "AKIADENIEDEXAMPLE123";
    let fx = fixtures();
    let check = |role_name: &str, sent: &str| same_text(role(&fx, role_name), sent, "the peer");
    let good = format!("{USER}:{PASSWORD}");
    let denied = format!("{DENIED}:{PASSWORD}");
    let deny = format!("{DENIED}:arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1");
    let peer = common::start_ses_peer(
        "127.0.0.1",
        "none",
        None,
        &["--user", &good, "--user", &denied, "--deny-user", &deny],
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let plain = |user: &str, password: &str| {
        format!("AUTH PLAIN {}", b64(&format!("\0{user}\0{password}")))
    };

    let (mut w, _) = Wire::connect(peer.port);
    w.say("EHLO client.example");
    check("auth-required", &w.say("MAIL FROM:<sender@example.com>"));
    check("bad-base64", &w.say("AUTH PLAIN abcdefg"));
    check("credentials-invalid", &w.say(&plain(USER, "abcdefg")));
    check("login-user-prompt", &w.say("AUTH LOGIN"));
    check("login-password-prompt", &w.say(&b64(USER)));
    check("credentials-invalid", &w.say(&b64("abcdefg")));
    check("auth-ok", &w.say(&plain(USER, PASSWORD)));
    check("envelope-ok", &w.say("MAIL FROM:<sender@example.com>"));
    check("envelope-ok", &w.say("RCPT TO:<recipient@example.com>"));
    check("data-go-ahead", &w.say("DATA"));
    check("accepted", &w.say("Subject: t\r\n\r\nhello\r\n."));
    check("bye", &w.say("QUIT"));

    let (mut w, _) = Wire::connect(peer.port);
    w.say("EHLO client.example");
    check("auth-ok", &w.say(&plain(DENIED, PASSWORD)));
    w.say("MAIL FROM:<policy-fail@example.com>");
    w.say("RCPT TO:<recipient@example.com>");
    w.say("DATA");
    check("access-denied", &w.say("Subject: t\r\n\r\nhello\r\n."));
    w.say("QUIT");
}
