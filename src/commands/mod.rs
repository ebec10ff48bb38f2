//! Front ends of the one-shot subcommands. Each exposes a clap `Args` struct and a
//! `run(&Args) -> i32` that prints its result and returns the process exit code.

pub mod password;
pub mod policy;
pub mod sim;
