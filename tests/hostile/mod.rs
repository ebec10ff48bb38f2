//! A scriptable fake SMTP server for hostile-server tests.
//!
//! A scenario is a list of [`Step`]s played against one client connection on 127.0.0.1 (or
//! [`::1`]), port 0. The server runs on its own thread with its own runtime, so the same script
//! drives the engine in-process and the `smtpscope` binary as a child process. Every script
//! runs under an overall guard, and [`Server::finish`] stops a stalled script, so no test can
//! hang on the server side.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Longest a script may run before the server gives up on it.
const GUARD: Duration = Duration::from_secs(90);
/// Longest command line the fake server reads (a DATA body is read line by line).
const MAX_LINE: usize = 1 << 20;

/// One action of the fake server.
pub enum Step {
    /// Writes bytes in one write.
    Send(Vec<u8>),
    /// Writes the same bytes this many times, as fast as the client takes them.
    Repeat(Vec<u8>, usize),
    /// Writes bytes one at a time, flushing and pausing after each.
    SendSlow(Vec<u8>, Duration),
    /// Reads one client line and checks it starts with this text (ASCII case-insensitive).
    Expect(&'static str),
    /// Reads one client line, whatever it is.
    ExpectAny,
    /// Sends this prefix followed by the last line the client sent, and CRLF: a server that
    /// echoes what it was given.
    Echo(&'static str),
    /// Reads a DATA body, up to and including the `.` line; the raw wire bytes are logged.
    ReadData,
    /// Reads and discards at least this many bytes (part of a message, say).
    ReadSome(usize),
    /// Runs the server side of a TLS handshake.
    StartTls(Arc<ServerConfig>),
    /// Writes this many bytes with no line ending, as fast as the client takes them.
    Flood(u64),
    /// Closes the connection cleanly (FIN).
    Close,
    /// Aborts the connection: `SO_LINGER` 0, then drop, so the client sees a reset (RST).
    Reset,
    Sleep(Duration),
    /// Holds the connection open without reading or writing until the test finishes.
    Stall,
    /// Reads and discards until the client closes.
    Drain,
}

/// `Send` of a text.
pub fn send(text: &str) -> Step {
    Step::Send(text.as_bytes().to_vec())
}

/// What the server saw and did.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Client lines read by `Expect`/`ExpectAny`, without CRLF, decoded lossily.
    pub lines: Vec<String>,
    /// DATA bodies as they arrived on the wire (still dot-stuffed, without the `.` line).
    pub data: Vec<Vec<u8>>,
    /// Bytes written by the server.
    pub sent: u64,
    /// True when every step ran.
    pub completed: bool,
    /// Why the script stopped early, if it did.
    pub stopped: Option<String>,
    /// Whether a TLS handshake completed.
    pub tls: bool,
    /// Whether a client connected at all.
    pub accepted: bool,
}

/// A running fake server; stopped (and joined) on [`finish`](Self::finish) or drop.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Log>>,
}

impl Server {
    /// Serves `script` to the first client on 127.0.0.1, port 0.
    pub fn start(script: Vec<Step>) -> Server {
        Server::start_on("127.0.0.1:0", script).expect("bind 127.0.0.1:0")
    }

