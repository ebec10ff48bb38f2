//! `smtpscope completions SHELL` and `smtpscope man`: generated from the same definition as
//! `--help`, checked with the real bash and the real `man`.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::smtpscope;

fn generated(args: &[&str]) -> String {
    let out = smtpscope(args, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What bash offers after `smtpscope <Tab>`, from the generated script.
fn bash_offers(script: &str, line: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtpscope.bash");
    std::fs::write(&path, script).unwrap();
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({words}); COMP_CWORD={}; COMP_LINE='{}'; \
         _smtpscope smtpscope '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        line.len() - 1,
        line.join(" "),
        line[line.len() - 1],
        line[line.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_the_subcommands_and_their_flags() {
    let script = generated(&["completions", "bash"]);
    let offered = bash_offers(&script, &["smtpscope", ""]);
    for sub in [
        "demo",
        "run",
        "explain",
        "probe",
        "exporter",
        "replay",
        "sim",
        "password",
        "policy",
        "completions",
        "man",
    ] {
        assert!(
            offered.iter().any(|o| o == sub),
            "{sub} not offered: {offered:?}"
        );
    }
    let run_flags = bash_offers(&script, &["smtpscope", "run", "--"]);
    for flag in [
        "--region",
        "--host",
        "--user",
        "--password-file",
        "--quit-after",
        "--json",
    ] {
        assert!(run_flags.iter().any(|o| o == flag), "{flag}: {run_flags:?}");
    }
    // The hidden argv password is never suggested.
    assert!(!offered.iter().any(|o| o == "--password"), "{offered:?}");
    assert!(
        !run_flags.iter().any(|o| o == "--password"),
        "{run_flags:?}"
    );
}

#[test]
fn every_shell_gets_a_script_that_hides_the_argv_password() {
    for (shell, offers_password) in [
        ("zsh", "'--password=["),
        ("fish", " -l password "),
        ("powershell", "::new('--password',"),
    ] {
        let script = generated(&["completions", shell]);
        assert!(script.contains("smtpscope"), "{shell}");
        assert!(script.contains("password-file"), "{shell}: flags missing");
        assert!(
            !script.contains(offers_password),
            "{shell} offers --password"
        );
    }
}

#[test]
fn the_man_page_renders_with_man() {
    let page = generated(&["man"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtpscope.1");
    std::fs::write(&path, &page).unwrap();
    let mut child = Command::new("man")
        .args(["-l", path.to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("man is installed (.ci/test installs man-db)");
    let _ = child.stdin.take().map(|mut s| s.flush());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "NAME",
        "SYNOPSIS",
        "smtpscope",
        "SUBCOMMANDS",
        "explain",
        "--region",
    ] {
        assert!(
            text.contains(part),
            "{part} missing from the rendered page:\n{text}"
        );
    }
}
