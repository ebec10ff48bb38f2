//! `smtpscope run`: a whole session, headless, for scripts. It never prompts.
//!
//! The transcript streams to stdout as it happens (text like swaks, or JSON Lines), and the
//! exit code names the phase that failed, so a script can tell authentication from
//! authorization.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::cli::{CliError, CredentialArgs, EnvelopeArgs, TargetArgs};
use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::classify::{Phase, Verdict};
use crate::engine::command::Command;
use crate::engine::escape::escape_str;
use crate::engine::message::Draft;
use crate::engine::reply::Reply;
use crate::engine::session::{Event, MessageSource, Session, SessionError};
use crate::engine::state::{Plan, Step, next_step};
use crate::engine::transcript::{Entry, EntryKind, TextOptions, render_text};

/// Where to stop a session early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum QuitAfter {
    Connect,
    Ehlo,
    Tls,
    Auth,
    Mail,
    Rcpt,
    /// After DATA's 354: the connection is closed without sending a message.
    Data,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub envelope: EnvelopeArgs,
    /// Stop after this step, sending QUIT
    #[arg(long, value_enum, help_heading = "Flow")]
    pub quit_after: Option<QuitAfter>,
    /// Go on after a failed step (e.g. MAIL after a 535, to see the 530 that follows)
    #[arg(long, help_heading = "Flow")]
    pub keep_going: bool,
    /// Print JSON Lines (one object per transcript entry, then a summary)
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Show the decoded user name in AUTH lines (the password is never shown)
    #[arg(long, help_heading = "Output")]
    pub show_user: bool,
}

/// Exit codes, one per failing phase. Documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const CONNECTION: i32 = 3;
    pub const TLS: i32 = 4;
    pub const EHLO: i32 = 5;
    pub const AUTHENTICATION: i32 = 6;
    pub const ENVELOPE: i32 = 7;
    pub const DATA: i32 = 8;
    pub const AUTHORIZATION: i32 = 9;
    pub const THROTTLING: i32 = 10;
    pub const SERVICE: i32 = 11;
}

/// The exit code for a failure in `phase`.
pub fn exit_code(phase: Phase) -> i32 {
    match phase {
        Phase::Connection => exit::CONNECTION,
        Phase::Tls => exit::TLS,
        Phase::Ehlo => exit::EHLO,
        Phase::Authentication => exit::AUTHENTICATION,
        Phase::Envelope => exit::ENVELOPE,
        Phase::Data | Phase::Content => exit::DATA,
        Phase::Authorization => exit::AUTHORIZATION,
        Phase::Throttling => exit::THROTTLING,
        Phase::Service => exit::SERVICE,
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    verdict: &'a str,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_phase: Option<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_step: Option<Step>,
}

/// Prints entries as they come: text or JSON, with colour on a terminal.
struct Printer {
    json: bool,
    color: bool,
    opts: TextOptions,
    out: std::io::Stdout,
}

impl Printer {
    fn print(&mut self, entry: &Entry) {
        let mut out = self.out.lock();
        if self.json {
            let _ = writeln!(out, "{}", entry.to_json());
        } else {
            for line in render_text(entry, self.opts) {
                let color = if self.color { ansi_for(entry) } else { "" };
                let reset = if color.is_empty() { "" } else { "\x1b[0m" };
                let _ = writeln!(out, "{color}{line}{reset}");
            }
        }
        let _ = out.flush();
    }
}

fn ansi_for(entry: &Entry) -> &'static str {
    match &entry.kind {
        EntryKind::Reply(r) => match r.class.verdict {
            Verdict::Success => "\x1b[32m",
            Verdict::Intermediate => "\x1b[36m",
            Verdict::Transient => "\x1b[33m",
            Verdict::Permanent => "\x1b[31m",
        },
        EntryKind::Warning { .. } => "\x1b[33m",
        EntryKind::Error { .. } => "\x1b[1;31m",
        EntryKind::Sent { .. } | EntryKind::Message { .. } => "\x1b[1m",
        _ => "\x1b[2m",
    }
}

/// What the flow needs besides the session.
struct Flow {
    ehlo: String,
    credentials: Option<Credentials>,
    mechanism: Mechanism,
    from: Option<String>,
    to: Vec<String>,
    message: Option<MessageSource>,
    quit_after: Option<QuitAfter>,
    keep_going: bool,
    lint: Vec<String>,
}

/// Runs `smtpscope run` and returns the exit code.
pub async fn run(args: &RunArgs) -> i32 {
    let flow = match prepare(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("smtpscope run: {e}");
            return exit::USAGE;
        }
    };
    let cfg = match args.target.session_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smtpscope run: {e}");
            return exit::USAGE;
        }
    };
    let color =
        !args.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = Arc::new(Mutex::new(Printer {
        json: args.json,
        color,
        opts: TextOptions {
            reveal_user: args.show_user,
            diagnoses: true,
        },
        out: std::io::stdout(),
    }));
    let sink_printer = printer.clone();
    let sink = Box::new(move |ev: Event| {
        if let (Event::Entry(entry), Ok(mut p)) = (ev, sink_printer.lock()) {
            p.print(&entry);
        }
    });
    let mut session = Session::new(cfg, sink);
    let failure = drive(&mut session, flow).await;
    session.close().await;
    let timeline = session.state().timeline.clone();
    let code = failure.map_or(exit::OK, |(phase, _)| exit_code(phase));
    let verdict = timeline.verdict();
    let summary = Summary {
        kind: "summary",
        verdict: &verdict,
        exit_code: code,
        failed_phase: failure.map(|f| f.0),
        failed_step: failure.and_then(|f| f.1),
    };
    if args.json {
        crate::outln!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        let phase = failure.map(|(p, _)| format!(" [{p}]")).unwrap_or_default();
        crate::outln!("=== Verdict: {verdict}{phase} (exit {code})");
    }
    code
}

