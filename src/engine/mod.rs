//! The protocol engine: everything that speaks, parses and judges SMTP.
//!
//! Nothing under this module knows about terminals; the TUI, `run`, the simulator and the
//! tests all drive it.

pub mod auth;
pub mod aws_profile;
pub(crate) mod builtin_data;
// Without the SDK nothing reads an account, so the diagnosis is built but not called.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) mod aws;
pub mod classify;
pub mod command;
pub mod compose;
pub(crate) mod driver;
pub mod escape;
pub mod ext;
pub mod iam;
pub(crate) mod json;
pub(crate) mod limited;
pub mod lint;
pub mod message;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod pasted;
pub(crate) mod phase_rules;
pub(crate) mod private;
pub(crate) mod probe;
pub mod provider;
pub mod reply;
pub mod runner;
pub mod saved;
pub mod script;
pub mod ses;
pub mod session;
pub mod sim;
pub mod tls;
pub mod transcript;
pub mod transport;
