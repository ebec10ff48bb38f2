//! The `smtpscope` binary: parse the command line and hand over to a front end.

// A panic is a bug in shipped code: errors are values, reported in plain words at the edge.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use smtpscope::cli::profile::ProfileArgs;
use smtpscope::cli::{CredentialArgs, EnvelopeArgs, TargetArgs};
use smtpscope::commands::error::{CommandError, CommandResult, finish};
use smtpscope::commands::{
    aws, demo, explain, exporter, oauth, password, policy, probe, report, run, sim, tls_scan,
};
use smtpscope::tui::{self, Launch};

#[derive(Parser, Debug)]
#[command(
    name = "smtpscope",
    version,
    about = "Interactive SMTP session debugger, with a built-in Amazon SES simulator",
    long_about = "Interactive SMTP session debugger for the terminal. Every reply is classified by \
                  phase, so a failed login (authentication: 535 at AUTH) is told apart from a \
                  refused send (authorization: 554 after the final \".\").\n\n\
                  Without a subcommand it opens the debugger on the target given by the options; \
                  `smtpscope demo` does so against the built-in SES simulator.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    interactive: InteractiveArgs,
}

/// The debugger's own options: the same target, credential and envelope flags as `run`.
#[derive(Args, Debug, Clone)]
struct InteractiveArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Connect at once instead of waiting for Enter or `c`
    #[arg(long)]
    connect: bool,
    #[command(flatten)]
    aws: aws::AwsApiArgs,
    /// The SMTP extension flags, as `run` takes them (the forms show their parameters)
    #[command(flatten)]
    ext: smtpscope::commands::ext_args::ExtArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The SES simulator on loopback and the debugger against it: authentication and
    /// authorization failures to step through
    Demo(demo::DemoArgs),
    /// Run a whole session headless (scripts, CI): transcript on stdout, exit code per outcome
    Run(Box<run::RunArgs>),
    /// One session, its result as Prometheus metrics on stdout (cron, textfile collector, CI)
    Probe(Box<probe::ProbeArgs>),
    /// Serve probes to Prometheus over HTTP (/probe?target=NAME, /metrics), from a config file
    Exporter(exporter::ExporterArgs),
    /// Classify one reply pasted from a log: phase, meaning, what to do
    Explain(explain::ExplainArgs),
    /// Open a saved session (.jsonl from the debugger's `w`, or `run --json`) read-only
    Replay {
        /// The saved transcript
        file: PathBuf,
    },
    /// The SES simulator alone, on loopback, for your own clients
    Sim(sim::SimArgs),
    /// Derive the SES SMTP password from an AWS secret access key (read from env or stdin)
    Password(password::PasswordArgs),
    /// Which of TLS 1.2 and 1.3 the server accepts, with the cipher suite and key exchange
    /// chosen for each (STARTTLS or implicit TLS, as the target flags say)
    TlsScan(Box<tls_scan::TlsScanArgs>),
    /// IAM policy tools
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// OAuth 2.0 access tokens for XOAUTH2/OAUTHBEARER: sign in once, then print fresh tokens
    #[command(subcommand)]
    Oauth(oauth::OauthCommand),
    /// Live AWS checks (reads IAM and SES with AWS API credentials)
    #[command(subcommand)]
    Aws(AwsCommand),
    /// Print a shell completion script, e.g. `smtpscope completions bash > /etc/bash_completion.d/smtpscope`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `smtpscope man | man -l -`
    Man,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Evaluate identity policies for an SES SMTP send
    Check(Box<policy::PolicyCheckArgs>),
}

