//! TCP and TLS: connecting with a timeout, the STARTTLS upgrade, implicit TLS, and the facts of
//! a TLS session (version, cipher, chain, verification outcome).
//!
//! Verification is on by default and uses the platform's roots plus an optional CA file. With a
//! CA file, the platform's roots are read only when a chain does not verify against the file
//! alone (reading a few hundred certificates costs more than a whole session on loopback); the
//! outcome is the same as with both loaded from the start. The verifier records the chain the
//! server presented even when verification fails, so a failure can name its reason in plain
//! words ("self-signed", "missing intermediate", "expired").

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls::config::{self, ClientIdentity, TlsConfigError, TlsPins};
use super::tls::ocsp::OcspStaple;

/// How TLS is used on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP, upgraded by STARTTLS (ports 25, 587, 2587).
    Starttls,
    /// TLS from the first byte (ports 465, 2465).
    Implicit,
    /// No TLS at all.
    None,
}

impl TlsMode {
    /// SES's convention: 465 and 2465 speak TLS from the start, every other port STARTTLS.
    pub(crate) fn for_port(port: u16) -> TlsMode {
        if matches!(port, 465 | 2465) {
            TlsMode::Implicit
        } else {
            TlsMode::Starttls
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }

    /// The inverse of [`TlsMode::name`].
    pub(crate) fn parse(name: &str) -> Option<TlsMode> {
        [TlsMode::Starttls, TlsMode::Implicit, TlsMode::None]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// TLS options from the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Extra trusted CA certificates given in memory (PEM), e.g. the built-in simulator's.
    pub ca_pem: Option<String>,
    /// Accept any certificate, but still report what verification would have said.
    pub insecure: bool,
    /// Name to send as SNI and to verify against, instead of the host.
    pub sni: Option<String>,
    /// Skip the platform's roots (tests use only their own CA).
    pub no_native_roots: bool,
    /// `--tls-min`, `--tls-max`, `--cipher` (see `engine::tls::config`).
    pub pins: TlsPins,
    /// `--cert` and `--key`, read and checked.
    pub identity: Option<Arc<ClientIdentity>>,
}

/// One certificate of the presented chain, decoded for display.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// `not_after` as seconds since the Unix epoch (for monitoring: the earliest expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after_unix: Option<i64>,
    pub sans: Vec<String>,
    pub serial: String,
    pub self_signed: bool,
    /// The public key's type ("RSA", "EC P-256", "Ed25519").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_bits: Option<u32>,
    /// The issuer's signature algorithm ("sha256WithRSAEncryption", "ecdsa-with-SHA256").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    /// SHA-256 of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whole days from the handshake to `not_after` (negative once expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// The certificate itself (DER, base64), for exporting the chain as PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub der_base64: Option<String>,
}

/// What verification concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Verification {
    /// The chain verified against a trusted root for the expected name.
    Verified,
    /// `--insecure`: accepted without verification; `would_fail` says what verification found.
    Insecure { would_fail: Option<String> },
}

/// The facts of an established TLS session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub server_name: String,
    pub chain: Vec<CertInfo>,
    pub verification: Verification,
    /// Key exchange, trust anchor, OCSP: in JSON, fields of this object like the others
    /// (boxed so that a transcript entry stays small).
    #[serde(flatten, default)]
    pub facts: Box<HandshakeFacts>,
}

/// What a handshake settled besides version and cipher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeFacts {
    /// The key exchange group ("X25519", "secp256r1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_exchange: Option<String>,
    /// The subject of the trusted root the chain verified against (also under `--insecure`
    /// when the chain would have verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchor: Option<String>,
    /// Whether the server stapled an OCSP response, and what it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp: Option<OcspStaple>,
}

impl TlsInfo {
    /// One line for headers and transcripts.
    pub(crate) fn summary(&self) -> String {
        let verdict = match &self.verification {
            Verification::Verified => "certificate verified".to_string(),
            Verification::Insecure {
                would_fail: Some(why),
            } => format!("INSECURE: not verified ({why})"),
            Verification::Insecure { would_fail: None } => {
                "INSECURE: not verified (it would have passed)".into()
            }
        };
        let subject = self
            .chain
            .first()
            .map_or("no certificate", |c| c.subject.as_str());
        format!("{} {} ({subject}; {verdict})", self.version, self.cipher)
    }
}

