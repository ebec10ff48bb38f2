//! `smtpscope probe`: one session, its result as Prometheus metrics on stdout.
//!
//! For cron with `node_exporter`'s textfile collector, or CI. The session is `run`'s standard
//! flow, stopped where `--mode` says; the metrics come from its transcript
//! ([`crate::engine::metrics`]). Nothing else goes to stdout: the verdict of a failed probe
//! goes to stderr.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use thiserror::Error;

use super::error::{CommandError, CommandResult};
use crate::cli::{CliError, CredentialArgs, EnvelopeArgs, TargetArgs};
use crate::engine::escape::escape_str;
use crate::engine::metrics::{self, ProbeMode, RenderOptions};
use crate::engine::runner::Values;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub envelope: EnvelopeArgs,
    // The same extension flags as `run`: -4/-6 in every mode; the others shape MAIL, RCPT
    // and DATA, so only `--mode send` takes them (see `--mode`'s help).
    #[command(flatten)]
    pub ext: super::ext_args::ExtArgs,
    #[command(flatten)]
    pub profile: crate::cli::profile::ProfileArgs,
    /// How far to go: the greeting (connect), through TLS (tls), AUTH then QUIT (auth), or a
    /// whole message (send). Of the Extensions flags, -4/-6 apply in every mode; the others
    /// (--pipeline, --bdat, --dsn-*, --envid, --requiretls, --force-ext) only with send
    #[arg(long, value_enum, help_heading = "Probe")]
    pub mode: ProbeMode,
    /// Add the SMTP user name as a label (`smtp_probe_user_info`); it is left out by default
    #[arg(long, help_heading = "Probe")]
    pub label_user: bool,
}

/// Why a probe could not be run at all (exit code 2). A probe that ran and failed is not an
/// error: its metrics say so.
#[derive(Debug, Error)]
pub enum ProbeError {
    #[error(transparent)]
    Usage(#[from] CliError),
}

impl From<ProbeError> for CommandError {
    fn from(e: ProbeError) -> Self {
        CommandError::usage(e)
    }
}

/// Exit code of a probe that failed without a failing outcome (e.g. the deadline passed).
pub const EXIT_NOT_REACHED: u8 = 1;

/// Runs `smtpscope probe`: its exit code, or the error that kept it from running.
pub async fn run(args: &ProbeArgs) -> CommandResult {
    Ok(ExitCode::from(probe(args).await?))
}

/// The probe itself: prints the metrics and returns the exit code (0 when the probe reached
/// its goal, else the outcome's exit code as for `run`).
pub async fn probe(args: &ProbeArgs) -> Result<u8, ProbeError> {
    let (cfg, values, user) = prepare(args)?;
    let deadline = Duration::from_secs(args.target.timeout);
    let report = crate::engine::probe::probe(cfg, values, args.mode, deadline, None).await;
    let opts = RenderOptions {
        user_label: if args.label_user { user } else { None },
    };
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(metrics::render(&report, &opts).as_bytes());
        let _ = out.flush();
    }
    if report.success {
        return Ok(0);
    }
    eprintln!(
        "smtpscope probe: {} (outcome {})",
        escape_str(&report.verdict),
        report.outcome
    );
    Ok(if report.outcome.is_failure() {
        report.outcome.exit_code()
    } else {
        EXIT_NOT_REACHED
    })
}

type Prepared = (
    crate::engine::session::SessionConfig,
    Values,
    Option<String>,
);

fn prepare(args: &ProbeArgs) -> Result<Prepared, CliError> {
    args.envelope.validate()?;
    if args.envelope.data.is_some() {
        return Err(CliError::Usage(
            "--data is for `smtpscope run`; a probe sends a short generated test message".into(),
        ));
    }
    let mut cfg = args.target.session_config()?;
    let mode = args.mode;
    if mode != ProbeMode::Send
        && let Some(flag) = args.ext.message_flag()
    {
        return Err(CliError::Usage(format!(
            "{flag} shapes the message's MAIL, RCPT or DATA: it needs --mode send (only -4 and -6 apply to every mode)"
        )));
    }
    cfg.ext = args.ext.settings()?;
    let (credentials, warnings) = if mode.uses_auth() {
        args.credentials.credentials_and_warnings()?
    } else {
        (None, Vec::new())
    };
    if mode == ProbeMode::Auth && credentials.is_none() {
        return Err(CliError::Usage(
            "--mode auth needs credentials: --user and a password (not --auth none)".into(),
        ));
    }
    if mode == ProbeMode::Send && (args.envelope.from.is_none() || args.envelope.to.is_empty()) {
        return Err(CliError::Usage(
            "--mode send needs --from ADDRESS and --to ADDRESS (for SES, e.g. --to success@simulator.amazonses.com)".into(),
        ));
    }
    for w in &warnings {
        eprintln!("smtpscope probe: warning: {}", escape_str(w));
    }
    let message = (mode == ProbeMode::Send).then(|| super::run::default_message(&args.envelope));
    let user = credentials.as_ref().map(|c| c.user.clone());
    let values = super::run::values(
        &args.target,
        &args.credentials,
        &args.envelope,
        credentials,
        message,
        warnings,
    )?;
    Ok((cfg, values, user))
}
