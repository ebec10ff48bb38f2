//! Benchmark: one whole SMTP submission (STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) by
//! `smtpscope run`, by swaks and by a scripted `openssl s_client`, against the same independent
//! server (aiosmtpd), measured in the same run with the clients taking turns. Prints each
//! client's median wall time, its peak RSS (from one more run of it alone), and smtpscope's
//! ratios to the others; then the same against Postfix with `--pipeline`, and a 40 MB message
//! with BDAT against DATA.
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

/// One client to measure: its label, command line, standard input and the password it finds
/// in `SMTPSCOPE_PASSWORD`.
struct Client<'a> {
    label: &'a str,
    argv: Vec<String>,
    stdin: Option<String>,
    password: &'a str,
}

/// Runs each client `n` times, taking turns (one run of each, then the next round), so that a
/// change in the machine's load falls on all of them alike. Returns each one's median wall
/// time in seconds and peak RSS in KiB (from getrusage of its runs alone).
fn measure(clients: &[Client], n: usize) -> Vec<(f64, u64)> {
    let script = r"
import json, os, subprocess, sys, time
clients = json.loads(sys.argv[1]); n = int(sys.argv[2])
times = [[] for _ in clients]
for _ in range(n):
    for i, c in enumerate(clients):
        env = dict(os.environ, SMTPSCOPE_PASSWORD=c['password'], NO_COLOR='1')
        data = c['stdin'].encode() if c['stdin'] is not None else None
        t = time.perf_counter()
        p = subprocess.Popen(c['argv'], stdin=subprocess.PIPE if data else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        out, _ = p.communicate(data)
        times[i].append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.stderr.write(c['label'] + ': ' + out.decode('utf-8', 'replace')[-2000:]); sys.exit(1)
for t in times:
    t.sort()
print(json.dumps([t[len(t)//2] for t in times]))
";
    let spec: Vec<serde_json::Value> = clients
        .iter()
        .map(|c| {
            serde_json::json!({
                "label": c.label, "argv": c.argv, "stdin": c.stdin, "password": c.password
            })
        })
        .collect();
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(serde_json::to_string(&spec).unwrap())
        .arg(n.to_string())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "a client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let medians: Vec<f64> = serde_json::from_slice(&out.stdout).expect("medians");
    clients
        .iter()
        .zip(medians)
        .map(|(c, t)| (t, peak_rss(c)))
        .collect()
}

/// Peak RSS in KiB of one more run of `client`, from getrusage of that run alone.
fn peak_rss(client: &Client) -> u64 {
    let script = r"
import json, os, resource, subprocess, sys
c = json.loads(sys.argv[1])
env = dict(os.environ, SMTPSCOPE_PASSWORD=c['password'], NO_COLOR='1')
data = c['stdin'].encode() if c['stdin'] is not None else None
subprocess.run(c['argv'], input=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
";
    let spec = serde_json::json!({
        "argv": client.argv, "stdin": client.stdin, "password": client.password
    });
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(spec.to_string())
        .output()
        .expect("python");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// `openssl s_client` doing STARTTLS to `target`, verifying with `ca`, and the session it is
/// fed on standard input all at once: EHLO, AUTH PLAIN as `user`, one message to `to`, QUIT.
fn openssl_session(target: &str, ca: &str, user: (&str, &str), to: &str) -> (Vec<String>, String) {
    use base64::Engine as _;
    let blob =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{}\0{}", user.0, user.1));
    let script = format!(
        "EHLO bench\nAUTH PLAIN {blob}\nMAIL FROM:<a@example.com>\nRCPT TO:<{to}>\nDATA\nSubject: bench\n\nhello\n.\nQUIT\n"
    );
    let argv = [
        "openssl",
        "s_client",
        "-starttls",
        "smtp",
        "-connect",
        target,
        "-CAfile",
        ca,
        "-verify_return_error",
        "-crlf",
        "-quiet",
        "-ign_eof",
    ]
    .map(String::from)
    .to_vec();
    (argv, script)
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
    let (openssl, openssl_script) = openssl_session(
        &format!("localhost:{port}"),
        &ca,
        (USER, PASSWORD),
        "b@example.com",
    );

    println!("one STARTTLS + AUTH + send session against aiosmtpd on loopback, median of {n} runs");
    let m = measure(
        &[
            Client {
                label: "smtpscope",
                argv: ours,
                stdin: None,
                password: PASSWORD,
            },
            Client {
                label: "swaks",
                argv: swaks,
                stdin: None,
                password: PASSWORD,
            },
            Client {
                label: "openssl",
                argv: openssl,
                stdin: Some(openssl_script),
                password: PASSWORD,
            },
        ],
        n,
    );
    let [(t_ours, m_ours), (t_swaks, m_swaks), (t_ossl, m_ossl)] = m[..] else {
        unreachable!("three clients measured")
    };
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
    use common::postfix::{GOOD, PostfixPeer};
    let peer = PostfixPeer::with_main_cf(&[("message_size_limit", "100000000")]);
    let base = |extra: &[&str]| {
        let mut v = vec![env!("CARGO_BIN_EXE_smtpscope").to_string(), "run".into()];
        v.extend(peer.target_args());
        v.extend(
            [
                "--user",
                GOOD.0,
                "--from",
                "a@example.com",
                "--to",
                "b@example.net",
            ]
            .iter()
            .chain(extra)
            .map(std::string::ToString::to_string),
        );
        v
    };
    let (openssl, script) = openssl_session(
        &format!("127.0.0.1:{}", peer.port),
        &peer.ca_file.display().to_string(),
        GOOD,
        "b@example.net",
    );
    println!();
    println!("(a) STARTTLS + AUTH + send against Postfix on loopback, median of {n} runs");
    let m = measure(
        &[
            Client {
                label: "smtpscope --pipeline",
                argv: base(&["--pipeline"]),
                stdin: None,
                password: GOOD.1,
            },
            Client {
                label: "smtpscope",
                argv: base(&[]),
                stdin: None,
                password: GOOD.1,
            },
            Client {
                label: "openssl",
                argv: openssl,
                stdin: Some(script),
                password: GOOD.1,
            },
        ],
        n,
    );
    let [(t_pipe, _), (t_plain, _), (t_ossl, _)] = m[..] else {
        unreachable!("three clients measured")
    };
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
    let runs = n.clamp(1, 7);
    println!();
    println!(
        "(b) one {:.1} MB message to Postfix on loopback, median of {runs} runs",
        size as f64 / 1e6
    );
    let m = measure(
        &[
            Client {
                label: "smtpscope --bdat",
                argv: base(&["--data", &data, "--bdat"]),
                stdin: None,
                password: GOOD.1,
            },
            Client {
                label: "smtpscope (DATA)",
                argv: base(&["--data", &data]),
                stdin: None,
                password: GOOD.1,
            },
        ],
        runs,
    );
    let [(t_bdat, m_bdat), (t_data, m_data)] = m[..] else {
        unreachable!("two clients measured")
    };
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