/// Why TLS could not be set up or the handshake failed.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("the CA file {path} cannot be used: {reason}")]
    CaFile { path: String, reason: String },
    #[error("no trusted root certificates (platform store empty and no --ca-file)")]
    NoRoots,
    #[error("{0:?} is not a valid TLS server name")]
    BadName(String),
    #[error("certificate verification failed: {reason}")]
    Verify {
        reason: String,
        chain: Vec<CertInfo>,
    },
    #[error("TLS handshake failed: {reason}")]
    Handshake {
        reason: String,
        chain: Vec<CertInfo>,
    },
    #[error(
        "no TLS handshake within {0:?}: {hint}",
        hint = "the server may expect plaintext (wrong TLS mode for this port?)"
    )]
    Timeout(Duration),
    #[error("TLS setup failed: {0}")]
    Setup(String),
    #[error(transparent)]
    Config(#[from] TlsConfigError),
}

impl TlsError {
    /// The chain the server presented, when it got that far.
    pub(crate) fn chain(&self) -> &[CertInfo] {
        match self {
            TlsError::Verify { chain, .. } | TlsError::Handshake { chain, .. } => chain,
            _ => &[],
        }
    }
}

/// Why a TCP connection could not be made.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("cannot resolve {host}: {source}{hint}", hint = ses_dns_hint(host))]
    Resolve { host: String, source: io::Error },
    #[error("{host} resolved to no address")]
    NoAddress { host: String },
    #[error("{host} has no {family} address (it resolved only to the other family)")]
    NoAddressOfFamily { host: String, family: &'static str },
    #[error(
        "connection to {addr} refused (nothing listens on that port, or a firewall rejects it)"
    )]
    Refused { addr: SocketAddr },
    #[error(
        "no TCP connection to {host}:{port} within {timeout:?} (a firewall may drop the packets; on EC2, port 25 is throttled: use 587 or 2587)"
    )]
    Timeout {
        host: String,
        port: u16,
        timeout: Duration,
    },
    #[error("cannot connect to {addr}: {source}")]
    Io { addr: SocketAddr, source: io::Error },
}

/// What a failed lookup of an SES endpoint means: for a region smtpscope knows has an SMTP
/// endpoint, the name is right and DNS or the network is at fault; otherwise the region may
/// be misspelled or have no endpoint.
fn ses_dns_hint(host: &str) -> String {
    let Some(region) = host
        .strip_prefix("email-smtp.")
        .and_then(|h| h.strip_suffix(".amazonaws.com"))
    else {
        return String::new();
    };
    if crate::engine::ses::KNOWN_SMTP_REGIONS.contains(&region) {
        format!(
            " ({region} has an SES SMTP endpoint, so the name is right: this machine's DNS \
             or network is failing; try another resolver, or check the connection)"
        )
    } else {
        " (this region may have no SES SMTP endpoint, or the region name is misspelled)".into()
    }
}

/// Opens a TCP connection, trying each resolved address within one overall timeout.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
    family: Option<crate::engine::ext::Family>,
) -> Result<TcpStream, ConnectError> {
    // `[::1]` (the URL form of an IPv6 literal) is looked up without its brackets.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let attempt = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|source| ConnectError::Resolve {
                host: host.to_string(),
                source,
            })?
            .collect();
        let all = addrs.len();
        let addrs = crate::engine::ext::family::filter(addrs, family);
        if let (Some(f), true) = (family, addrs.is_empty() && all > 0) {
            return Err(ConnectError::NoAddressOfFamily {
                host: host.to_string(),
                family: f.name(),
            });
        }
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    // SMTP is request/response; Nagle only adds latency.
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    last = Some(ConnectError::Refused { addr: *addr });
                }
                Err(source) => {
                    last = Some(ConnectError::Io {
                        addr: *addr,
                        source,
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| ConnectError::NoAddress {
            host: host.to_string(),
        }))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Timeout {
                host: host.to_string(),
                port,
                timeout,
            })
        })
}

