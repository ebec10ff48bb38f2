//! The subcommands' front ends: each parses its own flags and returns an exit code.

pub mod demo;
pub mod explain;
pub mod password;
pub mod policy;
pub mod run;
pub mod sim;
