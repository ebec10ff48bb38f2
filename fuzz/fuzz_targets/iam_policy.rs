#![no_main]
//! IAM policy parsing and evaluation on arbitrary input.
//!
//! Input: `policy JSON` 0xFF `resource` \n `source IP` \n `From` \n `recipients` \n `epoch`.
//! Checks: no panic; evaluation is deterministic; attaching the same policy twice, or adding
//! a policy about another action, never changes the decision; the explanation names the
//! verdict.
//!
//! The checks live in `fuzz/checks/iam_policy.rs`, shared with
//! `tests/fuzz_seeds.rs`, which replays `fuzz/seeds/iam_policy/` through them in every
//! test run.

#[path = "../checks/iam_policy.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