    /// Serves `script` on `bind` (e.g. `[::1]:0`).
    pub fn start_on(bind: &str, script: Vec<Step>) -> io::Result<Server> {
        let std_listener = std::net::TcpListener::bind(bind)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("listener");
                let mut log = Log::default();
                let play = async {
                    let (tcp, _) = listener.accept().await?;
                    log.accepted = true;
                    tcp.set_nodelay(true)?;
                    play(tcp, script, &mut log).await
                };
                let outcome = tokio::select! {
                    r = tokio::time::timeout(GUARD, play) => match r {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(_) => Some("server guard timeout".into()),
                    },
                    _ = stop_rx => Some("stopped by the test".into()),
                };
                if let Some(why) = outcome {
                    log.stopped.get_or_insert(why);
                }
                log
            })
        });
        Ok(Server {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops the script wherever it is (a `Stall` ends here) and returns what it saw.
    pub fn finish(mut self) -> Log {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Log {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .map(|t| t.join().expect("server thread panicked"))
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_and_join();
        }
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Gone,
}

impl Conn {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Conn::Plain(t) => Some(t),
            Conn::Tls(s) => Some(s.get_ref().0),
            Conn::Gone => None,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Reads one line (up to LF) out of `buf`, reading more from `conn` as needed.
async fn read_line(conn: &mut Conn, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            return Ok(buf.drain(..=nl).collect());
        }
        if buf.len() > MAX_LINE {
            return Err(io::Error::other("client line too long"));
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn trim_crlf(line: &[u8]) -> String {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    String::from_utf8_lossy(&line[..end]).into_owned()
}

async fn play(tcp: TcpStream, script: Vec<Step>, log: &mut Log) -> io::Result<()> {
    let mut conn = Conn::Plain(tcp);
    let mut inbuf: Vec<u8> = Vec::new();
    for step in script {
        match step {
            Step::Send(bytes) => {
                conn.write_all(&bytes).await?;
                conn.flush().await?;
                log.sent += bytes.len() as u64;
            }
            Step::Repeat(bytes, times) => {
                for _ in 0..times {
                    if let Err(e) = conn.write_all(&bytes).await {
                        log.stopped = Some(format!("repeat stopped: {e}"));
                        return Ok(());
                    }
                    log.sent += bytes.len() as u64;
                }
            }
            Step::SendSlow(bytes, delay) => {
                for b in bytes {
                    conn.write_all(&[b]).await?;
                    conn.flush().await?;
                    log.sent += 1;
                    tokio::time::sleep(delay).await;
                }
            }
            Step::Expect(prefix) => {
                let line = trim_crlf(&read_line(&mut conn, &mut inbuf).await?);
                let ok = line
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix));
                log.lines.push(line.clone());
                if !ok {
                    return Err(io::Error::other(format!(
                        "expected {prefix:?}, the client sent {line:?}"
                    )));
                }
            }
            Step::Echo(prefix) => {
                let last = log.lines.last().cloned().unwrap_or_default();
                let line = format!("{prefix}{last}\r\n");
                conn.write_all(line.as_bytes()).await?;
                conn.flush().await?;
                log.sent += line.len() as u64;
            }
            Step::ExpectAny => {
                let line = trim_crlf(&read_line(&mut conn, &mut inbuf).await?);
                log.lines.push(line);
            }
            Step::ReadData => {
                let mut body = Vec::new();
                loop {
                    let line = read_line(&mut conn, &mut inbuf).await?;
                    if line == b".\r\n" {
                        break;
                    }
                    body.extend_from_slice(&line);
                }
                log.data.push(body);
            }
            Step::ReadSome(n) => {
                let mut chunk = vec![0u8; 64 * 1024];
                let mut got = inbuf.len();
                inbuf.clear();
                while got < n {
                    let r = conn.read(&mut chunk).await?;
                    if r == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    got += r;
                }
            }
            Step::StartTls(config) => {
                let Conn::Plain(tcp) = std::mem::replace(&mut conn, Conn::Gone) else {
                    return Err(io::Error::other("StartTls needs a plain connection"));
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let tls = acceptor.accept(tcp).await?;
                conn = Conn::Tls(Box::new(tls));
                log.tls = true;
            }
            Step::Flood(total) => {
                let chunk = vec![b'A'; 256 * 1024];
                let mut left = total;
                while left > 0 {
                    let n = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
                    if let Err(e) = conn.write_all(&chunk[..n]).await {
                        log.stopped = Some(format!("flood stopped: {e}"));
                        return Ok(());
                    }
                    log.sent += n as u64;
                    left -= n as u64;
                }
            }
            Step::Close => {
                let _ = conn.shutdown().await;
                conn = Conn::Gone;
            }
            Step::Reset => {
                if let Some(tcp) = conn.tcp() {
                    tcp.set_zero_linger()?;
                }
                conn = Conn::Gone;
            }
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Stall => std::future::pending::<()>().await,
            Step::Drain => {
                let mut chunk = vec![0u8; 64 * 1024];
                while conn.read(&mut chunk).await? > 0 {}
            }
        }
    }
    log.completed = true;
    // Keep the socket open until the client is done, so "Close" is always an explicit step.
    if !matches!(conn, Conn::Gone) {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = conn.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
    }
    Ok(())
}

/// A rustls server configuration serving the chain in `cert_pem` with `key_pem`.
pub fn tls_config(cert_pem: &Path, key_pem: &Path) -> Arc<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(key_pem).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    Arc::new(config)
}

/// Measures how long a closure takes.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}
