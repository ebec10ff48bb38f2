//! Input safety: every user-supplied field refuses CR, LF and NUL before anything is sent;
//! DATA dot-stuffing is exact at an independent server; the content warnings fire.

use std::fmt::Write as _;
mod common;
mod hostile;

use std::io::Write;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{LeafSpec, assert_no_secret, make_pki, start_ses_peer};
use hostile::{Server, Step, send};
use serde_json::Value;
use smtpscope::cli::{EnvelopeArgs, TargetArgs};
use smtpscope::engine::auth::Credentials;
use smtpscope::engine::command::{Command, InputError, check_arg};
use smtpscope::engine::message::{encode_message, unstuff_lines};
use smtpscope::engine::session::{Event, MessageSource, Session, SessionConfig, SessionError};
use smtpscope::engine::transcript::{Entry, EntryKind};
use smtpscope::engine::transport::TlsMode;
use zeroize::Zeroizing;

const GREET: &str = "220 safety.test ESMTP\r\n";
const USER: &str = "AKIAINPUTSAFETY00001";
const PASSWORD: &str = "BInputSafetyPassword/abcdefghijklmnopqrstuv";

/// `smtpscope run` against `port` with one flag replaced by `(flag, value)`.
fn run_with(port: u16, flag: &str, value: &str, env: &[(&str, &str)]) -> std::process::Output {
    let port = port.to_string();
    let mut args: Vec<(&str, &str)> = vec![
        ("--host", "127.0.0.1"),
        ("--port", &port),
        ("--tls", "none"),
        ("--ehlo", "client.test"),
        ("--from", "from@example.com"),
        ("--to", "to@example.net"),
        ("--user", USER),
        ("--timeout", "5"),
    ];
    args.retain(|(f, _)| *f != flag);
    args.push((flag, value));
    let mut argv = vec!["run", "--json"];
    for (f, v) in &args {
        argv.push(f);
        argv.push(v);
    }
    common::smtpscope(&argv, env)
}

#[test]
fn every_command_line_field_refuses_cr_and_lf_before_connecting() {
    // (flag, a good value, how the message names the field)
    let fields = [
        ("--ehlo", "client.test", "--ehlo"),
        ("--from", "from@example.com", "--from"),
        ("--to", "to@example.net", "--to"),
        ("--user", USER, "user name"),
        ("--sni", "mail.example.com", "--sni"),
        ("--host", "127.0.0.1", "--host"),
    ];
    for (flag, good, named) in fields {
        for (ch, says) in [("\r", "carriage return (CR)"), ("\n", "line feed (LF)")] {
            let server = Server::start(vec![send(GREET), Step::Stall]);
            // Injection attempts: a whole second command after the break.
            let bad = if flag == "--from" || flag == "--to" {
                format!("a@example.com{ch}RCPT TO:<victim@example.org>")
            } else {
                format!("{good}{ch}RSET")
            };
            let out = run_with(
                server.port(),
                flag,
                &bad,
                &[("SMTPSCOPE_PASSWORD", PASSWORD)],
            );
            let text = common::text(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{flag} {ch:?}: usage error\n{text}"
            );
            assert!(
                text.contains(named) && text.contains(says),
                "{flag} {ch:?}: the message names the field and the character\n{text}"
            );
            assert_no_secret(&text, USER, PASSWORD);
            let log = server.finish();
            assert!(!log.accepted, "{flag} {ch:?}: nothing may be sent");
        }
    }
}

#[test]
fn user_from_the_environment_refuses_cr_and_lf() {
    for ch in ["\r", "\n"] {
        let server = Server::start(vec![send(GREET), Step::Stall]);
        let user = format!("AKIA{ch}RSET");
        let port = server.port().to_string();
        let out = common::smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--tls",
                "none",
                "--from",
                "a@example.com",
                "--to",
                "b@example.net",
            ],
            &[("SMTPSCOPE_USER", &user), ("SMTPSCOPE_PASSWORD", PASSWORD)],
        );
        assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
        assert!(common::text(&out).contains("user name contains"));
        assert!(!server.finish().accepted);
    }
}

const PASSWORD_REFUSED: &str =
    "the password contains a line break (CR or LF) or a NUL byte, which AUTH cannot carry";