/// A connection that may or may not be wrapped in TLS.
#[derive(Debug)]
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }

    /// Asks the kernel to acknowledge what arrives next at once instead of delaying the ACK.
    /// Called before each wait for the server: a server that writes two small pieces (a TLS
    /// 1.3 session ticket, then the reply to the first command inside TLS) with Nagle's
    /// algorithm on holds the second until the first is acknowledged, and a delayed ACK
    /// (Linux waits up to 40 ms) would stall the session that long. Linux resets the flag
    /// after later socket operations, hence each time; elsewhere there is no such flag.
    pub(crate) fn ack_promptly(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let tcp = match self {
                Conn::Plain(s) => s,
                Conn::Tls(s) => s.get_ref().0,
            };
            // Only a latency hint: a socket that refuses it works as before.
            let _ = tcp.set_quickack(true);
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Builds TLS client sessions; the trusted roots are loaded once.
#[derive(Debug, Clone)]
pub(crate) struct TlsClient {
    /// The CA file (and built-in CA) when one is given, else the platform's roots.
    roots: Arc<RootCertStore>,
    /// With a CA file: the platform's roots followed by `roots`, loaded the first time a chain
    /// does not verify against `roots` alone (shared by the clones of this client).
    wider: Option<Arc<OnceLock<Arc<RootCertStore>>>>,
    provider: Arc<CryptoProvider>,
    settings: TlsSettings,
}

/// The platform's trusted roots; a broken platform certificate is skipped, not fatal.
fn add_native_roots(roots: &mut RootCertStore) {
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
}

impl TlsClient {
    /// Reads the optional CA file, and the platform's roots (unless disabled) now when there is
    /// no CA file, else only if a chain needs them (see `RecordingVerifier::roots_for_retry`).
    pub(crate) fn new(settings: TlsSettings) -> Result<TlsClient, TlsError> {
        let mut roots = RootCertStore::empty();
        let own_ca = settings.ca_file.is_some() || settings.ca_pem.is_some();
        if !settings.no_native_roots && !own_ca {
            add_native_roots(&mut roots);
        }
        if let Some(path) = &settings.ca_file {
            let name = super::limited::shown(path);
            let pem = super::limited::read_to_string(path, "the CA file", CA_FILE_LIMIT).map_err(
                |e| TlsError::CaFile {
                    path: name.clone(),
                    reason: e.to_string(),
                },
            )?;
            for cert in parse_ca_pem(pem.as_bytes(), &name)? {
                let _ = roots.add(cert); // checked by parse_ca_pem
            }
        }
        if let Some(pem) = &settings.ca_pem {
            for cert in parse_ca_pem(pem.as_bytes(), "<built-in CA>")? {
                let _ = roots.add(cert);
            }
        }
        if roots.is_empty() && !settings.insecure {
            return Err(TlsError::NoRoots);
        }
        Ok(TlsClient {
            roots: Arc::new(roots),
            wider: (own_ca && !settings.no_native_roots).then(|| Arc::new(OnceLock::new())),
            provider: Arc::new(config::provider(&settings.pins)?),
            settings,
        })
    }

    /// The name to verify: the SNI override, else the host.
    pub(crate) fn server_name_for(&self, host: &str) -> String {
        self.settings.sni.clone().unwrap_or_else(|| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
    }

    /// Runs the handshake over an established TCP stream.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        timeout: Duration,
    ) -> Result<(TlsStream<TcpStream>, TlsInfo), TlsError> {
        let name_text = self.server_name_for(host);
        let server_name = ServerName::try_from(name_text.clone())
            .map_err(|_| TlsError::BadName(name_text.clone()))?;
        let inner =
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| TlsError::Setup(e.to_string()))?;
        let observed = Arc::new(Mutex::new(Observed::default()));
        let verifier = Arc::new(RecordingVerifier {
            inner,
            insecure: self.settings.insecure,
            observed: observed.clone(),
            roots: self.roots.clone(),
            wider: self.wider.clone(),
            provider: self.provider.clone(),
        });
        let versions = config::rustls_versions(&self.settings.pins, &self.provider)?;
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.settings.identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key())
                .map_err(|e| TlsConfigError::Identity(e.to_string()))?,
            None => builder.with_no_client_auth(),
        };
        let connector = TlsConnector::from(Arc::new(config));
        let result = tokio::time::timeout(timeout, connector.connect(server_name, tcp)).await;
        let observed = observed.lock().map(|o| o.clone()).unwrap_or_default();
        let chain: Vec<CertInfo> = observed
            .chain
            .iter()
            .map(|der| describe_cert(der))
            .collect();
        let stream = match result {
            Err(_) => return Err(TlsError::Timeout(timeout)),
            Ok(Err(e)) => return Err(explain_failure(&e, &name_text, chain)),
            Ok(Ok(s)) => s,
        };
        let (_, conn) = stream.get_ref();
        let version = conn.protocol_version().map_or_else(
            || "unknown".into(),
            |v| format!("{v:?}").replace("TLSv1_", "TLS 1."),
        );
        let cipher = conn
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |c| format!("{:?}", c.suite()));
        let key_exchange = conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()));
        let verification = if self.settings.insecure {
            Verification::Insecure {
                would_fail: observed
                    .error
                    .map(|e| plain_cert_error(&e, &name_text, &chain)),
            }
        } else {
            Verification::Verified
        };
        Ok((
            stream,
            TlsInfo {
                version,
                cipher,
                server_name: name_text,
                chain,
                verification,
                facts: Box::new(HandshakeFacts {
                    key_exchange,
                    trust_anchor: observed.anchor,
                    ocsp: Some(super::tls::ocsp::read(&observed.ocsp)),
                }),
            },
        ))
    }
}

