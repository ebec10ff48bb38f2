//! Hostile servers: scripted misbehaviour against the engine's `Session` and the `run` binary.
//!
//! Every scenario must end in a clear, classified error or a correct result: never a panic,
//! never a hang past the configured timeout. Engine runs are wrapped in a hard time bound;
//! binary runs are timed.

use std::fmt::Write as _;
mod common;
mod hostile;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LeafSpec, Pki, assert_no_secret, make_pki};
use hostile::{Server, Step, send, tls_config};
use serde_json::Value;
use smtpscope::engine::auth::{Credentials, Mechanism};
use smtpscope::engine::classify::Phase;
use smtpscope::engine::command::{Command, Verb};
use smtpscope::engine::reply::{Reply, ReplyError};
use smtpscope::engine::session::{Event, MessageSource, Session, SessionConfig, SessionError};
use smtpscope::engine::transcript::{Entry, EntryKind, ReplyEntry, TextOptions, render_text};
use smtpscope::engine::transport::{TlsError, TlsMode, TlsSettings};

// ---------------------------------------------------------------------------------------------
// Server script pieces

const GREET: &str = "220 hostile.test ESMTP fake\r\n";
const EHLO_PLAIN: &str =
    "250-hostile.test greets you\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 Ok\r\n";
const EHLO_TLS: &str = "250-hostile.test greets you\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 Ok\r\n";
const GO_AHEAD: &str = "354 End data with <CR><LF>.<CR><LF>\r\n";

/// Greeting and a plain EHLO exchange.
fn until_ehlo(ehlo: &str) -> Vec<Step> {
    vec![send(GREET), Step::Expect("EHLO"), send(ehlo)]
}

/// MAIL, RCPT and DATA accepted, ending right after the 354.
fn until_354() -> Vec<Step> {
    vec![
        Step::Expect("MAIL FROM:"),
        send("250 Ok\r\n"),
        Step::Expect("RCPT TO:"),
        send("250 Ok\r\n"),
        Step::Expect("DATA"),
        send(GO_AHEAD),
    ]
}

fn quit() -> Vec<Step> {
    vec![Step::Expect("QUIT"), send("221 Bye\r\n"), Step::Close]
}

fn script(parts: Vec<Vec<Step>>) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

// ---------------------------------------------------------------------------------------------
// The engine side

/// Collects every entry the session records.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Entry>>>);