#[test]
fn password_with_cr_lf_or_nul_is_refused_without_showing_it() {
    let secret_a = "Bsecret-part-one";
    let secret_b = "secret-part-two";
    // From the environment: CR and LF inside.
    for ch in ["\r", "\n"] {
        let server = Server::start(vec![send(GREET), Step::Stall]);
        let password = format!("{secret_a}{ch}{secret_b}");
        let out = run_with(
            server.port(),
            "--auth",
            "plain",
            &[("SMTPSCOPE_PASSWORD", &password)],
        );
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains(PASSWORD_REFUSED), "{text}");
        assert!(
            !text.contains(secret_a) && !text.contains(secret_b),
            "{text}"
        );
        assert!(!server.finish().accepted);
    }
    // From a file: NUL and a lone CR on the first line (a trailing CRLF is a line ending).
    for content in [
        format!("{secret_a}\0{secret_b}\n"),
        format!("{secret_a}\r{secret_b}\r\n"),
    ] {
        let server = Server::start(vec![send(GREET), Step::Stall]);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &content).unwrap();
        let out = run_with(
            server.port(),
            "--password-file",
            file.path().to_str().unwrap(),
            &[],
        );
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{content:?}: {text}");
        assert!(text.contains(PASSWORD_REFUSED), "{text}");
        assert!(
            !text.contains(secret_a) && !text.contains(secret_b),
            "{text}"
        );
        assert!(!server.finish().accepted);
    }
    // From standard input, with a NUL.
    let server = Server::start(vec![send(GREET), Step::Stall]);
    let port = server.port().to_string();
    let mut child = Process::new(env!("CARGO_BIN_EXE_smtpscope"))
        .args([
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--user",
            USER,
            "--password-stdin",
            "--from",
            "a@example.com",
            "--to",
            "b@example.net",
        ])
        .env_remove("SMTPSCOPE_PASSWORD")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret_a}\0{secret_b}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(PASSWORD_REFUSED), "{text}");
    assert!(!text.contains(secret_a) && !text.contains(secret_b));
    assert!(!server.finish().accepted);
}

/// NUL cannot travel in argv or the environment, so the same checks are proven on the API the
/// command line calls.
#[test]
fn nul_is_refused_in_every_field() {
    let nul = |good: &str| format!("{good}\0x");
    let target = |f: &dyn Fn(&mut TargetArgs)| {
        let mut t = TargetArgs {
            host: Some("127.0.0.1".into()),
            timeout: 30,
            ..Default::default()
        };
        f(&mut t);
        t
    };
    let host = target(&|t| t.host = Some(nul("127.0.0.1")));
    let sni = target(&|t| t.sni = Some(nul("mail.example.com")));
    let ehlo = target(&|t| t.ehlo = Some(nul("client.test")));
    for err in [
        host.session_config().unwrap_err().to_string(),
        sni.session_config().unwrap_err().to_string(),
        ehlo.ehlo_name().unwrap_err().to_string(),
    ] {
        assert!(err.contains("NUL byte"), "{err}");
    }
    for envelope in [
        EnvelopeArgs {
            from: Some(nul("a@example.com")),
            ..Default::default()
        },
        EnvelopeArgs {
            to: vec![nul("b@example.net")],
            ..Default::default()
        },
    ] {
        let err = envelope.validate().unwrap_err().to_string();
        assert!(err.contains("NUL byte"), "{err}");
    }
    let user = Credentials::new(&nul(USER), Zeroizing::new(PASSWORD.into())).unwrap_err();
    assert!(matches!(user, InputError::Nul { .. }), "{user:?}");
    let authzid = Credentials::new(USER, Zeroizing::new(PASSWORD.into()))
        .unwrap()
        .with_authzid(&nul("someone"))
        .unwrap_err();
    assert!(matches!(authzid, InputError::Nul { .. }));
    assert!(matches!(
        check_arg("raw command", &nul("NOOP")),
        Err(InputError::Nul { .. })
    ));
}

fn recording_session(port: u16) -> (Session, Arc<Mutex<Vec<Entry>>>) {
    let entries = Arc::new(Mutex::new(Vec::new()));
    let sink_entries = entries.clone();
    let mut cfg = SessionConfig::new("127.0.0.1", port, TlsMode::None);
    cfg.reply_timeout = Duration::from_secs(5);
    let sink = Box::new(move |ev: Event| {
        if let Event::Entry(e) = ev {
            sink_entries.lock().unwrap().push(e);
        }
    });
    (Session::new(cfg, sink), entries)
}

