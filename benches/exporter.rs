//! Benchmark: what `smtpscope exporter` costs. Probes per second against the built-in
//! simulator with 1, 10 and 50 targets scraped at once (each client scrapes its own target in
//! a loop), and the exporter's resident memory and CPU while idle between scrapes. When
//! Debian's `prometheus-blackbox-exporter` is installed, its documented `smtp_starttls` module
//! is measured the same way against the same simulator, for comparison with `mode = "tls"`
//! (the same work: greeting, EHLO, STARTTLS, EHLO, QUIT).
//!
//! `cargo bench --bench exporter` (needs Debian's prometheus package for nothing here, but
//! `prometheus-blackbox-exporter` for the comparison). Under `cargo test` it only says how.

use std::fmt::Write as _;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/sim_support/mod.rs"]
mod sim_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::prometheus::{Exporter, Guard, free_port, http_get};

const LOAD_SECS: u64 = 5;
const IDLE_SECS: u64 = 10;
const CONCURRENCY: [usize; 3] = [1, 10, 50];

/// Scrapes `path(i)` from `n` threads for `LOAD_SECS`; returns (probes/s, failed probes).
fn load(port: u16, n: usize, path: impl Fn(usize) -> String + Send + Sync + 'static) -> (f64, u64) {
    let path = Arc::new(path);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (path, stop, ok, bad) = (path.clone(), stop.clone(), ok.clone(), bad.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http_get(port, &path(i)) {
                        Some((200, body)) if body.contains("\nprobe_success 1\n") => {
                            ok.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => bad.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(LOAD_SECS));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let secs = started.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / secs,
        bad.load(Ordering::Relaxed),
    )
}

/// (resident KiB, CPU seconds used) of a process, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    (rss, ticks / 100.0)
}

/// Idle cost: RSS after the load settles, and CPU used over `IDLE_SECS` with nobody scraping.
fn idle(pid: u32) -> (u64, f64) {
    std::thread::sleep(Duration::from_secs(2));
    let (_, before) = usage(pid);
    std::thread::sleep(Duration::from_secs(IDLE_SECS));
    let (rss, after) = usage(pid);
    (rss, (after - before) / IDLE_SECS as f64 * 100.0)
}

fn report(
    label: &str,
    port: u16,
    pid: u32,
    path: impl Fn(usize) -> String + Send + Sync + Clone + 'static,
) {
    let (rss0, _) = usage(pid);
    for n in CONCURRENCY {
        let (rate, bad) = load(port, n, path.clone());
        println!("{label:<34} {n:>3} at once: {rate:>8.1} probes/s ({bad} failed)");
    }
    let (rss, cpu) = idle(pid);
    println!(
        "{label:<34} idle: RSS {rss0} KiB at start, {rss} KiB after the load; CPU {cpu:.2}% over {IDLE_SECS} s"
    );
}

fn exporter_config(dir: &Path, sim: &sim_support::TestSim, mode: &str) -> std::path::PathBuf {
    let (user, _) = sim.credentials("good");
    let mut text = format!(
        "[exporter]\nmax_concurrent_probes = 64\nmax_connections = 128\n\n\
         [modules.m]\nmode = \"{mode}\"\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\n\
         user = \"{user}\"\npassword_env = \"BENCH_PASSWORD\"\n\n",
        sim.port(),
        sim.ca.display()
    );
    for i in 0..50 {
        let _ = write!(text, "[targets.t{i}]\nmodule = \"m\"\n");
    }
    let path = dir.join(format!("exporter-{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("exporter: run with `cargo bench --bench exporter`");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(sim_support::start(sim_support::demo_config()));
    let dir = tempfile::tempdir().unwrap();
    let (_, password) = sim.credentials("good");
    println!(
        "exporter benchmark: {LOAD_SECS} s per load, each client scraping its own target in a loop; \
         the simulator runs in this process"
    );
    for mode in ["tls", "auth"] {
        let config = exporter_config(dir.path(), &sim, mode);
        let exporter = Exporter::start(&config, &[("BENCH_PASSWORD", password.as_str())]);
        let pid = exporter.child.0.id();
        report(
            &format!("smtpscope exporter, mode {mode}"),
            exporter.port,
            pid,
            |i| format!("/probe?target=t{i}"),
        );
    }

    let blackbox = "prometheus-blackbox-exporter";
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(blackbox).is_file());
    if !found {
        println!("{blackbox} not installed (apt install {blackbox}): no comparison");
        return;
    }
    // blackbox_exporter's documented smtp_starttls module, trusting the simulator's CA.
    let bb_config = dir.path().join("blackbox.yml");
    std::fs::write(
        &bb_config,
        format!(
            "modules:\n  smtp_starttls:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      tls_config:\n        ca_file: \"{}\"\n      query_response:\n        - expect: \"^220 ([^ ]+) ESMTP (.+)$\"\n        - send: \"EHLO prober\\r\"\n        - expect: \"^250-STARTTLS\"\n        - send: \"STARTTLS\\r\"\n        - expect: \"^220\"\n        - starttls: true\n        - send: \"EHLO prober\\r\"\n        - expect: \"^250-AUTH\"\n        - send: \"QUIT\\r\"\n",
            sim.ca.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(blackbox)
        .arg(format!("--config.file={}", bb_config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start blackbox exporter");
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(port, "/metrics").is_none() {
        assert!(Instant::now() < deadline, "blackbox exporter did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let target = format!("localhost:{}", sim.port());
    report(
        "blackbox_exporter, smtp_starttls",
        port,
        guard.0.id(),
        move |_| format!("/probe?module=smtp_starttls&target={target}"),
    );
}