impl Recorder {
    fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap().clone()
    }

    fn replies(&self) -> Vec<ReplyEntry> {
        self.entries()
            .into_iter()
            .filter_map(|e| match e.kind {
                EntryKind::Reply(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter_map(|e| match e.kind {
                EntryKind::Warning { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    fn errors(&self) -> Vec<(Phase, String)> {
        self.entries()
            .into_iter()
            .filter_map(|e| match e.kind {
                EntryKind::Error { phase, text, .. } => Some((phase, text)),
                _ => None,
            })
            .collect()
    }

    /// The transcript as `run` would print it.
    fn text(&self) -> String {
        let opts = TextOptions {
            reveal_user: false,
            diagnoses: true,
        };
        self.entries()
            .iter()
            .flat_map(|e| render_text(e, opts))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn config(addr: SocketAddr, mode: TlsMode, timeout: Duration, ca: Option<&Path>) -> SessionConfig {
    let mut cfg = SessionConfig::new(&addr.ip().to_string(), addr.port(), mode);
    cfg.reply_timeout = timeout;
    cfg.connect_timeout = timeout;
    cfg.tls = TlsSettings {
        ca_file: ca.map(Path::to_path_buf),
        insecure: false,
        sni: None,
        no_native_roots: true,
        ca_pem: None,
        ..TlsSettings::default()
    };
    cfg
}

fn session(cfg: SessionConfig) -> (Session, Recorder) {
    let rec = Recorder::default();
    let sink_rec = rec.clone();
    let sink = Box::new(move |ev: Event| {
        if let Event::Entry(e) = ev {
            sink_rec.0.lock().unwrap().push(e);
        }
    });
    (Session::new(cfg, sink), rec)
}

fn plain_session(server: &Server, timeout: Duration) -> (Session, Recorder) {
    session(config(server.addr, TlsMode::None, timeout, None))
}

/// Runs `fut`, failing the test if it hangs past `limit` (a hang guard, not a speed check).
async fn bounded<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    let start = Instant::now();
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(elapsed) => panic!(
            "hung: still running after {:?} (limit {limit:?}, {elapsed})",
            start.elapsed()
        ),
    }
}

/// `close()` on a session whose connection is already gone records nothing: no QUIT is sent,
/// so none waits a reply timeout for its answer.
async fn close_sends_nothing(s: &mut Session, rec: &Recorder) {
    let before = rec.entries().len();
    bounded(HANG_GUARD, s.close()).await;
    let after = rec.entries();
    assert_eq!(
        after.len(),
        before,
        "close() recorded {:?}",
        &after[before..]
    );
}

fn ehlo() -> Command {
    Command::Ehlo("client.test".into())
}

fn mail() -> Command {
    Command::Mail {
        from: "from@example.com".into(),
        params: vec![],
    }
}

fn rcpt() -> Command {
    Command::Rcpt {
        to: "to@example.net".into(),
        params: vec![],
    }
}

fn message(size: usize) -> String {
    let mut m =
        String::from("From: from@example.com\r\nTo: to@example.net\r\nSubject: big\r\n\r\n");
    let line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    while m.len() < size {
        m.push_str(line);
    }
    m
}

/// Connect, EHLO, MAIL, RCPT, DATA: each must succeed.
async fn through_354(s: &mut Session) {
    assert_eq!(s.connect().await.expect("greeting").code, 220);
    assert_eq!(s.command(&ehlo()).await.expect("ehlo").code, 250);
    assert_eq!(s.command(&mail()).await.expect("mail").code, 250);
    assert_eq!(s.command(&rcpt()).await.expect("rcpt").code, 250);
    assert_eq!(s.command(&Command::Data).await.expect("data").code, 354);
}

fn assert_error_recorded(rec: &Recorder, phase: Phase, needle: &str) {
    let errors = rec.errors();
    assert!(
        errors
            .iter()
            .any(|(p, t)| *p == phase && t.contains(needle)),
        "no {phase} error entry containing {needle:?}: {errors:?}\n{}",
        rec.text()
    );
}

// ---------------------------------------------------------------------------------------------
// The binary side

/// `smtpscope run` with defaults for a plain, AUTH-less session; flags can be replaced.
struct Run {
    args: Vec<(String, Option<String>)>,
    env: Vec<(String, String)>,
}

struct RunOut {
    out: Output,
    elapsed: Duration,
}

impl Run {
    fn new(addr: SocketAddr) -> Run {
        let mut r = Run {
            args: Vec::new(),
            env: Vec::new(),
        };
        for (k, v) in [
            ("--host", addr.ip().to_string()),
            ("--port", addr.port().to_string()),
            ("--tls", "none".into()),
            ("--auth", "none".into()),
            ("--ehlo", "client.test".into()),
            ("--from", "from@example.com".into()),
            ("--to", "to@example.net".into()),
            ("--timeout", "5".into()),
        ] {
            r = r.set(k, &v);
        }
        r.flag("--json")
    }

    fn set(mut self, flag: &str, value: &str) -> Run {
        self.args.retain(|(f, _)| f != flag);
        self.args.push((flag.into(), Some(value.into())));
        self
    }

    fn flag(mut self, flag: &str) -> Run {
        self.args.push((flag.into(), None));
        self
    }

    fn without(mut self, flag: &str) -> Run {
        self.args.retain(|(f, _)| f != flag);
        self
    }

    fn env(mut self, k: &str, v: &str) -> Run {
        self.env.push((k.into(), v.into()));
        self
    }

    fn argv(&self) -> Vec<String> {
        let mut argv = vec!["run".to_string()];
        for (f, v) in &self.args {
            argv.push(f.clone());
            argv.extend(v.clone());
        }
        argv
    }

    fn exec(&self) -> RunOut {
        let argv = self.argv();
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let start = Instant::now();
        let out = common::smtpscope(&args, &env);
        RunOut {
            out,
            elapsed: start.elapsed(),
        }
    }
}

impl RunOut {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// Everything the run printed, for searching.
    fn full_text(&self) -> String {
        common::text(&self.out)
    }

    /// What the run printed, shortened for failure messages.
    fn text(&self) -> String {
        shorten(&self.full_text())
    }

    fn json(&self) -> Vec<Value> {
        common::json_lines(&self.out)
    }

    fn summary(&self) -> Value {
        let lines = self.json();
        let last = lines.last().cloned().unwrap_or(Value::Null);
        assert_eq!(last["type"], "summary", "{}", self.text());
        last
    }

    fn of_type(&self, kind: &str) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|v| v["type"] == kind)
            .collect()
    }

    /// Asserts the exit code and the failed phase, and that the run did not hang.
    fn expect(&self, code: i32, phase: Option<&str>) -> &RunOut {
        assert_eq!(self.code(), Some(code), "exit code\n{}", self.text());
        let summary = self.summary();
        match phase {
            Some(p) => assert_eq!(summary["failed_phase"], p, "{}", self.text()),
            None => assert!(summary.get("failed_phase").is_none(), "{}", self.text()),
        }
        println!("measured: the run took {:?}", self.elapsed);
        assert!(
            self.elapsed < HANG_GUARD,
            "hung: took {:?} (hang guard {HANG_GUARD:?})\n{}",
            self.elapsed,
            self.text()
        );
        assert!(
            !self.text().contains("panicked"),
            "the binary panicked\n{}",
            self.text()
        );
        self
    }

    fn error_text(&self) -> String {
        self.of_type("error")
            .iter()
            .map(|e| e["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Keeps failure messages readable when a hostile server sent megabytes.
fn shorten(text: &str) -> String {
    const KEEP: usize = 3000;
    if text.len() <= 2 * KEEP {
        return text.to_string();
    }
    let mut head = KEEP;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - KEEP;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes ...]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// The reply timeout of most scenarios.
const SHORT: Duration = Duration::from_secs(2);
/// A hang guard, not a speed check: how long any one scenario may run before the test calls
/// it hung. Generous on purpose (a busy 2-core machine); what a scenario took is printed, and
/// speed is the benchmarks' business. Lower bounds (`>= SHORT`) stay: they check that a
/// timeout waited as long as configured.
const HANG_GUARD: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Connection

#[tokio::test]
async fn no_greeting_times_out_with_a_hint() {
    let server = Server::start(vec![Step::Stall]);
    let (mut s, rec) = plain_session(&server, SHORT);
    let start = Instant::now();
    let err = bounded(HANG_GUARD, s.connect()).await.unwrap_err();
    assert!(start.elapsed() >= SHORT, "{:?}", start.elapsed());
    assert!(
        matches!(
            err,
            SessionError::Timeout {
                after: Verb::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("no greeting"), "{err}");
    assert_eq!(err.phase(), Phase::Connection);
    assert_error_recorded(&rec, Phase::Connection, "no complete reply to CONNECT");
    assert!(
        !s.is_connected(),
        "a timed-out session is out of step and must be dropped"
    );
    // And close() must not wait another timeout for a QUIT reply.
    close_sends_nothing(&mut s, &rec).await;
}

#[test]
fn no_greeting_binary() {
    let server = Server::start(vec![Step::Stall]);
    let run = Run::new(server.addr).set("--timeout", "2").exec();
    run.expect(3, Some("connection"));
    assert!(run.error_text().contains("no greeting"), "{}", run.text());
}

#[tokio::test]
async fn greeting_then_close() {
    let server = Server::start(vec![send(GREET), Step::Close]);
    let (mut s, rec) = plain_session(&server, SHORT);
    assert_eq!(s.connect().await.unwrap().code, 220);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert_eq!(err.phase(), Phase::Connection, "{err}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert!(!s.is_connected());
    assert!(
        rec.entries()
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Closed { .. }))
    );
}

#[test]
fn greeting_then_close_binary() {
    let server = Server::start(vec![send(GREET), Step::Close]);
    let run = Run::new(server.addr).exec();
    run.expect(3, Some("connection"));
    assert!(run.error_text().contains("closed"), "{}", run.text());
}

fn reset_mid_reply() -> Vec<Step> {
    vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-hostile.test greets you\r\n250-8BIT"),
        Step::Sleep(Duration::from_millis(100)),
        Step::Reset,
    ]
}

#[tokio::test]
async fn reset_mid_reply_is_a_connection_error() {
    let server = Server::start(reset_mid_reply());
    let (mut s, rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Io {
                after: Verb::Ehlo,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("reset"), "{err}");
    assert_eq!(err.phase(), Phase::Connection);
    assert!(!s.is_connected());
    // The half reply is never passed off as a whole one.
    assert_eq!(rec.replies().len(), 1, "{}", rec.text());
}

#[test]
fn reset_mid_reply_binary() {
    let server = Server::start(reset_mid_reply());
    let run = Run::new(server.addr).exec();
    run.expect(3, Some("connection"));
    assert!(run.error_text().contains("reset"), "{}", run.text());
}

// ---------------------------------------------------------------------------------------------
// Reply shape

fn one_byte_writes() -> Vec<Step> {
    script(vec![
        vec![
            Step::SendSlow(GREET.into(), Duration::from_millis(5)),
            Step::Expect("EHLO"),
            Step::SendSlow(EHLO_PLAIN.into(), Duration::from_millis(2)),
        ],
        quit(),
    ])
}

#[tokio::test]
async fn reply_in_one_byte_writes_is_reassembled() {
    let server = Server::start(one_byte_writes());
    let (mut s, rec) = plain_session(&server, Duration::from_secs(5));
    let greeting = bounded(HANG_GUARD, s.connect()).await.unwrap();
    assert_eq!(greeting.last_text(), "hostile.test ESMTP fake");
    let reply = s.command(&ehlo()).await.unwrap();
    assert_eq!(reply.lines.len(), 4);
    assert!(s.model().capabilities().unwrap().eight_bit_mime);
    s.close().await;
    let codes: Vec<u16> = rec.replies().iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        vec![220, 250, 221],
        "one entry per reply, not per write"
    );
    assert!(server.finish().completed);
}

#[test]
fn reply_in_one_byte_writes_binary() {
    let server = Server::start(one_byte_writes());
    let run = Run::new(server.addr).set("--quit-after", "ehlo").exec();
    run.expect(0, None);
    let codes: Vec<i64> = run
        .of_type("reply")
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![220, 250, 221]);
}

fn mismatched_codes() -> Vec<Step> {
    vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-hostile.test\r\n251-8BITMIME\r\n250 Ok\r\n"),
    ]
}

#[tokio::test]
async fn multiline_with_mismatched_codes_is_a_protocol_error() {
    let server = Server::start(mismatched_codes());
    let (mut s, rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Protocol {
                after: Verb::Ehlo,
                source: ReplyError::MismatchedCode {
                    expected: 250,
                    found: 251
                }
            }
        ),
        "{err:?}"
    );
    assert_error_recorded(&rec, Phase::Service, "changed its code from 250 to 251");
    assert!(
        !s.is_connected(),
        "the stream is out of step after a malformed reply"
    );
}

#[test]
fn multiline_with_mismatched_codes_binary() {
    let server = Server::start(mismatched_codes());
    let run = Run::new(server.addr).exec();
    run.expect(13, Some("service"));
    assert!(run.error_text().contains("changed its code"));
}

fn missing_final_line(then: Step) -> Vec<Step> {
    vec![
        send(GREET),
        Step::Expect("EHLO"),
        send("250-hostile.test\r\n250-8BITMIME\r\n"),
        Step::Sleep(Duration::from_millis(100)),
        then,
    ]
}

#[tokio::test]
async fn missing_final_line_then_close() {
    let server = Server::start(missing_final_line(Step::Close));
    let (mut s, _rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert!(
        matches!(err, SessionError::Closed { after: Verb::Ehlo }),
        "{err:?}"
    );
    assert!(!s.is_connected());
}

#[tokio::test]
async fn missing_final_line_then_stall() {
    let server = Server::start(missing_final_line(Step::Stall));
    let (mut s, _rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let start = Instant::now();
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert!(
        matches!(
            err,
            SessionError::Timeout {
                after: Verb::Ehlo,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("part of a reply arrived"), "{err}");
    assert!(!s.is_connected());
}

#[test]
fn missing_final_line_binary() {
    let server = Server::start(missing_final_line(Step::Close));
    Run::new(server.addr).exec().expect(3, Some("connection"));
    let server = Server::start(missing_final_line(Step::Stall));
    let run = Run::new(server.addr).set("--timeout", "2").exec();
    run.expect(3, Some("connection"));
    assert!(run.error_text().contains("part of a reply arrived"));
}

fn bare_lf() -> Vec<Step> {
    vec![
        send("220 hostile.test ESMTP\n"),
        Step::Expect("EHLO"),
        send("250-hostile.test\n250-8BITMIME\n250 Ok\n"),
        Step::Expect("QUIT"),
        send("221 Bye\n"),
        Step::Close,
    ]
}

#[tokio::test]
async fn bare_lf_endings_are_read_and_flagged() {
    let server = Server::start(bare_lf());
    let (mut s, rec) = plain_session(&server, SHORT);
    let greeting = s.connect().await.unwrap();
    assert!(greeting.has_bare_lf());
    let reply = s.command(&ehlo()).await.unwrap();
    assert_eq!(reply.text(), "hostile.test\n8BITMIME\nOk");
    assert!(s.model().capabilities().unwrap().eight_bit_mime);
    s.close().await;
    let notes = &rec.replies()[0].class.diagnosis.notes;
    assert!(
        notes.iter().any(|n| n.contains("bare LF")),
        "a note names the bare LF: {notes:?}"
    );
}

#[test]
fn bare_lf_endings_binary() {
    let server = Server::start(bare_lf());
    let run = Run::new(server.addr).set("--quit-after", "ehlo").exec();
    run.expect(0, None);
    let replies = run.of_type("reply");
    assert_eq!(replies.len(), 3, "{}", run.text());
    // In JSON a bare-LF line keeps its exact bytes and says so.
    assert_eq!(replies[0]["lines"][0]["bare_lf"], true, "{}", run.text());
}

const ANSI_GREETING: &[u8] = b"220 \x1b[31mred\x1b[0m \xff\xfe hostile \x07\r\n";
const ANSI_EHLO: &[u8] = b"250-hostile.test \x1b]0;pwned title\x07\r\n250 Ok\r\n";
const ANSI_MAIL: &[u8] = b"553 5.1.7 \x1b[2J\x1b[H bad \xc2\x9b sender \xc3\x28 \xe2\x80\xae\r\n";

fn ansi_script() -> Vec<Step> {
    script(vec![
        vec![
            Step::Send(ANSI_GREETING.into()),
            Step::Expect("EHLO"),
            Step::Send(ANSI_EHLO.into()),
            Step::Expect("MAIL"),
            Step::Send(ANSI_MAIL.into()),
        ],
        quit(),
    ])
}

#[tokio::test]
async fn control_characters_and_invalid_utf8_are_kept_raw_and_shown_escaped() {
    let server = Server::start(ansi_script());
    let (mut s, rec) = plain_session(&server, SHORT);
    let greeting = s.connect().await.unwrap();
    assert_eq!(
        greeting.lines[0].raw,
        &ANSI_GREETING[..ANSI_GREETING.len() - 2]
    );
    s.command(&ehlo()).await.unwrap();
    let refused = s.command(&mail()).await.unwrap();
    assert_eq!(refused.code, 553);
    s.close().await;
    let text = rec.text();
    assert!(!text.contains('\x1b'), "raw ESC in the rendered transcript");
    assert!(!text.contains('\x07') && !text.contains('\u{9b}') && !text.contains('\u{202e}'));
    assert!(text.contains("\\x1b[31mred"), "{text}");
    assert!(text.contains("\\xff\\xfe"), "{text}");
    assert!(text.contains("\\u{202e}"), "{text}");
}

#[test]
fn control_characters_binary_text_and_json() {
    let server = Server::start(ansi_script());
    let run = Run::new(server.addr).without("--json").exec();
    assert_eq!(run.code(), Some(7), "envelope failure\n{}", run.text());
    assert!(
        !run.out.stdout.contains(&0x1b) && !run.out.stderr.contains(&0x1b),
        "a raw ESC byte reached the terminal"
    );
    assert!(
        !run.out.stdout.contains(&0x07),
        "a raw BEL reached the terminal"
    );
    let stdout = String::from_utf8(run.out.stdout.clone()).expect("text output is UTF-8");
    assert!(stdout.contains("\\x1b["), "{stdout}");
    assert!(stdout.contains("\\x1b]0;pwned title\\x07"), "{stdout}");
    assert!(
        stdout.contains("\\xc3("),
        "invalid UTF-8 shown as hex: {stdout}"
    );

    let server = Server::start(ansi_script());
    let run = Run::new(server.addr).exec();
    run.expect(7, Some("envelope"));
    assert!(!run.out.stdout.contains(&0x1b));
    // Non-UTF-8 lines travel as base64 of the exact bytes.
    let greeting = &run.of_type("reply")[0]["lines"][0];
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(greeting["base64"].as_str().expect("base64 form"))
        .unwrap();
    assert_eq!(raw, &ANSI_GREETING[..ANSI_GREETING.len() - 2]);
}

// ---------------------------------------------------------------------------------------------
// Size limits

/// Runs the binary under Python to read the child's peak RSS (`ru_maxrss`, KiB on Linux).
fn run_measured(run: &Run) -> (Output, u64) {
    const WRAPPER: &str = "import resource, subprocess, sys\n\
        p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, capture_output=True)\n\
        sys.stdout.buffer.write(p.stdout)\n\
        sys.stderr.buffer.write(p.stderr)\n\
        sys.stderr.write('\\nMAXRSS_KIB %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
        sys.exit(p.returncode)\n";
    let mut cmd = std::process::Command::new(common::python());
    cmd.arg("-c")
        .arg(WRAPPER)
        .arg(env!("CARGO_BIN_EXE_smtpscope"))
        .args(run.argv())
        .env_remove("SMTPSCOPE_PASSWORD")
        .env("NO_COLOR", "1");
    let out = cmd.output().expect("python wrapper");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("MAXRSS_KIB "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no MAXRSS line: {stderr}"));
    (out, kib)
}

const MEMORY_CAP_KIB: u64 = 64 * 1024;

#[tokio::test]
async fn gigabyte_without_crlf_is_refused_with_bounded_buffer() {
    let server = Server::start(vec![Step::Flood(1 << 30)]);
    let (mut s, rec) = plain_session(&server, Duration::from_secs(10));
    let err = bounded(HANG_GUARD, s.connect()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Protocol {
                source: ReplyError::LineTooLong { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("longer than"), "{err}");
    assert!(!s.is_connected());
    assert_error_recorded(&rec, Phase::Service, "longer than");
    let log = server.finish();
    assert!(
        log.sent < 1 << 30,
        "the client must hang up long before 1 GB"
    );
}

#[test]
fn gigabyte_without_crlf_binary_memory_stays_bounded() {
    let server = Server::start(vec![Step::Flood(1 << 30)]);
    let run = Run::new(server.addr).set("--timeout", "10");
    let ((out, kib), elapsed) = hostile::timed(|| run_measured(&run));
    let text = shorten(&common::text(&out));
    let log = server.finish();
    println!(
        "1 GB flood without CRLF: client peak RSS {kib} KiB ({:.1} MiB), server wrote {} bytes before the client hung up, {elapsed:?}",
        kib as f64 / 1024.0,
        log.sent
    );
    assert_eq!(out.status.code(), Some(13), "{text}");
    assert!(text.contains("longer than"), "{text}");
    assert!(kib < MEMORY_CAP_KIB, "peak RSS {kib} KiB over the cap");
}

/// 100,000 continuation lines of a greeting, then a last line.
fn continuation_flood() -> Vec<Step> {
    vec![
        Step::Repeat(b"220-hostile.test says hello again\r\n".to_vec(), 100_000),
        send("220 done\r\n"),
    ]
}

#[tokio::test]
async fn hundred_thousand_continuation_lines_are_refused() {
    let server = Server::start(continuation_flood());
    let (mut s, _rec) = plain_session(&server, Duration::from_secs(10));
    let err = bounded(HANG_GUARD, s.connect()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Protocol {
                source: ReplyError::TooManyLines { limit: 4096 },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("more than 4096 lines"));
}

#[test]
fn hundred_thousand_continuation_lines_binary() {
    let server = Server::start(continuation_flood());
    let run = Run::new(server.addr).exec();
    run.expect(13, Some("service"));
    assert!(run.error_text().contains("more than 4096 lines"));
}

/// A greeting of 4,000 continuation lines of 60 KB each: every line and the line count are
/// within limits, the whole reply (240 MB) is not.
#[test]
fn huge_multiline_reply_binary_memory_stays_bounded() {
    let mut line = b"220-".to_vec();
    line.extend(std::iter::repeat_n(b'x', 60_000));
    line.extend(b"\r\n");
    let server = Server::start(vec![Step::Repeat(line, 4_000), send("220 end\r\n")]);
    let run = Run::new(server.addr).set("--timeout", "10");
    let (out, kib) = run_measured(&run);
    let text = shorten(&common::text(&out));
    println!(
        "4,000 x 60 KB continuation lines: client peak RSS {kib} KiB ({:.1} MiB)",
        kib as f64 / 1024.0
    );
    assert_eq!(out.status.code(), Some(13), "{text}");
    assert!(text.contains("larger than"), "{text}");
    assert!(kib < MEMORY_CAP_KIB, "peak RSS {kib} KiB over the cap");
}

fn long_ehlo(lines: usize) -> String {
    let mut r = String::from("250-hostile.test greets you\r\n");
    for i in 1..lines - 1 {
        let _ = write!(r, "250-X-CAPABILITY-{i:05} some argument\r\n");
    }
    r.push_str("250 Ok\r\n");
    r
}

#[tokio::test]
async fn ehlo_with_3000_lines_works() {
    let server = Server::start(script(vec![until_ehlo(&long_ehlo(3000)), quit()]));
    let (mut s, _rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let reply = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap();
    assert_eq!(reply.lines.len(), 3000);
    assert_eq!(s.model().capabilities().unwrap().keywords.len(), 2999);
    s.close().await;
}

#[test]
fn ehlo_with_3000_lines_binary() {
    let server = Server::start(script(vec![until_ehlo(&long_ehlo(3000)), quit()]));
    Run::new(server.addr)
        .set("--quit-after", "ehlo")
        .exec()
        .expect(0, None);
}

#[tokio::test]
async fn ehlo_with_5000_lines_is_over_the_limit() {
    let server = Server::start(until_ehlo(&long_ehlo(5000)));
    let (mut s, rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    let err = bounded(HANG_GUARD, s.command(&ehlo())).await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Protocol {
                after: Verb::Ehlo,
                source: ReplyError::TooManyLines { limit: 4096 }
            }
        ),
        "{err:?}"
    );
    assert_error_recorded(&rec, Phase::Service, "more than 4096 lines");
}

#[test]
fn ehlo_with_5000_lines_binary() {
    let server = Server::start(until_ehlo(&long_ehlo(5000)));
    let run = Run::new(server.addr).exec();
    run.expect(13, Some("service"));
    assert!(run.error_text().contains("more than 4096 lines"));
}

// ---------------------------------------------------------------------------------------------
// Reply codes

#[tokio::test]
async fn garbage_codes_are_protocol_errors() {
    for garbage in [
        "99 two digits\r\n",
        "600 six hundred\r\n",
        "699 still six\r\n",
        "6xx letters in the code\r\n",
        "abc letters\r\n",
        "150 one hundred\r\n",
        "2500 four digits\r\n",
        "\r\n",
    ] {
        let server = Server::start(vec![send(garbage), Step::Stall]);
        let (mut s, rec) = plain_session(&server, SHORT);
        let err = bounded(HANG_GUARD, s.connect()).await.unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::Protocol {
                    after: Verb::Connect,
                    source: ReplyError::BadCode { .. } | ReplyError::BadSeparator { .. }
                }
            ),
            "{garbage:?}: {err:?}"
        );
        assert_eq!(err.phase(), Phase::Service);
        assert!(
            rec.replies().is_empty(),
            "{garbage:?} must not become a reply"
        );
        assert!(!s.is_connected());
    }
}

#[test]
fn garbage_code_binary() {
    let server = Server::start(vec![send("600 six hundred\r\n"), Step::Stall]);
    let run = Run::new(server.addr).exec();
    run.expect(13, Some("service"));
    assert!(
        run.error_text().contains("600 six hundred"),
        "{}",
        run.text()
    );
}

const CLOSING: &str =
    "421 4.3.2 hostile.test Service not available, closing transmission channel\r\n";

/// A 421 at the given point of the standard flow, then the server hangs up.
fn closing_at(point: &str) -> Vec<Step> {
    let mut s = Vec::new();
    if point == "greeting" {
        return vec![send(CLOSING), Step::Close];
    }
    s.extend(vec![send(GREET), Step::Expect("EHLO")]);
    if point == "ehlo" {
        s.extend(vec![send(CLOSING), Step::Close]);
        return s;
    }
    s.extend(vec![send(EHLO_PLAIN), Step::Expect("MAIL FROM:")]);
    if point == "mail" {
        s.extend(vec![send(CLOSING), Step::Close]);
        return s;
    }
    s.extend(vec![
        send("250 Ok\r\n"),
        Step::Expect("RCPT TO:"),
        send("250 Ok\r\n"),
        Step::Expect("DATA"),
        send(GO_AHEAD),
        Step::ReadData,
        send(CLOSING),
        Step::Close,
    ]);
    s
}

#[tokio::test]
async fn code_421_at_every_point_closes_the_session() {
    for point in ["greeting", "ehlo", "mail", "dot"] {
        let server = Server::start(closing_at(point));
        let (mut s, rec) = plain_session(&server, SHORT);
        let flow = async {
            let r = s.connect().await?;
            if r.code == 421 {
                return Ok(r);
            }
            let r = s.command(&ehlo()).await?;
            if r.code == 421 {
                return Ok(r);
            }
            let r = s.command(&mail()).await?;
            if r.code == 421 {
                return Ok(r);
            }
            s.command(&rcpt()).await?;
            s.command(&Command::Data).await?;
            s.send_message(MessageSource::Text(message(1000)))
                .await
                .map(|(r, _)| r)
        };
        let reply: Reply = bounded(HANG_GUARD, flow)
            .await
            .unwrap_or_else(|e| panic!("{point}: {e}"));
        assert_eq!(reply.code, 421, "{point}");
        assert!(
            !s.is_connected(),
            "{point}: 421 means the server is closing"
        );
        close_sends_nothing(&mut s, &rec).await;
        let last = rec.replies().pop().unwrap();
        assert_eq!(last.code, 421);
        assert!(last.class.verdict.is_failure());
        let log = server.finish();
        assert!(
            !log.lines.iter().any(|l| l.starts_with("QUIT")),
            "{point}: nothing is sent after a 421: {:?}",
            log.lines
        );
    }
}

#[test]
fn code_421_at_every_point_binary() {
    for (point, step) in [
        ("greeting", "connect"),
        ("ehlo", "ehlo"),
        ("mail", "mail"),
        ("dot", "dot"),
    ] {
        let server = Server::start(closing_at(point));
        let run = Run::new(server.addr).exec();
        let summary = run.summary();
        assert_eq!(summary["failed_step"], step, "{point}\n{}", run.text());
        let code = run.code().unwrap();
        assert!(
            (3..=11).contains(&code),
            "{point}: a classified failure, got {code}\n{}",
            run.text()
        );
        assert!(run.elapsed < HANG_GUARD, "hung: {:?}", run.elapsed);
        let last = run.of_type("reply").pop().unwrap();
        assert_eq!(last["code"], 421, "{point}");
    }
}

// ---------------------------------------------------------------------------------------------
// STARTTLS

fn starttls_answer(answer: Vec<Step>) -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_TLS),
        vec![Step::Expect("STARTTLS")],
        answer,
    ])
}

#[tokio::test]
async fn starttls_refused_454() {
    let server = Server::start(starttls_answer(script(vec![
        vec![send(
            "454 4.7.0 TLS not available due to temporary reason\r\n",
        )],
        quit(),
    ])));
    let pki = make_pki(LeafSpec::default());
    let (mut s, _rec) = session(config(
        server.addr,
        TlsMode::Starttls,
        SHORT,
        Some(&pki.ca_pem),
    ));
    s.connect().await.unwrap();
    s.command(&ehlo()).await.unwrap();
    let reply = s.command(&Command::StartTls).await.unwrap();
    assert_eq!(reply.code, 454);
    assert!(s.model().tls().is_none());
    s.close().await;
}

#[test]
fn starttls_refused_454_binary() {
    let server = Server::start(starttls_answer(script(vec![
        vec![send(
            "454 4.7.0 TLS not available due to temporary reason\r\n",
        )],
        quit(),
    ])));
    let pki = make_pki(LeafSpec::default());
    let run = Run::new(server.addr)
        .set("--tls", "starttls")
        .set("--ca-file", pki.ca_pem.to_str().unwrap())
        .exec();
    run.expect(4, Some("tls"));
    assert_eq!(run.summary()["failed_step"], "start-tls");
}

/// The server says 220 to STARTTLS, then answers the `ClientHello` with plaintext.
fn starttls_then_plaintext() -> Vec<Step> {
    starttls_answer(vec![
        send("220 Ready to start TLS\r\n"),
        Step::ReadSome(1),
        send("500 5.5.2 Error: command not recognized\r\n"),
        Step::Stall,
    ])
}

/// The server says 220 to STARTTLS, then sends bytes that are not TLS.
fn starttls_then_garbage() -> Vec<Step> {
    starttls_answer(vec![
        send("220 Ready to start TLS\r\n"),
        Step::Sleep(Duration::from_millis(50)),
        Step::Send(b"\xde\xad\xbe\xef\x00\x01garbage\xff\r\n".to_vec()),
        Step::Stall,
    ])
}

async fn expect_tls_failure(steps: Vec<Step>, needle: &str) {
    let server = Server::start(steps);
    let pki = make_pki(LeafSpec::default());
    let (mut s, rec) = session(config(
        server.addr,
        TlsMode::Starttls,
        SHORT,
        Some(&pki.ca_pem),
    ));
    s.connect().await.unwrap();
    s.command(&ehlo()).await.unwrap();
    let err = bounded(HANG_GUARD, s.command(&Command::StartTls))
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::Tls(_)), "{err:?}");
    assert_eq!(err.phase(), Phase::Tls);
    assert!(err.to_string().contains(needle), "{err}");
    assert!(!s.is_connected());
    assert_error_recorded(&rec, Phase::Tls, needle);
}

#[tokio::test]
async fn starttls_accepted_then_plaintext() {
    expect_tls_failure(starttls_then_plaintext(), "did not answer with TLS").await;
}

#[tokio::test]
async fn starttls_accepted_then_garbage() {
    expect_tls_failure(starttls_then_garbage(), "did not answer with TLS").await;
}

#[test]
fn starttls_accepted_then_plaintext_or_garbage_binary() {
    let pki = make_pki(LeafSpec::default());
    for steps in [starttls_then_plaintext(), starttls_then_garbage()] {
        let server = Server::start(steps);
        let run = Run::new(server.addr)
            .set("--tls", "starttls")
            .set("--ca-file", pki.ca_pem.to_str().unwrap())
            .exec();
        run.expect(4, Some("tls"));
        assert!(run.error_text().contains("plaintext"), "{}", run.text());
    }
}

const INSIDE_TLS: &str = "250-hostile.test inside TLS\r\n250-8BITMIME\r\n250 Ok\r\n";

/// Plaintext injected right behind `220 Ready to start TLS`, in the same write.
fn injection(pki: &Pki) -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_TLS),
        vec![
            Step::Expect("STARTTLS"),
            send("220 Ready to start TLS\r\n250-injected\r\n250 pwned\r\n"),
            Step::StartTls(tls_config(&pki.leaf_pem, &pki.leaf_key)),
            Step::Expect("EHLO"),
            send(INSIDE_TLS),
        ],
        quit(),
    ])
}

#[tokio::test]
async fn data_injected_after_220_ready_is_reported_and_discarded() {
    let pki = make_pki(LeafSpec::default());
    let server = Server::start(injection(&pki));
    let (mut s, rec) = session(config(
        server.addr,
        TlsMode::Starttls,
        SHORT,
        Some(&pki.ca_pem),
    ));
    s.connect().await.unwrap();
    s.command(&ehlo()).await.unwrap();
    assert_eq!(s.command(&Command::StartTls).await.unwrap().code, 220);
    assert!(s.model().tls().is_some());
    let inside = s.command(&ehlo()).await.unwrap();
    assert_eq!(inside.text(), "hostile.test inside TLS\n8BITMIME\nOk");
    s.close().await;
    let warnings = rec.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("after \"220 Ready to start TLS\"") && w.contains("injected")),
        "{warnings:?}"
    );
    for r in rec.replies() {
        assert!(
            !r.text.contains("injected") && !r.text.contains("pwned"),
            "injected text became a reply: {r:?}"
        );
    }
    let log = server.finish();
    assert!(log.tls && log.completed, "{log:?}");
}

