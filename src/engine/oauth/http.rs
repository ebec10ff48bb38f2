//! The HTTP client the OAuth grants talk through: one request per connection, HTTP/1.1 over
//! TLS (rustls, the platform's roots), bounded in time and in the size of the answer, never
//! following a redirect. Plain `http://` is allowed to this machine only (tests, local mocks):
//! the requests carry client secrets, refresh tokens and device codes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use oauth2::{HttpRequest, HttpResponse};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::engine::escape::escape_str;
use crate::engine::limited::Size;

/// The largest answer read from an authorization server; token answers are a few KiB.
pub const MAX_RESPONSE: usize = 64 * 1024;
/// How long one request (connect, TLS, request, whole answer) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request got no answer. The messages name the host, never the request's contents.
#[derive(Debug, Error)]
pub enum HttpError {
    #[error("{url} is not an address smtpscope sends OAuth requests to: {why}")]
    Url { url: String, why: &'static str },
    #[error("cannot connect to {host}: {source}")]
    Connect {
        host: String,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("no trusted root certificates were found on this machine, so {host} cannot be checked")]
    NoRoots { host: String },
    #[error("{host} did not answer within {secs} s")]
    Timeout { host: String, secs: u64 },
    #[error("the HTTP exchange with {host} failed: {reason}")]
    Http { host: String, reason: String },
    #[error("the answer from {host} is larger than the limit of {limit}")]
    TooLarge { host: String, limit: Size },
}

/// Where a request goes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    /// The host without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

/// Checks that `url` is one the grants may use: `https://HOST[:PORT]/…`, or `http://` to a
/// loopback address; no user name or password in it; no fragment.
pub fn check_url(url: &str) -> Result<Endpoint, HttpError> {
    let bad = |why| HttpError::Url {
        url: escape_str(url),
        why,
    };
    let parsed = oauth2::url::Url::parse(url).map_err(|_| bad("it is not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("it carries a user name or password"));
    }
    if parsed.fragment().is_some() {
        return Err(bad("it has a #fragment"));
    }
    let host = match parsed.host() {
        Some(oauth2::url::Host::Domain(d)) => d.to_string(),
        Some(oauth2::url::Host::Ipv4(a)) => a.to_string(),
        Some(oauth2::url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(bad("it names no host")),
    };
    let tls = match parsed.scheme() {
        "https" => true,
        "http" if is_loopback(&host) => false,
        "http" => {
            return Err(bad(
                "plain http is allowed to this machine only (127.0.0.1, ::1, localhost); use https",
            ));
        }
        _ => return Err(bad("only https (or http to this machine) is used")),
    };
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| bad("it has no port"))?;
    Ok(Endpoint { tls, host, port })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// The client. Cheap to clone; the TLS roots are loaded once, when first needed.
#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<std::sync::OnceLock<Option<Arc<ClientConfig>>>>,
    timeout: Duration,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new(REQUEST_TIMEOUT)
    }
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Self {
        HttpClient {
            tls: Arc::new(std::sync::OnceLock::new()),
            timeout,
        }
    }

    fn tls_config(&self) -> Option<Arc<ClientConfig>> {
        self.tls
            .get_or_init(|| {
                let mut roots = RootCertStore::empty();
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A broken platform certificate is skipped, not fatal.
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return None;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let mut config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .ok()?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Some(Arc::new(config))
            })
            .clone()
    }

    /// Sends one request and reads the whole answer, within the time and size limits.
    pub async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let endpoint = check_url(&url)?;
        let host = escape_str(&endpoint.host);
        match tokio::time::timeout(self.timeout, self.exchange(request, &endpoint)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                host,
                secs: self.timeout.as_secs(),
            }),
        }
    }

    async fn exchange(
        &self,
        request: HttpRequest,
        endpoint: &Endpoint,
    ) -> Result<HttpResponse, HttpError> {
        let host = escape_str(&endpoint.host);
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|source| HttpError::Connect {
                host: host.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        if endpoint.tls {
            let config = self
                .tls_config()
                .ok_or_else(|| HttpError::NoRoots { host: host.clone() })?;
            let name = ServerName::try_from(endpoint.host.clone()).map_err(|_| HttpError::Tls {
                host: host.clone(),
                reason: "the host is not a valid server name".into(),
            })?;
            let stream = TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Tls {
                    host: host.clone(),
                    reason: escape_str(&e.to_string()),
                })?;
            send(TokioIo::new(stream), request, endpoint, &host).await
        } else {
            send(TokioIo::new(tcp), request, endpoint, &host).await
        }
    }
}

async fn send<S>(
    io: TokioIo<S>,
    request: HttpRequest,
    endpoint: &Endpoint,
    host: &str,
) -> Result<HttpResponse, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http_err = |reason: String| HttpError::Http {
        host: host.to_string(),
        reason: escape_str(&reason),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
        .await
        .map_err(|e| http_err(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let (mut parts, body) = request.into_parts();
    // HTTP/1.1 wants the path in the request line and the host in a header.
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", oauth2::http::uri::PathAndQuery::as_str)
        .to_string();
    parts.uri = path.parse().map_err(|_| http_err("bad path".into()))?;
    let default_port = if endpoint.tls { 443 } else { 80 };
    let host_header = match (endpoint.host.contains(':'), endpoint.port == default_port) {
        (true, true) => format!("[{}]", endpoint.host),
        (true, false) => format!("[{}]:{}", endpoint.host, endpoint.port),
        (false, true) => endpoint.host.clone(),
        (false, false) => format!("{}:{}", endpoint.host, endpoint.port),
    };
    parts.headers.insert(
        oauth2::http::header::HOST,
        host_header
            .parse()
            .map_err(|_| http_err("bad host".into()))?,
    );
    let request = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http_err(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::TooLarge {
                        host: host.to_string(),
                        limit: Size(MAX_RESPONSE as u64),
                    }
                } else {
                    http_err(e.to_string())
                }
            })?
            .to_bytes();
        Ok(HttpResponse::from_parts(parts, bytes.to_vec()))
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_used() {
        assert!(check_url("https://login.microsoftonline.com/x/oauth2/v2.0/token").is_ok());
        let e = check_url("http://127.0.0.1:8080/token").unwrap();
        assert!(!e.tls);
        assert_eq!(e.port, 8080);
        assert_eq!(check_url("http://[::1]:9/t").unwrap().host, "::1");
        assert!(check_url("http://localhost/t").is_ok());
        for bad in [
            "http://example.com/token",
            "ftp://127.0.0.1/x",
            "https://user:pw@example.com/t",
            "https://example.com/t#frag",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    fn post(port: u16) -> HttpRequest {
        oauth2::http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:{port}/token"))
            .body(b"grant_type=x".to_vec())
            .unwrap()
    }

    #[tokio::test]
    async fn answers_are_capped_in_size_and_time() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // An endless answer (no length: the body runs until the connection closes).
        let endless = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endless_port = endless.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = endless.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
                .await;
            let chunk = vec![b'a'; 16 * 1024];
            while s.write_all(&chunk).await.is_ok() {}
        });
        let client = HttpClient::new(Duration::from_secs(5));
        let err = client.call(post(endless_port)).await.unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_port = silent.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (s, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(s);
        });
        let client = HttpClient::new(Duration::from_secs(1));
        let started = std::time::Instant::now();
        let err = client.call(post(silent_port)).await.unwrap_err();
        assert!(matches!(err, HttpError::Timeout { secs: 1, .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err.to_string(), "127.0.0.1 did not answer within 1 s");
    }
}
