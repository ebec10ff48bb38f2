//! The simulator's TLS: a throw-away CA and a server certificate for the configured names,
//! generated at start (rcgen), and the rustls server configuration for STARTTLS and the
//! implicit-TLS listener. Clients trust the simulator by loading the CA's PEM (`--ca-file`).

use std::sync::Arc;

use chrono::{Datelike, Duration as ChronoDuration, Utc};
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// Why the TLS material could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up the simulator's TLS: {0}")]
pub struct TlsSetupError(pub String);

fn setup<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> TlsSetupError + '_ {
    move |e| TlsSetupError(format!("{what}: {e}"))
}

/// The generated certificates and the acceptor that serves them.
#[derive(Clone)]
pub(crate) struct SimTls {
    /// The CA certificate in PEM, for clients to trust.
    pub ca_pem: String,
    /// The server certificate in PEM (the names it carries are `names`).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests"))]
    pub server_pem: String,
    pub names: Vec<String>,
    pub acceptor: TlsAcceptor,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[0] &= 0x7f; // a positive INTEGER
    SerialNumber::from_slice(&bytes)
}

/// Makes a CA and a server certificate for `names` (DNS names or IP addresses; the first is
/// the common name) and a TLS 1.2/1.3 server configuration with them.
pub(crate) fn generate(names: &[String]) -> Result<SimTls, TlsSetupError> {
    let Some(first) = names.first() else {
        return Err(TlsSetupError("no certificate names".into()));
    };
    let now = Utc::now();
    // Whole days in UTC: chrono's dates are always valid, so rcgen's helper cannot fail.
    let date = |at: chrono::DateTime<Utc>| {
        // Month (1-12) and day (1-31) always fit in a u8.
        let small = |v: u32| u8::try_from(v).unwrap_or(1);
        rcgen::date_time_ymd(at.year(), small(at.month()), small(at.day()))
    };

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.remove(DnType::CommonName);
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "smtpscope");
    ca_params.distinguished_name.push(
        DnType::CommonName,
        "smtpscope simulator CA (generated at start; not a real CA)",
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = date(now - ChronoDuration::days(1));
    ca_params.not_after = date(now + ChronoDuration::days(825));
    ca_params.serial_number = Some(random_serial());
    let ca_key = KeyPair::generate().map_err(setup("CA key"))?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(setup("CA certificate"))?;

    let mut params = CertificateParams::new(names.to_vec()).map_err(setup("certificate names"))?;
    params.distinguished_name.remove(DnType::CommonName);
    params
        .distinguished_name
        .push(DnType::CommonName, first.as_str());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = date(now - ChronoDuration::days(1));
    params.not_after = date(now + ChronoDuration::days(397));
    params.serial_number = Some(random_serial());
    let key = KeyPair::generate().map_err(setup("server key"))?;
    let cert = params
        .signed_by(&key, &ca)
        .map_err(setup("server certificate"))?;

    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup("TLS versions"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(setup("server key"))?;
    Ok(SimTls {
        ca_pem: ca.pem(),
        server_pem: cert.pem(),
        names: names.to_vec(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_carries_the_names_and_chains_to_the_ca() {
        let names: Vec<String> = [
            "email-smtp.us-east-1.amazonaws.com",
            "localhost",
            "127.0.0.1",
            "::1",
        ]
        .map(String::from)
        .to_vec();
        let tls = generate(&names).unwrap();
        assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let der = |pem: &str| {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
        };
        let leaf_der = der(&tls.server_pem);
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
        let ca_der = der(&tls.ca_pem);
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert_eq!(leaf.issuer(), ca.subject());
        assert!(ca.is_ca());
        assert!(!leaf.is_ca());
        let cn = leaf.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "email-smtp.us-east-1.amazonaws.com");
        let sans = leaf.subject_alternative_name().unwrap().unwrap();
        assert_eq!(sans.value.general_names.len(), 4);
        assert!(leaf.validity().is_valid());
        // Each start makes a new CA.
        assert_ne!(generate(&names).unwrap().ca_pem, tls.ca_pem);
    }

    #[test]
    fn no_names_is_an_error() {
        assert!(generate(&[]).is_err());
    }
}
