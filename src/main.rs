//! The `smtpscope` binary: parse the command line and hand over to a front end.
//!
//! Temporary dispatch on the `sim` branch (the lead replaces this file): `password`,
//! `policy check` and `sim`.

use clap::{Parser, Subcommand};
use smtpscope::commands::{password, policy, sim};

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
    /// Run the Amazon SES SMTP simulator on loopback (fake demo users built in)
    Sim(sim::SimArgs),
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
        Command::Sim(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(sim::run(args)),
            Err(e) => {
                eprintln!("smtpscope: cannot start the async runtime: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}
