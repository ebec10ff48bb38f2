//! smtpscope: an interactive SMTP session debugger for the terminal.
//!
//! The `engine` module tree holds the protocol, the SES knowledge and the simulator; it never
//! touches the terminal. The front ends (`run`, the TUI, `explain`, `replay`) sit beside it.

pub mod cli;
pub mod commands;
pub mod engine;
pub mod tui;
