//! The fuzz targets' properties, checked on their committed seed corpora in every test run.
//!
//! Each cargo-fuzz target in `fuzz/fuzz_targets/` is a one-line wrapper around a `run`
//! function in `fuzz/checks/`; this test compiles the same files with the stable toolchain and
//! feeds them every file of `fuzz/seeds/<target>/`. (`.ci/test` also `cargo check`s the fuzz
//! crate itself, so the wrappers build too.) A crash the fuzzer finds becomes a regression
//! test by adding its input to the target's seeds.

#[path = "../fuzz/checks/auth_decoders.rs"]
mod auth_decoders;
#[path = "../fuzz/checks/command_encoder.rs"]
mod command_encoder;
#[path = "../fuzz/checks/dot_stuffer.rs"]
mod dot_stuffer;
#[path = "../fuzz/checks/iam_policy.rs"]
mod iam_policy;
#[path = "../fuzz/checks/replay_reader.rs"]
mod replay_reader;
#[path = "../fuzz/checks/reply_parser.rs"]
mod reply_parser;
#[path = "../fuzz/checks/sim_command_parser.rs"]
mod sim_command_parser;
#[path = "../fuzz/checks/sim_config.rs"]
mod sim_config;
#[path = "../fuzz/checks/sim_conversation.rs"]
mod sim_conversation;
#[path = "../fuzz/checks/transcript_replay.rs"]
mod transcript_replay;

use std::path::Path;

type Check = fn(&[u8]);

/// Every fuzz target and its check, by name.
const TARGETS: &[(&str, Check)] = &[
    ("auth_decoders", auth_decoders::run),
    ("command_encoder", command_encoder::run),
    ("dot_stuffer", dot_stuffer::run),
    ("iam_policy", iam_policy::run),
    ("replay_reader", replay_reader::run),
    ("reply_parser", reply_parser::run),
    ("sim_command_parser", sim_command_parser::run),
    ("sim_config", sim_config::run),
    ("sim_conversation", sim_conversation::run),
    ("transcript_replay", transcript_replay::run),
];

fn fuzz_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz"))
}

fn names_in(dir: &Path, strip: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(strip).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A target added to `fuzz/` without a check here, or without seeds, fails this test.
#[test]
fn every_fuzz_target_has_a_check_and_seeds() {
    let mut listed: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(names_in(&fuzz_dir().join("fuzz_targets"), ".rs"), listed);
    assert_eq!(names_in(&fuzz_dir().join("checks"), ".rs"), listed);
    assert_eq!(names_in(&fuzz_dir().join("seeds"), ""), listed);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &listed {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}

#[test]
fn every_seed_passes_its_targets_checks() {
    let mut replayed = 0;
    for (name, check) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{name}: seed {} fails its check",
                seed.display()
            );
            replayed += 1;
        }
    }
    println!(
        "replayed {replayed} seeds through {} fuzz targets' checks",
        TARGETS.len()
    );
}
