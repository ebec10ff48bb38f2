//! Benchmark: one whole SMTP submission (STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) by
//! `smtpscope run`, by swaks and by a scripted `openssl s_client`, against the same independent
//! server (aiosmtpd), measured in the same run. Prints median wall time and peak RSS of each
//! client and smtpscope's ratios to the others.
//!
//! `cargo bench --bench session_vs_tools` (needs the set-up of `bash .ci/test`: swaks, openssl,
//! .venv with aiosmtpd). Under `cargo test` it only says how to run it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::{LeafSpec, make_pki, python, start_ses_peer};

/// AWS's documented example access key ID (from its IAM docs), not a real key.
const USER: &str = "AKIAIOSFODNN7EXAMPLE";
const PASSWORD: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";

/// Runs a command `n` times under Python's getrusage; returns (median seconds, max RSS KiB).
fn measure(label: &str, argv: &[String], stdin: Option<&str>, n: usize) -> (f64, u64) {
    measure_as(label, argv, stdin, n, PASSWORD)
}

/// [`measure`] with the password the client finds in `SMTPSCOPE_PASSWORD`.
fn measure_as(
    label: &str,
    argv: &[String],
    stdin: Option<&str>,
    n: usize,
    password: &str,
) -> (f64, u64) {
    let script = r"
import resource, subprocess, sys, time, json
argv = json.loads(sys.argv[1]); n = int(sys.argv[2]); data = sys.argv[3].encode() if len(sys.argv) > 3 else None
times = []
for _ in range(n):
    t = time.perf_counter()
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    times.append(time.perf_counter() - t)
    if p.returncode != 0:
        sys.stderr.write(p.stdout.decode('utf-8', 'replace')[-2000:]); sys.exit(p.returncode)
times.sort()
print(times[len(times)//2], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
";
    let mut cmd = Command::new(python());
    cmd.arg("-c")
        .arg(script)
        .arg(serde_json::to_string(argv).unwrap())
        .arg(n.to_string());
    if let Some(s) = stdin {
        cmd.arg(s);
    }
    cmd.env("SMTPSCOPE_PASSWORD", password).env("NO_COLOR", "1");
    let out = cmd.output().expect("python");
    assert!(
        out.status.success(),
        "{label} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("session_vs_tools: run with `cargo bench --bench session_vs_tools`");
        return;
    }
    let n: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let pki = make_pki(LeafSpec::default());
    let user = format!("{USER}:{PASSWORD}");
    let peer = start_ses_peer("127.0.0.1", "starttls", Some(&pki), &["--user", &user]);
    let port = peer.port.to_string();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let s = |v: &[&str]| {
        v.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    };

    let ours = s(&[
        env!("CARGO_BIN_EXE_smtpscope"),
        "run",
        "--host",
        "localhost",
        "--port",
        &port,
        "--ca-file",
        &ca,
        "--user",
        USER,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
    ]);
    let swaks = s(&[
        "swaks",
        "--server",
        &format!("localhost:{port}"),
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        &ca,
        "--auth",
        "PLAIN",
        "--auth-user",
        USER,
        "--auth-password",
        PASSWORD,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
    ]);
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    let openssl_script = format!(
        "EHLO bench\nAUTH PLAIN {blob}\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nDATA\nSubject: bench\n\nhello\n.\nQUIT\n"
    );
    let openssl = s(&[
        "openssl",
        "s_client",
        "-starttls",
        "smtp",
        "-connect",
        &format!("localhost:{port}"),
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-crlf",
        "-quiet",
        "-ign_eof",
    ]);

    println!("one STARTTLS + AUTH + send session against aiosmtpd on loopback, median of {n} runs");
    let (t_ours, m_ours) = measure("smtpscope", &ours, None, n);
    let (t_swaks, m_swaks) = measure("swaks", &swaks, None, n);
    let (t_ossl, m_ossl) = measure("openssl", &openssl, Some(&openssl_script), n);
    println!("{:<22}{:>12}{:>16}", "client", "median ms", "peak RSS KiB");
    for (name, t, m) in [
        ("smtpscope run", t_ours, m_ours),
        ("swaks", t_swaks, m_swaks),
        ("openssl s_client", t_ossl, m_ossl),
    ] {
        println!("{name:<22}{:>12.1}{m:>16}", t * 1000.0);
    }
    println!("time ratio smtpscope/swaks   = {:.2}", t_ours / t_swaks);
    println!("time ratio smtpscope/openssl = {:.2}", t_ours / t_ossl);
    println!(
        "RSS  ratio smtpscope/swaks   = {:.2}",
        m_ours as f64 / m_swaks as f64
    );
    println!(
        "RSS  ratio smtpscope/openssl = {:.2}",
        m_ours as f64 / m_ossl as f64
    );
    drop(peer);
    extensions(n);
}

/// Issue 15 §5: (a) a whole `--pipeline` session against Postfix next to `openssl s_client`
/// fed the same session in one go; (b) a 40 MB message with BDAT next to DATA: time, and
/// smtpscope's peak RSS (getrusage of the child), which must not grow with the message.
fn extensions(n: usize) {
    use common::postfix::{GOOD, PostfixOptions, PostfixPeer};
    let peer = PostfixPeer::start_with(&PostfixOptions {
        main_cf: vec![("message_size_limit".into(), "100000000".into())],
        ..PostfixOptions::default()
    });
    let port = peer.port.to_string();
    let ca = peer.ca_file.display().to_string();
    let base = |extra: &[&str]| {
        let mut v: Vec<String> = [
            env!("CARGO_BIN_EXE_smtpscope"),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--ca-file",
            &ca,
            "--user",
            GOOD.0,
            "--from",
            "a@example.com",
            "--to",
            "b@example.net",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        v.extend(extra.iter().map(std::string::ToString::to_string));
        v
    };
    use base64::Engine as _;
    let blob =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{}\0{}", GOOD.0, GOOD.1));
    let script = format!(
        "EHLO bench\nAUTH PLAIN {blob}\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.net>\nDATA\nSubject: bench\n\nhello\n.\nQUIT\n"
    );
    let openssl: Vec<String> = [
        "openssl",
        "s_client",
        "-starttls",
        "smtp",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-crlf",
        "-quiet",
        "-ign_eof",
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect();
    println!();
    println!("(a) STARTTLS + AUTH + send against Postfix on loopback, median of {n} runs");
    let (t_pipe, _) = measure_as(
        "smtpscope --pipeline",
        &base(&["--pipeline"]),
        None,
        n,
        GOOD.1,
    );
    let (t_plain, _) = measure_as("smtpscope", &base(&[]), None, n, GOOD.1);
    let (t_ossl, _) = measure_as("openssl", &openssl, Some(&script), n, GOOD.1);
    println!("{:<28}{:>12}", "client", "median ms");
    for (name, t) in [
        ("smtpscope run --pipeline", t_pipe),
        ("smtpscope run", t_plain),
        ("openssl s_client (pipelined)", t_ossl),
    ] {
        println!("{name:<28}{:>12.1}", t * 1000.0);
    }
    println!(
        "time ratio smtpscope --pipeline/openssl = {:.2}",
        t_pipe / t_ossl
    );
    println!(
        "time ratio smtpscope (no pipelining)/openssl = {:.2}",
        t_plain / t_ossl
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("40mb.eml");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        f.write_all(b"From: a@example.com\r\nTo: b@example.net\r\nSubject: 40 MB\r\n\r\n")
            .unwrap();
        let line = format!("{}\r\n", "0123456789".repeat(7));
        let mut written = 0;
        while written < 40_000_000 {
            f.write_all(line.as_bytes()).unwrap();
            written += line.len();
        }
    }
    let size = std::fs::metadata(&big).map_or(0, |m| m.len());
    let data = format!("@{}", big.display());
    let runs = n.clamp(1, 3);
    println!();
    println!(
        "(b) one {:.1} MB message to Postfix on loopback, median of {runs} runs",
        size as f64 / 1e6
    );
    let (t_bdat, m_bdat) = measure_as(
        "smtpscope --bdat",
        &base(&["--data", &data, "--bdat"]),
        None,
        runs,
        GOOD.1,
    );
    let (t_data, m_data) = measure_as(
        "smtpscope (DATA)",
        &base(&["--data", &data]),
        None,
        runs,
        GOOD.1,
    );
    println!(
        "{:<22}{:>12}{:>12}{:>16}",
        "transfer", "median ms", "MB/s", "peak RSS KiB"
    );
    for (name, t, m) in [("BDAT", t_bdat, m_bdat), ("DATA", t_data, m_data)] {
        println!(
            "{name:<22}{:>12.1}{:>12.1}{m:>16}",
            t * 1000.0,
            size as f64 / 1e6 / t
        );
    }
    println!("time ratio BDAT/DATA = {:.2}", t_bdat / t_data);
    println!(
        "peak RSS of smtpscope with BDAT: {m_bdat} KiB for a {} KiB message",
        size / 1024
    );
    drop(peer);
}
