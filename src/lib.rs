//! smtpscope: an interactive SMTP session debugger for the terminal.
//!
//! The `engine` module tree holds the protocol, the SES knowledge and the simulator; it never
//! touches the terminal. The front ends (`run`, the TUI, `explain`, `replay`) sit beside it.

// A panic is a bug in shipped code: errors are values, reported in plain words at the edge.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod tui;
