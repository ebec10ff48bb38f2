#![no_main]
//! DATA encoding on arbitrary bytes in arbitrary chunk splits.
//!
//! Checks: chunking never changes the output or the statistics; the wire form has CRLF line
//! endings only, no body line that is exactly ".", and ends in the terminator; unstuffing
//! the wire form gives back the input with its line endings normalised to CRLF.
//!
//! The checks live in `fuzz/checks/dot_stuffer.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/dot_stuffer/` through them in every
//! test run.

#[path = "../checks/dot_stuffer.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
