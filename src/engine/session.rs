//! One SMTP client session: sends one command at a time, reads its reply, classifies it and
//! records everything as transcript entries.
//!
//! Every front end drives this type: `run` calls it step by step, the TUI through
//! [`super::driver`], the tests directly. Entries leave through the sink as they happen, so a
//! slow server shows the sent line at once and the reply when it comes.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::auth::{
    Credentials, Mechanism, Redacted, SecretScrubber, decode_challenge, redaction_for_typed,
};
use super::classify::{Catalog, Context, Phase};
use super::command::{Command, InputError, Verb};
use super::escape::escape_bytes;
use super::message::{DotStuffer, MessageStats};
use super::reply::{Limits, Reply, ReplyError, ReplyParser};
use super::state::{SessionState, Step, StepStatus};
use super::transcript::{Entry, EntryKind, ReplyEntry};
use super::transport::{
    Conn, ConnectError, TlsClient, TlsError, TlsMode, TlsSettings, connect_tcp,
};

/// What the SES credential lint needs: the endpoint's region and, when the user has it at hand,
/// the IAM secret key the password should have been derived from. The key never leaves memory.
#[derive(Clone, Default)]
pub struct SesLint {
    pub region: Option<String>,
    pub secret_access_key: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for SesLint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesLint")
            .field("region", &self.region)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub host: String,
    pub port: u16,
    pub tls_mode: TlsMode,
    pub tls: TlsSettings,
    pub connect_timeout: Duration,
    /// How long to wait for one whole reply (or the TLS handshake).
    pub reply_timeout: Duration,
    pub limits: Limits,
    /// When set, AUTH is preceded by the SES credential lint (secret key used as the
    /// password, password for another region, user name that is not an access key id).
    pub ses_lint: Option<SesLint>,
}

impl SessionConfig {
    pub fn new(host: &str, port: u16, tls_mode: TlsMode) -> SessionConfig {
        SessionConfig {
            host: host.to_string(),
            port,
            tls_mode,
            tls: TlsSettings::default(),
            connect_timeout: Duration::from_secs(15),
            reply_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            ses_lint: None,
        }
    }
}

/// What a session reports to its front end.
#[derive(Debug, Clone)]
pub enum Event {
    Entry(Entry),
    /// A snapshot after each operation; also marks that the session is idle again.
    State(Box<SessionState>),
}

/// Receives events as they happen.
pub type Sink = Box<dyn FnMut(Event) + Send>;

/// Why an operation failed. Each failure is also recorded in the transcript.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("not connected")]
    NotConnected,
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("no complete reply to {after} within {timeout:?}{hint}", after = after.name())]
    Timeout {
        after: Verb,
        timeout: Duration,
        hint: &'static str,
    },
    #[error("the server closed the connection while waiting for the reply to {}", after.name())]
    Closed { after: Verb },
    #[error("the server closed the connection before {} could be sent", verb.name())]
    ClosedBefore { verb: Verb },
    #[error("network error during {}: {source}", after.name())]
    Io { after: Verb, source: io::Error },
    #[error("protocol error in the reply to {}: {source}", after.name())]
    Protocol { after: Verb, source: ReplyError },
    #[error("cannot read the message from {path}: {source}")]
    MessageSource { path: String, source: io::Error },
}

impl SessionError {
    /// The phase a failure belongs to, for the transcript and exit codes.
    pub fn phase(&self) -> Phase {
        match self {
            SessionError::Tls(_) => Phase::Tls,
            SessionError::Input(_) | SessionError::MessageSource { .. } => Phase::Data,
            SessionError::Protocol { .. } => Phase::Service,
            _ => Phase::Connection,
        }
    }
}

/// Where the message after DATA comes from.
#[derive(Debug, Clone)]
pub enum MessageSource {
    /// Text composed in memory (default message, the TUI's composer).
    Text(String),
    /// A file, streamed in chunks.
    File(PathBuf),
    /// Standard input, streamed.
    Stdin,
}