#[test]
fn data_injected_after_220_ready_binary() {
    let pki = make_pki(LeafSpec::default());
    let server = Server::start(injection(&pki));
    let run = Run::new(server.addr)
        .set("--tls", "starttls")
        .set("--ca-file", pki.ca_pem.to_str().unwrap())
        .set("--quit-after", "tls")
        .exec();
    run.expect(0, None);
    assert!(
        run.of_type("warning").iter().any(|w| w["text"]
            .as_str()
            .unwrap()
            .contains("before the TLS handshake")),
        "{}",
        run.text()
    );
    for r in run.of_type("reply") {
        assert!(!r["text"].as_str().unwrap().contains("injected"), "{r}");
        if r["after"] == "ehlo" && r["tls"] == true {
            assert_eq!(r["text"], "hostile.test inside TLS\n8BITMIME\nOk");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates

struct CertCase {
    name: &'static str,
    spec: LeafSpec<'static>,
    reason: &'static str,
}

fn cert_cases() -> Vec<CertCase> {
    vec![
        CertCase {
            name: "expired",
            spec: LeafSpec {
                expired: true,
                ..LeafSpec::default()
            },
            reason: "the certificate expired",
        },
        CertCase {
            name: "wrong name",
            spec: LeafSpec {
                names: &["wrong.example"],
                ..LeafSpec::default()
            },
            reason: "name mismatch: the certificate is not valid for \"127.0.0.1\" (it names: wrong.example)",
        },
        CertCase {
            name: "self-signed",
            spec: LeafSpec {
                self_signed: true,
                ..LeafSpec::default()
            },
            reason: "the certificate is self-signed",
        },
        CertCase {
            name: "missing intermediate",
            spec: LeafSpec {
                missing_intermediate: true,
                ..LeafSpec::default()
            },
            reason: "missing intermediate",
        },
    ]
}

fn bad_cert_server(pki: &Pki) -> Server {
    Server::start(starttls_answer(vec![
        send("220 Ready to start TLS\r\n"),
        Step::StartTls(tls_config(&pki.leaf_pem, &pki.leaf_key)),
        Step::Expect("EHLO"),
    ]))
}

#[tokio::test]
async fn certificate_failures_name_their_reason() {
    for case in cert_cases() {
        let pki = make_pki(case.spec);
        let server = bad_cert_server(&pki);
        let (mut s, rec) = session(config(
            server.addr,
            TlsMode::Starttls,
            SHORT,
            Some(&pki.ca_pem),
        ));
        s.connect().await.unwrap();
        s.command(&ehlo()).await.unwrap();
        let err = bounded(HANG_GUARD, s.command(&Command::StartTls))
            .await
            .unwrap_err();
        let SessionError::Tls(TlsError::Verify { reason, chain }) = &err else {
            panic!("{}: {err:?}", case.name);
        };
        assert!(reason.contains(case.reason), "{}: {reason}", case.name);
        assert!(
            !chain.is_empty(),
            "{}: the presented chain is kept",
            case.name
        );
        assert_error_recorded(&rec, Phase::Tls, case.reason);
        assert!(!s.is_connected());
        let log = server.finish();
        assert!(!log.tls, "{}: the handshake must not complete", case.name);
    }
}

#[test]
fn certificate_failures_binary() {
    for case in cert_cases() {
        let pki = make_pki(case.spec);
        let server = bad_cert_server(&pki);
        let run = Run::new(server.addr)
            .set("--tls", "starttls")
            .set("--ca-file", pki.ca_pem.to_str().unwrap())
            .exec();
        run.expect(4, Some("tls"));
        assert!(
            run.error_text().contains(case.reason),
            "{}: {}",
            case.name,
            run.text()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// DATA

fn closes_during_data() -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_PLAIN),
        until_354(),
        vec![Step::ReadSome(64 * 1024), Step::Close],
    ])
}

#[tokio::test]
async fn server_closes_during_data() {
    let server = Server::start(closes_during_data());
    let (mut s, _rec) = plain_session(&server, SHORT);
    through_354(&mut s).await;
    let err = bounded(
        HANG_GUARD,
        s.send_message(MessageSource::Text(message(8 << 20))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.phase(), Phase::Connection, "{err}");
    assert!(
        matches!(
            err,
            SessionError::Io {
                after: Verb::DataEnd,
                ..
            } | SessionError::Closed {
                after: Verb::DataEnd
            }
        ),
        "{err:?}"
    );
    assert!(!s.is_connected());
}

fn big_message_file(size: usize) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), message(size)).unwrap();
    f
}