#[derive(Subcommand, Debug)]
enum AwsCommand {
    /// Predict what SES will answer to a send: reads the access key's owner and status, its
    /// policies and permissions boundary, the From identity and the sandbox, and names the
    /// statement or setting that decides
    Diagnose(Box<aws::DiagnoseArgs>),
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let (name, result) = match &mut cli.command {
        None => ("smtpscope", block_on(interactive(&mut cli.interactive))),
        Some(Command::Demo(args)) => ("smtpscope demo", block_on(demo::run(args))),
        Some(Command::Run(args)) => ("smtpscope run", block_on_here(configured_run(args))),
        Some(Command::Probe(args)) => ("smtpscope probe", block_on_here(configured_probe(args))),
        Some(Command::Exporter(args)) => ("smtpscope exporter", block_on(exporter::run(args))),
        Some(Command::Completions { shell }) => ("smtpscope completions", completions(*shell)),
        Some(Command::Man) => ("smtpscope man", man_page()),
        Some(Command::Explain(args)) => ("smtpscope explain", explain::run(args)),
        Some(Command::Replay { file }) => ("smtpscope replay", block_on(replay(file))),
        Some(Command::Sim(args)) => ("smtpscope sim", block_on(sim::run(args))),
        Some(Command::TlsScan(args)) => ("smtpscope tls-scan", block_on(tls_scan::run(args))),
        Some(Command::Password(args)) => ("smtpscope password", password::run(args)),
        Some(Command::Policy(PolicyCommand::Check(args))) => {
            ("smtpscope policy check", policy::run(args))
        }
        Some(Command::Oauth(command)) => ("smtpscope oauth", block_on(oauth::run(command))),
        Some(Command::Aws(AwsCommand::Diagnose(args))) => {
            ("smtpscope aws diagnose", block_on(aws::diagnose(args)))
        }
    };
    finish(name, result)
}

/// Runs a command's future on a fresh multi-threaded runtime.
fn block_on(command: impl Future<Output = CommandResult>) -> CommandResult {
    start_runtime(tokio::runtime::Builder::new_multi_thread(), command)
}

/// Runs a command's future on a runtime that lives on this thread: for one session, whose
/// steps wait on each other. The thread that runs the session also polls its socket, so a
/// reply wakes it directly instead of through a worker thread, and no workers are started.
fn block_on_here(command: impl Future<Output = CommandResult>) -> CommandResult {
    start_runtime(tokio::runtime::Builder::new_current_thread(), command)
}

fn start_runtime(
    mut builder: tokio::runtime::Builder,
    command: impl Future<Output = CommandResult>,
) -> CommandResult {
    builder
        .enable_all()
        .build()
        .map_err(|e| CommandError::environment(e).context("cannot start the async runtime"))?
        .block_on(command)
}

async fn replay(file: &Path) -> CommandResult {
    tui::replay(file).await?;
    Ok(ExitCode::SUCCESS)
}

/// `run` after its configured target and AWS profile are applied (notes on stderr).
async fn configured_run(args: &mut run::RunArgs) -> CommandResult {
    let applied = args
        .profile
        .apply(
            &mut args.target,
            &mut args.credentials,
            &mut args.envelope,
            false,
        )
        .await?;
    for note in &applied.notes {
        report("smtpscope run", note);
    }
    run::run(args).await
}

/// `probe` after its configured target and AWS profile are applied (stdout stays metrics).
async fn configured_probe(args: &mut probe::ProbeArgs) -> CommandResult {
    args.profile
        .apply(
            &mut args.target,
            &mut args.credentials,
            &mut args.envelope,
            false,
        )
        .await?;
    probe::run(args).await
}

/// The interactive debugger on a live target; `T` in it leaves for the picker of the
/// configuration file's targets, and the chosen one opens next.
async fn interactive(args: &mut InteractiveArgs) -> CommandResult {
    loop {
        let Some(config) = interactive_once(args).await? else {
            return Ok(ExitCode::SUCCESS);
        };
        let names: Vec<String> = config.targets.keys().cloned().collect();
        let choices = config
            .targets
            .iter()
            .map(|(name, t)| {
                let place = t
                    .host
                    .clone()
                    .or_else(|| t.region.as_ref().map(|r| format!("SES {r}")))
                    .unwrap_or_default();
                (name.clone(), place)
            })
            .collect();
        let picked = tui::pick_target(choices)
            .await
            .map_err(|e| CommandError::environment(e).context("terminal"))?;
        let Some(name) = picked.and_then(|i| names.get(i).cloned()) else {
            return Ok(ExitCode::SUCCESS);
        };
        // The next target as if named alone on the command line, from the same file.
        let file = config.file.display().to_string();
        let cli = Cli::try_parse_from(["smtpscope", "--config", &file, "--target", &name])
            .map_err(|e| CommandError::usage(e.to_string()))?;
        *args = cli.interactive;
    }
}

