//! `smtpscope exporter`: probes over HTTP for Prometheus, the way `blackbox_exporter` serves them.
//!
//! - `/probe?target=NAME` runs the named target of the configuration and returns its metrics;
//!   `/probe?module=M&target=HOST:PORT` applies a module to an address.
//! - `/metrics` holds the exporter's own metrics (probes run, failures, durations).
//!
//! Each probe's deadline is Prometheus's scrape timeout (`X-Prometheus-Scrape-Timeout-Seconds`)
//! minus a margin, capped by the configuration. Two scrapes of one target never run two
//! sessions at once unless the target allows it: the second waits, and takes the result the
//! first one produced meanwhile. The HTTP side is bounded: request head size and header count,
//! connections served at once, probes at once, time to send a request head.
//!
//! HTTP/1.1 is hyper's (a small, widely used server core on the tokio runtime smtpscope
//! already uses), not hand-written: request parsing is where servers go wrong.

pub(crate) mod config;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use config::{Config, ConfigError, Target};

use super::error::{CommandError, CommandResult};

use crate::engine::escape::escape_str;
use crate::engine::message::Draft;
use crate::engine::metrics::{self, ProbeMode, RenderOptions, Writer};
use crate::engine::runner::Values;
use crate::engine::session::{MessageSource, SessionConfig};
use crate::engine::transport::{TlsClient, TlsMode};

/// The default listen address (loopback: expose it on purpose, behind your own controls).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9125";
/// Taken off Prometheus's scrape timeout, so the answer arrives before Prometheus gives up.
const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);
/// The shortest deadline a probe gets, whatever the scrape timeout says.
const MIN_DEADLINE: Duration = Duration::from_millis(200);
/// Request line and headers together (hyper's smallest buffer).
const MAX_HEAD_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;
/// A client must send its whole request head within this time.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_CONNECTIONS: usize = 64;
const DEFAULT_MAX_PROBES: usize = 32;
/// Targets whose lock and latest result are kept; idle ones are forgotten beyond this.
const MAX_SLOTS: usize = 4096;
/// The longest target name or address taken from a query.
const MAX_TARGET_CHARS: usize = 512;
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// The configuration file: modules and targets (see the README's Monitoring section)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Address to listen on [default: the config's `listen`, else 127.0.0.1:9125]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Check the configuration, print its targets and exit
    #[arg(long)]
    pub check_config: bool,
}

