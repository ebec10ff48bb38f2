//! Credential hygiene: every output smtpscope produces, run with a known password, must not
//! contain it in any form (plain, base64 for LOGIN, inside the base64 PLAIN blob).
//!
//! The outputs are listed in [`outputs`]; each entry runs one path and returns everything it
//! printed or recorded. Front ends that do not exist yet (the TUI's saved transcript, replay,
//! log files) add their producers to that list.

use std::fmt::Write as _;
mod common;
mod hostile;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use common::{LeafSpec, Peer, Pki, assert_no_secret, make_pki, start_ses_peer};
use hostile::{Server, Step, send, tls_config};
use smtpscope::commands::run::RunArgs;
use smtpscope::engine::auth::{Credentials, Mechanism};
use smtpscope::engine::command::Command;
use smtpscope::engine::ses;
use smtpscope::engine::session::{Event, Session, SessionConfig};
use smtpscope::engine::transcript::{Entry, EntryKind, TextOptions, render_text};
use smtpscope::engine::transport::TlsMode;
use zeroize::Zeroizing;

/// The known secret. 44 characters starting with B, like an SES SMTP password.
const USER: &str = "AKIAHYGIENEEXAMPLE01";
const PASSWORD: &str = "BHygieneKnownPassword+/0123456789abcdefghijk";
/// A user the peer knows with another password: AUTH with PASSWORD fails (535).
const OTHER_USER: &str = "AKIAHYGIENEEXAMPLE02";
/// A user the peer accepts at AUTH and refuses after DATA (IAM 554).
const DENIED_USER: &str = "AKIAHYGIENEDENIED003";

struct Fixture {
    pki: Pki,
    peer: Peer,
}

impl Fixture {
    fn new() -> Fixture {
        let pki = make_pki(LeafSpec::default());
        let good = format!("{USER}:{PASSWORD}");
        let other = format!("{OTHER_USER}:BSomeOtherPassword0000000000000000000000000");
        let denied = format!("{DENIED_USER}:{PASSWORD}");
        let deny = format!("{DENIED_USER}:arn:aws:iam::123456789012:user/hygiene");
        let peer = start_ses_peer(
            "127.0.0.1",
            "starttls",
            Some(&pki),
            &[
                "--user",
                &good,
                "--user",
                &other,
                "--user",
                &denied,
                "--deny-user",
                &deny,
            ],
        );
        Fixture { pki, peer }
    }

    /// `run` against the aiosmtpd peer, with PASSWORD in `SMTPSCOPE_PASSWORD`.
    fn run_peer(&self, user: &str, extra: &[&str]) -> String {
        let port = self.peer.port.to_string();
        let mut args = vec![
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            self.pki.ca_pem.to_str().unwrap(),
            "--user",
            user,
            "--from",
            "sender@example.com",
            "--to",
            "rcpt@example.net",
            "--timeout",
            "10",
        ];
        args.extend_from_slice(extra);
        let out = common::smtpscope(&args, &[("SMTPSCOPE_PASSWORD", PASSWORD)]);
        common::text(&out)
    }
}

/// `run` against a fake server on `port`, plain TCP, PASSWORD in the environment.
fn run_fake(port: u16, extra: &[&str]) -> String {
    let port = port.to_string();
    let mut args = vec![
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--user",
        USER,
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.net",
        "--timeout",
        "3",
    ];
    args.extend_from_slice(extra);
    let out = common::smtpscope(&args, &[("SMTPSCOPE_PASSWORD", PASSWORD)]);
    common::text(&out)
}

const GREET: &str = "220 hygiene.test ESMTP\r\n";
const EHLO_AUTH: &str = "250-hygiene.test\r\n250-AUTH PLAIN LOGIN\r\n250 Ok\r\n";

fn quit() -> Vec<Step> {
    vec![Step::Expect("QUIT"), send("221 Bye\r\n"), Step::Close]
}

/// A server that echoes the AUTH PLAIN line (blob included) in its 535.
fn echo_plain() -> Vec<Step> {
    let mut s = vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_AUTH),
        Step::Expect("AUTH PLAIN "),
        Step::Echo("535 5.7.8 Authentication failed for: "),
    ];
    s.extend(quit());
    s
}

/// A server that echoes the base64 password of AUTH LOGIN in its 535.
fn echo_login() -> Vec<Step> {
    let mut s = vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_AUTH),
        Step::Expect("AUTH LOGIN"),
        send("334 VXNlcm5hbWU6\r\n"),
        Step::ExpectAny,
        send("334 UGFzc3dvcmQ6\r\n"),
        Step::ExpectAny,
        Step::Echo("535 5.7.8 not accepted: "),
    ];
    s.extend(quit());
    s
}

