//! Prometheus's own tools for the monitoring tests: `promtool` to check metrics and rules, and
//! a real `prometheus` server on loopback with a private data folder. Both come from Debian's
//! `prometheus` package (`bash .ci/test` installs it). A missing tool panics: it is a test
//! failure, never a skip.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A program of the `prometheus` package, from PATH.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("the monitoring tests need `{name}` on PATH: install Debian's prometheus package (`bash .ci/test` does)")
        })
}

/// `promtool ARGS`, with `stdin` fed to it.
pub fn promtool(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(tool("promtool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(stdin)
        .expect("feed promtool");
    child.wait_with_output().expect("promtool runs")
}

/// `promtool check metrics` on `text`; panics with promtool's complaint (lint findings too).
pub fn check_metrics(text: &str) {
    let out = promtool(&["check", "metrics"], text.as_bytes());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\non:\n{text}"
    );
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A child process killed (and reaped) on drop, whatever the test did.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Prometheus server on 127.0.0.1 with its configuration and data in `dir`.
pub struct Prometheus {
    pub port: u16,
    _child: Guard,
}

impl Prometheus {
    /// Starts `prometheus` with `config` (YAML) and waits until it says it is ready.
    pub fn start(dir: &Path, config: &str) -> Prometheus {
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            port,
            _child: Guard(child),
        };
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            if let Some((200, _)) = http_get(port, "/-/ready") {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 60 s; its log:\n{}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An instant query's result vector: (labels, value) per series.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let Some((200, body)) = http_get(self.port, &path) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| {
                        let value = s["value"][1]
                            .as_str()
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(f64::NAN);
                        (s["metric"].clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Percent-encodes a query parameter.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP/1.0 GET on loopback (so the answer is never chunked): (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_with(port, path, &[])
}

/// [`http_get`] with extra header lines.
pub fn http_get_with(port: u16, path: &str, headers: &[&str]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.take(16 * 1024 * 1024).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A running `smtpscope exporter`, killed on drop.
pub struct Exporter {
    pub port: u16,
    pub child: Guard,
    /// Its standard error so far is in this file.
    pub log: PathBuf,
}

impl Exporter {
    /// Starts `smtpscope exporter --config CONFIG --listen 127.0.0.1:0` with `env` added and
    /// waits for its "listening on" line.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Exporter {
        use std::io::BufRead as _;
        let log = config.with_extension("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
        cmd.arg("exporter")
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("SMTPSCOPE_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("exporter log"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = Guard(cmd.spawn().expect("start smtpscope exporter"));
        let stdout = child.0.stdout.take().expect("exporter stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "the exporter did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let port = line
            .rsplit_once(':')
            .and_then(|(_, p)| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Exporter { port, child, log }
    }

    /// What the exporter logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
