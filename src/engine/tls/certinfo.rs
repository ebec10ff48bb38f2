//! What a certificate says, for the certificate view and `tls-started`: its key, signature
//! algorithm, SHA-256 fingerprint, days left; the trust anchor a verified chain leads to; the
//! chain as PEM for a file.
//!
//! Certificates are decoded with `x509-parser` (the rusticata project's parser, fuzzed and used
//! by Suricata), which this crate already used for names and dates; the trust anchor comes
//! from rustls's own path builder (`rustls-webpki`), so it is the anchor verification used.

use std::path::Path;

use base64::Engine;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};
use thiserror::Error;
use x509_parser::prelude::*;

use crate::engine::transport::{CertInfo, TlsInfo};

const SECONDS_PER_DAY: i64 = 86_400;

/// The facts of one certificate beyond its names and dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Details {
    pub key: Option<String>,
    pub key_bits: Option<u32>,
    pub signature_algorithm: Option<String>,
    pub sha256: String,
    pub der_base64: String,
}

/// A SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it: upper-case hex pairs
/// joined by colons.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn short_name(oid: &x509_parser::oid_registry::Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map_or_else(|_| oid.to_id_string(), ToString::to_string)
}

/// NIST names of the common curves, as people search for them.
fn curve_name(sn: &str) -> &str {
    match sn {
        "prime256v1" | "secp256r1" => "P-256",
        "secp384r1" => "P-384",
        "secp521r1" => "P-521",
        other => other,
    }
}

/// The key's type and size.
fn key_of(cert: &X509Certificate<'_>) -> (Option<String>, Option<u32>) {
    let spki = cert.public_key();
    let algorithm = short_name(&spki.algorithm.algorithm);
    let parsed = spki.parsed().ok();
    match (algorithm.as_str(), parsed) {
        ("rsaEncryption", Some(key)) => (
            Some("RSA".into()),
            u32::try_from(key.key_size()).ok().filter(|b| *b > 0),
        ),
        ("id-ecPublicKey", key) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| short_name(&oid));
            let label = match curve {
                Some(c) => format!("EC {}", curve_name(&c)),
                None => "EC".into(),
            };
            let bits = key
                .map(|k| k.key_size())
                .and_then(|b| u32::try_from(b).ok())
                .filter(|b| *b > 0);
            (Some(label), bits)
        }
        ("ED25519" | "Ed25519" | "id-Ed25519", _) => (Some("Ed25519".into()), Some(256)),
        ("ED448" | "Ed448" | "id-Ed448", _) => (Some("Ed448".into()), Some(456)),
        (other, key) => (
            Some(other.to_string()),
            key.map(|k| k.key_size())
                .and_then(|b| u32::try_from(b).ok())
                .filter(|b| *b > 0),
        ),
    }
}

pub(crate) fn details(cert: &X509Certificate<'_>, der: &[u8]) -> Details {
    let (key, key_bits) = key_of(cert);
    Details {
        key,
        key_bits,
        signature_algorithm: Some(short_name(&cert.signature_algorithm.algorithm)),
        sha256: sha256_fingerprint(der),
        der_base64: base64::engine::general_purpose::STANDARD.encode(der),
    }
}

/// Whole days from `now` until `not_after` (negative once expired).
pub fn days_left(not_after_unix: i64, now_unix: i64) -> i64 {
    (not_after_unix - now_unix).div_euclid(SECONDS_PER_DAY)
}

/// "EC P-256 (256 bits)", "RSA (2048 bits)", or what is known.
pub fn key_label(c: &CertInfo) -> String {
    match (&c.key, c.key_bits) {
        (Some(k), Some(b)) => format!("{k} ({b} bits)"),
        (Some(k), None) => k.clone(),
        (None, _) => "unknown".into(),
    }
}

/// What a certificate's validity means today, in words: "29 days left", "expired 3 days ago".
pub fn days_phrase(days: i64) -> String {
    match days {
        d if d < -1 => format!("expired {} days ago", -d),
        -1 => "expired yesterday".into(),
        1 => "1 day left".into(),
        d => format!("{d} days left"),
    }
}

