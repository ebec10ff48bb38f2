#![no_main]
//! The bounded reader of saved transcripts (`smtpscope replay FILE`) on arbitrary bytes, with
//! small limits picked by the first two bytes so the bounds themselves are exercised.
//! Checks: no panic; what it accepts fits the limits and renders safely; every error message
//! is escaped (it may quote the file) and short.
//!
//! The checks live in `fuzz/checks/replay_reader.rs`, shared with `tests/fuzz_seeds.rs`, which
//! replays `fuzz/seeds/replay_reader/` through them in every test run.

#[path = "../checks/replay_reader.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