/// A server that answers the PLAIN blob with a malformed line holding it: the secret would
/// reach the protocol error's message. The error shows only the first [`PREVIEW`] bytes of a
/// bad line, and the blob straddles that cut, so a mask applied after the cut (or none) shows
/// half a blob: see [`garbage_straddles_the_cut`].
fn echo_garbage() -> Vec<Step> {
    vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_AUTH),
        Step::Expect("AUTH PLAIN "),
        Step::Echo(GARBAGE_PREFIX),
        Step::Stall,
    ]
}

/// How many bytes of a bad line the protocol error shows (`reply::preview`).
const PREVIEW: usize = 200;

const GARBAGE_PREFIX: &str = "what is this? ------------------------------------------------------------------------------------------------------------------------------ ";

/// The echoed line is `GARBAGE_PREFIX`, "AUTH PLAIN ", then the blob: the cut falls well inside
/// the blob, with more than a leak's worth of it on each side.
#[test]
fn garbage_straddles_the_cut() {
    let blob_at = GARBAGE_PREFIX.len() + "AUTH PLAIN ".len();
    let (form, _) = common::secret_forms(USER, PASSWORD).swap_remove(2);
    assert!(
        blob_at + common::LEAK_RUN <= PREVIEW && PREVIEW + common::LEAK_RUN <= blob_at + form.len(),
        "blob at {blob_at}..{}, cut at {PREVIEW}",
        blob_at + form.len()
    );
}

/// Checks that the malformed line reached the client and was masked in the error, rather
/// than cut off before the blob.
fn masked_in_error(text: String) -> String {
    assert!(
        text.contains("what is this? ---") && text.contains("AUTH PLAIN <redacted>"),
        "the malformed line was not shown masked:\n{text}"
    );
    text
}