/// Why the exporter could not start.
#[derive(Debug, Error)]
pub enum ExporterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--listen {addr:?} is not an address like 127.0.0.1:9125")]
    BadListen { addr: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl From<ExporterError> for CommandError {
    fn from(e: ExporterError) -> Self {
        match e {
            ExporterError::Listen { .. } => CommandError::environment(e),
            ExporterError::Config(_) | ExporterError::BadListen { .. } => CommandError::usage(e),
        }
    }
}

/// Runs `smtpscope exporter` until Ctrl-C or SIGTERM.
pub async fn run(args: &ExporterArgs) -> CommandResult {
    serve(args).await?;
    Ok(ExitCode::SUCCESS)
}

/// Counters for `/metrics`.
#[derive(Default)]
struct Stats {
    probes_ok: AtomicU64,
    probes_failed: AtomicU64,
    probes_reused: AtomicU64,
    probe_errors: AtomicU64,
    duration_micros: AtomicU64,
    in_flight: AtomicI64,
    requests_probe: AtomicU64,
    requests_metrics: AtomicU64,
    requests_other: AtomicU64,
}

/// One target's lock and its latest result, for scrapes that arrive while it runs.
#[derive(Default)]
struct Slot {
    lock: tokio::sync::Mutex<()>,
    /// The session settings and TLS client, built at the first probe (checking the CA file
    /// and loading the trusted roots once, not at every scrape).
    prepared: std::sync::OnceLock<(SessionConfig, Option<TlsClient>)>,
    /// (results produced so far, the latest body)
    last: Mutex<(u64, Option<Arc<String>>)>,
}

impl Slot {
    fn generation(&self) -> u64 {
        self.last.lock().map_or(0, |l| l.0)
    }

    fn latest(&self) -> Option<Arc<String>> {
        self.last.lock().ok().and_then(|l| l.1.clone())
    }

    fn store(&self, body: Arc<String>) {
        if let Ok(mut l) = self.last.lock() {
            l.0 += 1;
            l.1 = Some(body);
        }
    }
}

struct State {
    config: Config,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    probes: Semaphore,
    stats: Stats,
    started: std::time::SystemTime,
}

impl State {
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if slots.len() >= MAX_SLOTS && !slots.contains_key(key) {
            // Ad-hoc targets come from queries: forget the idle ones rather than grow.
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        slots.entry(key.to_string()).or_default().clone()
    }
}

async fn serve(args: &ExporterArgs) -> Result<(), ExporterError> {
    let config = Config::load(&args.config)?;
    if args.check_config {
        crate::outln!(
            "{}: {} target(s): {}",
            crate::engine::limited::shown(&config.file),
            config.targets.len(),
            config
                .targets
                .values()
                .map(|t| format!("{} ({})", escape_str(&t.name), t.mode.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    let listen = args
        .listen
        .clone()
        .or_else(|| config.exporter.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| ExporterError::BadListen { addr: listen })?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ExporterError::Listen { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let max_connections = config
        .exporter
        .max_connections
        .unwrap_or(DEFAULT_MAX_CONNECTIONS)
        .clamp(1, 10_000);
    let max_probes = config
        .exporter
        .max_concurrent_probes
        .unwrap_or(DEFAULT_MAX_PROBES)
        .clamp(1, 10_000);
    let state = Arc::new(State {
        config,
        slots: Mutex::new(HashMap::new()),
        probes: Semaphore::new(max_probes),
        stats: Stats::default(),
        started: std::time::SystemTime::now(),
    });
    crate::outln!("smtpscope exporter: listening on http://{local}");
    eprintln!(
        "smtpscope exporter: {} target(s) from {}; probes at http://{local}/probe?target=NAME",
        state.config.targets.len(),
        crate::engine::limited::shown(&state.config.file)
    );
    let connections = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    eprintln!("smtpscope exporter: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        let service = service_fn(move |req| handle(state.clone(), req));
        let mut builder = http1::Builder::new();
        builder
            .max_buf_size(MAX_HEAD_BYTES)
            .max_headers(MAX_HEADERS)
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(permit);
        });
    }
    drop(listener);
    eprintln!("smtpscope exporter: stopping; waiting for probes in progress");
    let wait = state.config.max_timeout() + Duration::from_secs(1);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(wait) => {
            eprintln!("smtpscope exporter: some connections did not finish in {} s; closing them", wait.as_secs());
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut s) = signal(SignalKind::terminate()) {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

type Reply = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn metrics_reply(body: &str) -> Reply {
    let mut r = text(StatusCode::OK, body.to_string());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    r
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let stats = &state.stats;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        stats.requests_other.fetch_add(1, Ordering::Relaxed);
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n"));
    }
    // A GET carries no body; one that does is not read (and the connection is closed).
    let has_body = req.headers().contains_key(hyper::header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        stats.requests_other.fetch_add(1, Ordering::Relaxed);
        let mut r = text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "a request body is not accepted\n",
        );
        r.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(r);
    }
    match req.uri().path() {
        "/probe" => {
            stats.requests_probe.fetch_add(1, Ordering::Relaxed);
            Ok(probe(&state, &req).await)
        }
        "/metrics" => {
            stats.requests_metrics.fetch_add(1, Ordering::Relaxed);
            Ok(metrics_reply(&self_metrics(&state)))
        }
        "/" => {
            stats.requests_other.fetch_add(1, Ordering::Relaxed);
            let names: Vec<String> = state
                .config
                .targets
                .keys()
                .map(|n| format!("  /probe?target={}\n", escape_str(n)))
                .collect();
            Ok(text(
                StatusCode::OK,
                format!(
                    "smtpscope exporter\n\nTargets:\n{}\nThe exporter's own metrics: /metrics\n",
                    names.concat()
                ),
            ))
        }
        _ => {
            stats.requests_other.fetch_add(1, Ordering::Relaxed);
            Ok(text(
                StatusCode::NOT_FOUND,
                "not found: try /probe?target=NAME or /metrics\n",
            ))
        }
    }
}

/// The deadline of one probe: the scrape timeout minus a margin, capped by the target's
/// `timeout_secs` and the configuration's `max_timeout_secs`.
fn deadline(scrape_timeout: Option<&HeaderValue>, target: &Target, max: Duration) -> Duration {
    let own = Duration::from_secs(target.target.timeout).min(max);
    let asked = scrape_timeout
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
    match asked {
        Some(a) => own.min(a.saturating_sub(TIMEOUT_MARGIN).max(MIN_DEADLINE)),
        None => own,
    }
}

async fn probe(state: &State, req: &Request<Incoming>) -> Reply {
    let params = query_params(req.uri().query().unwrap_or(""));
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(name) = get("target") else {
        return text(
            StatusCode::BAD_REQUEST,
            "the target parameter is missing: /probe?target=NAME\n",
        );
    };
    if name.chars().count() > MAX_TARGET_CHARS {
        return text(
            StatusCode::BAD_REQUEST,
            "the target parameter is too long\n",
        );
    }
    let target = match get("module") {
        Some(module) => match state.config.adhoc(module, name) {
            Ok(t) => t,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("{}\n", escape_str(&e))),
        },
        None => match state.config.targets.get(name) {
            Some(t) => t.clone(),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "no target {} in the configuration (or give module=M with target=HOST:PORT)\n",
                        escape_str(&format!("{name:?}"))
                    ),
                );
            }
        },
    };
    let key = match get("module") {
        Some(m) => format!("{m}\u{0}{name}"),
        None => name.to_string(),
    };
    let deadline = deadline(
        req.headers().get("x-prometheus-scrape-timeout-seconds"),
        &target,
        state.config.max_timeout(),
    );
    let started = Instant::now();
    let slot = state.slot(&key);
    let seen = slot.generation();
    let _guard = if target.concurrent {
        None
    } else {
        match tokio::time::timeout(deadline, slot.lock.lock()).await {
            Ok(g) => Some(g),
            Err(_) => {
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "another probe of this target is still running\n",
                );
            }
        }
    };
    if !target.concurrent
        && slot.generation() != seen
        && let Some(body) = slot.latest()
    {
        // A probe of this target finished while this scrape waited: its result is as fresh.
        state.stats.probes_reused.fetch_add(1, Ordering::Relaxed);
        return metrics_reply(&body);
    }
    let remaining = deadline.saturating_sub(started.elapsed()).max(MIN_DEADLINE);
    let Ok(_permit) = tokio::time::timeout(remaining, state.probes.acquire()).await else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many probes are running; try again later\n",
        );
    };
    let remaining = deadline.saturating_sub(started.elapsed()).max(MIN_DEADLINE);
    state.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let result = run_probe(&target, &slot, remaining).await;
    state.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    let (report, user) = match result {
        Ok(r) => r,
        Err(e) => {
            state.stats.probe_errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("smtpscope exporter: {}", escape_str(&e));
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}\n", escape_str(&e)),
            );
        }
    };
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    state
        .stats
        .duration_micros
        .fetch_add(micros, Ordering::Relaxed);
    let counter = if report.success {
        &state.stats.probes_ok
    } else {
        &state.stats.probes_failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    eprintln!(
        "smtpscope exporter: target {} ({}): {} in {:.3} s{}",
        escape_str(&target.name),
        target.mode.name(),
        report.outcome,
        report.duration,
        if report.success {
            String::new()
        } else {
            format!(": {}", escape_str(&report.verdict))
        }
    );
    let opts = RenderOptions {
        user_label: if target.label_user { user } else { None },
    };
    let body = Arc::new(metrics::render(&report, &opts));
    slot.store(body.clone());
    metrics_reply(&body)
}

