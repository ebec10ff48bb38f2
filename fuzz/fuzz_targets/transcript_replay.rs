#![no_main]
//! Saved transcripts (JSON Lines) are files a user may be handed: parse them, reclassify,
//! render. Checks: no panic; every rendered line is safe to print (no control or bidi
//! characters); an entry survives a JSON round trip.
//!
//! The checks live in `fuzz/checks/transcript_replay.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/transcript_replay/` through them in every
//! test run.

#[path = "../checks/transcript_replay.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
