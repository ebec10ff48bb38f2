//! The simulator's network side: the STARTTLS and implicit-TLS listeners, the concurrency
//! limit, and one task per connection that shuttles bytes between the socket and its
//! [`Conversation`], with the idle timeout and bounded reads and writes.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::server::TlsStream;

use super::SimError;
use super::account::SimAccount;
use super::config::SimConfig;
use super::conversation::{Action, Conversation, IDLE_TIMEOUT_REPLY, TOO_MANY_CONNECTIONS_REPLY};
use super::mailbox::Mailbox;
use super::tls::{self, SimTls};
use crate::engine::iam::Authorization;

/// Bytes read from a socket at a time: what one `feed` can see, so it bounds the replies a
/// pipelining client can make the server hold at once.
const READ_CHUNK: usize = 8 * 1024;
/// Connections over the limit being told `421` at the same time, at most; beyond that they
/// are closed without a word.
const MAX_REFUSING: usize = 1024;
/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);
/// Events buffered for the front end; more are dropped rather than slowing connections.
const EVENT_BUFFER: usize = 4096;
const LISTEN_BACKLOG: u32 = 4096;

/// Something that happened, for the simulator's log. Never holds a secret; `text` is
/// escaped (no control or format characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub time: DateTime<Utc>,
    pub peer: SocketAddr,
    pub text: String,
    /// For the IAM check that refused a message: the decision as data (policy, statement,
    /// condition, the source IP). Its strings are the policy's own text, not escaped: a
    /// front end escapes what it shows.
    pub authorization: Option<Box<Authorization>>,
}

/// Counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Connections open now (within the limit).
    pub active: usize,
    /// Connections served (within the limit) since start.
    pub served: u64,
    /// Connections refused with `421 Too many concurrent SMTP connections`.
    pub refused_busy: u64,
    /// Connections closed with `451 4.4.2 Timeout waiting for data from client.`
    pub timeouts: u64,
    /// Failed TLS handshakes (STARTTLS or implicit).
    pub tls_failures: u64,
    /// Errors from `accept` (e.g. out of file descriptors).
    pub accept_errors: u64,
}

#[derive(Default)]
struct Counters {
    served: AtomicU64,
    refused_busy: AtomicU64,
    timeouts: AtomicU64,
    tls_failures: AtomicU64,
    accept_errors: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What every connection task shares.
struct Shared {
    account: Arc<SimAccount>,
    tls: SimTls,
    slots: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    counters: Counters,
    events: mpsc::Sender<SimEvent>,
}

impl Shared {
    fn event(&self, peer: SocketAddr, text: impl Into<String>) {
        self.event_with(peer, text, None);
    }

    fn event_with(
        &self,
        peer: SocketAddr,
        text: impl Into<String>,
        authorization: Option<Box<Authorization>>,
    ) {
        // Escaped here, once for every consumer: events quote policy text (a Sid), client
        // input and TLS errors, any of which may hold escape sequences.
        let text = crate::engine::escape::escape_str(&text.into());
        // A full buffer drops the event: logging must never hold up a connection.
        let _ = self.events.try_send(SimEvent {
            time: Utc::now(),
            peer,
            text,
            authorization,
        });
    }

