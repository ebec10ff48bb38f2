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
use super::classify::{Catalog, Phase};
use super::command::{Command, InputError, Verb};
use super::escape::escape_bytes;
use super::message::{DotStuffer, MessageStats};
use super::model::SessionModel;
use super::reply::{Limits, Reply, ReplyError, ReplyParser};
use super::transcript::{Entry, EntryKind, ErrorKind, ReplyEntry};
use super::transport::{
    Conn, ConnectError, TlsClient, TlsError, TlsMode, TlsSettings, connect_tcp,
};

mod data;
mod ext;
mod read;
mod sasl;

pub use data::MessageSource;
use data::stalled;

/// What the SES credential lint needs: the endpoint's region and, when the user has it at hand,
/// the IAM secret key the password should have been derived from. The key never leaves memory.
#[derive(Clone, Default)]
pub struct SesLint {
    pub region: Option<String>,
    pub secret_access_key: Option<zeroize::Zeroizing<String>>,
    /// The access key ID exported with the secret (`AWS_ACCESS_KEY_ID`): when it names another
    /// key than the SMTP user, the secret is someone else's and is not compared.
    pub access_key_id: Option<String>,
}

impl std::fmt::Debug for SesLint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesLint")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
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
    /// The SMTP extensions asked for (`--pipeline`, `--bdat`, DSN, `-4`/`-6`, …).
    pub ext: super::ext::ExtSettings,
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
            ext: super::ext::ExtSettings::default(),
        }
    }
}

/// What a session reports to its front end.
#[derive(Debug, Clone)]
pub enum Event {
    Entry(Entry),
    /// A snapshot after each operation; also marks that the session is idle again.
    State(Box<SessionModel>),
}

/// Receives events as they happen.
pub(crate) type Sink = Box<dyn FnMut(Event) + Send>;

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
    /// An extension cannot be used as asked (not offered, or a bad value): nothing was sent.
    #[error(transparent)]
    Ext(#[from] super::ext::ExtError),
    #[error("cannot read the message from {path}: {source}")]
    MessageSource { path: String, source: io::Error },
    /// More unsolicited replies (or bytes of them) than any real server sends between two
    /// commands: a flood, which would otherwise grow the transcript without bound.
    #[error(
        "the server sent {replies} replies ({bytes} bytes) without being asked since the last command; more than {max_replies} replies or {max_bytes} bytes is a flood, so the connection is closed",
        max_replies = MAX_UNSOLICITED_REPLIES,
        max_bytes = MAX_UNSOLICITED_BYTES
    )]
    Flood { replies: usize, bytes: usize },
    /// A well-formed reply that this command cannot be answered with.
    #[error("{} was answered {code}, which it cannot be: {why}", after.name())]
    Unexpected {
        after: Verb,
        code: u16,
        why: &'static str,
    },
}

impl SessionError {
    /// The phase a failure belongs to, for the transcript and exit codes.
    pub fn phase(&self) -> Phase {
        match self {
            SessionError::Tls(_) => Phase::Tls,
            SessionError::Input(_) | SessionError::MessageSource { .. } => Phase::Data,
            SessionError::Ext(_) => Phase::Envelope,
            SessionError::Protocol { .. }
            | SessionError::Flood { .. }
            | SessionError::Unexpected { .. } => Phase::Service,
            _ => Phase::Connection,
        }
    }

    /// The kind recorded with the error, which the session model judges by.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Input(_) | SessionError::Ext(_) => ErrorKind::Input,
            SessionError::NotConnected | SessionError::MessageSource { .. } => ErrorKind::Local,
            SessionError::Connect(_) => ErrorKind::Connect,
            SessionError::Tls(_) => ErrorKind::Tls,
            SessionError::Timeout { .. } => ErrorKind::Timeout,
            SessionError::Closed { .. } | SessionError::ClosedBefore { .. } => ErrorKind::Closed,
            SessionError::Io { .. } => ErrorKind::Io,
            SessionError::Protocol { .. } | SessionError::Flood { .. } => ErrorKind::Protocol,
            SessionError::Unexpected { .. } => ErrorKind::Unexpected,
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;
/// Unsolicited replies allowed between two commands (a real server sends one, a 421, at most
/// a few); past either bound the connection is closed as a protocol error.
pub(crate) const MAX_UNSOLICITED_REPLIES: usize = 100;
/// Bytes of unsolicited replies allowed between two commands.
pub(crate) const MAX_UNSOLICITED_BYTES: usize = 256 * 1024;
const MESSAGE_CHUNK: usize = 64 * 1024;
/// While a write is blocked, how often to look for an early reply from the server.
const STALL_CHECK: Duration = Duration::from_millis(200);

/// An SMTP client session.
pub struct Session {
    cfg: SessionConfig,
    tls_client: Option<TlsClient>,
    conn: Option<Conn>,
    parser: ReplyParser,
    model: SessionModel,
    sink: Sink,
    seq: u64,
    last_sent_at: Option<Instant>,
    buf: Vec<u8>,
    /// Forms of the passwords sent in this session, masked out of whatever the server sends.
    scrubber: SecretScrubber,
    /// Unsolicited replies (and their bytes) since the last answered command or connect.
    unsolicited: (usize, usize),
    /// The first bytes of the message being sent, as written (the message view), and how
    /// many more were written.
    wire_copy: (Vec<u8>, u64),
}

impl Session {
    pub fn new(cfg: SessionConfig, sink: Sink) -> Session {
        let parser = ReplyParser::new(cfg.limits);
        // Built meanwhile; the first reply (the greeting) is classified with it.
        Catalog::warm_up();
        Session {
            cfg,
            tls_client: None,
            conn: None,
            parser,
            model: SessionModel::default(),
            sink,
            seq: 0,
            last_sent_at: None,
            buf: vec![0; READ_CHUNK],
            scrubber: SecretScrubber::default(),
            unsolicited: (0, 0),
            wire_copy: (Vec::new(), 0),
        }
    }