/// Checks that an echo really carried the secret to the client and was masked.
fn masked(text: String) -> String {
    assert!(
        text.contains("<redacted>") && text.contains("contained the password"),
        "the echo was not masked:\n{text}"
    );
    text
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A session whose entries are kept.
fn recording(cfg: SessionConfig) -> (Session, Arc<Mutex<Vec<Entry>>>) {
    let entries: Arc<Mutex<Vec<Entry>>> = Arc::default();
    let sink_entries = entries.clone();
    let session = Session::new(
        cfg,
        Box::new(move |ev| {
            if let Event::Entry(e) = ev {
                sink_entries.lock().unwrap().push(e);
            }
        }),
    );
    (session, entries)
}

/// Runs the engine directly and returns its transcript as text and as JSON Lines, plus the
/// error (if any) the caller would print.
fn engine_transcript(port: u16, mechanism: Mechanism) -> String {
    let rt = runtime();
    let mut cfg = SessionConfig::new("127.0.0.1", port, TlsMode::None);
    cfg.reply_timeout = Duration::from_secs(3);
    let (mut session, entries) = recording(cfg);
    let creds = credentials_for(mechanism);
    let mut printed = String::new();
    rt.block_on(async {
        session.connect().await.unwrap();
        session
            .command(&Command::Ehlo("client.test".into()))
            .await
            .unwrap();
        match session.auth(mechanism, &creds, true).await {
            Ok(reply) => {
                let _ = writeln!(printed, "{reply:?}");
            }
            Err(e) => {
                let _ = writeln!(printed, "{e}\n{e:?}");
            }
        }
        session.close().await;
    });
    let entries = entries.lock().unwrap();
    let opts = TextOptions {
        reveal_user: true,
        diagnoses: true,
    };
    for e in entries.iter() {
        printed.push_str(&render_text(e, opts).join("\n"));
        printed.push('\n');
        printed.push_str(&e.to_json());
        printed.push('\n');
        let _ = writeln!(printed, "{e:?}");
    }
    printed
}

/// The credentials a mechanism sends: the access token for the OAuth ones.
fn credentials_for(mechanism: Mechanism) -> Credentials {
    if mechanism.is_oauth() {
        Credentials::with_token(USER, Zeroizing::new(TOKEN.into())).unwrap()
    } else {
        Credentials::new(USER, Zeroizing::new(PASSWORD.into())).unwrap()
    }
}

/// Renders the TUI at 120x40 into text.
fn screen(app: &smtpscope::tui::app::App) -> String {
    smtpscope::tui::view::render_to_text(app, 120, 40)
}

/// The TUI's outputs for a real session: the live screen (user name revealed and not, the
/// AUTH form with the password prefilled), the saved .txt and .jsonl, and replay's screen.
fn tui_outputs(port: u16, mechanism: Mechanism) -> String {
    use smtpscope::cli::AuthChoice;
    use smtpscope::tui::action::Action;
    use smtpscope::tui::update::{Msg, update};
    use smtpscope::tui::{Launch, replay, save};
    let rt = runtime();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink_events = events.clone();
    let mut cfg = SessionConfig::new("127.0.0.1", port, TlsMode::None);
    cfg.reply_timeout = Duration::from_secs(3);
    let mut session = Session::new(
        cfg.clone(),
        Box::new(move |ev| sink_events.lock().unwrap().push(ev)),
    );
    let creds = credentials_for(mechanism);
    rt.block_on(async {
        session.connect().await.unwrap();
        session
            .command(&Command::Ehlo("client.test".into()))
            .await
            .unwrap();
        let _ = session.auth(mechanism, &creds, true).await;
        session.publish_state();
        session.close().await;
    });
    let mut app = smtpscope::tui::app::App::from_launch(Launch {
        config: cfg,
        ehlo: "client.test".into(),
        user: Some(USER.into()),
        password: Some(Zeroizing::new(
            if mechanism.is_oauth() {
                TOKEN
            } else {
                PASSWORD
            }
            .into(),
        )),
        auth: match mechanism {
            Mechanism::Xoauth2 => AuthChoice::Xoauth2,
            Mechanism::Oauthbearer => AuthChoice::Oauthbearer,
            _ => AuthChoice::Plain,
        },
        from: Some("a@example.com".into()),
        to: vec!["b@example.com".into()],
        title: None,
        notes: Vec::new(),
        autoconnect: false,
    });
    let mut printed = String::new();
    let all: Vec<Event> = events.lock().unwrap().clone();
    let mut entries = Vec::new();
    for ev in all {
        if let Event::Entry(e) = &ev {
            entries.push(e.clone());
        }
        let _ = update(&mut app, Msg::Engine(ev));
    }
    for _ in 0..entries.len() {
        let _ = update(&mut app, Msg::Action(Action::SelectPrevious));
        printed.push_str(&screen(&app));
    }
    let _ = update(&mut app, Msg::Action(Action::RevealUser));
    printed.push_str(&screen(&app));
    let _ = update(&mut app, Msg::Action(Action::AuthPlain));
    printed.push_str(&screen(&app));
    let _ = update(&mut app, Msg::Action(Action::Close));
    let _ = update(&mut app, Msg::Action(Action::AuthXoauth2));
    printed.push_str(&screen(&app));
    let dir = tempfile::tempdir().unwrap();
    let names = save::save(&entries, dir.path(), &chrono::Utc::now(), false).unwrap();
    assert_eq!(names.len(), 3, "text, JSON Lines and script: {names:?}");
    let mut jsonl = None;
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let path = entry.path();
        printed.push_str(&std::fs::read_to_string(&path).unwrap());
        if path.extension().is_some_and(|e| e == "jsonl") {
            jsonl = Some(path);
        }
    }
    let loaded = rt
        .block_on(replay::load(&jsonl.expect("a .jsonl was saved")))
        .unwrap();
    let mut replayed = replay::app_for(
        loaded,
        "saved.jsonl",
        smtpscope::engine::classify::Catalog::builtin(),
    );
    printed.push_str(&screen(&replayed));
    let _ = update(&mut replayed, Msg::Action(Action::RevealUser));
    printed.push_str(&screen(&replayed));
    printed
}

/// A panic whose message formats everything that holds credentials; returns the message.
fn panic_message() -> String {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }
    let cli = Cli::try_parse_from([
        "smtpscope",
        "--host",
        "localhost",
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--from",
        "a@example.com",
        "--to",
        "b@example.net",
    ])
    .expect("parse");
    let creds = Credentials::new(USER, Zeroizing::new(PASSWORD.into())).unwrap();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
        panic!("state at the panic: {:?} {:?}", cli.run, creds);
    }));
    std::panic::set_hook(previous);
    let payload = caught.expect_err("it panicked");
    payload
        .downcast_ref::<String>()
        .cloned()
        .expect("a formatted panic message")
}

