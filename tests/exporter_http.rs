//! `smtpscope exporter` over HTTP: one session per target at a time (a second scrape takes
//! the first one's result), the scrape timeout bounds a probe, requests are bounded, errors
//! are plain and escaped, configuration mistakes name file, line and key, and SIGTERM stops it.

use std::fmt::Write as _;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::prometheus::{Exporter, http_get, http_get_with};
use common::{smtpscope, text};

/// An SMTP server on loopback that greets after `delay` (never, for `None`) and answers
/// QUIT; it counts the connections it accepted.
struct SlowServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

fn slow_server(delay: Option<Duration>) -> SlowServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let Some(delay) = delay else {
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                };
                std::thread::sleep(delay);
                let _ = stream.write_all(b"220 slow.example ESMTP\r\n");
                let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
                while let Some(Ok(line)) = lines.next() {
                    if line.eq_ignore_ascii_case("QUIT") {
                        let _ = stream.write_all(b"221 bye\r\n");
                        return;
                    }
                    let _ = stream.write_all(b"502 not here\r\n");
                }
            });
        }
    });
    SlowServer { port, accepted }
}

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("exporter.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .and_then(|v| v.parse().ok())
    })
}

#[test]
fn two_scrapes_of_one_target_run_one_session() {
    let server = slow_server(Some(Duration::from_millis(800)));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[modules.slow]\nmode = \"connect\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 10\n\n\
             [targets.slow]\nmodule = \"slow\"\n\n\
             [targets.slow-concurrent]\nmodule = \"slow\"\nconcurrent = true\n",
            server.port
        ),
    );
    let exporter = Exporter::start(&config, &[]);
    let port = exporter.port;
    let scrape_twice = |target: &'static str| {
        let first = std::thread::spawn(move || http_get(port, &format!("/probe?target={target}")));
        std::thread::sleep(Duration::from_millis(200));
        let second = http_get(port, &format!("/probe?target={target}"));
        (first.join().unwrap(), second)
    };
    let (a, b) = scrape_twice("slow");
    for r in [&a, &b] {
        let (status, body) = r.as_ref().expect("an answer");
        assert_eq!(*status, 200, "{body}");
        assert_eq!(value(body, "probe_success"), Some(1.0), "{body}");
    }
    assert_eq!(a, b, "the second scrape takes the first one's result");
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        1,
        "{}",
        exporter.log()
    );
    let (_, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(
        value(&metrics, "smtpscope_exporter_probes_reused_total"),
        Some(1.0),
        "{metrics}"
    );
    common::prometheus::check_metrics(&metrics);

    // A target that allows it runs a session per scrape.
    let (a, b) = scrape_twice("slow-concurrent");
    assert!(a.is_some() && b.is_some());
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        3,
        "{}",
        exporter.log()
    );
}

#[test]
fn the_scrape_timeout_bounds_the_probe() {
    let server = slow_server(None);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[targets.silent]\nmode = \"connect\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 20\n",
            server.port
        ),
    );
    let exporter = Exporter::start(&config, &[]);
    // The target allows 20 s; Prometheus says it waits 4 s: the probe gets 3.5 s.
    let started = Instant::now();
    let (status, body) = http_get_with(
        exporter.port,
        "/probe?target=silent",
        &["X-Prometheus-Scrape-Timeout-Seconds: 4"],
    )
    .expect("an answer");
    let took = started.elapsed();
    println!("measured: a probe of a silent server under a 4 s scrape timeout took {took:?}");
    assert_eq!(status, 200, "{body}");
    // A hang guard far below the target's own 20 s, not a speed requirement.
    assert!(took < Duration::from_secs(12), "took {took:?}");
    // The session's own timeout ended it inside the probe's deadline.
    assert!(
        value(&body, "probe_duration_seconds").is_some_and(|d| d <= 3.5),
        "{body}"
    );
    assert_eq!(value(&body, "probe_success"), Some(0.0), "{body}");
    assert_eq!(
        value(&body, "smtp_probe_failed_phase{phase=\"connection\"}"),
        Some(1.0),
        "{body}"
    );
}

/// Sends raw bytes and returns the status code of the answer (0: closed without one).
fn raw_status(port: u16, request: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn requests_are_bounded_and_errors_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[targets.t]\nmode = \"connect\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n",
    );
    let exporter = Exporter::start(&config, &[]);
    let port = exporter.port;
    assert_eq!(
        raw_status(
            port,
            b"POST /probe?target=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ),
        405
    );
    assert_eq!(
        raw_status(
            port,
            b"GET /probe?target=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"
        ),
        413
    );
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let status = raw_status(port, huge.as_bytes());
    assert!(status == 431 || status == 0, "{status}");
    let mut many = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for i in 0..100 {
        let _ = write!(many, "X-H{i}: v\r\n");
    }
    many.push_str("\r\n");
    let status = raw_status(port, many.as_bytes());
    assert!(status == 431 || status == 0, "{status}");
    // Still serving after all that.
    assert_eq!(http_get(port, "/metrics").map(|(s, _)| s), Some(200));

    let (status, body) = http_get(port, "/probe").unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("target"), "{body}");
    let (status, body) = http_get(port, "/probe?target=%1b%5b2Jevil%0d%0a").unwrap();
    assert_eq!(status, 400);
    assert!(!body.contains('\u{1b}') && !body.contains('\r'), "{body:?}");
    assert!(
        body.contains("\\x1b") || body.contains("\\u{1b}"),
        "{body:?}"
    );
    let (status, body) = http_get(port, "/probe?module=nope&target=127.0.0.1:25").unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("no module"), "{body}");
    assert_eq!(http_get(port, "/nowhere").map(|(s, _)| s), Some(404));
    let (status, body) = http_get(port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("/probe?target=t"), "{body}");
}

#[test]
fn config_mistakes_name_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "[targets.ses-tokyo]\nmode = \"auth\"\nregion = \"ap-northeast-1\"\nuser = \"AKIAIOSFODNN7EXAMPLE\"\npassword = \"plaintext-secret-1234567\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let config = path.to_str().unwrap();
    let out = smtpscope(&["exporter", "--config", config, "--check-config"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("exporter.toml, line 5, key targets.ses-tokyo.password")
            && said.contains("chmod 600"),
        "{said}"
    );
    assert!(!said.contains("plaintext-secret"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = smtpscope(&["exporter", "--config", config, "--check-config"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(!text(&out).contains("plaintext-secret"));
    }
    let path = write_config(
        dir.path(),
        "[targets.x]\nmode = \"teleport\"\nhost = \"h\"\n",
    );
    let out = smtpscope(
        &[
            "exporter",
            "--config",
            path.to_str().unwrap(),
            "--check-config",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("exporter.toml, line 2, key targets.x.mode"),
        "{}",
        text(&out)
    );
}

#[test]
fn sigterm_stops_the_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[targets.t]\nmode = \"connect\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n",
    );
    let mut exporter = Exporter::start(&config, &[]);
    assert_eq!(
        http_get(exporter.port, "/metrics").map(|(s, _)| s),
        Some(200)
    );
    let pid = exporter.child.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = exporter.child.0.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "{}", exporter.log());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(exporter.log().contains("stopping"), "{}", exporter.log());
}
