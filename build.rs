//! Converts the TOML data every session reads (the reply catalogs, the fallback rules for
//! codes, the providers and the message lint's rules) to JSON in `OUT_DIR`. The TOML in
//! `assets/` stays the source people edit; the binary embeds the JSON because parsing it at
//! start-up takes a third of the time TOML does, and a run parses these files every time. A
//! TOML error fails the build and names the file; `engine::builtin_data`'s test checks that
//! each JSON says exactly what its TOML says.

use std::path::{Path, PathBuf};

/// The data files under `assets/`, besides every file in `assets/replies/`.
const FILES: &[&str] = &[
    "replies.toml",
    "replies-other.toml",
    "rfc-codes.toml",
    "providers.toml",
    "lint-rules.toml",
];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=assets/replies");
    let mut files: Vec<String> = FILES.iter().map(|f| (*f).to_string()).collect();
    let dir = std::fs::read_dir("assets/replies").expect("assets/replies is readable");
    for entry in dir {
        let name = entry.expect("assets/replies entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".toml") {
            files.push(format!("replies/{name}"));
        }
    }
    for file in files {
        convert(
            &Path::new("assets").join(&file),
            &out.join(format!("{file}.json")),
        );
    }
}

fn convert(src: &Path, dest: &Path) {
    println!("cargo::rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    let value: toml::Value = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", src.display()));
    if let Some(path) = first_datetime(&value, "") {
        // toml's dates have no JSON form the runtime would read back as a date.
        panic!(
            "{}: {path} is a TOML date; the data files hold none",
            src.display()
        );
    }
    let json = serde_json::to_string(&value).expect("TOML values convert to JSON");
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).expect("create the output directory");
    }
    std::fs::write(dest, json).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

fn first_datetime(value: &toml::Value, at: &str) -> Option<String> {
    match value {
        toml::Value::Datetime(_) => Some(at.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_datetime(v, &format!("{at}[{i}]"))),
        toml::Value::Table(table) => table
            .iter()
            .find_map(|(k, v)| first_datetime(v, &format!("{at}.{k}"))),
        _ => None,
    }
}
