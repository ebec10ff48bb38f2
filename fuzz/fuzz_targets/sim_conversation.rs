#![no_main]
//! The simulator's whole per-connection state machine on arbitrary client bytes, fed in
//! arbitrary chunks, inside and outside TLS: AUTH PLAIN/LOGIN decoding, envelope, DATA and the
//! policy checks after the final dot. It must never panic, every reply must be a well-formed
//! SMTP reply, and no reply may echo a configured user's SMTP password.
//!
//! The checks live in `fuzz/checks/sim_conversation.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/sim_conversation/` through them in every
//! test run.

#[path = "../checks/sim_conversation.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