/// The cap on a `--ca-file` (a whole system bundle is about 220 KiB).
const CA_FILE_LIMIT: u64 = super::limited::limit::CA_FILE;

/// Parses PEM CA certificates and checks that each one can be a trust anchor, so that a
/// missing, empty or garbage `--ca-file` is a usage error before connecting, not a TLS failure
/// after STARTTLS. `label` names the source in errors (escaped by the caller).
pub(crate) fn parse_ca_pem(
    pem: &[u8],
    label: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::CaFile {
        path: label.to_string(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    let mut scratch = RootCertStore::empty();
    for cert in &certs {
        scratch
            .add(cert.clone())
            .map_err(|e| err(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(certs)
}

#[derive(Debug, Default, Clone)]
struct Observed {
    chain: Vec<CertificateDer<'static>>,
    error: Option<rustls::Error>,
    anchor: Option<String>,
    ocsp: Vec<u8>,
}

/// Delegates to the `WebPKI` verifier but remembers the presented chain and the outcome.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    insecure: bool,
    observed: Arc<Mutex<Observed>>,
    roots: Arc<RootCertStore>,
    /// See [`TlsClient`]'s field of that name.
    wider: Option<Arc<OnceLock<Arc<RootCertStore>>>>,
    provider: Arc<CryptoProvider>,
}

impl RecordingVerifier {
    /// The platform's roots followed by the CA file's, when a chain failed against the CA file
    /// alone and the platform has roots to add: the store the verification is then repeated
    /// with, as if both had been loaded from the start.
    fn roots_for_retry(&self) -> Option<Arc<RootCertStore>> {
        let wider = self.wider.as_ref()?.get_or_init(|| {
            let mut all = RootCertStore::empty();
            add_native_roots(&mut all);
            all.roots.extend(self.roots.roots.iter().cloned());
            Arc::new(all)
        });
        (wider.len() > self.roots.len()).then(|| wider.clone())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let mut roots = self.roots.clone();
        if result.is_err()
            && let Some(wider) = self.roots_for_retry()
            && let Ok(verifier) =
                WebPkiServerVerifier::builder_with_provider(wider.clone(), self.provider.clone())
                    .build()
        {
            result = verifier.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
            roots = wider;
        }
        let anchor = super::tls::certinfo::find_anchor(
            &self.provider,
            &roots,
            end_entity,
            intermediates,
            now,
        );
        if let Ok(mut o) = self.observed.lock() {
            o.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            o.error = result.as_ref().err().cloned();
            o.anchor = anchor;
            o.ocsp = ocsp_response.to_vec();
        }
        if self.insecure {
            Ok(ServerCertVerified::assertion())
        } else {
            result
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn explain_failure(err: &io::Error, name: &str, chain: Vec<CertInfo>) -> TlsError {
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(_)) => {
            let reason = inner
                .map(|e| plain_cert_error(e, name, &chain))
                .unwrap_or_default();
            TlsError::Verify { reason, chain }
        }
        Some(rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. }) => {
            TlsError::Handshake {
                reason: format!(
                    "the server did not answer with TLS ({err}); it may be speaking plaintext: wrong TLS mode for this port?"
                ),
                chain,
            }
        }
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::ProtocolVersion
            | rustls::AlertDescription::HandshakeFailure
            | rustls::AlertDescription::InsufficientSecurity,
        )) => TlsError::Handshake {
            reason: format!(
                "{}: the server accepts none of the TLS versions or cipher suites offered (see --tls-min, --tls-max, --cipher; `smtpscope tls-scan` lists what it accepts)",
                inner.map(ToString::to_string).unwrap_or_default()
            ),
            chain,
        },
        Some(other) => TlsError::Handshake {
            reason: other.to_string(),
            chain,
        },
        None if err.kind() == io::ErrorKind::UnexpectedEof => TlsError::Handshake {
            reason: "the server closed the connection during the handshake".into(),
            chain,
        },
        None => TlsError::Handshake {
            reason: err.to_string(),
            chain,
        },
    }
}

/// Turns a certificate error into words a user can act on.
fn plain_cert_error(err: &rustls::Error, name: &str, chain: &[CertInfo]) -> String {
    let rustls::Error::InvalidCertificate(cert_err) = err else {
        return err.to_string();
    };
    let leaf = chain.first();
    // A lone self-signed certificate fails as "unknown issuer", or with a signature error when
    // some trusted root happens to share its subject name; either way it is simply not trusted.
    let lone_self_signed = chain.len() == 1 && leaf.is_some_and(|c| c.self_signed);
    match cert_err {
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            if lone_self_signed =>
        {
            "the certificate is self-signed and not trusted (unknown issuer); pass it with --ca-file, or --insecure to look anyway".into()
        }
        CertificateError::UnknownIssuer => {
            if let Some(leaf) =
                leaf.filter(|l| !chain.iter().skip(1).any(|c| c.subject == l.issuer))
            {
                format!(
                    "unknown issuer: nothing trusted signed this certificate (its issuer \"{}\" is not a trusted root, and the server sent no intermediate for it: a missing intermediate, or a private CA); pass that CA with --ca-file",
                    leaf.issuer
                )
            } else {
                "unknown issuer: the chain does not lead to a trusted root; add the CA with --ca-file".into()
            }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let sans = leaf.map(|c| c.sans.join(", ")).unwrap_or_default();
            format!(
                "name mismatch: the certificate is not valid for \"{name}\" (it names: {sans}); connect by that name or set --sni"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let when = leaf.map(|c| c.not_after.clone()).unwrap_or_default();
            format!("the certificate expired ({when})")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let when = leaf.map(|c| c.not_before.clone()).unwrap_or_default();
            format!("the certificate is not valid yet (from {when}); check this machine's clock")
        }
        CertificateError::Revoked => "the certificate has been revoked".into(),
        CertificateError::BadSignature => "a certificate in the chain has a bad signature".into(),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "a certificate's signature uses an algorithm that is not supported or does not match its issuer's key (the chain may point at the wrong issuer)".into()
        }
        CertificateError::BadEncoding => "the certificate is malformed (it cannot be decoded)".into(),
        CertificateError::UnhandledCriticalExtension => {
            "the certificate has a critical extension that cannot be checked".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not meant for TLS servers (wrong key usage)".into()
        }
        other => {
            let raw = format!("{other:?}");
            if raw.contains("CaUsedAsEndEntity") {
                "the server presented a CA certificate as its own certificate; a server needs a leaf certificate issued by that CA".into()
            } else {
                format!("certificate rejected: {raw}")
            }
        }
    }
}

/// Decodes a DER certificate for display; undecodable ones are named as such.
pub(crate) fn describe_cert(der: &CertificateDer<'_>) -> CertInfo {
    use x509_parser::prelude::*;
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => {
            let sans = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| {
                    ext.value
                        .general_names
                        .iter()
                        .map(|n| match n {
                            GeneralName::DNSName(d) => (*d).to_string(),
                            GeneralName::IPAddress(ip) => format_ip(ip),
                            other => format!("{other}"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let subject = cert.subject().to_string();
            let issuer = cert.issuer().to_string();
            let details = super::tls::certinfo::details(&cert, der.as_ref());
            let not_after_unix = cert.validity().not_after.timestamp();
            CertInfo {
                self_signed: subject == issuer,
                subject,
                issuer,
                not_before: cert.validity().not_before.to_string(),
                not_after: cert.validity().not_after.to_string(),
                not_after_unix: Some(not_after_unix),
                sans,
                serial: cert.raw_serial_as_string(),
                key: details.key,
                key_bits: details.key_bits,
                signature_algorithm: details.signature_algorithm,
                sha256: Some(details.sha256),
                days_left: Some(super::tls::certinfo::days_left(
                    not_after_unix,
                    chrono::Utc::now().timestamp(),
                )),
                der_base64: Some(details.der_base64),
            }
        }
        Err(e) => CertInfo {
            subject: format!("<undecodable certificate: {e}>"),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            not_after_unix: None,
            sans: Vec::new(),
            serial: String::new(),
            self_signed: false,
            sha256: Some(super::tls::certinfo::sha256_fingerprint(der.as_ref())),
            ..CertInfo::default()
        },
    }
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("{bytes:02x?}"),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_dns_failure_for_a_known_region_blames_dns_not_the_name() {
        let known = super::ses_dns_hint("email-smtp.eu-west-1.amazonaws.com");
        assert!(known.contains("DNS or network"), "{known}");
        assert!(!known.contains("misspelled"), "{known}");
        let unknown = super::ses_dns_hint("email-smtp.eu-wets-1.amazonaws.com");
        assert!(unknown.contains("misspelled"), "{unknown}");
        assert!(super::ses_dns_hint("smtp.example.com").is_empty());
    }
    use super::*;

    fn cert(subject: &str, issuer: &str) -> CertInfo {
        CertInfo {
            subject: subject.into(),
            issuer: issuer.into(),
            not_before: "Jan  1 00:00:00 2020 +00:00".into(),
            not_after: "Jan  1 00:00:00 2021 +00:00".into(),
            not_after_unix: Some(1_609_459_200),
            sans: vec!["mail.example".into()],
            serial: "01".into(),
            self_signed: subject == issuer,
            ..CertInfo::default()
        }
    }

    fn reason(err: CertificateError, chain: &[CertInfo]) -> String {
        plain_cert_error(
            &rustls::Error::InvalidCertificate(err),
            "mail.example",
            chain,
        )
    }

    #[test]
    fn a_lone_self_signed_certificate_is_named_whatever_the_error() {
        let lone = [cert("CN=localhost", "CN=localhost")];
        let signature_mismatch =
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![1],
                public_key_algorithm_id: vec![2],
            };
        for err in [
            CertificateError::UnknownIssuer,
            CertificateError::BadSignature,
            signature_mismatch.clone(),
        ] {
            assert!(reason(err, &lone).contains("self-signed"));
        }
        // In a longer chain the same signature error is not blamed on self-signing.
        let chain = [cert("CN=leaf", "CN=int"), cert("CN=int", "CN=root")];
        let text = reason(signature_mismatch, &chain);
        assert!(
            !text.contains("self-signed") && text.contains("issuer's key"),
            "{text}"
        );
    }

    #[test]
    fn common_failures_are_in_plain_words() {
        let chain = [cert("CN=leaf", "CN=missing intermediate")];
        assert!(reason(CertificateError::UnknownIssuer, &chain).contains("missing intermediate"));
        assert!(
            reason(CertificateError::Expired, &chain).contains("expired (Jan  1 00:00:00 2021")
        );
        let name = reason(CertificateError::NotValidForName, &chain);
        assert!(name.contains("not valid for \"mail.example\""), "{name}");
        assert!(!reason(CertificateError::BadEncoding, &chain).contains('{'));
    }
}