    /// What the server knows, built from the entries recorded so far.
    pub fn model(&self) -> &SessionModel {
        &self.model
    }

    pub(crate) fn config(&self) -> &SessionConfig {
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
                | EntryKind::Warning { text, .. }
                | EntryKind::Closed { reason: text } => {
                    self.scrubber.scrub_str(text);
                }
                EntryKind::Error { text, chain, .. } => {
                    self.scrubber.scrub_str(text);
                    scrub_chain(&self.scrubber, chain);
                }
                // A server that saw the password (AUTH before STARTTLS) can put it into its
                // certificate's names.
                EntryKind::TlsStarted { info } => {
                    scrub_chain(&self.scrubber, &mut info.chain);
                    if let super::transport::Verification::Insecure {
                        would_fail: Some(why),
                    } = &mut info.verification
                    {
                        self.scrubber.scrub_str(why);
                    }
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
        self.model.apply(&entry);
        (self.sink)(Event::Entry(entry));
    }

    /// Records an informational line.
    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.record(EntryKind::Info { text: text.into() }, None);
    }

    /// Records a warning.
    pub(crate) fn warn(&mut self, text: impl Into<String>) {
        self.record(
            EntryKind::Warning {
                text: text.into(),
                lint: None,
            },
            None,
        );
    }

    /// Records a finding of the credential lint, with its code.
    fn warn_lint(&mut self, code: &str, text: String) {
        self.record(
            EntryKind::Warning {
                text,
                lint: Some(code.to_string()),
            },
            None,
        );
    }

    /// Sends a state snapshot to the sink.
    pub fn publish_state(&mut self) {
        let snapshot = Box::new(self.model.clone());
        (self.sink)(Event::State(snapshot));
    }