/// One debugger session; the configuration when the user asked to switch targets.
async fn interactive_once(
    args: &mut InteractiveArgs,
) -> Result<Option<smtpscope::config::UserConfig>, CommandError> {
    let applied = args
        .profile
        .apply(
            &mut args.target,
            &mut args.credentials,
            &mut args.envelope,
            true,
        )
        .await?;
    args.envelope.validate()?;
    if args.envelope.data.is_some() {
        return Err(CommandError::usage(
            "--data is for `smtpscope run`; the debugger composes the message in its DATA form",
        ));
    }
    let mut config = args.target.session_config().map_err(|e| {
        CommandError::usage(format!(
            "{e}\n(or try `smtpscope demo` for the built-in SES simulator)"
        ))
    })?;
    config.ext = args.ext.settings()?;
    let found = args.credentials.password()?;
    // Said now (seen after the debugger closes) and kept on the notes row, in view before
    // anything is sent.
    let warnings = args.credentials.warnings(found.as_ref());
    for w in &warnings {
        report("smtpscope: warning", w);
    }
    let launch = Launch {
        config,
        ehlo: args.target.ehlo_name()?,
        user: args.credentials.user.clone(),
        password: found.map(|(p, _)| p),
        auth: args.credentials.auth,
        from: args.envelope.from.clone(),
        to: args.envelope.to.clone(),
        title: applied.target.as_ref().map(|t| format!("target {t}")),
        notes: warnings
            .iter()
            .map(|w| format!("Warning: {w}"))
            .chain(applied.notes.iter().cloned())
            .collect(),
        autoconnect: args.connect,
    };
    let ui = applied
        .config
        .as_ref()
        .map(|c| c.ui.clone())
        .unwrap_or_default();
    let targets = applied
        .config
        .as_ref()
        .map(|c| c.targets.keys().cloned().collect())
        .unwrap_or_default();
    args.aws.validate()?;
    let switch = tui::run_configured(launch, ui, targets, args.aws.aws_profile.clone())
        .await
        .map_err(|e| CommandError::environment(e).context("terminal"))?;
    Ok(if switch { applied.config } else { None })
}

/// The completion script for `shell`, from the same definition as `--help`.
fn completions(shell: clap_complete::Shell) -> CommandResult {
    // Into memory first: clap_complete panics on a failed write (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "smtpscope", &mut script);
    print_bytes(without_hidden_password(&String::from_utf8_lossy(&script)).as_bytes())
}

/// The script without the hidden `--password` flag, which the generators list anyway: Tab
/// must never suggest putting a password on the command line.
fn without_hidden_password(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    for line in script.split_inclusive('\n') {
        let offers_it = line.contains("'--password=[")
            || line.contains(" -l password ")
            || line.contains("::new('--password',");
        if offers_it {
            continue;
        }
        // bash: one word in the `opts="…"` lists.
        if line.contains(" --password ") || line.trim_end().ends_with(" --password\"") {
            out.push_str(
                &line
                    .replace(" --password ", " ")
                    .replace(" --password\"", "\""),
            );
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The man page, in roff, from the same definition as `--help`.
fn man_page() -> CommandResult {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| CommandError::environment(e).context("cannot render the man page"))?;
    print_bytes(&page)
}

/// Writes generated text to standard output; a reader that went away (`| head`) is not an
/// error.
fn print_bytes(bytes: &[u8]) -> CommandResult {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CommandError::environment(e).context("cannot write to standard output"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