#[test]
fn server_closes_during_data_binary() {
    let server = Server::start(closes_during_data());
    let file = big_message_file(8 << 20);
    let data = format!("@{}", file.path().display());
    let run = Run::new(server.addr)
        .set("--data", &data)
        .set("--timeout", "2")
        .exec();
    run.expect(3, Some("connection"));
    assert_eq!(run.summary()["failed_step"], "dot");
}

/// The server takes part of the message, then neither reads nor answers.
fn stops_reading_during_data() -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_PLAIN),
        until_354(),
        vec![Step::ReadSome(64 * 1024), Step::Stall],
    ])
}

#[tokio::test]
async fn server_stops_reading_during_data() {
    let server = Server::start(stops_reading_during_data());
    let (mut s, _rec) = plain_session(&server, SHORT);
    through_354(&mut s).await;
    let start = Instant::now();
    let err = bounded(
        HANG_GUARD,
        s.send_message(MessageSource::Text(message(32 << 20))),
    )
    .await
    .unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert!(
        matches!(
            err,
            SessionError::Io {
                after: Verb::DataEnd,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("stopped reading"), "{err}");
    assert!(!s.is_connected());
}

const EARLY: &str = "554 5.6.0 Message rejected before the end of DATA\r\n";

/// The server answers right after its 354 and then stops reading.
fn early_reply() -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_PLAIN),
        until_354(),
        vec![send(EARLY), Step::Stall],
    ])
}

