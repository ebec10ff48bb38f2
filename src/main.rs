//! The `smtpscope` binary: parse the command line and hand over to a front end.
//!
//! TEMPORARY dispatch on the `tui` branch, to try the debugger by hand; the lead's main.rs
//! replaces it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smtpscope::cli::{CredentialArgs, EnvelopeArgs, TargetArgs};
use smtpscope::tui::{self, Launch};

#[derive(Parser)]
#[command(name = "smtpscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// Connect at once
    #[arg(long)]
    connect: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Open a saved .jsonl transcript read-only
    Replay { file: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::Replay { file }) = cli.command {
        return match tui::replay(&file).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("smtpscope replay: {e}");
                ExitCode::from(2)
            }
        };
    }
    let setup = (|| {
        cli.envelope.validate()?;
        let config = cli.target.session_config()?;
        let ehlo = cli.target.ehlo_name()?;
        let password = cli.credentials.password()?.map(|(p, _)| p);
        Ok::<_, smtpscope::cli::CliError>((config, ehlo, password))
    })();
    let (config, ehlo, password) = match setup {
        Ok(v) => v,
        Err(e) => {
            eprintln!("smtpscope: {e}");
            return ExitCode::from(2);
        }
    };
    let launch = Launch {
        config,
        ehlo,
        user: cli.credentials.user.clone(),
        password,
        auth: cli.credentials.auth,
        from: cli.envelope.from.clone(),
        to: cli.envelope.to.clone(),
        title: None,
        notes: Vec::new(),
        autoconnect: cli.connect,
    };
    match tui::run(launch).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtpscope: {e}");
            ExitCode::FAILURE
        }
    }
}
