#![no_main]
//! The simulator's command-line parser on arbitrary bytes: never panics, and whatever it
//! accepts has a verb and re-parses to the same command when given again.
//!
//! The checks live in `fuzz/checks/sim_command_parser.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/sim_command_parser/` through them in every
//! test run.

#[path = "../checks/sim_command_parser.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
