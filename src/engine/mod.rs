//! The protocol engine: everything that speaks, parses and judges SMTP.
//!
//! Nothing under this module knows about terminals; the TUI, `run`, the simulator and the
//! tests all drive it.

pub mod auth;
pub mod classify;
pub mod command;
pub mod driver;
pub mod escape;
pub mod iam;
pub mod json;
pub mod limited;
pub mod message;
pub mod metrics;
pub mod model;
pub mod private;
pub mod probe;
pub mod reply;
pub mod runner;
pub mod saved;
pub mod script;
pub mod ses;
pub mod session;
pub mod sim;
pub mod transcript;
pub mod transport;
