#![no_main]
//! The reply parser on arbitrary bytes, fed whole and in arbitrary chunk splits.
//!
//! Checks: no panic; the buffer stays within the limits after every push; every reply is
//! well formed and within the limits; splitting the input never changes the outcome (up to
//! the first error, after which a session drops the connection); escaped lines print clean;
//! replies survive a JSON round trip.
//!
//! The checks live in `fuzz/checks/reply_parser.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/reply_parser/` through them in every
//! test run.

#[path = "../checks/reply_parser.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