/// Credential lint messages for passwords of every shape the lint knows.
fn lint_messages() -> String {
    let variants = [
        format!(" {PASSWORD} "),
        PASSWORD[..40].to_string(),
        PASSWORD.replace('/', "%2F"),
        format!("{PASSWORD}x"),
    ];
    let mut out = String::new();
    for p in &variants {
        for w in ses::lint_credentials(USER, p, Some("us-east-1"), Some(PASSWORD)) {
            out.push_str(&w.message);
            out.push('\n');
        }
    }
    assert!(
        !out.is_empty(),
        "the lint said nothing about four odd passwords"
    );
    out
}

/// Every output path, by name. The TUI's saved transcript, replay and log files go here too.
fn outputs(fx: &Fixture) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("run text, AUTH PLAIN, accepted", fx.run_peer(USER, &[])),
        (
            "run --json, AUTH PLAIN, accepted",
            fx.run_peer(USER, &["--json"]),
        ),
        (
            "run text --show-user, AUTH LOGIN, accepted",
            fx.run_peer(USER, &["--auth", "login", "--show-user"]),
        ),
        (
            "run --json --show-user, AUTH LOGIN, accepted",
            fx.run_peer(USER, &["--auth", "login", "--json", "--show-user"]),
        ),
        (
            "run --json --keep-going, 535 then 530",
            fx.run_peer(OTHER_USER, &["--json", "--keep-going"]),
        ),
        (
            "run text, LOGIN refused",
            fx.run_peer(OTHER_USER, &["--auth", "login", "--show-user"]),
        ),
        (
            "run --json, IAM denied after DATA",
            fx.run_peer(DENIED_USER, &["--json"]),
        ),
    ];
    let server = Server::start(echo_plain());
    out.push((
        "run text, server echoes the PLAIN blob",
        masked(run_fake(server.port(), &[])),
    ));
    let server = Server::start(echo_login());
    out.push((
        "run --json, server echoes the LOGIN password",
        masked(run_fake(server.port(), &["--auth", "login", "--json"])),
    ));
    let server = Server::start(echo_garbage());
    out.push((
        "run --json, the PLAIN blob inside a malformed reply (error message)",
        masked_in_error(run_fake(server.port(), &["--json"])),
    ));
    let server = Server::start(echo_plain());
    out.push((
        "engine transcript (text, JSON, Debug), PLAIN echoed",
        masked(engine_transcript(server.port(), Mechanism::Plain)),
    ));
    let server = Server::start(echo_login());
    out.push((
        "engine transcript (text, JSON, Debug), LOGIN echoed",
        masked(engine_transcript(server.port(), Mechanism::Login)),
    ));
    let server = Server::start(echo_garbage());
    out.push((
        "engine error and transcript, blob in a malformed reply",
        masked_in_error(engine_transcript(server.port(), Mechanism::Plain)),
    ));
    // Error paths with the credentials loaded.
    let bad_cert = make_pki(LeafSpec {
        names: &["wrong.example"],
        ..LeafSpec::default()
    });
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-hygiene.test\r\n250-STARTTLS\r\n250 Ok\r\n"),
        Step::Expect("STARTTLS"),
        send("220 Ready to start TLS\r\n"),
        Step::StartTls(tls_config(&bad_cert.leaf_pem, &bad_cert.leaf_key)),
    ]);
    out.push((
        "run text, certificate failure",
        run_fake(
            server.port(),
            &[
                "--tls",
                "starttls",
                "--ca-file",
                bad_cert.ca_pem.to_str().unwrap(),
            ],
        ),
    ));
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    out.push(("run text, connection refused", run_fake(closed_port, &[])));
    let server = Server::start(vec![send(GREET), Step::Stall]);
    out.push((
        "run text, password on argv (warned), reply timeout",
        common::text(&common::smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &server.port().to_string(),
                "--tls",
                "none",
                "--user",
                USER,
                "--password",
                PASSWORD,
                "--from",
                "a@example.com",
                "--to",
                "b@example.net",
                "--timeout",
                "1",
            ],
            &[],
        )),
    ));
    out.push((
        "run, usage error after the password was read",
        run_fake(closed_port, &["--data", "@/nonexistent/message.eml"]),
    ));
    let server = Server::start(echo_plain());
    out.push((
        "TUI screens, AUTH form, save (.txt, .jsonl) and replay, PLAIN echoed",
        masked(tui_outputs(server.port(), Mechanism::Plain)),
    ));
    let server = Server::start(echo_login());
    out.push((
        "TUI screens, AUTH form, save (.txt, .jsonl) and replay, LOGIN echoed",
        masked(tui_outputs(server.port(), Mechanism::Login)),
    ));
    out.push(("panic message", panic_message()));
    out.push(("credential lint messages", lint_messages()));
    out
}