#[tokio::test]
async fn server_replies_before_data_is_finished() {
    let server = Server::start(early_reply());
    let (mut s, rec) = plain_session(&server, SHORT);
    through_354(&mut s).await;
    let (reply, _stats) = bounded(
        HANG_GUARD,
        s.send_message(MessageSource::Text(message(32 << 20))),
    )
    .await
    .expect("the early reply is the answer to the message");
    assert_eq!(reply.code, 554);
    let answer = rec.replies().pop().unwrap();
    assert_eq!(answer.after, Some(Verb::DataEnd));
    assert_eq!(answer.class.phase, Phase::Content);
    assert!(
        rec.warnings()
            .iter()
            .any(|w| w.contains("before the message was complete")),
        "{:?}",
        rec.warnings()
    );
    assert!(!s.is_connected(), "the rest of the message was not sent");
    close_sends_nothing(&mut s, &rec).await;
}

#[test]
fn server_replies_before_data_is_finished_binary() {
    let server = Server::start(early_reply());
    let file = big_message_file(32 << 20);
    let data = format!("@{}", file.path().display());
    let run = Run::new(server.addr)
        .set("--data", &data)
        .set("--timeout", "2")
        .exec();
    run.expect(8, Some("content"));
    let last = run.of_type("reply").pop().unwrap();
    assert_eq!(last["code"], 554);
    assert_eq!(last["after"], "data-end");
}