#[tokio::test]
async fn raw_and_envelope_commands_with_line_breaks_send_nothing() {
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("NOOP"),
        send("250 2.0.0 Ok\r\n"),
        Step::Expect("QUIT"),
        send("221 Bye\r\n"),
        Step::Close,
    ]);
    let (mut s, entries) = recording_session(server.port());
    s.connect().await.unwrap();
    let refused = [
        Command::Raw("NOOP\r\nMAIL FROM:<evil@example.org>".into()),
        Command::Raw("NOOP\nRSET".into()),
        Command::Raw("NOOP\rRSET".into()),
        Command::Raw("NOOP\0".into()),
        Command::Ehlo("client\r\nRSET".into()),
        Command::Helo("client\0".into()),
        Command::Mail {
            from: "a@example.com".into(),
            params: vec!["SIZE=10\r\nRCPT TO:<victim@example.org>".into()],
        },
        Command::Rcpt {
            to: "b@example.net\n".into(),
            params: vec![],
        },
        Command::Rcpt {
            to: "b@example.net".into(),
            params: vec!["NOTIFY=NEVER\0".into()],
        },
    ];
    for cmd in &refused {
        let err = s.command(cmd).await.unwrap_err();
        assert!(matches!(err, SessionError::Input(_)), "{cmd:?}: {err:?}");
        assert!(
            s.is_connected(),
            "a refused argument does not end the session"
        );
    }
    assert_eq!(s.command(&Command::Noop).await.unwrap().code, 250);
    s.close().await;
    let log = server.finish();
    assert!(log.completed, "{log:?}");
    assert_eq!(
        log.lines,
        vec!["NOOP", "QUIT"],
        "only the clean commands reached the server"
    );
    let sent: Vec<String> = entries
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Sent { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec!["NOOP", "QUIT"]);
}

// ---------------------------------------------------------------------------------------------
// DATA dot-stuffing

/// A message whose body is full of lines that a careless client would turn into the end of
/// DATA or lose a dot from.
const DOTTY: &str = "From: from@example.com\r\n\
To: to@example.net\r\n\
Subject: dots\r\n\
\r\n\
.\r\n\
..\r\n\
...\r\n\
.leading dot\r\n\
..two leading dots\r\n\
 .space, then a dot\r\n\
a line with a dot . in it\r\n\
.\r\n\
\r\n\
.\r\n";

fn count_dot_lines(text: &str) -> u64 {
    text.split("\r\n").filter(|l| l.starts_with('.')).count() as u64
}

#[tokio::test]
async fn dot_stuffing_is_exact_on_the_wire() {
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-safety.test\r\n250 8BITMIME\r\n"),
        Step::Expect("MAIL FROM:"),
        send("250 Ok\r\n"),
        Step::Expect("RCPT TO:"),
        send("250 Ok\r\n"),
        Step::Expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadData,
        send("250 Ok queued\r\n"),
        Step::Expect("QUIT"),
        send("221 Bye\r\n"),
        Step::Close,
    ]);
    let (mut s, _entries) = recording_session(server.port());
    s.connect().await.unwrap();
    s.command(&Command::Ehlo("client.test".into()))
        .await
        .unwrap();
    s.command(&Command::Mail {
        from: "from@example.com".into(),
        params: vec![],
    })
    .await
    .unwrap();
    s.command(&Command::Rcpt {
        to: "to@example.net".into(),
        params: vec![],
    })
    .await
    .unwrap();
    s.command(&Command::Data).await.unwrap();
    let (reply, stats) = s
        .send_message(MessageSource::Text(DOTTY.into()))
        .await
        .unwrap();
    assert_eq!(
        reply.code, 250,
        "the server saw the real end of the message"
    );
    assert_eq!(stats.stuffed_lines, count_dot_lines(DOTTY));
    s.close().await;
    let log = server.finish();
    assert!(log.completed, "{log:?}");
    let wire = &log.data[0];
    // Every line that began with "." gained exactly one more; nothing else changed.
    let expected: String = DOTTY
        .split_inclusive("\r\n")
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_eq!(String::from_utf8_lossy(wire), expected);
    assert_eq!(unstuff_lines(wire), DOTTY.as_bytes());
    assert_eq!(
        encode_message(DOTTY.as_bytes()).0,
        [wire.as_slice(), b".\r\n"].concat()
    );
}

