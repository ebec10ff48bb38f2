//! The terminal is handed back (main screen, cooked mode, echo) on a panic, SIGTERM, SIGINT
//! and SIGHUP. Runs the real debug binary in tmux; the panic comes from a test-only hook that
//! exists in debug builds only.

mod common;

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

/// Starts the debugger in tmux; returns the tmux handle and the debugger's pid file.
fn start(tag: &str, dir: &Path, env: &str) -> (Tmux, std::path::PathBuf) {
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let pid = dir.join("pid");
    let tmux = Tmux::new(tag);
    // The inner shell writes its pid and becomes smtpscope (exec), in the foreground.
    let inner = format!(
        "echo $$ > {}; exec env {env} {bin} --host 127.0.0.1 --port 9 --tls none",
        pid.display()
    );
    let command = format!(
        "sh -c '{inner}'; echo EXITED $?; stty -a | tr -s ' ;\\n' '\\n\\n\\n' | grep -x -e echo -e -echo -e icanon -e -icanon | tr '\\n' ' '; echo; sleep 30"
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        "-c",
        &dir.display().to_string(),
        &command,
    ]);
    (tmux, pid)
}

fn assert_restored(tmux: &Tmux, how: &str) {
    let screen = tmux.wait_for("EXITED");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tmux.alternate_on() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !tmux.alternate_on(),
        "{how}: still on the alternate screen\n{screen}"
    );
    let screen = tmux.wait_for("icanon");
    assert!(
        screen.contains("echo icanon") || screen.contains("icanon echo"),
        "{how}: terminal left raw:\n{screen}"
    );
    assert!(
        !screen.contains("-icanon") && !screen.contains("-echo"),
        "{how}: terminal left raw:\n{screen}"
    );
}

fn signal_case(name: &str, signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (tmux, pid) = start(name, dir.path(), "NO_COLOR=1");
    tmux.wait_for("Next: connect");
    assert!(
        tmux.alternate_on(),
        "the debugger should be on the alternate screen"
    );
    let pid = std::fs::read_to_string(&pid)
        .expect("pid file")
        .trim()
        .to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_restored(&tmux, name);
}

#[test]
fn restored_after_sigterm() {
    signal_case("term", "-TERM");
}

#[test]
fn restored_after_sigint() {
    signal_case("int", "-INT");
}

#[test]
fn restored_after_sighup() {
    signal_case("hup", "-HUP");
}

#[test]
fn restored_after_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (tmux, _) = start(
        "panic",
        dir.path(),
        "SMTPSCOPE_TEST_PANIC=1 RUST_BACKTRACE=0",
    );
    let screen = tmux.wait_for("EXITED");
    assert!(
        screen.contains("EXITED 101"),
        "a panic exits with 101:\n{screen}"
    );
    assert!(
        screen.contains("SMTPSCOPE_TEST_PANIC"),
        "the panic message must be readable on the main screen:\n{screen}"
    );
    assert_restored(&tmux, "panic");
}
