//! Every file and standard-input read is bounded: `/dev/zero`, a pipe of zeros and a 200 MB
//! file end in an error naming the input and its limit (exit 2), with the process's peak RSS
//! under 100 MiB. Files a flag names (--ca-file, --password-file) are checked before
//! connecting, and password warnings are given at start.

mod common;
mod sim_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{json_lines, text};

/// The bound on the peak resident set of a refused input.
const MAX_PEAK_KIB: u64 = 100 * 1024;

/// Where a child's standard input comes from.
enum Input<'a> {
    Null,
    File(&'a Path),
    /// A pipe fed with zeros until the child stops reading.
    Zeros,
}

/// Runs smtpscope and samples its `VmHWM` (peak RSS) from /proc while it runs. Returns the
/// output, the peak in KiB (0 when it ended before the first sample) and how long it ran.
fn run_measured(args: &[&str], input: Input<'_>) -> (Output, u64, Duration) {
    let started = std::time::Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args)
        .env_remove("SMTPSCOPE_PASSWORD")
        .env_remove("SMTPSCOPE_USER")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &input {
        Input::Null => cmd.stdin(Stdio::null()),
        Input::File(p) => cmd.stdin(std::fs::File::open(p).unwrap()),
        Input::Zeros => cmd.stdin(Stdio::piped()),
    };
    let mut child = cmd.spawn().expect("start smtpscope");
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            let zeros = vec![0u8; 64 * 1024];
            // Ends with EPIPE once the child stops reading or exits.
            while stdin.write_all(&zeros).is_ok() {}
        });
    }
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "smtpscope {args:?} did not stop"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    (child.wait_with_output().unwrap(), peak, started.elapsed())
}

/// A 200 MB sparse file.
fn big_file(dir: &Path) -> PathBuf {
    let path = dir.join("big.bin");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(200_000_000).unwrap();
    path
}

/// Asserts exit 2, the error text and the bounded peak; prints the figures for the record.
fn assert_refused(label: &str, args: &[&str], input: Input<'_>, says: &[&str]) {
    let (out, peak, took) = run_measured(args, input);
    let shown = text(&out);
    println!(
        "{label}: exit {:?}, peak RSS {peak} KiB, {} ms",
        out.status.code(),
        took.as_millis()
    );
    assert_eq!(out.status.code(), Some(2), "{label}: {shown}");
    for s in says {
        assert!(shown.contains(s), "{label}: expected {s:?} in {shown}");
    }
    // No sample at all only when it ended within milliseconds: too soon to have read much.
    assert!(
        peak > 0 || took < Duration::from_millis(200),
        "{label}: no RSS sample"
    );
    assert!(peak < MAX_PEAK_KIB, "{label}: peak RSS {peak} KiB");
    assert!(!shown.contains("Trying"), "{label}: connected: {shown}");
}

const RUN: &[&str] = &[
    "run",
    "--host",
    "127.0.0.1",
    "--port",
    "9",
    "--tls",
    "none",
    "--user",
    "AKIAEXAMPLEBOUNDED01",
    "--from",
    "a@example.com",
    "--to",
    "b@example.com",
    "--timeout",
    "2",
];

fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn password_stdin_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_file(dir.path());
    let args = with(RUN, &["--password-stdin"]);
    let says = ["the password (standard input) is larger than the limit of 64 KiB"];
    assert_refused(
        "--password-stdin </dev/zero",
        &args,
        Input::File(Path::new("/dev/zero")),
        &says,
    );
    assert_refused("--password-stdin <200MB", &args, Input::File(&big), &says);
    assert_refused("--password-stdin <pipe", &args, Input::Zeros, &says);
}

/// `run --data -` reads the message whole before connecting: capped like any other input.
#[test]
fn message_stdin_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_file(dir.path());
    let args = with(RUN, &["--auth", "none", "--data", "-"]);
    let says = ["the message (standard input) is larger than the limit of 40 MiB"];
    assert_refused(
        "--data - </dev/zero",
        &args,
        Input::File(Path::new("/dev/zero")),
        &says,
    );
    assert_refused("--data - <200MB", &args, Input::File(&big), &says);
    assert_refused("--data - <pipe", &args, Input::Zeros, &says);
}

/// `args` with `{}` replaced by `/dev/zero`, then by a 200 MB file: refused, bounded.
fn device_and_big(label: &str, args: &[&str], device_says: &str, big_says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let big = big_file(dir.path());
    for (path, says) in [
        ("/dev/zero", device_says),
        (big.to_str().unwrap(), big_says),
    ] {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "{}" { path } else { a })
            .collect();
        assert_refused(&format!("{label} {path}"), &args, Input::Null, &[says]);
    }
}

