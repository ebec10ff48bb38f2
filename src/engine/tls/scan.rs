//! `tls-scan`: which of TLS 1.2 and 1.3 a server accepts, and what it chose for each (cipher
//! suite, key exchange group). One real SMTP session per version (greeting, EHLO and STARTTLS
//! when the mode says so), each offering that version alone, so every answer is the server's
//! own choice among everything smtpscope can offer (or among the pinned `--cipher`s).

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::config::{self, TlsVersion};
use crate::engine::command::Command;
use crate::engine::session::{Event, Session, SessionConfig};
use crate::engine::transcript::{Entry, EntryKind};
use crate::engine::transport::{TlsInfo, TlsMode};

/// What one version's attempt found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionResult {
    /// "1.2" or "1.3".
    pub version: TlsVersion,
    pub accepted: bool,
    /// The cipher suite the server chose (IANA name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The key exchange group the server chose ("X25519", "secp256r1").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_exchange: Option<String>,
    /// Why the version was not accepted or not tried, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The full TLS facts of the accepted session (certificate chain included).
    #[serde(skip)]
    pub info: Option<TlsInfo>,
}

/// The standard name of a cipher suite as `TlsInfo` records it (rustls writes `TLS13_…`).
pub fn standard_cipher(text: &str) -> String {
    match text.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => text.to_string(),
    }
}

/// Tries each version the pins allow (both by default); the others are reported as not tried.
pub async fn scan(cfg: &SessionConfig, ehlo: &str) -> Vec<VersionResult> {
    let allowed = config::versions(&cfg.tls.pins).unwrap_or_default();
    let mut out = Vec::new();
    for version in TlsVersion::ALL {
        if !allowed.contains(&version) {
            out.push(VersionResult {
                version,
                accepted: false,
                cipher: None,
                key_exchange: None,
                reason: Some("not tried (outside --tls-min/--tls-max)".into()),
                info: None,
            });
            continue;
        }
        let mut one = cfg.clone();
        one.tls.pins.min = Some(version);
        one.tls.pins.max = Some(version);
        if config::provider(&one.tls.pins).is_err() {
            out.push(VersionResult {
                version,
                accepted: false,
                cipher: None,
                key_exchange: None,
                reason: Some(format!(
                    "not tried (no --cipher given is a TLS {} suite)",
                    version.number()
                )),
                info: None,
            });
            continue;
        }
        out.push(try_version(one, ehlo, version).await);
    }
    out
}

async fn try_version(cfg: SessionConfig, ehlo: &str, version: TlsVersion) -> VersionResult {
    let entries: Arc<Mutex<Vec<Entry>>> = Arc::new(Mutex::new(Vec::new()));
    let sink_entries = entries.clone();
    let mode = cfg.tls_mode;
    let mut session = Session::new(
        cfg,
        Box::new(move |ev| {
            if let (Event::Entry(e), Ok(mut list)) = (ev, sink_entries.lock()) {
                list.push(e);
            }
        }),
    );
    let mut failed = session.connect().await.is_err();
    if !failed && mode == TlsMode::Starttls {
        failed = session
            .command(&Command::Ehlo(ehlo.to_string()))
            .await
            .is_err();
        if !failed {
            let _ = session.command(&Command::StartTls).await;
        }
    }
    session.close().await;
    let entries = entries.lock().map(|e| e.clone()).unwrap_or_default();
    let info = entries.iter().find_map(|e| match &e.kind {
        EntryKind::TlsStarted { info } => Some(info.clone()),
        _ => None,
    });
    let error = entries.iter().find_map(|e| match &e.kind {
        EntryKind::Error { text, .. } => Some(text.clone()),
        _ => None,
    });
    match info {
        Some(info) => VersionResult {
            version,
            accepted: true,
            cipher: Some(standard_cipher(&info.cipher)),
            key_exchange: info.facts.key_exchange.clone(),
            reason: None,
            info: Some(info),
        },
        None => VersionResult {
            version,
            accepted: false,
            cipher: None,
            key_exchange: None,
            reason: Some(error.unwrap_or_else(|| {
                if mode == TlsMode::None {
                    "no TLS with --tls none".into()
                } else {
                    "the server did not start TLS".into()
                }
            })),
            info: None,
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls13_suites_get_their_standard_names() {
        assert_eq!(
            super::standard_cipher("TLS13_AES_256_GCM_SHA384"),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(
            super::standard_cipher("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
    }
}