/// How streaming a message ended.
struct Streamed {
    stats: MessageStats,
    /// `Some(bytes sent)` when the server spoke or hung up before the message was complete.
    interrupted_after: Option<u64>,
}

const READ_CHUNK: usize = 16 * 1024;
const MESSAGE_CHUNK: usize = 64 * 1024;
/// While a write is blocked, how often to look for an early reply from the server.
const STALL_CHECK: Duration = Duration::from_millis(200);

/// An SMTP client session.
pub struct Session {
    cfg: SessionConfig,
    tls_client: Option<TlsClient>,
    conn: Option<Conn>,
    parser: ReplyParser,
    state: SessionState,
    sink: Sink,
    seq: u64,
    last_sent_at: Option<Instant>,
    catalog: &'static Catalog,
    buf: Vec<u8>,
    /// Forms of the passwords sent in this session, masked out of whatever the server sends.
    scrubber: SecretScrubber,
}

impl Session {
    pub fn new(cfg: SessionConfig, sink: Sink) -> Session {
        let parser = ReplyParser::new(cfg.limits);
        Session {
            cfg,
            tls_client: None,
            conn: None,
            parser,
            state: SessionState::default(),
            sink,
            seq: 0,
            last_sent_at: None,
            catalog: Catalog::builtin(),
            buf: vec![0; READ_CHUNK],
            scrubber: SecretScrubber::default(),
        }
    }

    pub fn state(&self) -> &SessionState {
        &self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn in_tls(&self) -> bool {
        self.conn.as_ref().is_some_and(Conn::is_tls)
    }

    fn record(&mut self, mut kind: EntryKind, latency: Option<Duration>) {
        if !self.scrubber.is_empty() {
            // Server bytes reach these texts too (bad lines, injected bytes, challenges).
            match &mut kind {
                EntryKind::Info { text }
                | EntryKind::Warning { text }
                | EntryKind::Error { text, .. }
                | EntryKind::Closed { reason: text } => {
                    self.scrubber.scrub_str(text);
                }
                _ => {}
            }
        }
        self.seq += 1;
        let entry = Entry {
            seq: self.seq,
            time: Utc::now(),
            tls: self.in_tls(),
            latency_ms: latency.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            kind,
        };
        (self.sink)(Event::Entry(entry));
    }

    /// Records an informational line.
    pub fn info(&mut self, text: impl Into<String>) {
        self.record(EntryKind::Info { text: text.into() }, None);
    }

    /// Records a warning.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.record(EntryKind::Warning { text: text.into() }, None);
    }

    /// Sends a state snapshot to the sink.
    pub fn publish_state(&mut self) {
        let snapshot = Box::new(self.state.clone());
        (self.sink)(Event::State(snapshot));
    }

    fn fail(&mut self, mut err: SessionError) -> SessionError {
        if let SessionError::Protocol {
            source: ReplyError::BadCode { line } | ReplyError::BadSeparator { line },
            ..
        } = &mut err
        {
            // Before the message cuts the line short: a half-shown blob would leak half.
            self.scrubber.scrub_bytes(line);
        }
        let chain = match &err {
            SessionError::Tls(t) => t.chain().to_vec(),
            _ => Vec::new(),
        };
        self.state.phase = Some(err.phase());
        self.record(
            EntryKind::Error {
                phase: err.phase(),
                text: err.to_string(),
                chain,
            },
            None,
        );
        // After a timeout the session is out of step: a late reply would be taken for the
        // answer to the next command (QUIT included), so the connection goes too.
        if matches!(
            err,
            SessionError::Closed { .. }
                | SessionError::Io { .. }
                | SessionError::Tls(_)
                | SessionError::Protocol { .. }
                | SessionError::Timeout { .. }
        ) {
            self.drop_connection("after the error above");
        }
        err
    }