#[test]
fn password_file_is_capped_and_devices_refused() {
    device_and_big(
        "--password-file",
        &with(RUN, &["--password-file", "{}"]),
        "the password (/dev/zero) is a device, not a regular file",
        "is larger than the limit of 64 KiB",
    );
    // A pipe (`--password-file <(command)`) is read, with the cap.
    assert_refused(
        "--password-file pipe",
        &with(RUN, &["--password-file", "/dev/stdin"]),
        Input::Zeros,
        &["the password (/dev/stdin) is larger than the limit of 64 KiB"],
    );
}

#[test]
fn replay_is_capped() {
    device_and_big(
        "replay",
        &["replay", "{}"],
        "smtpscope replay: the saved transcript (/dev/zero) is a device",
        "is larger than the limit of 64 MiB",
    );
    assert_refused(
        "replay pipe",
        &["replay", "/dev/stdin"],
        Input::Zeros,
        &["/dev/stdin, line 1: longer than the limit of 4 MiB for one entry"],
    );
}

#[test]
fn policy_file_is_capped() {
    device_and_big(
        "policy check --policy",
        &[
            "policy",
            "check",
            "--policy",
            "{}",
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ],
        "the policy file (/dev/zero) is a device",
        "is larger than the limit of 1 MiB",
    );
}

#[test]
fn sim_config_is_capped() {
    device_and_big(
        "sim --config",
        &["sim", "--config", "{}", "--print-users"],
        "the simulator config (/dev/zero) is a device",
        "is larger than the limit of 1 MiB",
    );
}

#[test]
fn ca_file_is_read_and_checked_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_file(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let bad_cert = dir.path().join("bad.pem");
    std::fs::write(
        &bad_cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");
    let base = with(RUN, &["--auth", "none"]);
    for (label, path, says) in [
        (
            "--ca-file /dev/zero",
            Path::new("/dev/zero"),
            "is a device, not a regular file",
        ),
        (
            "--ca-file 200MB",
            big.as_path(),
            "is larger than the limit of 4 MiB",
        ),
        (
            "--ca-file garbage",
            garbage.as_path(),
            "no PEM certificate in it",
        ),
        (
            "--ca-file bad cert",
            bad_cert.as_path(),
            "not a usable CA certificate",
        ),
        ("--ca-file missing", missing.as_path(), "No such file"),
    ] {
        let args = with(&base, &["--ca-file", path.to_str().unwrap()]);
        assert_refused(label, &args, Input::Null, &[says]);
    }
}

#[test]
fn password_warnings_come_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // --password on argv: warned at once, even when AUTH is never reached.
    let args = with(
        RUN,
        &[
            "--password",
            "x-argv-secret-value",
            "--quit-after",
            "connect",
        ],
    );
    let out = common::smtpscope(&args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("smtpscope run: warning: --password puts the password in the process list"),
        "{err}"
    );
    assert!(!text(&out).contains("x-argv-secret-value"));
    // An empty password file: warned at start and in the transcript before AUTH.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(sim_support::start(sim_support::demo_config()));
    let port = sim.port().to_string();
    let (user, _) = sim.credentials("good");
    let out = common::smtpscope(
        &[
            "run",
            "--json",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            sim.ca.to_str().unwrap(),
            "--user",
            &user,
            "--password-file",
            empty.to_str().unwrap(),
            "--from",
            "sender@example.com",
            "--to",
            "rcpt@example.com",
            "--quit-after",
            "auth",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the password is empty: the --password-file is empty"),
        "{err}"
    );
    let lines = json_lines(&out);
    let warn = lines
        .iter()
        .position(|l| {
            l["type"] == "warning" && l["text"].as_str().unwrap().contains("password is empty")
        })
        .expect("a warning entry");
    let auth = lines
        .iter()
        .position(|l| l["type"] == "sent" && l["verb"] == "auth")
        .expect("AUTH was sent");
    assert!(warn < auth, "the warning comes before AUTH");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
}

#[test]
fn client_certificate_files_are_bounded_and_checked_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_file(dir.path());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_pem = dir.path().join("client.pem");
    let key_pem = dir.path().join("client.key");
    let garbage = dir.path().join("garbage.key");
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    std::fs::write(&garbage, "SECRET-BUT-NOT-A-KEY\n").unwrap();
    let zero = Path::new("/dev/zero");
    let base = with(RUN, &["--auth", "none"]);
    for (label, cert, key, says) in [
        ("--cert /dev/zero", zero, key_pem.as_path(), "is a device"),
        ("--key /dev/zero", cert_pem.as_path(), zero, "is a device"),
        (
            "--cert 200MB",
            big.as_path(),
            key_pem.as_path(),
            "larger than the limit of 1 MiB",
        ),
        (
            "--key 200MB",
            cert_pem.as_path(),
            big.as_path(),
            "larger than the limit of 64 KiB",
        ),
        (
            "--key garbage",
            cert_pem.as_path(),
            garbage.as_path(),
            "no PEM private key",
        ),
    ] {
        let args = with(
            &base,
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        assert_refused(label, &args, Input::Null, &[says]);
        let out = common::smtpscope(&args, &[]);
        assert!(!text(&out).contains("SECRET-BUT"), "{label}");
    }
}
