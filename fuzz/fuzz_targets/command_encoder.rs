#![no_main]
//! Command validation and encoding on arbitrary text: whatever is accepted is exactly one
//! line with no CR, LF or NUL before its CRLF, and clean text is never refused as raw input.
//!
//! The checks live in `fuzz/checks/command_encoder.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/command_encoder/` through them in every
//! test run.

#[path = "../checks/command_encoder.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
