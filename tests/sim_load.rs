//! The simulator under load and abuse: 500 concurrent full sessions, 1,000 concurrent
//! connections over a limit of 900, slow clients, clients that never QUIT, and pipelining
//! floods. The scenarios run one at a time (they share two cores) and print what they
//! measured (`cargo test --test sim_load -- --nocapture`).

mod sim_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sim_support::{TestSim, config_from, message, start};
use smtpscope::engine::auth::{Credentials, Mechanism};
use smtpscope::engine::command::Command;
use smtpscope::engine::session::{MessageSource, Session, SessionConfig};
use smtpscope::engine::transport::{TlsMode, TlsSettings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use zeroize::Zeroizing;

/// One scenario at a time: they share two cores and would disturb each other's figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A hang guard, not a speed check: a scenario still running after this is stuck. The times
/// the scenarios take are printed (`measured: …`), never asserted.
const HANG_GUARD: Duration = Duration::from_mins(1);

fn config(limits: &str) -> smtpscope::engine::sim::SimConfig {
    config_from(&format!(
        "verified_identities = [\"example.com\"]\n[limits]\n{limits}\n{}",
        sim_support::GOOD_USER_TOML
    ))
}

/// A full session with the engine: STARTTLS, AUTH, one message. `gate` holds every session
/// after AUTH until all are there, so they are truly open at the same time.
async fn full_session(
    sim_port: u16,
    ca: std::path::PathBuf,
    key: String,
    password: Zeroizing<String>,
    n: usize,
    gate: Arc<tokio::sync::Barrier>,
) -> Result<String, String> {
    let mut cfg = SessionConfig::new("127.0.0.1", sim_port, TlsMode::Starttls);
    cfg.tls = TlsSettings {
        ca_file: Some(ca),
        no_native_roots: true,
        ..TlsSettings::default()
    };
    cfg.reply_timeout = Duration::from_secs(25);
    cfg.connect_timeout = Duration::from_secs(25);
    let mut s = Session::new(cfg, Box::new(|_| {}));
    let check = |r: &smtpscope::engine::reply::Reply, code: u16, what: &str| {
        if r.code == code {
            Ok(())
        } else {
            Err(format!("session {n}: {what}: {} {}", r.code, r.text()))
        }
    };
    let e = |e: smtpscope::engine::session::SessionError| format!("session {n}: {e}");
    check(&s.connect().await.map_err(e)?, 220, "greeting")?;
    check(
        &s.command(&Command::Ehlo("load.example".into()))
            .await
            .map_err(e)?,
        250,
        "EHLO",
    )?;
    check(
        &s.command(&Command::StartTls).await.map_err(e)?,
        220,
        "STARTTLS",
    )?;
    check(
        &s.command(&Command::Ehlo("load.example".into()))
            .await
            .map_err(e)?,
        250,
        "EHLO",
    )?;
    let creds = Credentials::new(&key, password).map_err(|e| e.to_string())?;
    check(
        &s.auth(Mechanism::Plain, &creds, true).await.map_err(e)?,
        235,
        "AUTH",
    )?;
    gate.wait().await;
    let mail = Command::Mail {
        from: "load@example.com".into(),
        params: vec![],
    };
    check(&s.command(&mail).await.map_err(e)?, 250, "MAIL")?;
    let rcpt = Command::Rcpt {
        to: format!("r{n}@example.org"),
        params: vec![],
    };
    check(&s.command(&rcpt).await.map_err(e)?, 250, "RCPT")?;
    check(&s.command(&Command::Data).await.map_err(e)?, 354, "DATA")?;
    let body = message("load@example.com", "r@example.org", &format!("load-{n}"));
    let (reply, _) = s.send_message(MessageSource::Text(body)).await.map_err(e)?;
    check(&reply, 250, "end of data")?;
    check(&s.command(&Command::Quit).await.map_err(e)?, 221, "QUIT")?;
    Ok(reply.last_text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_full_sessions() {
    let _serial = SERIAL.lock().await;
    const N: usize = 500;
    let sim = start(config("max_connections = 1000")).await;
    let (key, password) = sim.credentials("good");
    let gate = Arc::new(tokio::sync::Barrier::new(N));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for n in 0..N {
        set.spawn(full_session(
            sim.port(),
            sim.ca.clone(),
            key.clone(),
            password.clone(),
            n,
            gate.clone(),
        ));
    }
    let mut errors = Vec::new();
    let all = tokio::time::timeout(HANG_GUARD, async {
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        all.is_ok(),
        "hung: sessions still running after {HANG_GUARD:?}"
    );
    assert!(
        errors.is_empty(),
        "{} failed, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(sim.sim.mailbox().total_accepted(), N as u64);
    let stats = sim.sim.stats();
    assert_eq!(stats.refused_busy, 0);
    assert_eq!(stats.served, N as u64);
    eprintln!(
        "measured: {N} concurrent sessions (STARTTLS + AUTH PLAIN + 1 message each, all open at once) in {:.2} s, 0 errors",
        elapsed.as_secs_f64()
    );
}

async fn first_line(stream: TcpStream) -> (String, BufReader<TcpStream>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut line)).await;
    (line.trim_end().to_string(), reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_connections_over_a_limit_of_900() {
    let _serial = SERIAL.lock().await;
    const N: usize = 1000;
    const LIMIT: usize = 900;
    let sim = start(config(&format!(
        "max_connections = {LIMIT}\nidle_timeout_secs = 30"
    )))
    .await;
    let port = sim.port();
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..N {
        set.spawn(async move {
            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            Ok::<_, std::io::Error>(first_line(stream).await)
        });
    }
    let mut greeted = Vec::new();
    let mut refused = 0;
    let mut other = Vec::new();
    while let Some(r) = set.join_next().await {
        let (line, reader) = r.unwrap().expect("connect");
        if line.starts_with("220 email-smtp.amazonaws.com ESMTP SimpleEmailService-") {
            greeted.push(reader);
        } else if line == "421 Too many concurrent SMTP connections" {
            refused += 1;
            // Then the server closes.
            let mut rest = String::new();
            let mut reader = reader;
            let n = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut rest))
                .await
                .expect("closed after 421")
                .unwrap_or(0);
            assert_eq!(n, 0, "nothing after 421: {rest:?}");
        } else {
            other.push(line);
        }
    }
    let elapsed = started.elapsed();
    assert!(
        other.is_empty(),
        "unexpected first lines: {:?}",
        &other[..other.len().min(5)]
    );
    assert_eq!(greeted.len(), LIMIT);
    assert_eq!(refused, N - LIMIT);
    let stats = sim.sim.stats();
    assert_eq!(stats.refused_busy, (N - LIMIT) as u64);
    assert_eq!(stats.active, LIMIT);
    eprintln!(
        "measured: {N} concurrent connections, limit {LIMIT}: {} greeted, {refused} got 421, in {:.2} s",
        greeted.len(),
        elapsed.as_secs_f64()
    );

    // The ones inside the limit are still served.
    for reader in greeted.iter_mut().take(20) {
        reader.get_mut().write_all(b"NOOP\r\n").await.unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "250 Ok\r\n");
    }
    drop(greeted);
    // Once they are gone, the simulator answers a normal session again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.sim.stats().active > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.sim.stats().active, 0);
    let (key, password) = sim.credentials("good");
    let gate = Arc::new(tokio::sync::Barrier::new(1));
    let reply = full_session(sim.port(), sim.ca.clone(), key, password, 0, gate)
        .await
        .expect("a normal session after the storm");
    assert!(reply.starts_with("Ok 0100"), "{reply}");
}

async fn read_reply_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    match tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await {
        Ok(Ok(_)) => line.trim_end().to_string(),
        _ => String::from("<nothing>"),
    }
}

async fn connect_greeted(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (line, reader) = first_line(stream).await;
    assert!(line.starts_with("220 "), "{line}");
    reader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_clients_that_never_quit() {
    let _serial = SERIAL.lock().await;
    let sim = start(config("idle_timeout_secs = 1\nmax_connections = 1000")).await;
    let port = sim.port();
    let started = Instant::now();

    // A slow but live client: one byte every 100 ms is never idle for a whole second.
    let slow = tokio::spawn(async move {
        let mut r = connect_greeted(port).await;
        for b in b"EHLO slow.example\r\n" {
            r.get_mut().write_all(&[*b]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut lines = Vec::new();
        loop {
            let l = read_reply_line(&mut r).await;
            let last = l.starts_with("250 ");
            lines.push(l);
            if last {
                break;
            }
        }
        lines
    });

    // 200 clients that stall mid-line, and 200 that finish a command and never QUIT.
    let mut set = JoinSet::new();
    for i in 0..400 {
        set.spawn(async move {
            let mut r = connect_greeted(port).await;
            if i % 2 == 0 {
                r.get_mut().write_all(b"EHLO half-a-li").await.unwrap();
            } else {
                r.get_mut().write_all(b"NOOP\r\n").await.unwrap();
                assert_eq!(read_reply_line(&mut r).await, "250 Ok");
            }
            let timeout_line = read_reply_line(&mut r).await;
            let after = read_reply_line(&mut r).await; // EOF: the server closed
            (timeout_line, after, Instant::now())
        });
    }
    // While they hang around, a normal session is served.
    let (key, password) = sim.credentials("good");
    let gate = Arc::new(tokio::sync::Barrier::new(1));
    full_session(port, sim.ca.clone(), key, password, 0, gate)
        .await
        .expect("normal session while 400 clients idle");

    let mut closed_at = Vec::new();
    while let Some(r) = set.join_next().await {
        let (line, after, at) = r.unwrap();
        assert_eq!(line, "451 4.4.2 Timeout waiting for data from client.");
        assert_eq!(after, "", "connection closed after the 451");
        closed_at.push(at.duration_since(started));
    }
    let slow_lines = slow.await.unwrap();
    assert_eq!(slow_lines.last().map(String::as_str), Some("250 Ok"));
    assert_eq!(slow_lines[0], "250-email-smtp.amazonaws.com");
    let latest = closed_at.iter().max().unwrap();
    let earliest = closed_at.iter().min().unwrap();
    assert!(*earliest >= Duration::from_millis(900), "{earliest:?}");
    let stats = sim.sim.stats();
    assert!(stats.timeouts >= 400, "{stats:?}");
    eprintln!(
        "measured: 400 idle clients (200 mid-line, 200 never QUIT) all got 451 4.4.2 between {:.2} s and {:.2} s (idle timeout 1 s); a 1.9 s byte-by-byte client was served",
        earliest.as_secs_f64(),
        latest.as_secs_f64()
    );
}

/// What the simulator may add to this process while a client floods it without reading:
/// per-connection buffers, not the flood (a few MiB reach it before TCP pushes back).
const FLOOD_RSS_CAP_KIB: u64 = 4 * 1024;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_floods() {
    let _serial = SERIAL.lock().await;
    let sim = start(config("idle_timeout_secs = 2")).await;
    let port = sim.port();

    // 10,000 NOOPs written without reading, then every reply read back.
    const N: usize = 10_000;
    let started = Instant::now();
    let mut r = connect_greeted(port).await;
    let flood = b"NOOP\r\n".repeat(N);
    tokio::time::timeout(Duration::from_secs(20), r.get_mut().write_all(&flood))
        .await
        .expect("the sim keeps reading")
        .unwrap();
    let mut replies = 0;
    let mut line = String::new();
    while replies < N {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(20), r.read_line(&mut line))
            .await
            .expect("replies keep coming")
            .unwrap();
        assert!(n > 0, "closed after {replies} replies");
        assert_eq!(line, "250 Ok\r\n");
        replies += 1;
    }
    r.get_mut().write_all(b"QUIT\r\n").await.unwrap();
    assert_eq!(read_reply_line(&mut r).await, "221 Bye");
    let flood_time = started.elapsed();

    // A client that floods and never reads: the sim stops reading when its replies back up
    // (TCP pushes back on the client), then gives up after the idle timeout. It never holds
    // the flood in memory: the process's RSS growth is bounded by FLOOD_RSS_CAP_KIB.
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let chunk = b"NOOP\r\n".repeat(10_000);
    let mut written = 0usize;
    let limit = 256 * 1024 * 1024;
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        while written < limit {
            match s.write_all(&chunk).await {
                Ok(()) => written += chunk.len(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
    .await;
    let stalled_after = started.elapsed();
    let rss_after = rss_kib();
    // A reset by the sim, or writes still pushed back, are both bounded outcomes.
    if let Ok(Ok(())) = outcome {
        panic!("the sim swallowed {written} bytes without the client reading");
    }
    assert!(written < 64 * 1024 * 1024, "{written} bytes accepted");
    let _ = s.read(&mut [0u8; 16]).await;
    drop(s);

    // Still up.
    let mut r = connect_greeted(port).await;
    r.get_mut().write_all(b"NOOP\r\n").await.unwrap();
    assert_eq!(read_reply_line(&mut r).await, "250 Ok");
    // The simulator runs in this process: its growth over the flood is this process's.
    let grew = rss_after
        .expect("VmRSS in /proc/self/status")
        .saturating_sub(rss_before.expect("VmRSS in /proc/self/status"));
    assert!(
        grew < FLOOD_RSS_CAP_KIB,
        "the process grew {grew} KiB while the simulator took {} KiB of a flood it could not answer",
        written / 1024
    );
    eprintln!(
        "measured: {N} pipelined NOOPs answered in {:.2} s; a never-reading flood was cut off after {} KiB in {:.2} s (process RSS grew {grew} KiB)",
        flood_time.as_secs_f64(),
        written / 1024,
        stalled_after.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_overlong_lines_never_take_it_down() {
    let _serial = SERIAL.lock().await;
    let sim: TestSim = start(config("idle_timeout_secs = 2")).await;
    let port = sim.port();
    let cases: [(&[u8], &str); 4] = [
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n",
            "500 Error: bad syntax",
        ),
        (&[b'A'; 5000], "501 Input line length is too long!"),
        (
            b"EHLO a\nMAIL FROM:<x@example.com>\r\n",
            "501 Syntax error at character position 6. CR and LF must be CRLF paired.  See RFC 2821 #2.7.1.",
        ),
        (b"\0\0\0\0\r\n", "500 Error: bad syntax"),
    ];
    for (input, expected) in cases {
        let mut r = connect_greeted(port).await;
        r.get_mut().write_all(input).await.unwrap();
        assert_eq!(read_reply_line(&mut r).await, expected);
    }
    let mut r = connect_greeted(port).await;
    r.get_mut().write_all(b"NOOP\r\n").await.unwrap();
    assert_eq!(read_reply_line(&mut r).await, "250 Ok");
}

/// One plain-text session: greeting, EHLO, QUIT. The first line read, or the whole exchange.
async fn quick_session(port: u16) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (greeting, mut r) = first_line(stream).await;
    if !greeting.starts_with("220 ") {
        return Err(greeting);
    }
    r.get_mut()
        .write_all(b"EHLO normal.example\r\n")
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match read_reply_line(&mut r).await {
            l if l.starts_with("250 ") => break,
            l if l.starts_with("250-") => {}
            l => return Err(l),
        }
    }
    r.get_mut()
        .write_all(b"QUIT\r\n")
        .await
        .map_err(|e| e.to_string())?;
    match read_reply_line(&mut r).await {
        l if l.starts_with("221") => Ok(()),
        l => Err(l),
    }
}

/// The slow client, a thousand times over: each byte resets the idle timer, so only
/// the per-line and per-session deadlines free the connection slots they hold. Half dribble
/// one byte of a command every 300 ms (the line deadline ends them), half send a whole NOOP
/// every 400 ms (the session deadline ends them). A normal client is served once they are
/// cut, with the deadlines small so the test stays short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_do_not_lock_out_a_normal_one() {
    let _serial = SERIAL.lock().await;
    let sim = start(config(
        "idle_timeout_secs = 1\nline_timeout_secs = 1\nsession_timeout_secs = 2.5\nmax_connections = 1000",
    ))
    .await;
    let port = sim.port();
    let started = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..1000 {
        set.spawn(async move {
            let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
                return;
            };
            let (_, mut r) = first_line(stream).await;
            for round in 0..100 {
                let ok = if i % 2 == 0 {
                    let b = b"EHLO slow.example\r\n"[round % 19];
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    r.get_mut().write_all(&[b]).await.is_ok()
                } else {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    r.get_mut().write_all(b"NOOP\r\n").await.is_ok()
                        && read_reply_line(&mut r).await == "250 Ok"
                };
                if !ok {
                    return;
                }
            }
        });
    }
    // All thousand hold a slot (or did): the limit is reached.
    let full = tokio::time::timeout(Duration::from_secs(20), async {
        while sim.sim.stats().served < 1000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(full.is_ok(), "the slow clients did not all connect");
    let first_try = quick_session(port).await;
    let mut served = None;
    for _ in 0..75 {
        if quick_session(port).await.is_ok() {
            served = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let served = served.expect("the normal client was locked out");
    assert!(served < Duration::from_secs(8), "{served:?}");
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    assert!(drained.is_ok(), "slow clients still connected");
    let stats = sim.sim.stats();
    assert!(stats.timeouts >= 1000, "{stats:?}");
    eprintln!(
        "measured: 1000 slow clients (500 byte-dribblers, 500 NOOP-pingers); first normal try: {first_try:?}; a normal session served after {:.2} s; {} deadline timeouts",
        served.as_secs_f64(),
        stats.timeouts
    );
}