    fn drop_connection(&mut self, reason: &str) {
        if self.conn.take().is_some() {
            self.record(
                EntryKind::Closed {
                    reason: reason.to_string(),
                },
                None,
            );
        }
        self.parser = ReplyParser::new(self.cfg.limits);
        self.state.disconnected();
    }

    fn tls_client(&mut self) -> Result<TlsClient, TlsError> {
        if let Some(c) = &self.tls_client {
            return Ok(c.clone());
        }
        let client = TlsClient::new(self.cfg.tls.clone())?;
        self.tls_client = Some(client.clone());
        Ok(client)
    }

    /// Connects (and for implicit TLS, handshakes), then reads the greeting.
    pub async fn connect(&mut self) -> Result<Reply, SessionError> {
        if self.conn.is_some() {
            self.drop_connection("reconnecting");
        }
        self.state = SessionState::default();
        let (host, port, mode) = (self.cfg.host.clone(), self.cfg.port, self.cfg.tls_mode);
        self.record(
            EntryKind::Connecting {
                host: host.clone(),
                port,
                mode: mode.name().into(),
            },
            None,
        );
        if self.cfg.tls.insecure && mode != TlsMode::None {
            self.warn("--insecure: the server's certificate will NOT be verified; anyone on the path could read the credentials");
        }
        let started = Instant::now();
        let tcp = match connect_tcp(&host, port, self.cfg.connect_timeout).await {
            Ok(t) => t,
            Err(e) => {
                self.state
                    .timeline
                    .set(Step::Connect, StepStatus::Failed, Some(Phase::Connection));
                return Err(self.fail(e.into()));
            }
        };
        let peer = tcp
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| format!("{host}:{port}"));
        self.state.connected = true;
        self.state.peer = Some(peer.clone());
        self.state
            .timeline
            .set(Step::Connect, StepStatus::Passed, Some(Phase::Connection));
        self.record(EntryKind::Connected { peer }, Some(started.elapsed()));
        self.conn = Some(Conn::Plain(tcp));
        if mode != TlsMode::Starttls {
            // No STARTTLS and no second EHLO in this mode: the timeline says so.
            self.state
                .timeline
                .set(Step::StartTls, StepStatus::Skipped, None);
            self.state
                .timeline
                .set(Step::EhloTls, StepStatus::Skipped, None);
        }
        if mode == TlsMode::Implicit {
            self.upgrade_tls().await?;
        }
        self.last_sent_at = Some(Instant::now());
        self.read_and_record(Verb::Connect, None).await
    }

    async fn upgrade_tls(&mut self) -> Result<(), SessionError> {
        let client = match self.tls_client() {
            Ok(c) => c,
            Err(e) => return Err(self.fail(e.into())),
        };
        let Some(Conn::Plain(tcp)) = self.conn.take() else {
            return Err(self.fail(SessionError::NotConnected));
        };
        match client
            .handshake(tcp, &self.cfg.host.clone(), self.cfg.reply_timeout)
            .await
        {
            Ok((stream, info)) => {
                self.conn = Some(Conn::Tls(Box::new(stream)));
                self.state.tls_started(info.clone());
                if let super::transport::Verification::Insecure {
                    would_fail: Some(why),
                } = &info.verification
                {
                    self.warn(format!("INSECURE: verification would have failed: {why}"));
                }
                self.record(EntryKind::TlsStarted { info }, None);
                Ok(())
            }
            Err(e) => {
                self.state
                    .timeline
                    .set(Step::StartTls, StepStatus::Failed, Some(Phase::Tls));
                self.state.connected = false;
                let err = self.fail(e.into());
                self.record(
                    EntryKind::Closed {
                        reason: "TLS handshake failed".into(),
                    },
                    None,
                );
                self.state.disconnected();
                Err(err)
            }
        }
    }

    /// Sends one command and reads its reply. A 220 to STARTTLS starts the handshake.
    pub async fn command(&mut self, cmd: &Command) -> Result<Reply, SessionError> {
        let bytes = cmd.encode()?;
        let mut verb = cmd.verb();
        // A line typed inside an AUTH exchange, or AUTH with an initial response, carries
        // credentials: record only its redacted form.
        let typed = match cmd {
            Command::Raw(line) => redaction_for_typed(line, self.state.sasl_challenge),
            _ => None,
        };
        if let Some(redacted) = typed {
            if self.state.sasl_challenge {
                verb = Verb::AuthResponse;
            }
            let shown = redacted.render(false);
            self.send_line(&bytes, shown, verb, Some(redacted)).await?;
        } else {
            self.send_line(&bytes, cmd.line(), verb, None).await?;
        }
        if verb == Verb::Quit {
            self.state.quit_sent = true;
        }
        let reply = self.read_and_record(verb, None).await?;
        if verb == Verb::StartTls && reply.code == 220 {
            self.after_starttls_ready().await?;
        }
        if verb == Verb::Quit {
            self.drop_connection("after QUIT");
        }
        Ok(reply)
    }

    async fn after_starttls_ready(&mut self) -> Result<(), SessionError> {
        if self.in_tls() {
            self.warn("the server accepted STARTTLS inside TLS; not starting TLS twice");
            return Ok(());
        }
        let mut leftover = self.parser.take_leftover();
        self.scrubber.scrub_bytes(&mut leftover);
        if !leftover.is_empty() {
            // CVE-2011-0411 class: bytes before the handshake must never count as TLS replies.
            self.warn(format!(
                "the server sent {} byte(s) after \"220 Ready to start TLS\" and before the TLS handshake; they were discarded, not read as replies: {}",
                leftover.len(),
                escape_bytes(&leftover[..leftover.len().min(200)])
            ));
        }
        self.upgrade_tls().await
    }

    /// Runs an AUTH exchange. Secrets are sent but only their redacted form is recorded.
    pub async fn auth(
        &mut self,
        mechanism: Mechanism,
        creds: &Credentials,
        initial_response: bool,
    ) -> Result<Reply, SessionError> {
        if !self.in_tls() && self.conn.is_some() {
            self.warn("sending credentials over a connection WITHOUT TLS: anyone on the path can read them");
        }
        if let Some(caps) = &self.state.capabilities
            && !caps.offers_auth(mechanism.name())
        {
            self.warn(format!(
                "the server did not offer AUTH {} in EHLO; sending it anyway",
                mechanism.name()
            ));
        }
        if let Some(lint) = self.cfg.ses_lint.clone() {
            let secret = lint.secret_access_key.as_deref().map(String::as_str);
            for w in super::ses::lint_credentials(
                &creds.user,
                creds.password(),
                lint.region.as_deref(),
                secret,
            ) {
                self.warn(w.message);
            }
        }
        self.scrubber.add(creds);
        let user = creds.user.clone();
        match mechanism {
            Mechanism::Plain if initial_response => {
                let line = zeroize::Zeroizing::new(format!(
                    "AUTH PLAIN {}\r\n",
                    creds.plain_blob().as_str()
                ));
                let redacted = Redacted::PlainBlob {
                    initial: true,
                    user: user.clone(),
                    authzid: creds.authzid.clone(),
                };
                self.send_secret(line.as_bytes(), redacted, Verb::Auth)
                    .await?;
                self.read_and_record(Verb::Auth, Some(&user)).await
            }
            Mechanism::Plain => {
                self.send_line(b"AUTH PLAIN\r\n", "AUTH PLAIN".into(), Verb::Auth, None)
                    .await?;
                let challenge = self.read_and_record(Verb::Auth, Some(&user)).await?;
                if challenge.code != 334 {
                    return Ok(challenge);
                }
                let line = zeroize::Zeroizing::new(format!("{}\r\n", creds.plain_blob().as_str()));
                let redacted = Redacted::PlainBlob {
                    initial: false,
                    user: user.clone(),
                    authzid: creds.authzid.clone(),
                };
                self.send_secret(line.as_bytes(), redacted, Verb::AuthResponse)
                    .await?;
                self.read_and_record(Verb::AuthResponse, Some(&user)).await
            }
            Mechanism::Login => {
                self.send_line(b"AUTH LOGIN\r\n", "AUTH LOGIN".into(), Verb::Auth, None)
                    .await?;
                let first = self.read_and_record(Verb::Auth, Some(&user)).await?;
                if first.code != 334 {
                    return Ok(first);
                }
                let line = format!("{}\r\n", creds.login_user());
                self.send_secret(
                    line.as_bytes(),
                    Redacted::LoginUser { user: user.clone() },
                    Verb::AuthResponse,
                )
                .await?;
                let second = self
                    .read_and_record(Verb::AuthResponse, Some(&user))
                    .await?;
                if second.code != 334 {
                    return Ok(second);
                }
                let line =
                    zeroize::Zeroizing::new(format!("{}\r\n", creds.login_password().as_str()));
                self.send_secret(line.as_bytes(), Redacted::LoginPassword, Verb::AuthResponse)
                    .await?;
                self.read_and_record(Verb::AuthResponse, Some(&user)).await
            }
        }
    }

    /// Streams the message after a 354, dot-stuffed, with the final `.`, then reads the reply.
    ///
    /// A server may answer before the message is complete (a 554 right after its 354, say)
    /// and stop reading. Between chunks the session looks for such an early reply; when one
    /// comes, streaming stops, the reply is the answer to the message, and the connection is
    /// closed because the server's state is unknown. Writes that stall for the reply timeout
    /// end the same way, so a server that stops reading cannot hang the client.
    pub async fn send_message(
        &mut self,
        source: MessageSource,
    ) -> Result<(Reply, MessageStats), SessionError> {
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        if !self.state.data_started {
            self.warn("sending message content without a 354 reply to DATA; the server will read it as commands");
        }
        // No drain of unsolicited replies here: after the 354, whatever the server says is
        // its answer to the message.
        let streamed = match self.stream_message(source).await {
            Ok(s) => s,
            Err(e) => return Err(self.fail(e)),
        };
        let stats = streamed.stats;
        let eight_bit = self
            .state
            .capabilities
            .as_ref()
            .is_some_and(|c| c.eight_bit_mime || c.smtputf8);
        self.record(
            EntryKind::Message {
                stats: stats.clone(),
            },
            None,
        );
        for w in stats.warnings(eight_bit) {
            self.warn(w);
        }
        if let Some(sent) = streamed.interrupted_after {
            self.warn(format!(
                "the server replied (or hung up) before the message was complete: {sent} byte(s) were sent, the rest and the final \".\" were not; the connection will be closed since the server's state is unknown"
            ));
        } else {
            self.last_sent_at = Some(Instant::now());
        }
        let reply = self.read_and_record(Verb::DataEnd, None).await;
        if streamed.interrupted_after.is_some() {
            self.drop_connection("the server answered before the end of the message");
        }
        Ok((reply?, stats))
    }

    async fn stream_message(&mut self, source: MessageSource) -> Result<Streamed, SessionError> {
        let mut stuffer = DotStuffer::default();
        let mut out = Vec::with_capacity(MESSAGE_CHUNK + MESSAGE_CHUNK / 8);
        let mut sent = 0u64;
        let complete = match source {
            MessageSource::Text(text) => {
                stuffer.push(text.as_bytes(), &mut out);
                let complete = self.write_data(&out, &mut sent).await?;
                out.clear();
                complete
            }
            MessageSource::File(path) => {
                let file = tokio::fs::File::open(&path).await.map_err(|source| {
                    SessionError::MessageSource {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                let name = path.display().to_string();
                self.pump(file, &mut stuffer, &mut out, &name, &mut sent)
                    .await?
            }
            MessageSource::Stdin => {
                self.pump(
                    tokio::io::stdin(),
                    &mut stuffer,
                    &mut out,
                    "standard input",
                    &mut sent,
                )
                .await?
            }
        };
        if !complete {
            return Ok(Streamed {
                stats: stuffer.stats().clone(),
                interrupted_after: Some(sent),
            });
        }
        let stats = stuffer.finish(&mut out);
        if !self.write_data(&out, &mut sent).await? {
            return Ok(Streamed {
                stats,
                interrupted_after: Some(sent),
            });
        }
        Ok(Streamed {
            stats,
            interrupted_after: None,
        })
    }

    /// Copies `reader` through the dot-stuffer to the server; false when the server spoke
    /// before the end.
    async fn pump<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: R,
        stuffer: &mut DotStuffer,
        out: &mut Vec<u8>,
        name: &str,
        sent: &mut u64,
    ) -> Result<bool, SessionError> {
        let mut chunk = vec![0u8; MESSAGE_CHUNK];
        loop {
            let n =
                reader
                    .read(&mut chunk)
                    .await
                    .map_err(|source| SessionError::MessageSource {
                        path: name.to_string(),
                        source,
                    })?;
            if n == 0 {
                return Ok(true);
            }
            stuffer.push(&chunk[..n], out);
            let complete = self.write_data(out, sent).await?;
            out.clear();
            if !complete {
                return Ok(false);
            }
        }
    }

    /// Writes message bytes, checking for an early reply before each chunk and whenever the
    /// server stops taking data for a moment. Returns false when the server spoke (or hung
    /// up); an error when it took nothing for the whole reply timeout.
    async fn write_data(&mut self, bytes: &[u8], sent: &mut u64) -> Result<bool, SessionError> {
        let io_err = |source| SessionError::Io {
            after: Verb::DataEnd,
            source,
        };
        let timeout = self.cfg.reply_timeout;
        for chunk in bytes.chunks(MESSAGE_CHUNK) {
            if self.server_spoke_early() {
                return Ok(false);
            }
            let mut off = 0;
            let mut last_progress = Instant::now();
            while off < chunk.len() {
                let conn = self.conn.as_mut().ok_or(SessionError::NotConnected)?;
                // A pending write consumes nothing, so giving up on it after a slice is safe.
                match tokio::time::timeout(STALL_CHECK, conn.write(&chunk[off..])).await {
                    Ok(Ok(0)) => return Err(io_err(io::ErrorKind::WriteZero.into())),
                    Ok(Ok(n)) => {
                        off += n;
                        *sent += n as u64;
                        last_progress = Instant::now();
                    }
                    Ok(Err(source)) => {
                        // The server may have answered, then hung up: keep its words.
                        if self.server_spoke_early() {
                            return Ok(false);
                        }
                        return Err(io_err(source));
                    }
                    Err(_) if self.server_spoke_early() => return Ok(false),
                    Err(_) if last_progress.elapsed() >= timeout => {
                        return Err(io_err(stalled(timeout)));
                    }
                    Err(_) => {}
                }
            }
        }
        let conn = self.conn.as_mut().ok_or(SessionError::NotConnected)?;
        match tokio::time::timeout(timeout, conn.flush()).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(_)) | Err(_) if self.server_spoke_early() => Ok(false),
            Ok(Err(source)) => Err(io_err(source)),
            Err(_) => Err(io_err(stalled(timeout))),
        }
    }

    /// Takes what the server has already sent, without waiting: true when bytes of a reply
    /// are waiting or the server closed. At most one read, so a flood cannot pile up.
    fn server_spoke_early(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        match conn.read(&mut self.buf).now_or_never() {
            Some(Ok(0)) => return true,
            Some(Ok(n)) => {
                let chunk = self.buf[..n].to_vec();
                self.parser.push(&chunk);
            }
            Some(Err(_)) | None => {}
        }
        self.parser.is_mid_reply()
    }

    /// Writes and flushes, giving up when the server takes nothing for the reply timeout.
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let timeout = self.cfg.reply_timeout;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        let write = async {
            conn.write_all(bytes).await?;
            conn.flush().await
        };
        tokio::time::timeout(timeout, write)
            .await
            .unwrap_or_else(|_| Err(stalled(timeout)))
    }

    async fn send_line(
        &mut self,
        bytes: &[u8],
        shown: String,
        verb: Verb,
        redacted: Option<Redacted>,
    ) -> Result<(), SessionError> {
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        self.drain_unsolicited(verb).await?;
        self.record(
            EntryKind::Sent {
                line: shown,
                verb,
                redacted,
            },
            None,
        );
        self.last_sent_at = Some(Instant::now());
        if let Err(source) = self.write_all(bytes).await {
            return Err(self.fail(SessionError::Io {
                after: verb,
                source,
            }));
        }
        Ok(())
    }

    async fn send_secret(
        &mut self,
        bytes: &[u8],
        redacted: Redacted,
        verb: Verb,
    ) -> Result<(), SessionError> {
        let shown = redacted.render(false);
        self.send_line(bytes, shown, verb, Some(redacted)).await
    }

    /// Records replies the server sent without being asked, before the next command (`verb`).
    /// Reads only what has already arrived, and at most a bounded amount of it, so a server
    /// that floods cannot keep the command from going out.
    async fn drain_unsolicited(&mut self, verb: Verb) -> Result<(), SessionError> {
        // Replies that came in the same read as the last answer are already buffered.
        self.record_unsolicited()?;
        for _ in 0..64 {
            let ready = match self.conn.as_mut() {
                Some(conn) => conn.read(&mut self.buf).now_or_never(),
                None => return Ok(()),
            };
            match ready {
                None => break,
                Some(Ok(0)) => {
                    self.record_unsolicited()?;
                    self.drop_connection("the server closed the connection");
                    return Err(self.fail(SessionError::ClosedBefore { verb }));
                }
                Some(Ok(n)) => {
                    let chunk = self.buf[..n].to_vec();
                    self.parser.push(&chunk);
                    // Parse as we go so a flood cannot pile up in the buffer.
                    self.record_unsolicited()?;
                }
                Some(Err(source)) => {
                    return Err(self.fail(SessionError::Io {
                        after: verb,
                        source,
                    }));
                }
            }
        }
        Ok(())
    }

    fn record_unsolicited(&mut self) -> Result<(), SessionError> {
        loop {
            match self.parser.next_reply() {
                Ok(Some(mut reply)) => {
                    self.scrub_reply(&mut reply);
                    self.record_reply(&reply, None, None)
                }
                Ok(None) => return Ok(()),
                Err(source) => {
                    return Err(self.fail(SessionError::Protocol {
                        after: Verb::Other,
                        source,
                    }));
                }
            }
        }
    }

    /// Waits for the server while no command is outstanding; for front ends that stay open.
    /// Returns when something was recorded or the connection ended.
    pub async fn idle_read(&mut self) -> Result<(), SessionError> {
        let Some(conn) = self.conn.as_mut() else {
            return std::future::pending().await;
        };
        match conn.read(&mut self.buf).await {
            Ok(0) => {
                self.record_unsolicited()?;
                self.drop_connection("the server closed the connection");
                Ok(())
            }
            Ok(n) => {
                let chunk = self.buf[..n].to_vec();
                self.parser.push(&chunk);
                self.record_unsolicited()
            }
            Err(source) => Err(self.fail(SessionError::Io {
                after: Verb::Other,
                source,
            })),
        }
    }

    /// Reads one reply within the reply timeout, records and classifies it.
    async fn read_and_record(
        &mut self,
        verb: Verb,
        user: Option<&str>,
    ) -> Result<Reply, SessionError> {
        let deadline = tokio::time::Instant::now() + self.cfg.reply_timeout;
        let reply = loop {
            match self.parser.next_reply() {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(source) => {
                    return Err(self.fail(SessionError::Protocol {
                        after: verb,
                        source,
                    }));
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(self.fail(SessionError::NotConnected));
            };
            match tokio::time::timeout_at(deadline, conn.read(&mut self.buf)).await {
                Err(_) => {
                    let hint = timeout_hint(verb, self.cfg.tls_mode, self.parser.is_mid_reply());
                    if let Some(step) = self.state.step_of(verb) {
                        self.state
                            .timeline
                            .set(step, StepStatus::Failed, Some(Phase::Connection));
                    }
                    return Err(self.fail(SessionError::Timeout {
                        after: verb,
                        timeout: self.cfg.reply_timeout,
                        hint,
                    }));
                }
                Ok(Ok(0)) => {
                    if let Some(step) = self.state.step_of(verb) {
                        self.state
                            .timeline
                            .set(step, StepStatus::Failed, Some(Phase::Connection));
                    }
                    return Err(self.fail(SessionError::Closed { after: verb }));
                }
                Ok(Ok(n)) => {
                    let chunk = self.buf[..n].to_vec();
                    self.parser.push(&chunk);
                }
                Ok(Err(source)) => {
                    return Err(self.fail(SessionError::Io {
                        after: verb,
                        source,
                    }));
                }
            }
        };
        let mut reply = reply;
        self.scrub_reply(&mut reply);
        self.record_reply(&reply, Some(verb), user);
        if reply.code == 421 {
            // RFC 5321 §3.8: 421 means the server is closing the channel.
            self.drop_connection("the server sent 421 (closing the channel)");
        }
        Ok(reply)
    }

    /// Masks any form of a password the server echoed back, and says so.
    fn scrub_reply(&mut self, reply: &mut Reply) {
        let mut masked = false;
        for line in &mut reply.lines {
            masked |= self.scrubber.scrub_bytes(&mut line.raw);
        }
        if masked {
            self.warn("the server's reply contained the password (or its base64 form); it is shown as <redacted>");
        }
    }

    fn record_reply(&mut self, reply: &Reply, verb: Option<Verb>, user: Option<&str>) {
        let ctx = Context {
            after: verb,
            authenticated: self.state.authenticated_as.is_some(),
            auth_failed: self.state.auth_failed,
            tls: self.in_tls(),
        };
        let class = self.catalog.classify(reply, &ctx);
        if let Some(v) = verb {
            self.state.apply_reply(v, reply, &class, user);
        } else {
            self.state.phase = Some(class.phase);
        }
        if verb == Some(Verb::Auth)
            && reply.code == 334
            && let Some(prompt) = decode_challenge(&reply.last_text())
        {
            self.info(format!("server challenge decodes to \"{prompt}\""));
        }
        let latency = verb.and(self.last_sent_at.map(|t| t.elapsed()));
        self.record(
            EntryKind::Reply(Box::new(ReplyEntry::new(reply.clone(), verb, class))),
            latency,
        );
    }

    /// Drops the connection at once, without QUIT (a debugger may want to see what that does).
    pub fn close_now(&mut self) {
        self.drop_connection("closed by the user");
    }

    /// Sends QUIT if connected (ignoring its outcome) and closes.
    pub async fn close(&mut self) {
        if self.conn.is_some() && !self.state.quit_sent {
            let _ = self.command(&Command::Quit).await;
        }
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.shutdown().await;
        }
    }
}

/// The error for a server that stopped reading what the client sends.
fn stalled(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the server accepted no data for {timeout:?} (it stopped reading)"),
    )
}

fn timeout_hint(verb: Verb, mode: TlsMode, mid_reply: bool) -> &'static str {
    match (verb, mode) {
        _ if mid_reply => " (part of a reply arrived, then the server stalled)",
        (Verb::Connect, TlsMode::Starttls | TlsMode::None) => {
            " (no greeting: the server may expect TLS from the first byte; try --tls implicit on 465/2465)"
        }
        (Verb::DataEnd, _) => {
            " (the message may be missing its final line, or the server is slow to check it)"
        }
        _ => "",
    }
}