/// Reads the secret, builds the session and runs the probe.
async fn run_probe(
    target: &Target,
    slot: &Slot,
    deadline: Duration,
) -> Result<(metrics::ProbeReport, Option<String>), String> {
    let (cfg, tls) = if let Some(p) = slot.prepared.get() {
        p.clone()
    } else {
        let cfg = target
            .target
            .session_config()
            .map_err(|e| format!("target {}: {e}", target.name))?;
        // Without TLS nothing is loaded; a client that cannot be built is left to the
        // session, which records why as a TLS failure of the probe.
        let tls = (cfg.tls_mode != TlsMode::None)
            .then(|| TlsClient::new(cfg.tls.clone()).ok())
            .flatten();
        slot.prepared.get_or_init(|| (cfg, tls)).clone()
    };
    let credentials = target.credentials().await.map_err(|e| e.to_string())?;
    let user = credentials.as_ref().map(|c| c.user.clone());
    let message = (target.mode == ProbeMode::Send).then(|| {
        let from = target.from.clone().unwrap_or_default();
        MessageSource::Text(Draft::default_for(&from, &target.to).render())
    });
    let values = Values {
        ehlo: target
            .target
            .ehlo_name()
            .map_err(|e| format!("target {}: {e}", target.name))?,
        credentials,
        mechanism: target.mechanism,
        from: target.from.clone(),
        to: target.to.clone(),
        message,
        auth_warnings: Vec::new(),
    };
    let report = crate::engine::probe::probe(cfg, values, target.mode, deadline, tls).await;
    Ok((report, user))
}