#[test]
fn no_output_path_shows_the_password_in_any_form() {
    let fx = Fixture::new();
    let outputs = outputs(&fx);
    assert!(outputs.len() >= 21, "{} paths", outputs.len());
    for (name, text) in &outputs {
        assert!(!text.trim().is_empty(), "{name}: produced nothing");
        let checked = std::panic::catch_unwind(|| assert_no_secret(text, USER, PASSWORD));
        assert!(checked.is_ok(), "{name} leaked the password:\n{text}");
        // The wrong-password and denied users sent PASSWORD too.
        for user in [OTHER_USER, DENIED_USER] {
            assert_no_secret(text, user, PASSWORD);
        }
    }
}

/// The check itself can fail: each form it looks for is caught, whole and cut short.
#[test]
fn the_leak_check_catches_every_form() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        PASSWORD.to_string(),
        b64.encode(PASSWORD),
        b64.encode(format!("\0{USER}\0{PASSWORD}")),
        b64.encode(format!("{USER}\0{PASSWORD}")),
    ];
    let leaks =
        |text: &str| std::panic::catch_unwind(|| assert_no_secret(text, USER, PASSWORD)).is_err();
    for leaked in &forms {
        let whole = format!("<- 535 5.7.8 echo {leaked}");
        // A preview cut after the first LEAK_RUN characters of the password's part.
        let (_, from) = common::secret_forms(USER, PASSWORD)
            .into_iter()
            .find(|(f, _)| f == leaked)
            .unwrap();
        let head = &leaked[..from + common::LEAK_RUN];
        let cut = format!("*** not an SMTP reply line: AUTH PLAIN {head}... (300 bytes)");
        // The end of the form, as a mask applied to the wrong bytes would leave it.
        let tail = format!(
            "<- 500 <redacted>{}",
            &leaked[leaked.len() - common::LEAK_RUN..]
        );
        for text in [whole, cut, tail] {
            assert!(leaks(&text), "went unnoticed: {text}");
        }
    }
    // Below the threshold, and the user name's own part of the blobs, are not leaks.
    let short = format!("ok {}", &PASSWORD[..common::LEAK_RUN - 1]);
    let user_part = b64.encode(format!("\0{USER}"));
    let clean = format!("250 Ok {short} {} {user_part}", b64.encode(USER));
    assert!(!leaks(&clean), "a clean text was flagged: {clean}");
}

// ---------------------------------------------------------------------------------------------
// Server text in the session's own entries (Info, Warning, Error)
//
// Besides replies, server bytes reach the session's own entries: a 334 challenge decoded into
// an Info line, certificate names in a TLS Warning or Error. Each such entry must be masked as
// it is recorded. (Closed entries carry only the session's own fixed reasons: no server text
// reaches them today.)

/// Base64 of text that holds the password at an offset (2 mod 3) no secret form shares, so
/// only the decoded challenge can show it.
fn challenge_holding(password: &str) -> String {
    use base64::Engine as _;
    let text = format!("Your password is {password}");
    assert_eq!("Your password is ".len() % 3, 2);
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// AUTH LOGIN whose first challenge decodes to text holding the password.
fn challenge_script() -> Vec<Step> {
    let mut script = vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_AUTH),
        Step::Expect("AUTH LOGIN"),
        Step::Send(format!("334 {}\r\n", challenge_holding(PASSWORD)).into_bytes()),
        Step::ExpectAny,
        send("334 UGFzc3dvcmQ6\r\n"),
        Step::ExpectAny,
        send("535 Authentication Credentials Invalid\r\n"),
    ];
    script.extend(quit());
    script
}

/// The session's "server challenge decodes to …" Info line must show the password masked.
#[test]
fn a_challenge_decoding_to_the_password_is_masked_in_the_info_line() {
    for extra in [&["--auth", "login"][..], &["--auth", "login", "--json"]] {
        let server = Server::start(challenge_script());
        let out = run_fake(server.port(), extra);
        assert!(
            out.contains("server challenge decodes to")
                && out.contains("Your password is <redacted>"),
            "the decoded challenge was not shown masked:\n{out}"
        );
        assert_no_secret(&out, USER, PASSWORD);
    }
}

/// A password a certificate name can carry verbatim (no `+` or `/`).
const CERT_PASSWORD: &str = "BHygieneCertPassword0123456789abcdefghijklmn";

