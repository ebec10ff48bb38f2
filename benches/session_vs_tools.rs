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
    cmd.env("SMTPSCOPE_PASSWORD", PASSWORD).env("NO_COLOR", "1");
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
}