// ---------------------------------------------------------------------------------------------
// Timing

fn slow_loris() -> Vec<Step> {
    vec![Step::SendSlow(GREET.into(), Duration::from_secs(1))]
}

#[tokio::test]
async fn slow_loris_hits_the_reply_timeout() {
    let server = Server::start(slow_loris());
    let (mut s, _rec) = plain_session(&server, SHORT);
    let start = Instant::now();
    let err = bounded(HANG_GUARD, s.connect()).await.unwrap_err();
    let took = start.elapsed();
    // The timeout bounds the whole reply, not each read: a byte a second never resets it.
    println!("measured: the slow loris was cut off after {took:?} (reply timeout {SHORT:?})");
    assert!(took >= SHORT, "{took:?}");
    assert!(err.to_string().contains("part of a reply arrived"), "{err}");
    assert!(!s.is_connected());
}

#[test]
fn slow_loris_binary() {
    let server = Server::start(slow_loris());
    let run = Run::new(server.addr).set("--timeout", "2").exec();
    run.expect(3, Some("connection"));
    let err = run.error_text();
    assert!(err.contains("within 2s"), "{err}");
    assert!(err.contains("part of a reply arrived"), "{err}");
}

#[tokio::test]
async fn unsolicited_reply_between_commands_is_not_taken_for_the_next() {
    let server = Server::start(script(vec![
        until_ehlo(EHLO_PLAIN),
        vec![
            Step::Sleep(Duration::from_millis(100)),
            send("250 2.0.0 surprise, nobody asked\r\n"),
            Step::Expect("NOOP"),
            send("250 2.0.0 Ok noop\r\n"),
        ],
        quit(),
    ]));
    let (mut s, rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    s.command(&ehlo()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let noop = s.command(&Command::Noop).await.unwrap();
    assert_eq!(noop.last_text(), "2.0.0 Ok noop");
    s.close().await;
    let replies = rec.replies();
    let surprise = replies
        .iter()
        .find(|r| r.text.contains("surprise"))
        .expect("recorded");
    assert_eq!(surprise.after, None, "recorded as unsolicited");
    assert!(rec.text().contains("unsolicited"));
}

#[test]
fn unsolicited_reply_in_the_same_write_binary() {
    let mut ehlo_and_more = EHLO_PLAIN.to_string();
    ehlo_and_more.push_str("250 2.0.0 surprise, nobody asked\r\n");
    let server = Server::start(script(vec![until_ehlo(&ehlo_and_more), quit()]));
    let run = Run::new(server.addr).set("--quit-after", "ehlo").exec();
    run.expect(0, None);
    let replies = run.of_type("reply");
    let surprise = replies
        .iter()
        .find(|r| r["text"].as_str().unwrap().contains("surprise"))
        .expect("recorded");
    assert!(surprise["after"].is_null(), "{surprise}");
    let last = replies.last().unwrap();
    assert_eq!(
        (last["code"].as_i64(), &last["after"]),
        (Some(221), &Value::from("quit"))
    );
}

// ---------------------------------------------------------------------------------------------
// Other

const USER: &str = "AKIAHOSTILEEXAMPLE01";
const PASSWORD: &str = "BHostileTestPassword/1234567890abcdefghijklm";

fn auth_not_offered() -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_PLAIN),
        vec![
            Step::Expect("AUTH PLAIN"),
            send("504 5.5.4 Unrecognized authentication type\r\n"),
        ],
        quit(),
    ])
}

