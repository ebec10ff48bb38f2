//! Pinning the handshake (`--tls-min`, `--tls-max`, `--cipher`) and the client certificate
//! (`--cert`, `--key`): turning the user's choices into the protocol versions, cipher suites and
//! identity rustls is given.
//!
//! rustls, the TLS library smtpscope uses, speaks TLS 1.2 and TLS 1.3 only; asking for 1.0 or
//! 1.1 is refused in words that say so, rather than silently using 1.2.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::limited;

/// The largest client certificate chain file read (PEM).
pub const CERT_FILE_LIMIT: u64 = 1024 * 1024;
/// The largest private key file read (PEM); a 16384-bit RSA key is about 13 KiB.
pub const KEY_FILE_LIMIT: u64 = 64 * 1024;

/// A TLS protocol version smtpscope can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 2] = [TlsVersion::Tls12, TlsVersion::Tls13];

    /// "1.2" or "1.3".
    pub fn number(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }

    /// rustls's description of this version.
    pub(crate) fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        }
    }

    /// Parses "1.2", "1.3" (also "TLS1.2", "tlsv1.3"); 1.0, 1.1 and SSL are refused with the
    /// reason.
    pub fn parse(text: &str) -> Result<TlsVersion, TlsConfigError> {
        let lower = text.trim().to_ascii_lowercase();
        let number = lower
            .trim_start_matches("tls")
            .trim_start_matches('v')
            .trim_start_matches(' ');
        match number {
            "1.2" | "12" | "1_2" => Ok(TlsVersion::Tls12),
            "1.3" | "13" | "1_3" => Ok(TlsVersion::Tls13),
            "1.0" | "1" | "10" | "1_0" | "1.1" | "11" | "1_1" => {
                Err(TlsConfigError::Unsupported(text.to_string()))
            }
            _ if lower.starts_with("ssl") => Err(TlsConfigError::Unsupported(text.to_string())),
            _ => Err(TlsConfigError::BadVersion(text.to_string())),
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS {}", self.number())
    }
}

/// What the user pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPins {
    pub min: Option<TlsVersion>,
    pub max: Option<TlsVersion>,
    /// Cipher suite names (rustls's or the IANA standard names); empty means all.
    pub ciphers: Vec<String>,
}

/// Why a pin or a client certificate cannot be used.
#[derive(Debug, Error)]
pub enum TlsConfigError {
    #[error(
        "TLS version {0:?} is not available: smtpscope's TLS library (rustls) speaks only TLS 1.2 and TLS 1.3, because older versions are broken; servers that still need 1.0 or 1.1 can be checked with `openssl s_client -tls1` or `-tls1_1`"
    )]
    Unsupported(String),
    #[error("{0:?} is not a TLS version: use 1.2 or 1.3")]
    BadVersion(String),
    #[error("--tls-min {min} is above --tls-max {max}: no version is left to offer")]
    EmptyRange { min: TlsVersion, max: TlsVersion },
    #[error("unknown cipher suite {name:?}; the ones smtpscope can offer are: {known}")]
    UnknownCipher { name: String, known: String },
    #[error(
        "the cipher suites given with --cipher ({ciphers}) cannot be used with {versions}: TLS 1.3 suites start with TLS13_ (or TLS_AES/TLS_CHACHA20), TLS 1.2 suites with TLS_ECDHE_"
    )]
    NoSuiteForVersions { ciphers: String, versions: String },
    #[error("the client certificate file {path} cannot be used: {reason}")]
    CertFile { path: String, reason: String },
    #[error("the client key file {path} cannot be used: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("the client certificate and key cannot be used together: {0}")]
    Identity(String),
}

/// The versions to offer, lowest first.
pub fn versions(pins: &TlsPins) -> Result<Vec<TlsVersion>, TlsConfigError> {
    let min = pins.min.unwrap_or(TlsVersion::Tls12);
    let max = pins.max.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(TlsConfigError::EmptyRange { min, max });
    }
    Ok(TlsVersion::ALL
        .into_iter()
        .filter(|v| (min..=max).contains(v))
        .collect())
}

/// The standard (IANA) name of a suite: rustls calls the TLS 1.3 ones `TLS13_…`, the registry
/// `TLS_…`; the TLS 1.2 names are the same in both.
pub fn standard_name(suite: SupportedCipherSuite) -> String {
    let rustls_name = format!("{:?}", suite.suite());
    match rustls_name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => rustls_name,
    }
}

/// Every suite smtpscope can offer, by standard name.
pub fn known_ciphers() -> Vec<String> {
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .into_iter()
        .map(standard_name)
        .collect()
}

fn matches_name(suite: SupportedCipherSuite, wanted: &str) -> bool {
    let wanted = wanted.trim().to_ascii_uppercase().replace('-', "_");
    wanted == standard_name(suite) || wanted == format!("{:?}", suite.suite())
}

/// The crypto provider with only the pinned cipher suites (all of them when none is pinned),
/// checked against the versions: each version offered keeps at least one suite.
pub fn provider(pins: &TlsPins) -> Result<CryptoProvider, TlsConfigError> {
    let versions = versions(pins)?;
    let mut provider = rustls::crypto::ring::default_provider();
    if pins.ciphers.is_empty() {
        return Ok(provider);
    }
    let mut chosen = Vec::new();
    for name in &pins.ciphers {
        let Some(suite) = provider
            .cipher_suites
            .iter()
            .copied()
            .find(|s| matches_name(*s, name))
        else {
            return Err(TlsConfigError::UnknownCipher {
                name: name.clone(),
                known: known_ciphers().join(", "),
            });
        };
        if !chosen.contains(&suite) {
            chosen.push(suite);
        }
    }
    let usable = chosen
        .iter()
        .any(|s| versions.iter().any(|v| s.version() == v.rustls()));
    if !usable {
        return Err(TlsConfigError::NoSuiteForVersions {
            ciphers: pins.ciphers.join(", "),
            versions: versions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and "),
        });
    }
    provider.cipher_suites = chosen;
    Ok(provider)
}