/// AUTH before STARTTLS (a debugger allows it), then a certificate whose issuer's name holds
/// the password just sent: the TLS Error (verified) or Warning (--insecure) quotes that name.
/// Returns the texts of the session's own entries, rendered as text and as JSON.
fn own_entries_after_a_hostile_certificate(insecure: bool) -> Vec<(String, String)> {
    let ca_name = format!("hygiene CA {CERT_PASSWORD}");
    let pki = make_pki(LeafSpec {
        ca_name: &ca_name,
        ..LeafSpec::default()
    });
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-hygiene.test\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 Ok\r\n"),
        Step::Expect("AUTH PLAIN "),
        send("235 Authentication successful.\r\n"),
        Step::Expect("STARTTLS"),
        send("220 Ready to start TLS\r\n"),
        Step::StartTls(tls_config(&pki.leaf_pem, &pki.leaf_key)),
        Step::Expect("QUIT"),
        send("221 Bye\r\n"),
        Step::Close,
    ]);
    let rt = runtime();
    let mut cfg = SessionConfig::new("127.0.0.1", server.port(), TlsMode::Starttls);
    cfg.reply_timeout = Duration::from_secs(5);
    // Trust only an unrelated CA: the served leaf's issuer is unknown.
    let unrelated = make_pki(LeafSpec::default());
    cfg.tls.ca_file = Some(unrelated.ca_pem.clone());
    cfg.tls.no_native_roots = true;
    cfg.tls.insecure = insecure;
    let (mut session, entries) = recording(cfg);
    let creds = Credentials::new(USER, Zeroizing::new(CERT_PASSWORD.into())).unwrap();
    rt.block_on(async {
        session.connect().await.unwrap();
        session
            .command(&Command::Ehlo("client.test".into()))
            .await
            .unwrap();
        session.auth(Mechanism::Plain, &creds, true).await.unwrap();
        let tls = session.command(&Command::StartTls).await;
        assert_eq!(tls.is_ok(), insecure, "{tls:?}");
        session.close().await;
    });
    let opts = TextOptions {
        reveal_user: true,
        diagnoses: true,
    };
    // Every entry as saved or printed by --json, certificate chains included.
    let json: String = entries
        .lock()
        .unwrap()
        .iter()
        .map(smtpscope::engine::transcript::Entry::to_json)
        .collect();
    assert_no_secret(&json, USER, CERT_PASSWORD);
    // Nor in the certificates' own bytes, kept (base64) for exporting the chain.
    for e in entries.lock().unwrap().iter() {
        let chain = match &e.kind {
            EntryKind::TlsStarted { info } => &info.chain,
            EntryKind::Error { chain, .. } => chain,
            _ => continue,
        };
        for c in chain {
            if let Some(b64) = &c.der_base64 {
                use base64::Engine as _;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                assert_no_secret(&String::from_utf8_lossy(&der), USER, CERT_PASSWORD);
            }
        }
    }
    entries
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let text = match &e.kind {
                EntryKind::Info { text }
                | EntryKind::Warning { text, .. }
                | EntryKind::Error { text, .. }
                | EntryKind::Closed { reason: text } => text.clone(),
                _ => return None,
            };
            Some((text, render_text(e, opts).join("\n")))
        })
        .collect()
}

#[test]
fn certificate_names_holding_the_password_are_masked_in_tls_errors_and_warnings() {
    for (insecure, kind) in [(false, "error"), (true, "warning")] {
        let own = own_entries_after_a_hostile_certificate(insecure);
        let all: String = own
            .iter()
            .map(|(text, rendered)| format!("{text}\n{rendered}\n"))
            .collect();
        assert!(
            own.iter()
                .any(|(text, _)| text.contains("hygiene CA <redacted>")),
            "no {kind} quoted the issuer masked:\n{all}"
        );
        assert_no_secret(&all, USER, CERT_PASSWORD);
    }
}

// ---------------------------------------------------------------------------------------------
// OAuth access tokens (XOAUTH2, OAUTHBEARER)
//
// The token is a secret like the password: never in any output, plain, base64, or inside the
// base64 XOAUTH2/OAUTHBEARER responses, whatever the alignment of the token in them.

/// The known access token: opaque, like Google's.
const TOKEN: &str = "ya29.HygieneKnownAccessToken-0123456789abcdefghijklmnopqrstuvwxyz_ABCDEF";

const EHLO_OAUTH: &str =
    "250-hygiene.test\r\n250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n250 Ok\r\n";

