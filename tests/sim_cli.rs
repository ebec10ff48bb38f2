//! `smtpscope sim` as a user runs it: a bad config names its line, `--print-users` shows
//! the demo passwords, and a started simulator answers, then stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn smtpscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smtpscope"))
}

#[test]
fn bad_config_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "region = \"us-east-1\"\n\n[limits]\nmax_conections = 5\n",
    )
    .unwrap();
    let out = smtpscope()
        .args(["sim", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml, line 4"), "{stderr}");
    assert!(stderr.contains("max_conections"), "{stderr}");
}

#[test]
fn non_loopback_listen_needs_allow_remote() {
    // Refused before binding anything: this test never listens beyond loopback.
    for args in [
        &["sim", "--listen", "0.0.0.0:0", "--listen-implicit", "off"][..],
        &[
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--listen-implicit",
            "[::]:0",
        ][..],
    ] {
        let out = smtpscope().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not a loopback address") && stderr.contains("--allow-remote"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing started: {:?}", out.stdout);
    }
    let out = smtpscope()
        .args(["sim", "--listen", "mail.example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("e.g. --listen 127.0.0.1:2587"), "{stderr}");
}

#[test]
fn print_users_shows_the_published_vector() {
    let out = smtpscope().args(["sim", "--print-users"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "good             AKIAIOSFODNN7EXAMPLE  BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("ip-restricted"));
    // The secrets themselves never appear.
    assert!(!stdout.contains("wJalrXUtnFEMI"), "{stdout}");
}

#[test]
fn runs_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = smtpscope()
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--listen-implicit",
            "off",
            "--write-ca",
            ca.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut port = None;
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
        if let Some(rest) = line.strip_prefix("STARTTLS listener: 127.0.0.1:") {
            port = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        }
        if line.starts_with("Ctrl-C stops it.") {
            break;
        }
    }
    let port = port.unwrap_or_else(|| panic!("no listener line in:\n{banner}"));
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(
        banner.contains(&format!("--ca-file {}", ca.display())),
        "{banner}"
    );

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"EHLO cli.example\r\nQUIT\r\n").unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert!(
        got.starts_with("220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-"),
        "{got}"
    );
    assert!(got.contains("250-STARTTLS\r\n"), "{got}");
    assert!(got.ends_with("221 Bye\r\n"), "{got}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("connected (STARTTLS listener)"), "{rest}");
    assert!(rest.contains("stopped: 1 connection(s) served"), "{rest}");
}

/// `demo --list` names every scenario, with the summaries in one column however long a name.
#[test]
fn demo_list_lines_the_summaries_up() {
    let out = smtpscope().args(["demo", "--list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 10, "{text}");
    for name in [
        "good",
        "wrong-password",
        "ip-restricted",
        "gmail-wrong-password",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{name} "))),
            "{name}: {text}"
        );
    }
    // Where each summary starts: after the name and its padding.
    let columns: std::collections::HashSet<usize> = lines
        .iter()
        .map(|l| {
            let name_end = l.find(' ').unwrap();
            name_end + l[name_end..].find(|c: char| c != ' ').unwrap()
        })
        .collect();
    assert_eq!(
        columns.len(),
        1,
        "summaries start at different columns:\n{text}"
    );
}
