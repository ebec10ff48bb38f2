#![no_main]
//! AUTH helpers on arbitrary input: the 334 challenge decoder, credential validation and the
//! PLAIN/LOGIN encoders, the redacted renderings and the secret scrubber.
//!
//! (A PLAIN blob *parser* belongs to the simulator; its target joins this crate with it.)
//!
//! The checks live in `fuzz/checks/auth_decoders.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/auth_decoders/` through them in every
//! test run.

#[path = "../checks/auth_decoders.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