fn prepare(args: &RunArgs) -> Result<Flow, CliError> {
    args.envelope.validate()?;
    let (credentials, warnings) = args.credentials.credentials_and_warnings()?;
    let stops_before = |step: QuitAfter| args.quit_after.is_some_and(|q| q < step);
    let needs_envelope = !stops_before(QuitAfter::Mail);
    if needs_envelope && args.envelope.from.is_none() {
        return Err(CliError::Usage(
            "MAIL FROM needs --from ADDRESS (or stop earlier with --quit-after)".into(),
        ));
    }
    if !stops_before(QuitAfter::Rcpt) && args.envelope.to.is_empty() {
        return Err(CliError::Usage(
            "RCPT TO needs at least one --to ADDRESS (or stop earlier with --quit-after)".into(),
        ));
    }
    if args.credentials.password_stdin && args.envelope.data.as_deref() == Some("-") {
        return Err(CliError::Usage(
            "--password-stdin and --data - cannot both read standard input".into(),
        ));
    }
    // Said at start (stderr), and again in the transcript just before AUTH.
    for w in &warnings {
        eprintln!("smtpscope run: warning: {}", escape_str(w));
    }
    let lint = warnings;
    let from = args.envelope.from.clone();
    let message = match args.envelope.data.as_deref() {
        Some("-") => Some(MessageSource::Stdin),
        Some(file) => {
            let path = PathBuf::from(file.trim_start_matches('@'));
            // Opened now so that a missing or unreadable file is a usage error before
            // connecting; it is streamed (not read whole) at DATA.
            if !path.is_file() || std::fs::File::open(&path).is_err() {
                return Err(CliError::Usage(format!(
                    "--data: {} is not a readable file",
                    path.display()
                )));
            }
            Some(MessageSource::File(path))
        }
        None => from
            .as_ref()
            .map(|f| MessageSource::Text(Draft::default_for(f, &args.envelope.to).render())),
    };
    Ok(Flow {
        ehlo: args.target.ehlo_name()?,
        credentials,
        mechanism: args
            .credentials
            .auth
            .mechanism()
            .unwrap_or(Mechanism::Plain),
        from,
        to: args.envelope.to.clone(),
        message,
        quit_after: args.quit_after,
        keep_going: args.keep_going,
        lint,
    })
}

/// The failure that decides the exit code: its phase and the step it stopped.
type Failure = Option<(Phase, Option<Step>)>;

/// How far along the flow a step is, on the `--quit-after` scale.
fn level(step: Step) -> QuitAfter {
    match step {
        Step::Connect => QuitAfter::Connect,
        Step::Ehlo => QuitAfter::Ehlo,
        Step::StartTls | Step::EhloTls => QuitAfter::Tls,
        Step::Auth => QuitAfter::Auth,
        Step::Mail => QuitAfter::Mail,
        Step::Rcpt => QuitAfter::Rcpt,
        Step::Data | Step::Dot | Step::Quit => QuitAfter::Data,
    }
}

/// Walks the standard flow; returns the first failure.
async fn drive(session: &mut Session, mut flow: Flow) -> Failure {
    let plan = Plan {
        tls_mode: session.config().tls_mode,
        auth: flow.credentials.is_some(),
        recipients: flow.to.len(),
    };
    let mut first_failure: Failure = None;
    let mut rcpt_index = 0;
    while let Some(step) = next_step(session.state(), &plan) {
        if step == Step::Quit {
            break;
        }
        if let Some(q) = flow.quit_after {
            let past = level(step) > q || (q == QuitAfter::Data && step == Step::Dot);
            if past {
                if step == Step::Dot {
                    // QUIT would be read as message text now; the only way out is to hang up.
                    session.info("--quit-after data: closing without sending a message");
                    session.close_now();
                }
                break;
            }
        }
        let outcome: Result<Option<Reply>, SessionError> = match step {
            Step::Connect => session.connect().await.map(Some),
            Step::Ehlo | Step::EhloTls => session
                .command(&Command::Ehlo(flow.ehlo.clone()))
                .await
                .map(Some),
            Step::StartTls => session.command(&Command::StartTls).await.map(Some),
            Step::Auth => match &flow.credentials {
                Some(c) => {
                    for w in flow.lint.drain(..) {
                        session.warn(w);
                    }
                    session.auth(flow.mechanism, c, true).await.map(Some)
                }
                None => Ok(None),
            },
            Step::Mail => {
                let from = flow.from.clone().unwrap_or_default();
                session
                    .command(&Command::Mail {
                        from,
                        params: vec![],
                    })
                    .await
                    .map(Some)
            }
            Step::Rcpt => {
                let to = flow.to.get(rcpt_index).cloned().unwrap_or_default();
                rcpt_index += 1;
                session
                    .command(&Command::Rcpt { to, params: vec![] })
                    .await
                    .map(Some)
            }
            Step::Data => session.command(&Command::Data).await.map(Some),
            Step::Dot => match flow.message.take() {
                Some(source) => session.send_message(source).await.map(|(r, _)| Some(r)),
                None => break,
            },
            Step::Quit => break,
        };
        let failed = match &outcome {
            Ok(Some(reply)) => (reply.code / 100 >= 4).then(|| session.state().phase),
            Ok(None) => None,
            Err(e) => Some(Some(e.phase())),
        };
        if let Some(phase) = failed {
            first_failure.get_or_insert((phase.unwrap_or(Phase::Service), Some(step)));
            if !flow.keep_going || outcome.is_err() || !session.is_connected() {
                break;
            }
        }
    }
    first_failure
}