/// Asserts that no form of the token shows: itself, and any run of `LEAK_RUN` base64
/// characters that encodes only token bytes, at each of the three alignments a token can
/// have inside a base64 blob (which covers the XOAUTH2 and OAUTHBEARER responses).
fn assert_no_token(haystack: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert!(!haystack.contains(TOKEN), "the token leaked");
    for i in 0..3 {
        let form = b64.encode(format!("{}{TOKEN}", "x".repeat(i)));
        // Characters from here on encode token bytes only (up to the last, padded group).
        let from = (8 * i).div_ceil(6) + 1;
        let to = form.len() - 4;
        for start in from..to.saturating_sub(common::LEAK_RUN) {
            let run = &form[start..start + common::LEAK_RUN];
            assert!(!haystack.contains(run), "base64 of the token leaked: {run}");
        }
    }
    for run in TOKEN.as_bytes().windows(common::LEAK_RUN) {
        let run = std::str::from_utf8(run).unwrap();
        assert!(!haystack.contains(run), "part of the token leaked: {run}");
    }
}

/// `run` against a fake server, plain TCP, TOKEN in `SMTPSCOPE_OAUTH_TOKEN`.
fn run_fake_token(port: u16, extra: &[&str]) -> String {
    let port = port.to_string();
    let mut args = vec![
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--user",
        USER,
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.net",
        "--timeout",
        "3",
    ];
    args.extend_from_slice(extra);
    let out = common::smtpscope(&args, &[("SMTPSCOPE_OAUTH_TOKEN", TOKEN)]);
    common::text(&out)
}

/// A server that echoes the AUTH XOAUTH2 (or OAUTHBEARER) line, blob included, in its 535.
fn echo_oauth(expect: &'static str) -> Vec<Step> {
    let mut s = vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_OAUTH),
        Step::Expect(expect),
        Step::Echo("535 5.7.3 Authentication unsuccessful: "),
    ];
    s.extend(quit());
    s
}

/// A server that refuses the token with Google's documented JSON challenge, then 535.
fn json_challenge(expect: &'static str) -> Vec<Step> {
    let mut s = vec![
        send(GREET),
        Step::Expect("EHLO"),
        send(EHLO_OAUTH),
        Step::Expect(expect),
        send(
            "334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n",
        ),
        Step::ExpectAny,
        send(
            "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials\r\n",
        ),
    ];
    s.extend(quit());
    s
}

fn masked_token(text: String) -> String {
    assert!(
        text.contains("<redacted>") && text.contains("contained the password"),
        "the echo was not masked:\n{text}"
    );
    text
}

/// A panic whose message formats the run flags with token sources and the token credentials.
fn token_panic_message() -> String {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }
    let cli = Cli::try_parse_from([
        "smtpscope",
        "--host",
        "localhost",
        "--user",
        USER,
        "--auth",
        "xoauth2",
        "--token-file",
        "/nonexistent/token",
        "--from",
        "a@example.com",
        "--to",
        "b@example.net",
    ])
    .expect("parse");
    let creds = credentials_for(Mechanism::Xoauth2);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
        panic!("state at the panic: {:?} {:?}", cli.run, creds);
    }));
    std::panic::set_hook(previous);
    caught
        .expect_err("it panicked")
        .downcast_ref::<String>()
        .cloned()
        .expect("a formatted panic message")
}