/// The versions to hand rustls: only those a pinned suite can serve.
pub(crate) fn rustls_versions(
    pins: &TlsPins,
    provider: &CryptoProvider,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsConfigError> {
    Ok(versions(pins)?
        .into_iter()
        .map(TlsVersion::rustls)
        .filter(|v| provider.cipher_suites.iter().any(|s| s.version() == *v))
        .collect())
}

/// The files of a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A client certificate chain and its private key, read and checked. Its `Debug` leaves the
/// key out.
#[derive(Clone)]
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .field("key", &"<not shown>")
            .finish()
    }
}

impl ClientIdentity {
    /// Reads the certificate chain and the key (bounded; the key in memory wiped on drop), and
    /// checks that they belong together. Errors never quote the key file's contents.
    pub fn load(files: &ClientCertFiles) -> Result<ClientIdentity, TlsConfigError> {
        let cert_name = limited::shown(&files.cert);
        let cert_err = |reason: String| TlsConfigError::CertFile {
            path: cert_name.clone(),
            reason,
        };
        let pem = limited::read_to_string(&files.cert, "the client certificate", CERT_FILE_LIMIT)
            .map_err(|e| cert_err(e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_err(format!("not PEM ({e})")))?;
        if chain.is_empty() {
            return Err(cert_err("no PEM certificate in it".into()));
        }
        let key = read_key(&files.key)?;
        let identity = ClientIdentity {
            chain,
            key: Arc::new(key),
        };
        identity.check()?;
        Ok(identity)
    }

    fn check(&self) -> Result<(), TlsConfigError> {
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(self.key())
            .map_err(|e| TlsConfigError::Identity(format!("the key is not usable ({e})")))?;
        let certified = rustls::sign::CertifiedKey::new(self.chain.clone(), signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(())
            }
            Err(_) => Err(TlsConfigError::Identity(
                "the key does not match the first certificate of the file (is it the key of another certificate?)".into(),
            )),
        }
    }

    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// Loads the identity of `--cert`/`--key` when both are given.
    pub fn load_optional(
        files: Option<&ClientCertFiles>,
    ) -> Result<Option<Arc<ClientIdentity>>, TlsConfigError> {
        files
            .map(|f| ClientIdentity::load(f).map(Arc::new))
            .transpose()
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let name = limited::shown(path);
    let err = |reason: &str| TlsConfigError::KeyFile {
        path: name.clone(),
        reason: reason.to_string(),
    };
    let text = limited::read_secret_file(path, "the client key", KEY_FILE_LIMIT)
        .map_err(|e| err(&e.to_string()))?;
    // The parser's own error could name what it found; say only what is wrong.
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| {
        err("no PEM private key in it (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_old_ones_are_refused_in_words() {
        assert_eq!(TlsVersion::parse("1.2").unwrap(), TlsVersion::Tls12);
        assert_eq!(TlsVersion::parse("TLSv1.3").unwrap(), TlsVersion::Tls13);
        for old in ["1.0", "1.1", "tls1.1", "SSLv3"] {
            let e = TlsVersion::parse(old).unwrap_err().to_string();
            assert!(e.contains("only TLS 1.2 and TLS 1.3"), "{old}: {e}");
        }
        assert!(
            TlsVersion::parse("2.0")
                .unwrap_err()
                .to_string()
                .contains("not a TLS version")
        );
    }

    #[test]
    fn the_range_is_checked_and_narrowed() {
        let pins = |min, max| TlsPins {
            min,
            max,
            ciphers: vec![],
        };
        assert_eq!(
            versions(&pins(None, None)).unwrap(),
            [TlsVersion::Tls12, TlsVersion::Tls13]
        );
        assert_eq!(
            versions(&pins(Some(TlsVersion::Tls13), None)).unwrap(),
            [TlsVersion::Tls13]
        );
        assert_eq!(
            versions(&pins(None, Some(TlsVersion::Tls12))).unwrap(),
            [TlsVersion::Tls12]
        );
        assert!(versions(&pins(Some(TlsVersion::Tls13), Some(TlsVersion::Tls12))).is_err());
    }

    #[test]
    fn ciphers_are_found_by_either_name_and_checked_against_the_versions() {
        let pins = |ciphers: &[&str], min| TlsPins {
            min,
            max: None,
            ciphers: ciphers.iter().map(ToString::to_string).collect(),
        };
        let p = provider(&pins(&["TLS_AES_128_GCM_SHA256"], None)).unwrap();
        assert_eq!(p.cipher_suites.len(), 1);
        assert_eq!(standard_name(p.cipher_suites[0]), "TLS_AES_128_GCM_SHA256");
        let p = provider(&pins(&["tls13-aes-128-gcm-sha256"], None)).unwrap();
        assert_eq!(
            rustls_versions(&pins(&[], None), &p).unwrap(),
            [&rustls::version::TLS13]
        );
        let e = provider(&pins(&["RC4-MD5"], None)).unwrap_err().to_string();
        assert!(e.contains("TLS_AES_256_GCM_SHA384"), "{e}");
        let e = provider(&pins(
            &["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
            Some(TlsVersion::Tls13),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot be used with TLS 1.3"), "{e}");
    }
}