fn peer_with_mailbox(pki: &common::Pki, mailbox: &Path) -> common::Peer {
    let user = format!("{USER}:{PASSWORD}");
    start_ses_peer(
        "127.0.0.1",
        "starttls",
        Some(pki),
        &["--user", &user, "--mailbox", mailbox.to_str().unwrap()],
    )
}

fn run_data(port: u16, pki: &common::Pki, file: &Path) -> std::process::Output {
    let port = port.to_string();
    let data = format!("@{}", file.display());
    common::smtpscope(
        &[
            "run",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            pki.ca_pem.to_str().unwrap(),
            "--user",
            USER,
            "--from",
            "from@example.com",
            "--to",
            "to@example.net",
            "--data",
            &data,
            "--json",
            "--timeout",
            "10",
        ],
        &[("SMTPSCOPE_PASSWORD", PASSWORD)],
    )
}

fn delivered(mailbox: &Path) -> Vec<u8> {
    let emls: Vec<_> = std::fs::read_dir(mailbox)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 1, "{emls:?}");
    std::fs::read(&emls[0]).unwrap()
}

#[test]
fn dot_lines_arrive_intact_at_an_independent_server() {
    let pki = make_pki(LeafSpec::default());
    // CRLF input arrives byte for byte; bare-LF input arrives with CRLF line endings.
    for (input, expected) in [
        (DOTTY.to_string(), DOTTY.to_string()),
        (DOTTY.replace("\r\n", "\n"), DOTTY.to_string()),
    ] {
        let mailbox = tempfile::tempdir().unwrap();
        let peer = peer_with_mailbox(&pki, mailbox.path());
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &input).unwrap();
        let out = run_data(peer.port, &pki, file.path());
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert_eq!(
            String::from_utf8_lossy(&delivered(mailbox.path())),
            expected
        );
        let lines = common::json_lines(&out);
        let message = lines
            .iter()
            .find(|l| l["type"] == "message")
            .expect("message entry");
        assert_eq!(
            message["stats"]["stuffed_lines"].as_u64(),
            Some(count_dot_lines(DOTTY))
        );
        assert_no_secret(&text, USER, PASSWORD);
    }
}

// ---------------------------------------------------------------------------------------------
// Content warnings