#[tokio::test]
async fn auth_mechanism_not_offered_warns_and_classifies() {
    let server = Server::start(auth_not_offered());
    let (mut s, rec) = plain_session(&server, SHORT);
    s.connect().await.unwrap();
    s.command(&ehlo()).await.unwrap();
    let creds = Credentials::new(USER, zeroize::Zeroizing::new(PASSWORD.to_string())).unwrap();
    let reply = s.auth(Mechanism::Plain, &creds, true).await.unwrap();
    assert_eq!(reply.code, 504);
    s.close().await;
    assert!(
        rec.warnings()
            .iter()
            .any(|w| w.contains("did not offer AUTH PLAIN")),
        "{:?}",
        rec.warnings()
    );
    let answer = rec.replies().into_iter().find(|r| r.code == 504).unwrap();
    assert_eq!(answer.class.phase, Phase::Authentication);
    assert_no_secret(&rec.text(), USER, PASSWORD);
    let json: String = rec.entries().iter().map(Entry::to_json).collect();
    assert_no_secret(&json, USER, PASSWORD);
}

#[test]
fn auth_mechanism_not_offered_binary() {
    let server = Server::start(auth_not_offered());
    let run = Run::new(server.addr)
        .set("--auth", "plain")
        .set("--user", USER)
        .env("SMTPSCOPE_PASSWORD", PASSWORD)
        .exec();
    run.expect(12, Some("authentication"));
    assert!(run.full_text().contains("did not offer AUTH PLAIN"));
    assert_no_secret(&run.full_text(), USER, PASSWORD);
}

