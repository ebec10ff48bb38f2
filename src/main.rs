//! The `smtpscope` binary: parse the command line and hand over to a front end.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use smtpscope::cli::{CliError, CredentialArgs, EnvelopeArgs, TargetArgs};
use smtpscope::commands::{demo, explain, exporter, password, policy, probe, report, run, sim};
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
#[derive(Args, Debug)]
struct InteractiveArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// Connect at once instead of waiting for Enter or `c`
    #[arg(long)]
    connect: bool,
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
    /// IAM policy tools
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Evaluate identity policies for an SES SMTP send
    Check(Box<policy::PolicyCheckArgs>),
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        None => runtime().block_on(interactive(&cli.interactive)),
        Some(Command::Demo(args)) => runtime().block_on(demo::run(args)),
        Some(Command::Run(args)) => runtime().block_on(run::run(args)),
        Some(Command::Probe(args)) => runtime().block_on(probe::run(args)),
        Some(Command::Exporter(args)) => runtime().block_on(exporter::run(args)),
        Some(Command::Explain(args)) => explain::run(args),
        Some(Command::Replay { file }) => runtime().block_on(async {
            match tui::replay(file).await {
                Ok(()) => 0,
                Err(e) => {
                    report("smtpscope replay", &e);
                    2
                }
            }
        }),
        Some(Command::Sim(args)) => runtime().block_on(sim::run(args)),
        Some(Command::Password(args)) => password::run(args),
        Some(Command::Policy(PolicyCommand::Check(args))) => policy::run(args),
    };
    std::process::exit(code);
}

/// The interactive debugger on a live target.
async fn interactive(args: &InteractiveArgs) -> i32 {
    let launch = (|| {
        args.envelope.validate()?;
        if args.envelope.data.is_some() {
            return Err(CliError::Usage(
                "--data is for `smtpscope run`; the debugger composes the message in its DATA form"
                    .into(),
            ));
        }
        let config = args.target.session_config().map_err(|e| {
            CliError::Usage(format!(
                "{e}\n(or try `smtpscope demo` for the built-in SES simulator)"
            ))
        })?;
        let found = args.credentials.password()?;
        // Said now (seen after the debugger closes) and kept on the notes row, in view
        // before anything is sent.
        let warnings = args.credentials.warnings(found.as_ref());
        for w in &warnings {
            report("smtpscope: warning", w);
        }
        let password = found.map(|(p, _)| p);
        Ok::<_, CliError>(Launch {
            config,
            ehlo: args.target.ehlo_name()?,
            user: args.credentials.user.clone(),
            password,
            auth: args.credentials.auth,
            from: args.envelope.from.clone(),
            to: args.envelope.to.clone(),
            title: None,
            notes: warnings.iter().map(|w| format!("Warning: {w}")).collect(),
            autoconnect: args.connect,
        })
    })();
    let launch = match launch {
        Ok(l) => l,
        Err(e) => {
            report("smtpscope", &e);
            return 2;
        }
    };
    match tui::run(launch).await {
        Ok(()) => 0,
        Err(e) => {
            report("smtpscope: terminal", &e);
            1
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report("smtpscope: cannot start the async runtime", &e);
            std::process::exit(1);
        }
    }
}