    fn idle(&self) -> Duration {
        self.account.config.limits.idle_timeout
    }
}

/// A running simulator. Dropping it stops the listeners; [`RunningSim::shutdown`] also waits
/// for open connections to end.
pub struct RunningSim {
    pub starttls_addr: SocketAddr,
    pub implicit_addr: Option<SocketAddr>,
    /// The CA certificate clients must trust, in PEM.
    pub ca_pem: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    events: Option<mpsc::Receiver<SimEvent>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("starttls_addr", &self.starttls_addr)
            .field("implicit_addr", &self.implicit_addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, SimError> {
    let err = |source| SimError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(LISTEN_BACKLOG).map_err(err)
}

/// Starts the simulator: generates its certificates, binds the listeners (port 0 picks a
/// free port; see the `*_addr` fields) and serves until shut down.
pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
    let tls = tls::generate(&config.tls_names)?;
    let starttls = bind(config.listen.starttls)?;
    let implicit = match config.listen.implicit {
        Some(addr) => Some(bind(addr)?),
        None => None,
    };
    let local = |l: &TcpListener, addr: SocketAddr| {
        l.local_addr()
            .map_err(|source| SimError::Bind { addr, source })
    };
    let starttls_addr = local(&starttls, config.listen.starttls)?;
    let implicit_addr = match (&implicit, config.listen.implicit) {
        (Some(l), Some(addr)) => Some(local(l, addr)?),
        _ => None,
    };
    let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
    let max_connections = config.limits.max_connections;
    let shared = Arc::new(Shared {
        account: Arc::new(SimAccount::new(config)),
        tls,
        slots: Arc::new(Semaphore::new(max_connections)),
        refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        counters: Counters::default(),
        events: events_tx,
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut listeners = vec![tokio::spawn(accept_loop(
        starttls,
        false,
        shared.clone(),
        stop_rx.clone(),
    ))];
    if let Some(l) = implicit {
        listeners.push(tokio::spawn(accept_loop(l, true, shared.clone(), stop_rx)));
    }
    Ok(RunningSim {
        starttls_addr,
        implicit_addr,
        ca_pem: shared.tls.ca_pem.clone(),
        shared,
        stop,
        listeners,
        events: Some(events_rx),
    })
}

impl RunningSim {
    /// Writes the CA certificate (PEM) for clients' `--ca-file`, private (mode 0600) and by
    /// replacing, never following, whatever is at `path` (its default is in the shared /tmp).
    pub fn write_ca(&self, path: &Path) -> Result<(), SimError> {
        crate::engine::private::replace(path, self.ca_pem.as_bytes()).map_err(|source| {
            SimError::WriteCa {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// The messages accepted so far.
    pub fn mailbox(&self) -> &Mailbox {
        &self.shared.account.mailbox
    }

    /// The configuration being served.
    pub fn config(&self) -> &SimConfig {
        &self.shared.account.config
    }

    /// The event stream (connections, AUTH results, end-of-data verdicts); once.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<SimEvent>> {
        self.events.take()
    }

    pub fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        let max = self.shared.account.config.limits.max_connections;
        SimStats {
            active: max.saturating_sub(self.shared.slots.available_permits()),
            served: c.served.load(Ordering::Relaxed),
            refused_busy: c.refused_busy.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            tls_failures: c.tls_failures.load(Ordering::Relaxed),
            accept_errors: c.accept_errors.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, tells open connections to close, and waits (up to a few seconds)
    /// until they have.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for l in std::mem::take(&mut self.listeners) {
            let _ = l.await;
        }
        let max = self.shared.account.config.limits.max_connections;
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        let _ = timeout(Duration::from_secs(5), self.shared.slots.acquire_many(all)).await;
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    implicit: bool,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically EMFILE under a flood: back off instead of spinning.
                bump(&shared.counters.accept_errors);
                shared.event(
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    format!("accept failed: {e}"),
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if let Ok(permit) = shared.slots.clone().try_acquire_owned() {
            bump(&shared.counters.served);
            let shared = shared.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                serve(&shared, tcp, peer, implicit, stop).await;
                drop(permit);
            });
        } else {
            bump(&shared.counters.refused_busy);
            if let Ok(permit) = shared.refusing.clone().try_acquire_owned() {
                let shared = shared.clone();
                tokio::spawn(async move {
                    refuse(&shared, tcp, peer, implicit).await;
                    drop(permit);
                });
            }
        }
    }
}

/// The socket, before or after TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    /// Sends FIN (after TLS `close_notify`), then reads until the client closes too, so the
    /// last reply is not lost to a reset.
    async fn close(mut self) {
        let shut = match &mut self {
            Stream::Plain(s) => timeout(LINGER, s.shutdown()).await,
            Stream::Tls(s) => timeout(LINGER, s.shutdown()).await,
        };
        if shut.is_err() {
            return;
        }
        let mut sink = [0u8; 1024];
        let _ = timeout(LINGER, async {
            let mut drained = 0usize;
            while drained < 64 * 1024 {
                match self.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }
}

async fn handshake(shared: &Shared, tcp: TcpStream, peer: SocketAddr) -> Option<Stream> {
    match timeout(shared.idle(), shared.tls.acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(Stream::Tls(Box::new(s))),
        Ok(Err(e)) => {
            bump(&shared.counters.tls_failures);
            shared.event(peer, format!("TLS handshake failed: {e}"));
            None
        }
        Err(_) => {
            bump(&shared.counters.tls_failures);
            shared.event(peer, "TLS handshake timed out");
            None
        }
    }
}

async fn write_reply(shared: &Shared, stream: &mut Stream, bytes: &[u8]) -> bool {
    matches!(
        timeout(shared.idle(), stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// Over the limit: `421 Too many concurrent SMTP connections`, then close.
async fn refuse(shared: &Shared, tcp: TcpStream, peer: SocketAddr, implicit: bool) {
    shared.event(peer, "over the connection limit: 421");
    let stream = if implicit {
        match handshake(shared, tcp, peer).await {
            Some(s) => s,
            None => return,
        }
    } else {
        Stream::Plain(tcp)
    };
    let mut stream = stream;
    let line = format!("{TOO_MANY_CONNECTIONS_REPLY}\r\n");
    if write_reply(shared, &mut stream, line.as_bytes()).await {
        stream.close().await;
    }
}

/// The three clocks of a connection: idle (reset by every byte), the current line's deadline
/// (from its first byte) and the session's (from the greeting). SES closes slow connections
/// with the same `451 4.4.2 Timeout waiting for data from client.` whichever runs out.
struct Deadlines {
    idle: Duration,
    line_timeout: Duration,
    session_ends: Instant,
    line_ends: Option<Instant>,
}

impl Deadlines {
    fn new(limits: &super::config::Limits) -> Deadlines {
        Deadlines {
            idle: limits.idle_timeout,
            line_timeout: limits.line_timeout,
            session_ends: Instant::now() + limits.session_timeout,
            line_ends: None,
        }
    }

    /// How long the next read may wait, and which clock that is (for the log).
    fn next(&self, now: Instant) -> (Duration, &'static str) {
        let mut next = (self.idle, "idle");
        let session = self.session_ends.saturating_duration_since(now);
        if session < next.0 {
            next = (session, "session deadline");
        }
        if let Some(line) = self.line_ends.map(|t| t.saturating_duration_since(now))
            && line < next.0
        {
            next = (line, "command line deadline");
        }
        next
    }

    /// After bytes were fed: a line now pending starts its clock (unless it already had one).
    fn fed(&mut self, mid_line: bool, now: Instant) {
        self.line_ends = if mid_line {
            self.line_ends.or(Some(now + self.line_timeout))
        } else {
            None
        };
    }
}

async fn serve(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    implicit: bool,
    mut stop: watch::Receiver<bool>,
) {
    shared.event(
        peer,
        if implicit {
            "connected (implicit TLS)"
        } else {
            "connected (STARTTLS listener)"
        },
    );
    let mut stream = if implicit {
        match handshake(shared, tcp, peer).await {
            Some(s) => s,
            None => return,
        }
    } else {
        Stream::Plain(tcp)
    };
    let mut conv = Conversation::new(shared.account.clone(), peer, implicit);
    let greeting = format!("{}\r\n", conv.greeting());
    if !write_reply(shared, &mut stream, greeting.as_bytes()).await {
        return;
    }
    let mut buf = vec![0u8; READ_CHUNK];
    let mut clock = Deadlines::new(&shared.account.config.limits);
    loop {
        let (wait, why) = clock.next(Instant::now());
        let read = tokio::select! {
            r = timeout(wait, stream.read(&mut buf)) => r,
            _ = stop.changed() => {
                shared.event(peer, "simulator shutting down: closing");
                break;
            }
        };
        let n = match read {
            Err(_) => {
                bump(&shared.counters.timeouts);
                shared.event(peer, format!("{why}: {IDLE_TIMEOUT_REPLY}"));
                let line = format!("{IDLE_TIMEOUT_REPLY}\r\n");
                let _ = write_reply(shared, &mut stream, line.as_bytes()).await;
                break;
            }
            Ok(Ok(0) | Err(_)) => {
                shared.event(peer, "client closed the connection");
                return;
            }
            Ok(Ok(n)) => n,
        };
        let mut out = conv.feed(&buf[..n]);
        clock.fed(conv.mid_line(), Instant::now());
        for line in &out.log {
            shared.event(peer, line.clone());
        }
        // Before the reply goes out, so a front end has the decision by the time its 554 comes.
        if let Some(authorization) = out.authorization.take() {
            let summary = format!("IAM decision: {}", authorization.summary());
            shared.event_with(peer, summary, Some(authorization));
        }
        if !out.replies.is_empty() && !write_reply(shared, &mut stream, &out.wire()).await {
            shared.event(peer, "client stopped reading: closing");
            return;
        }
        for message in &out.accepted {
            match shared.account.mailbox.write_eml(message).await {
                Ok(Some(path)) => shared.event(peer, format!("wrote {}", path.display())),
                Ok(None) => {}
                Err(e) => shared.event(peer, format!("cannot write {}.eml: {e}", message.id)),
            }
        }
        match out.action {
            Action::Continue => {}
            Action::Close => break,
            Action::StartTls => {
                stream = match stream {
                    Stream::Plain(tcp) => match handshake(shared, tcp, peer).await {
                        Some(s) => s,
                        None => return,
                    },
                    tls @ Stream::Tls(_) => tls, // the conversation never asks twice
                };
                conv.tls_started();
                shared.event(peer, "STARTTLS: TLS started");
            }
        }
    }
    stream.close().await;
}
