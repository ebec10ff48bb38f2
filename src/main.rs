//! The `smtpscope` binary: parse the command line and hand over to a front end.

use clap::{Parser, Subcommand};
use smtpscope::commands::{explain, password, policy, run, sim};

#[derive(Parser, Debug)]
#[command(
    name = "smtpscope",
    version,
    about = "Interactive SMTP session debugger, with a built-in Amazon SES simulator",
    long_about = "Interactive SMTP session debugger for the terminal. Every reply is classified by \
                  phase, so a failed login (authentication, 535 at AUTH) is told apart from a \
                  refused send (authorization, 554 after the final \".\")."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a whole session headless (scripts, CI): transcript on stdout, exit code per phase
    Run(Box<run::RunArgs>),
    /// Classify one reply pasted from a log: phase, meaning, what to do
    Explain(explain::ExplainArgs),
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
        Command::Run(args) => runtime().block_on(run::run(args)),
        Command::Explain(args) => explain::run(args),
        Command::Sim(args) => runtime().block_on(sim::run(args)),
        Command::Password(args) => password::run(args),
        Command::Policy(PolicyCommand::Check(args)) => policy::run(args),
    };
    std::process::exit(code);
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smtpscope: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}