    /// Records a problem on this side (nothing was sent) and hands it back.
    pub(crate) fn fail_local(&mut self, err: SessionError) -> SessionError {
        self.fail(err)
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
        self.record(
            EntryKind::Error {
                phase: err.phase(),
                kind: err.kind(),
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
                | SessionError::Flood { .. }
                | SessionError::Timeout { .. }
        ) || matches!(err, SessionError::Unexpected { after, .. } if after != Verb::AuthResponse)
        {
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
        self.unsolicited = (0, 0);
    }

    /// Uses `client` (built from this session's TLS settings) instead of loading the trusted
    /// roots again: a monitor probing every few seconds builds it once.
    pub(crate) fn set_tls_client(&mut self, client: TlsClient) {
        self.tls_client = Some(client);
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
        let family = self.cfg.ext.family;
        let tcp = match connect_tcp(&host, port, self.cfg.connect_timeout, family).await {
            Ok(t) => t,
            Err(e) => return Err(self.fail(e.into())),
        };
        let peer = tcp
            .peer_addr()
            .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string());
        self.record(EntryKind::Connected { peer }, Some(started.elapsed()));
        self.conn = Some(Conn::Plain(tcp));
        if mode == TlsMode::Implicit {
            self.upgrade_tls().await?;
        }
        self.last_sent_at = Some(Instant::now());
        self.read_and_record(Verb::Connect).await
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
                if let super::transport::Verification::Insecure {
                    would_fail: Some(why),
                } = &info.verification
                {
                    self.warn(format!("INSECURE: verification would have failed: {why}"));
                }
                let provider = self
                    .model
                    .provider()
                    .and_then(|d| super::provider::Providers::builtin().get(&d.id));
                let warnings = super::tls::warnings::for_session(&info, provider);
                self.record(EntryKind::TlsStarted { info }, None);
                for w in warnings {
                    self.warn(w);
                }
                Ok(())
            }
            Err(e) => {
                let err = self.fail(e.into());
                self.record(
                    EntryKind::Closed {
                        reason: "TLS handshake failed".into(),
                    },
                    None,
                );
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
            Command::Raw(line) => redaction_for_typed(line, self.model.sasl_challenge()),
            _ => None,
        };
        if let Some(redacted) = typed {
            if self.model.sasl_challenge() {
                verb = Verb::AuthResponse;
            }
            let shown = redacted.render(false);
            self.send_line(&bytes, shown, verb, Some(redacted)).await?;
        } else {
            self.send_line(&bytes, cmd.line(), verb, None).await?;
        }
        let reply = self.read_expected(verb).await?;
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

    /// Records what the user sees of a line sent (the secret masked in `redacted`).
    fn record_sent(&mut self, line: String, verb: Verb, redacted: Option<Redacted>) {
        self.record(
            EntryKind::Sent {
                line,
                verb,
                redacted,
            },
            None,
        );
    }

    /// Sends one command line: first records whatever the server said unasked, so that it is
    /// not taken for the answer.
    async fn send_line(
        &mut self,
        bytes: &[u8],
        shown: String,
        verb: Verb,
        redacted: Option<Redacted>,
    ) -> Result<(), SessionError> {
        self.drain_unsolicited(verb)?;
        self.write_line(bytes, shown, verb, redacted).await
    }

    /// Records `shown` as sent and writes `bytes`, without looking for replies first: after a
    /// 354, what the server says is the answer to the message.
    async fn write_line(
        &mut self,
        bytes: &[u8],
        shown: String,
        verb: Verb,
        redacted: Option<Redacted>,
    ) -> Result<(), SessionError> {
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        self.record_sent(shown, verb, redacted);
        self.write_recorded(bytes, verb).await
    }

    /// Writes bytes whose lines are recorded already; if the write fails, so does the step
    /// of `after`, the first command in them.
    async fn write_recorded(&mut self, bytes: &[u8], after: Verb) -> Result<(), SessionError> {
        self.last_sent_at = Some(Instant::now());
        match self.write_all(bytes).await {
            Ok(()) => Ok(()),
            Err(source) => Err(self.fail(SessionError::Io { after, source })),
        }
    }

    /// Ends a run that cannot go on (no progress, the step bound): recorded as a protocol
    /// error, and the connection is closed.
    pub(crate) fn give_up(&mut self, why: &str) {
        self.record(
            EntryKind::Error {
                phase: Phase::Service,
                kind: ErrorKind::Protocol,
                text: why.to_string(),
                chain: Vec::new(),
            },
            None,
        );
        self.drop_connection("after the error above");
    }

    /// Drops the connection at once, without QUIT (a debugger may want to see what that does).
    pub fn close_now(&mut self) {
        self.drop_connection("closed by the user");
    }

    /// Sends QUIT if connected (ignoring its outcome) and closes.
    pub async fn close(&mut self) {
        if self.conn.is_some() && !self.model.quit_sent() {
            let _ = self.command(&Command::Quit).await;
        }
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.shutdown().await;
        }
    }
}

/// Masks the password in every text field of a certificate chain.
fn scrub_chain(scrubber: &SecretScrubber, chain: &mut [super::transport::CertInfo]) {
    for cert in chain {
        for field in [
            &mut cert.subject,
            &mut cert.issuer,
            &mut cert.serial,
            &mut cert.not_before,
            &mut cert.not_after,
        ] {
            scrubber.scrub_str(field);
        }
        for san in &mut cert.sans {
            scrubber.scrub_str(san);
        }
        // The certificate's bytes (kept for exporting the chain) are dropped, not masked, when
        // they hold the secret: a masked certificate would be no certificate.
        if let Some(b64) = &cert.der_base64 {
            use base64::Engine;
            let mut der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let mut text = b64.clone();
            if scrubber.scrub_bytes(&mut der) || scrubber.scrub_str(&mut text) {
                cert.der_base64 = None;
            }
        }
    }
}

/// Why a well-formed reply cannot answer `verb`: going on would put the two sides out of step
/// (a message sent where the server reads commands, a plaintext session taken for TLS).
fn unexpected(verb: Verb, code: u16) -> Option<&'static str> {
    let class = code / 100;
    match verb {
        Verb::StartTls if code != 220 && class <= 3 => Some(
            "only 220 starts TLS; TLS did not start and what follows cannot be trusted, so the connection is closed",
        ),
        Verb::Data if class == 2 => Some(
            "DATA needs 354 before the message; the server would read the message as commands, so it is not sent and the connection is closed",
        ),
        Verb::Mail
        | Verb::Rcpt
        | Verb::Bdat
        | Verb::Ehlo
        | Verb::Helo
        | Verb::Rset
        | Verb::Noop
            if class == 3 =>
        {
            Some(
                "this command takes no continuation; the two sides are out of step, so the connection is closed",
            )
        }
        _ => None,
    }
}