/// A session up to the end of DATA with the given EHLO keywords; returns the warnings.
async fn warnings_for(ehlo_keywords: &[&str], message: &str) -> Vec<String> {
    let mut ehlo = String::from("250-safety.test\r\n");
    for k in ehlo_keywords {
        let _ = write!(ehlo, "250-{k}\r\n");
    }
    ehlo.push_str("250 Ok\r\n");
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("EHLO"),
        Step::Send(ehlo.into_bytes()),
        Step::Expect("MAIL FROM:"),
        send("250 Ok\r\n"),
        Step::Expect("RCPT TO:"),
        send("250 Ok\r\n"),
        Step::Expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadData,
        send("250 Ok queued\r\n"),
    ]);
    let (mut s, entries) = recording_session(server.port());
    s.connect().await.unwrap();
    s.command(&Command::Ehlo("client.test".into()))
        .await
        .unwrap();
    s.command(&Command::Mail {
        from: "from@example.com".into(),
        params: vec![],
    })
    .await
    .unwrap();
    s.command(&Command::Rcpt {
        to: "to@example.net".into(),
        params: vec![],
    })
    .await
    .unwrap();
    s.command(&Command::Data).await.unwrap();
    let (reply, _) = s
        .send_message(MessageSource::Text(message.into()))
        .await
        .unwrap();
    assert_eq!(reply.code, 250);
    s.close_now();
    let log = server.finish();
    assert_eq!(
        [log.data[0].as_slice(), b".\r\n"].concat(),
        encode_message(message.as_bytes()).0,
        "the message is sent even when it draws a warning"
    );
    entries
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Warning { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn with_body_line(len: usize) -> String {
    format!(
        "From: from@example.com\r\nSubject: long\r\n\r\nshort line\r\n{}\r\nend\r\n",
        "x".repeat(len)
    )
}

#[tokio::test]
async fn a_body_line_over_998_octets_draws_a_warning() {
    let at_limit = warnings_for(&["8BITMIME"], &with_body_line(998)).await;
    assert!(at_limit.is_empty(), "998 octets is allowed: {at_limit:?}");
    let over = warnings_for(&["8BITMIME"], &with_body_line(999)).await;
    assert_eq!(over.len(), 1, "{over:?}");
    assert!(
        over[0].contains("longer than 998 octets (first: line 5)"),
        "{over:?}"
    );
}

const NON_ASCII_HEADER: &str =
    "From: from@example.com\r\nSubject: caf\u{e9} cr\u{e8}me\r\n\r\nbody\r\n";

#[tokio::test]
async fn non_ascii_headers_draw_a_warning_only_without_8bitmime_or_smtputf8() {
    let none = warnings_for(&["SIZE 1000000"], NON_ASCII_HEADER).await;
    assert_eq!(none.len(), 1, "{none:?}");
    assert!(
        none[0].contains("non-ASCII bytes in the headers (first: line 2)")
            && none[0].contains("neither SMTPUTF8 nor 8BITMIME"),
        "{none:?}"
    );
    assert!(
        warnings_for(&["8BITMIME"], NON_ASCII_HEADER)
            .await
            .is_empty()
    );
    assert!(
        warnings_for(&["SMTPUTF8"], NON_ASCII_HEADER)
            .await
            .is_empty()
    );
    // Non-ASCII in the body alone is not a header problem.
    let body_only = "From: from@example.com\r\nSubject: plain\r\n\r\ncaf\u{e9}\r\n";
    assert!(warnings_for(&["SIZE 1000000"], body_only).await.is_empty());
}

#[test]
fn content_warnings_reach_run_json() {
    let server = Server::start(vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-safety.test\r\n250 Ok\r\n"),
        Step::Expect("MAIL FROM:"),
        send("250 Ok\r\n"),
        Step::Expect("RCPT TO:"),
        send("250 Ok\r\n"),
        Step::Expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadData,
        send("250 Ok queued\r\n"),
        Step::Expect("QUIT"),
        send("221 Bye\r\n"),
        Step::Close,
    ]);
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut message = NON_ASCII_HEADER.to_string();
    message.push_str(&"y".repeat(1200));
    message.push_str("\r\n");
    std::fs::write(file.path(), message).unwrap();
    let data = format!("@{}", file.path().display());
    let port = server.port().to_string();
    let out = common::smtpscope(
        &[
            "run",
            "--json",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--auth",
            "none",
            "--from",
            "from@example.com",
            "--to",
            "to@example.net",
            "--data",
            &data,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let warnings: Vec<String> = common::json_lines(&out)
        .into_iter()
        .filter(|l| l["type"] == "warning")
        .map(|l: Value| l["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("longer than 998 octets")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("non-ASCII bytes in the headers")),
        "{warnings:?}"
    );
}

#[test]
fn bracketed_ipv6_host_works_and_an_empty_host_is_a_usage_error() {
    let server = Server::start_on(
        "[::1]:0",
        vec![
            send("220 v6.test ESMTP\r\n"),
            Step::Expect("EHLO"),
            send("250 v6.test\r\n"),
            Step::Expect("QUIT"),
            send("221 Bye\r\n"),
            Step::Close,
        ],
    )
    .expect("bind [::1]:0");
    let port = server.port().to_string();
    let out = common::smtpscope(
        &[
            "run",
            "--host",
            "[::1]",
            "--port",
            &port,
            "--tls",
            "none",
            "--auth",
            "none",
            "--ehlo",
            "client.test",
            "--quit-after",
            "ehlo",
        ],
        &[],
    );
    server.finish();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    for (host, says) in [
        ("", "--host is empty"),
        ("  ", "--host is empty"),
        ("[mail.example.com]", "brackets hold an IPv6 address"),
    ] {
        let out = common::smtpscope(
            &[
                "run",
                "--host",
                host,
                "--auth",
                "none",
                "--quit-after",
                "connect",
            ],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{host:?}: {}",
            common::text(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{host:?}: {err}");
        assert!(!common::text(&out).contains("Trying"), "never connects");
    }
}

#[test]
fn the_raw_form_says_what_really_happens_to_auth_lines() {
    use smtpscope::tui::action::Action;
    use smtpscope::tui::app::{App, Prefill};
    use smtpscope::tui::update::{Msg, update};
    let mut app = App::new(
        SessionConfig::new("127.0.0.1", 25, TlsMode::None),
        Prefill::default(),
    );
    let _ = update(&mut app, Msg::Action(Action::Raw));
    let screen = smtpscope::tui::view::render_to_text(&app, 120, 40);
    assert!(screen.contains("is recorded redacted"), "{screen}");
    assert!(!screen.contains("unredacted"), "{screen}");
}