/// The facts of a TLS session beyond the one-line summary, for text output: the key exchange,
/// trust anchor and OCSP stapling, then one line per certificate.
pub fn summary_lines(info: &TlsInfo) -> Vec<String> {
    let mut head = Vec::new();
    if let Some(kx) = &info.facts.key_exchange {
        head.push(format!("key exchange {kx}"));
    }
    head.push(match &info.facts.trust_anchor {
        Some(a) => format!("trust anchor: {a}"),
        None => "trust anchor: none (the chain did not verify)".into(),
    });
    if let Some(o) = &info.facts.ocsp {
        head.push(format!("OCSP: {}", o.describe()));
    }
    let mut out = vec![head.join("; ")];
    for (i, c) in info.chain.iter().enumerate() {
        let mut parts = vec![key_label(c)];
        if let Some(sig) = &c.signature_algorithm {
            parts.push(format!("signed {sig}"));
        }
        if let Some(d) = c.days_left {
            parts.push(days_phrase(d));
        }
        if let Some(fp) = &c.sha256 {
            parts.push(format!("SHA-256 {fp}"));
        }
        out.push(format!("#{i} {}: {}", c.subject, parts.join(", ")));
    }
    out
}

/// The subject of a trust anchor (webpki keeps the DER contents of its Name, without the
/// SEQUENCE header), in the same form as certificate subjects.
pub(crate) fn anchor_subject(anchor: &TrustAnchor<'_>) -> String {
    let inner = anchor.subject.as_ref();
    let mut der = vec![0x30];
    let len = inner.len();
    if len < 0x80 {
        der.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        der.extend(bytes);
    }
    der.extend_from_slice(inner);
    match X509Name::from_der(&der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => "<a trust anchor whose name cannot be decoded>".into(),
    }
}

/// The trust anchor a chain verifies against, found by the same path building rustls uses;
/// `None` when the chain does not verify (for any reason, including the name).
pub(crate) fn find_anchor(
    provider: &rustls::crypto::CryptoProvider,
    roots: &rustls::RootCertStore,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(end_entity).ok()?;
    let path = cert
        .verify_for_usage(
            provider.signature_verification_algorithms.all,
            &roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .ok()?;
    Some(anchor_subject(path.anchor()))
}

/// Why the chain could not be written out.
#[derive(Debug, Error)]
pub enum ExportError {
    #[error("there is no certificate to export: TLS has not started")]
    Empty,
    #[error(
        "this transcript does not hold the certificates themselves (it was saved by an older smtpscope)"
    )]
    NoDer,
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The chain as PEM, leaf first, as the server sent it.
pub fn chain_pem(chain: &[CertInfo]) -> Result<String, ExportError> {
    if chain.is_empty() {
        return Err(ExportError::Empty);
    }
    let mut out = String::new();
    for c in chain {
        let b64 = c.der_base64.as_deref().ok_or(ExportError::NoDer)?;
        // Decoded and encoded again, so only base64 reaches the file whatever the transcript
        // held.
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| ExportError::NoDer)?;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    Ok(out)
}

/// Writes the chain as PEM to `path` (mode 0600, replacing a file there); returns how many
/// certificates were written.
pub fn export_chain(chain: &[CertInfo], path: &Path) -> Result<usize, ExportError> {
    let pem = chain_pem(chain)?;
    crate::engine::private::replace(path, pem.as_bytes()).map_err(|source| ExportError::Write {
        path: crate::engine::limited::shown(path),
        source,
    })?;
    Ok(chain.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_counts_whole_days_and_goes_negative() {
        assert_eq!(days_left(10 * SECONDS_PER_DAY, 0), 10);
        assert_eq!(days_left(10 * SECONDS_PER_DAY - 1, 0), 9);
        assert_eq!(days_left(0, 1), -1);
    }

    #[test]
    fn an_rcgen_certificate_is_described_and_exported_byte_for_byte() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mail.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let info = crate::engine::transport::describe_cert(cert.der());
        assert_eq!(info.key.as_deref(), Some("EC P-384"));
        assert_eq!(info.key_bits, Some(384));
        assert_eq!(
            info.signature_algorithm.as_deref(),
            Some("ecdsa-with-SHA384")
        );
        assert_eq!(info.sha256.as_deref().map(str::len), Some(32 * 3 - 1));
        let pem = chain_pem(std::slice::from_ref(&info)).unwrap();
        let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(back.as_ref(), cert.der().as_ref());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chain.pem");
        assert_eq!(export_chain(&[info], &file).unwrap(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(chain_pem(&[]), Err(ExportError::Empty)));
    }

    use rustls::pki_types::pem::PemObject;
}
