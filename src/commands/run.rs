//! `smtpscope run`: a whole session, headless, for scripts. It never prompts.
//!
//! The transcript streams to stdout as it happens (text like swaks, or JSON Lines). The
//! session model decides the outcome, and each outcome has one exit code, so a script can
//! tell authentication from authorization.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::error::{CommandResult, EXIT_USAGE};
use super::message_args::MessageArgs;
use crate::cli::{CliError, CredentialArgs, EnvelopeArgs, TargetArgs};
use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::classify::{Phase, Verdict};
use crate::engine::escape::escape_str;
use crate::engine::message::Draft;
use crate::engine::model::{Outcome, Step};
use crate::engine::runner::{Batch, Composer, Runner, StopAfter, Values};
use crate::engine::script::{MAX_SCRIPT_BYTES, Script};
use crate::engine::session::{Event, MessageSource, Session};
use crate::engine::transcript::{Entry, EntryKind, TextOptions, render_message_view, render_text};

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

impl QuitAfter {
    fn stop(self) -> StopAfter {
        match self {
            QuitAfter::Connect => StopAfter::Connect,
            QuitAfter::Ehlo => StopAfter::Ehlo,
            QuitAfter::Tls => StopAfter::Tls,
            QuitAfter::Auth => StopAfter::Auth,
            QuitAfter::Mail => StopAfter::Mail,
            QuitAfter::Rcpt => StopAfter::Rcpt,
            QuitAfter::Data => StopAfter::Data,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub envelope: EnvelopeArgs,
    #[command(flatten)]
    pub ext: super::ext_args::ExtArgs,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten)]
    pub profile: crate::cli::profile::ProfileArgs,
    /// Stop after this step, sending QUIT
    #[arg(long, value_enum, help_heading = "Flow")]
    pub quit_after: Option<QuitAfter>,
    /// Go on after a failed step to the next different one (e.g. MAIL after a 535, to see
    /// the 530 that follows); a failed step is never retried
    #[arg(long, help_heading = "Flow")]
    pub keep_going: bool,
    /// Run these steps instead of the standard flow, one per line (EHLO, HELO, STARTTLS,
    /// AUTH PLAIN, AUTH LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT, RAW <line>, RECONNECT;
    /// `-` reads standard input)
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Flow",
        conflicts_with = "quit_after"
    )]
    pub script: Option<PathBuf>,
    /// Print JSON Lines (one object per transcript entry, then a summary)
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Show the decoded user name in AUTH lines (the password is never shown)
    #[arg(long, help_heading = "Output")]
    pub show_user: bool,
    #[command(flatten)]
    pub aws: super::aws::RunAwsArgs,
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    verdict: &'a str,
    outcome: Outcome,
    exit_code: u8,
    messages_accepted: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_phase: Option<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_step: Option<Step>,
    /// The transcript entry (`seq`) that decided the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_by: Option<u64>,
    /// Who the server is, from its host name, greeting and EHLO (`engine::provider`), or
    /// "generic".
    provider: &'a str,
    /// Which signal named the provider: "host", "greeting" or "ehlo".
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_from: Option<crate::engine::provider::Signal>,
    /// `--aws-check`: the diagnosis of the failure from the AWS account (or why none).
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_check: Option<serde_json::Value>,
}

/// Prints entries as they come: text or JSON, with colour on a terminal.
struct Printer {
    json: bool,
    /// `--show-message`: the message as sent, in text and JSON.
    show_message: bool,
    color: bool,
    opts: TextOptions,
    out: std::io::Stdout,
}