/// The exporter's own metrics.
fn self_metrics(state: &State) -> String {
    let s = &state.stats;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let mut w = Writer::new();
    w.family(
        "smtpscope_exporter_probes_total",
        "counter",
        "Probes run, by result (success: the probe reached its goal).",
    );
    w.sample(
        "smtpscope_exporter_probes_total",
        &[("result", "success")],
        load(&s.probes_ok),
    );
    w.sample(
        "smtpscope_exporter_probes_total",
        &[("result", "failure")],
        load(&s.probes_failed),
    );
    w.family(
        "smtpscope_exporter_probes_reused_total",
        "counter",
        "Scrapes answered with the result of a probe of the same target that finished while they waited.",
    );
    w.sample(
        "smtpscope_exporter_probes_reused_total",
        &[],
        load(&s.probes_reused),
    );
    w.family(
        "smtpscope_exporter_probe_errors_total",
        "counter",
        "Probes that could not start (a secret that could not be read, a bad target).",
    );
    w.sample(
        "smtpscope_exporter_probe_errors_total",
        &[],
        load(&s.probe_errors),
    );
    w.family(
        "smtpscope_exporter_probe_duration_seconds",
        "summary",
        "Time spent answering probe scrapes, waiting included.",
    );
    w.sample(
        "smtpscope_exporter_probe_duration_seconds_sum",
        &[],
        load(&s.duration_micros) / 1e6,
    );
    w.sample(
        "smtpscope_exporter_probe_duration_seconds_count",
        &[],
        load(&s.probes_ok) + load(&s.probes_failed),
    );
    w.family(
        "smtpscope_exporter_probes_in_flight",
        "gauge",
        "Probes running now.",
    );
    w.sample(
        "smtpscope_exporter_probes_in_flight",
        &[],
        s.in_flight.load(Ordering::Relaxed) as f64,
    );
    w.family(
        "smtpscope_exporter_http_requests_total",
        "counter",
        "HTTP requests, by path.",
    );
    for (path, n) in [
        ("/probe", &s.requests_probe),
        ("/metrics", &s.requests_metrics),
        ("other", &s.requests_other),
    ] {
        w.sample(
            "smtpscope_exporter_http_requests_total",
            &[("path", path)],
            load(n),
        );
    }
    w.family(
        "smtpscope_exporter_targets",
        "gauge",
        "Targets in the configuration.",
    );
    w.sample(
        "smtpscope_exporter_targets",
        &[],
        state.config.targets.len() as f64,
    );
    w.family(
        "process_start_time_seconds",
        "gauge",
        "When the exporter started, as a Unix time.",
    );
    w.sample(
        "process_start_time_seconds",
        &[],
        state
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs() as f64),
    );
    if let Some((rss, cpu)) = process_usage() {
        w.family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the exporter, in bytes.",
        );
        w.sample("process_resident_memory_bytes", &[], rss);
        w.family(
            "process_cpu_seconds_total",
            "counter",
            "CPU time the exporter used (user and system), in seconds.",
        );
        w.sample("process_cpu_seconds_total", &[], cpu);
    }
    w.finish()
}

/// Resident memory and CPU seconds from /proc (Linux; elsewhere nothing).
fn process_usage() -> Option<(f64, f64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every architecture it runs on today.
    Some((pages * 4096.0, ticks / 100.0))
}

/// `a=b&c=d` with `+` and `%XX` decoded (invalid UTF-8 replaced).
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(16)
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        assert_eq!(
            query_params("target=ses-tokyo&module=a%20b+c&x"),
            vec![
                ("target".into(), "ses-tokyo".into()),
                ("module".into(), "a b c".into()),
                ("x".into(), String::new()),
            ]
        );
        assert_eq!(decode("%5B%3A%3A1%5D%3A25"), "[::1]:25");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%0d%0a"), "\r\n");
    }

    #[test]
    fn the_deadline_follows_the_scrape_timeout() {
        let text = "[targets.t]\nmode = \"connect\"\nhost = \"127.0.0.1\"\ntimeout_secs = 20\n";
        let c = Config::parse(text, std::path::Path::new("x.toml"), false).unwrap();
        let t = &c.targets["t"];
        let max = Duration::from_secs(30);
        assert_eq!(deadline(None, t, max), Duration::from_secs(20));
        let h = HeaderValue::from_static("10");
        assert_eq!(deadline(Some(&h), t, max), Duration::from_millis(9500));
        let h = HeaderValue::from_static("0.1");
        assert_eq!(deadline(Some(&h), t, max), MIN_DEADLINE);
        let h = HeaderValue::from_static("nonsense");
        assert_eq!(
            deadline(Some(&h), t, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