/// Every output path that holds an access token, by name.
fn token_outputs() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (mech, expect) in [
        ("xoauth2", "AUTH XOAUTH2 "),
        ("oauthbearer", "AUTH OAUTHBEARER "),
    ] {
        let server = Server::start(echo_oauth(expect));
        out.push((
            "run text, server echoes the OAuth response",
            masked_token(run_fake_token(
                server.port(),
                &["--auth", mech, "--show-user"],
            )),
        ));
        let server = Server::start(echo_oauth(expect));
        out.push((
            "run --json, server echoes the OAuth response",
            masked_token(run_fake_token(server.port(), &["--auth", mech, "--json"])),
        ));
        let server = Server::start(json_challenge(expect));
        let json = run_fake_token(server.port(), &["--auth", mech, "--json"]);
        assert!(
            json.contains("status 400"),
            "the JSON reason is shown:\n{json}"
        );
        out.push(("run --json, JSON error challenge then 535", json));
        let server = Server::start(json_challenge(expect));
        out.push((
            "run text, JSON error challenge then 535",
            run_fake_token(server.port(), &["--auth", mech]),
        ));
    }
    let server = Server::start(echo_oauth("AUTH XOAUTH2 "));
    out.push((
        "engine transcript (text, JSON, Debug), XOAUTH2 echoed",
        masked_token(engine_transcript(server.port(), Mechanism::Xoauth2)),
    ));
    let server = Server::start(echo_oauth("AUTH OAUTHBEARER "));
    out.push((
        "engine transcript (text, JSON, Debug), OAUTHBEARER echoed",
        masked_token(engine_transcript(server.port(), Mechanism::Oauthbearer)),
    ));
    let server = Server::start(json_challenge("AUTH XOAUTH2 "));
    out.push((
        "TUI screens, AUTH form, save (.txt, .jsonl, script) and replay, XOAUTH2 refused",
        tui_outputs(server.port(), Mechanism::Xoauth2),
    ));
    let server = Server::start(echo_oauth("AUTH OAUTHBEARER "));
    out.push((
        "TUI screens, AUTH form, save and replay, OAUTHBEARER echoed",
        masked_token(tui_outputs(server.port(), Mechanism::Oauthbearer)),
    ));
    // Errors with the token loaded, or on the way to it.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    out.push((
        "run text, connection refused",
        run_fake_token(closed_port, &["--auth", "xoauth2"]),
    ));
    out.push((
        "run, usage error after the token was read",
        run_fake_token(
            closed_port,
            &["--auth", "xoauth2", "--data", "@/nonexistent/m.eml"],
        ),
    ));
    let failing = format!("echo {TOKEN}; exit 5");
    out.push((
        "run, --token-command fails after printing the token",
        run_fake_token(
            closed_port,
            &["--auth", "xoauth2", "--token-command", &failing],
        )
        .replace(&failing, "<the command line>"),
    ));
    let huge = format!("echo {TOKEN}; head -c 100000 /dev/zero");
    out.push((
        "run, --token-command prints too much",
        run_fake_token(
            closed_port,
            &["--auth", "oauthbearer", "--token-command", &huge],
        )
        .replace(&huge, "<the command line>"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("token");
    std::fs::write(&bad, format!("{TOKEN}\u{1}x\n")).unwrap();
    out.push((
        "run, --token-file holds a token with a control character",
        run_fake_token(
            closed_port,
            &["--auth", "xoauth2", "--token-file", bad.to_str().unwrap()],
        ),
    ));
    out.push((
        "panic message, token flags and credentials",
        token_panic_message(),
    ));
    let mut lint = String::new();
    for variant in [
        format!("Bearer {TOKEN}"),
        format!("{TOKEN} "),
        format!("\"{TOKEN}\""),
    ] {
        for w in smtpscope::engine::oauth::lint_token(&variant, USER, 0) {
            lint.push_str(&w.message);
            lint.push('\n');
        }
    }
    out.push(("token lint messages", lint));
    out
}

#[test]
fn no_output_path_shows_the_oauth_token_in_any_form() {
    let outputs = token_outputs();
    assert!(outputs.len() >= 19, "{} paths", outputs.len());
    for (name, text) in &outputs {
        assert!(!text.trim().is_empty(), "{name}: produced nothing");
        let checked = std::panic::catch_unwind(|| assert_no_token(text));
        assert!(checked.is_ok(), "{name} leaked the token:\n{text}");
    }
}

/// The token check itself can fail: each form is caught, whole and in part.
#[test]
fn the_token_leak_check_catches_every_form() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaks = |text: &str| std::panic::catch_unwind(|| assert_no_token(text)).is_err();
    let forms = [
        TOKEN.to_string(),
        b64.encode(format!("user={USER}\x01auth=Bearer {TOKEN}\x01\x01")),
        b64.encode(format!(
            "n,a={USER},\x01host=127.0.0.1\x01port=4321\x01auth=Bearer {TOKEN}\x01\x01"
        )),
        b64.encode(format!(
            "n,a={USER},\x01host=localhost\x01port=25\x01auth=Bearer {TOKEN}\x01\x01"
        )),
        TOKEN[10..30].to_string(),
    ];
    for f in &forms {
        assert!(leaks(&format!("<- 535 {f}")), "went unnoticed: {f}");
    }
    let blob = &forms[1];
    assert!(leaks(&format!(
        "cut: {}",
        &blob[blob.len() / 2..blob.len() / 2 + 14]
    )));
    assert!(!leaks(
        "250 Ok ya29. <redacted: user hidden, access token hidden>"
    ));
}