fn full_session() -> Vec<Step> {
    script(vec![
        until_ehlo(EHLO_PLAIN),
        until_354(),
        vec![Step::ReadData, send("250 Ok 0100018a-hostile\r\n")],
        quit(),
    ])
}

#[tokio::test]
async fn ipv6_loopback_full_session() {
    let server = Server::start_on("[::1]:0", full_session()).expect("bind [::1]:0");
    let (mut s, rec) = plain_session(&server, SHORT);
    through_354(&mut s).await;
    let (reply, _) = s
        .send_message(MessageSource::Text(message(2000)))
        .await
        .unwrap();
    assert_eq!(reply.code, 250);
    s.close().await;
    let connected = rec
        .entries()
        .into_iter()
        .find_map(|e| match e.kind {
            EntryKind::Connected { peer } => Some(peer),
            _ => None,
        })
        .unwrap();
    assert!(connected.starts_with("[::1]:"), "{connected}");
    let log = server.finish();
    assert!(log.completed, "{log:?}");
    assert_eq!(log.data.len(), 1);
}

#[test]
fn ipv6_loopback_binary() {
    let server = Server::start_on("[::1]:0", full_session()).expect("bind [::1]:0");
    let run = Run::new(server.addr).exec();
    run.expect(0, None);
    assert_eq!(server.finish().data.len(), 1);
}