impl Printer {
    fn print(&mut self, entry: &Entry) {
        let mut out = self.out.lock();
        if self.json {
            let line = match &entry.kind {
                EntryKind::Message { stats, view } if view.is_some() && !self.show_message => {
                    Entry {
                        kind: EntryKind::Message {
                            stats: stats.clone(),
                            view: None,
                        },
                        ..entry.clone()
                    }
                    .to_json()
                }
                _ => entry.to_json(),
            };
            let _ = writeln!(out, "{line}");
        } else {
            let view = if self.show_message {
                render_message_view(entry)
            } else {
                Vec::new()
            };
            for line in render_text(entry, self.opts) {
                let color = if self.color { ansi_for(entry) } else { "" };
                let reset = if color.is_empty() { "" } else { "\x1b[0m" };
                let _ = writeln!(out, "{color}{line}{reset}");
            }
            for line in view {
                let _ = writeln!(out, "{line}");
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

/// What a run does, once the flags are checked.
struct Prepared {
    values: Values,
    script: Option<Script>,
    batch: Batch,
    composer: Option<Composer>,
}

/// Runs `smtpscope run`: its exit code is the outcome's (see [`Outcome::exit_code`]).
pub async fn run(args: &RunArgs) -> CommandResult {
    // Where to connect is the most basic piece: said first when missing.
    let mut cfg = args.target.session_config()?;
    cfg.ext = args.ext.settings()?;
    args.aws.api.validate()?;
    let prepared = prepare(args)?;
    let color =
        !args.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = Arc::new(Mutex::new(Printer {
        json: args.json,
        show_message: args.message.show_message,
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
    let mut runner = Runner::new(prepared.values, args.keep_going).with_batch(prepared.batch);
    if let Some(composer) = prepared.composer {
        runner = runner.with_composer(composer);
    }
    let end = match &prepared.script {
        Some(script) => runner.script(&mut session, script).await,
        None => {
            runner
                .standard(&mut session, args.quit_after.map(QuitAfter::stop))
                .await
        }
    };
    session.close().await;
    let model = session.model();
    let outcome = model.outcome();
    let code = if end.local_error.is_some() {
        EXIT_USAGE
    } else {
        outcome.exit_code()
    };
    let verdict = match &end.local_error {
        Some(e) => format!("Stopped by a local problem: {e}"),
        None => model.verdict(),
    };
    let failure = model.failure.as_ref();
    let aws_check = super::aws::after_run(
        &args.aws,
        args.credentials.user.as_deref(),
        args.target.ses_region(),
        args.envelope.from.as_deref(),
        &args.envelope.to,
        outcome,
    )
    .await;
    if let (Some((lines, _)), false) = (&aws_check, args.json) {
        for line in lines {
            crate::outln!("=== {}", escape_str(line));
        }
    }
    let summary = Summary {
        kind: "summary",
        verdict: &verdict,
        outcome,
        exit_code: code,
        messages_accepted: model.messages_accepted,
        failed_phase: failure.map(|f| f.phase),
        failed_step: failure.and_then(|f| f.step),
        decided_by: failure.map(|f| f.seq),
        provider: crate::engine::provider::id_or_generic(model.provider()),
        provider_from: model.provider().map(|p| p.by),
        aws_check: aws_check.map(|(_, json)| json),
    };
    if args.json {
        crate::outln!(
            "{}",
            crate::engine::json::to_string(&summary).unwrap_or_default()
        );
    } else {
        let phase = failure
            .map(|f| format!(" [{}]", f.phase))
            .unwrap_or_default();
        crate::outln!(
            "=== Verdict: {}{phase} (outcome {outcome}, exit {code})",
            escape_str(&verdict)
        );
    }
    Ok(ExitCode::from(code))
}

fn prepare(args: &RunArgs) -> Result<Prepared, CliError> {
    args.envelope.validate()?;
    let script = match &args.script {
        Some(path) => Some(read_script(path)?),
        None => None,
    };
    // A script without AUTH needs no credentials, even when the environment holds some.
    let (credentials, warnings) = match &script {
        Some(s) if !s.needs_credentials() => (None, Vec::new()),
        _ => args.credentials.credentials_and_warnings()?,
    };
    let (needs_from, needs_to, needs_message) = if let Some(s) = &script {
        if s.needs_credentials() && credentials.is_none() {
            return Err(CliError::Usage(
                "the script has AUTH: give --user and a password (SMTPSCOPE_PASSWORD, --password-file or --password-stdin)".into(),
            ));
        }
        s.check_recipients(args.envelope.to.len())
            .map_err(|e| CliError::Usage(format!("--script: {e}")))?;
        (s.needs_from(), false, s.needs_message())
    } else {
        let stops_before = |step: QuitAfter| args.quit_after.is_some_and(|q| q < step);
        (
            !stops_before(QuitAfter::Mail),
            !stops_before(QuitAfter::Rcpt),
            true,
        )
    };
    if needs_from && args.envelope.from.is_none() {
        return Err(CliError::Usage(
            "MAIL FROM needs --from ADDRESS (or stop earlier with --quit-after)".into(),
        ));
    }
    if needs_to && args.envelope.to.is_empty() {
        return Err(CliError::Usage(
            "RCPT TO needs at least one --to ADDRESS (or stop earlier with --quit-after)".into(),
        ));
    }
    let stdin_users = [
        args.credentials.password_stdin,
        args.envelope.data.as_deref() == Some("-"),
        args.script.as_deref() == Some(std::path::Path::new("-")),
    ];
    if stdin_users.iter().filter(|u| **u).count() > 1 {
        return Err(CliError::Usage(
            "only one of --password-stdin, --data - and --script - can read standard input".into(),
        ));
    }
    // Said at start (stderr), and again in the transcript just before AUTH.
    for w in &warnings {
        eprintln!("smtpscope run: warning: {}", escape_str(w));
    }

    let message = match args.envelope.data.as_deref() {
        // Read last, once every other flag is checked: a usage error never waits for it.
        Some("-") => None,
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
        None if needs_message => Some(default_message(&args.envelope)),
        None => None,
    };
    let batch = args.message.batch()?;
    let composer: Option<Composer> = if args.message.composes() {
        let composition = args.message.composition(&args.envelope)?;
        Some(Box::new(move || {
            composition.render().map_err(|e| e.to_string())
        }))
    } else if args.envelope.data.is_none() && needs_message {
        // The default message, built afresh for each send: its own Date and Message-ID.
        let draft = Draft::default_for(
            args.envelope.from.as_deref().unwrap_or_default(),
            &args.envelope.to,
        );
        Some(Box::new(move || Ok(draft.render())))
    } else {
        None
    };
    let mut values = values(
        &args.target,
        &args.credentials,
        &args.envelope,
        credentials,
        message,
        warnings,
    )?;
    if args.envelope.data.as_deref() == Some("-") {
        values.message = Some(read_stdin_message()?);
    }
    Ok(Prepared {
        values,
        script,
        batch,
        composer,
    })
}

/// The runner's values from the shared target, credential and envelope flags: what `run` and
/// `probe` both send.
pub(crate) fn values(
    target: &TargetArgs,
    flags: &CredentialArgs,
    envelope: &EnvelopeArgs,
    credentials: Option<Credentials>,
    message: Option<MessageSource>,
    auth_warnings: Vec<String>,
) -> Result<Values, CliError> {
    Ok(Values {
        ehlo: target.ehlo_name()?,
        credentials,
        mechanism: flags.auth.mechanism().unwrap_or(Mechanism::Plain),
        from: envelope.from.clone(),
        to: envelope.to.clone(),
        message,
        auth_warnings,
    })
}

/// The generated test message, from the envelope's sender to its recipients.
pub(crate) fn default_message(envelope: &EnvelopeArgs) -> MessageSource {
    let sender = envelope.from.as_deref().unwrap_or_default();
    MessageSource::Text(Draft::default_for(sender, &envelope.to).render())
}

/// `--data -`: the message from standard input, read whole before connecting (bounded in
/// size and time) so that it is linted, measured for SIZE= and BODY=, and sent like a file.
fn read_stdin_message() -> Result<MessageSource, CliError> {
    use crate::engine::limited::{self, limit};
    let bytes = limited::read_capped_within(
        std::io::stdin(),
        "the message",
        "standard input",
        limit::MESSAGE_STDIN,
        limit::MESSAGE_STDIN_WAIT,
    )?;
    Ok(MessageSource::Bytes(bytes.into()))
}

/// Reads and parses `--script` (a file or `-` for standard input), bounded in size.
fn read_script(path: &std::path::Path) -> Result<Script, CliError> {
    use crate::engine::limited;
    let max = MAX_SCRIPT_BYTES as u64;
    let mut bytes = Vec::new();
    if path == std::path::Path::new("-") {
        limited::read_capped(
            std::io::stdin(),
            &mut bytes,
            "the script",
            "standard input",
            max,
        )?;
    } else {
        let file = limited::open(path, "the script", max)?;
        limited::read_capped(file, &mut bytes, "the script", &limited::shown(path), max)?;
    }
    Script::parse(&bytes)
        .map_err(|e| CliError::Usage(format!("--script {}: {e}", limited::shown(path))))
}
