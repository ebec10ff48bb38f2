//! The protocol engine: everything that speaks, parses and judges SMTP.
//!
//! Nothing under this module knows about terminals; the TUI, `run`, the simulator and the
//! tests all drive it.

pub mod iam;
pub mod ses;
