//! The TLS flags every command that connects shares (`--tls-min`, `--tls-max`, `--cipher`,
//! `--cert`, `--key`), flattened into the target flags, and `--save-chain` for the commands
//! that print a session.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::cli::CliError;
use crate::engine::command::check_arg;
use crate::engine::tls::config::{ClientCertFiles, ClientIdentity, TlsPins, TlsVersion};

fn version(text: &str) -> Result<TlsVersion, String> {
    TlsVersion::parse(text).map_err(|e| e.to_string())
}

/// Pinning the handshake, and the client certificate.
#[derive(Debug, Clone, Args, Default)]
pub struct TlsArgs {
    /// Lowest TLS version to offer: 1.2 or 1.3 (smtpscope speaks only these two)
    #[arg(long, value_name = "VERSION", value_parser = version, help_heading = "TLS")]
    pub tls_min: Option<TlsVersion>,
    /// Highest TLS version to offer: 1.2 or 1.3
    #[arg(long, value_name = "VERSION", value_parser = version, help_heading = "TLS")]
    pub tls_max: Option<TlsVersion>,
    /// Offer only this cipher suite (IANA name, e.g. TLS_AES_128_GCM_SHA256 or
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); repeat for more
    #[expect(
        clippy::doc_markdown,
        reason = "this comment is --help text, shown verbatim"
    )]
    #[arg(long = "cipher", value_name = "NAME", help_heading = "TLS")]
    pub ciphers: Vec<String>,
    /// Client certificate (PEM, the chain leaf first), for servers that ask for one
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Private key of --cert (PEM); read once, never shown
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS")]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The pins, checked (an unknown cipher or an empty range is a usage error).
    pub fn pins(&self) -> Result<TlsPins, CliError> {
        for c in &self.ciphers {
            check_arg("--cipher", c).map_err(|e| CliError::Usage(e.to_string()))?;
        }
        let pins = TlsPins {
            min: self.tls_min,
            max: self.tls_max,
            ciphers: self.ciphers.clone(),
        };
        crate::engine::tls::config::provider(&pins).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(pins)
    }

    /// The client certificate and key, read and checked now so a bad file is a usage error
    /// before connecting.
    pub fn identity(&self) -> Result<Option<Arc<ClientIdentity>>, CliError> {
        let files = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(ClientCertFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => None,
            _ => {
                return Err(CliError::Usage(
                    "--cert and --key go together: give both".into(),
                ));
            }
        };
        ClientIdentity::load_optional(files.as_ref()).map_err(|e| CliError::Usage(e.to_string()))
    }
}

/// Writing the presented chain to a file.
#[derive(Debug, Clone, Args, Default)]
pub struct SaveChainArgs {
    /// Write the certificate chain the server presented to FILE as PEM (mode 0600)
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub save_chain: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pins_are_usage_errors() {
        let args = TlsArgs {
            ciphers: vec!["TLS_AES_128_GCM_SHA256\r\nQUIT".into()],
            ..TlsArgs::default()
        };
        assert!(args.pins().unwrap_err().to_string().contains("--cipher"));
        let args = TlsArgs {
            tls_min: Some(TlsVersion::Tls13),
            tls_max: Some(TlsVersion::Tls12),
            ..TlsArgs::default()
        };
        assert!(args.pins().unwrap_err().to_string().contains("above"));
        assert!(
            version("1.1")
                .unwrap_err()
                .contains("only TLS 1.2 and TLS 1.3")
        );
    }

    #[test]
    fn a_key_file_is_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        let cert = dir.path().join("c.pem");
        std::fs::write(&key, "SECRET-KEY-MATERIAL-NOT-PEM").unwrap();
        let ca = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&ca)
            .unwrap();
        std::fs::write(&cert, c.pem()).unwrap();
        let args = TlsArgs {
            cert: Some(cert.clone()),
            key: Some(key.clone()),
            ..TlsArgs::default()
        };
        let e = args.identity().unwrap_err().to_string();
        assert!(
            e.contains("no PEM private key") && !e.contains("SECRET"),
            "{e}"
        );
        // Another certificate's key is refused.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&key, other.serialize_pem()).unwrap();
        let e = args.identity().unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        std::fs::write(&key, ca.serialize_pem()).unwrap();
        let id = args.identity().unwrap().unwrap();
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }
}
