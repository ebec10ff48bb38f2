//! The `smtpscope` binary: parse the command line and hand over to a front end.
//!
//! Temporary dispatch on the `iam` branch (the lead replaces this file): only the
//! `password` and `policy check` subcommands.

use clap::{Parser, Subcommand};
use smtpscope::commands::{password, policy};

#[derive(Parser, Debug)]
#[command(name = "smtpscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Derive the SES SMTP password from an AWS secret access key
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
        Command::Password(args) => password::run(args),
        Command::Policy(PolicyCommand::Check(args)) => policy::run(args),
    };
    std::process::exit(code);
}
