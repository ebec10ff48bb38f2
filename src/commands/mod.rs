//! The subcommands' front ends: each parses its own flags and returns an exit code.

pub mod demo;
pub mod explain;
pub mod password;
pub mod policy;
pub mod run;
pub mod sim;

/// `println!` for command output that does not panic when standard output is a closed pipe
/// (`smtpscope explain … | head`): the rest of the output has no reader and is dropped.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
