#![no_main]
//! The simulator's TOML configuration parser on arbitrary text (policy files resolve only to
//! the built-in demo policies: the base folder does not exist). Checks: no panic; parsing is
//! a pure function of the text; an accepted config has sane limits, and its `Debug` never
//! shows a user's secret access key.
//!
//! The checks live in `fuzz/checks/sim_config.rs`, shared with `tests/fuzz_seeds.rs`, which
//! replays `fuzz/seeds/sim_config/` through them in every test run.

#[path = "../checks/sim_config.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
