//! Warnings about a TLS session that worked but will not for long, or not everywhere: a
//! certificate about to expire, and a protocol version below what the provider requires
//! (`min_tls` in `assets/providers.toml`).

use crate::engine::provider::Provider;
use crate::engine::transport::TlsInfo;

/// A certificate with this many days left or fewer is worth a warning: Let's Encrypt renews
/// 30 days ahead, so a certificate this close to its end means renewal has been failing.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// "TLS 1.2" or "1.2" → (1, 2); `None` for anything that does not read as a TLS version.
fn version_numbers(text: &str) -> Option<(u8, u8)> {
    let text = text.trim();
    let number = text
        .strip_prefix("TLS")
        .unwrap_or(text)
        .trim_start_matches(['v', ' ']);
    let (major, minor) = number.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The warnings for a TLS session just established, given who the server is.
pub fn for_session(info: &TlsInfo, provider: Option<&Provider>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, cert) in info.chain.iter().enumerate() {
        let Some(days) = cert.days_left else {
            continue;
        };
        if (0..=EXPIRY_WARNING_DAYS).contains(&days) {
            let which = if i == 0 {
                "the server's certificate".to_string()
            } else {
                format!("certificate #{i} of the chain")
            };
            out.push(format!(
                "{which} ({}) expires in {days} day{} ({}): mail will fail once it does; renew it now (a renewal that runs on time replaces a certificate weeks before this)",
                cert.subject,
                if days == 1 { "" } else { "s" },
                cert.not_after
            ));
        }
    }
    if let (Some(provider), Some(min)) = (provider, provider.and_then(|p| p.min_tls.as_deref())) {
        let below = match (version_numbers(&info.version), version_numbers(min)) {
            (Some(got), Some(need)) => got < need,
            _ => false,
        };
        if below {
            out.push(format!(
                "{} requires TLS {} or later and this session uses {}: the provider refuses or will refuse it; use a client that speaks TLS 1.2 (see {})",
                provider.name,
                min.trim_start_matches("TLS").trim(),
                info.version,
                provider.min_tls_source.as_deref().unwrap_or(&provider.source)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::provider::Providers;
    use crate::engine::transport::{CertInfo, Verification};

    fn info(version: &str, days: &[i64]) -> TlsInfo {
        TlsInfo {
            version: version.into(),
            cipher: "x".into(),
            server_name: "mail.example".into(),
            chain: days
                .iter()
                .map(|d| CertInfo {
                    subject: "CN=mail.example".into(),
                    not_after: "soon".into(),
                    days_left: Some(*d),
                    ..CertInfo::default()
                })
                .collect(),
            verification: Verification::Verified,
            facts: Box::default(),
        }
    }

    #[test]
    fn certificates_close_to_expiry_are_warned_about_and_others_are_not() {
        let w = for_session(&info("TLS 1.3", &[14, 15, 400]), None);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("expires in 14 days"), "{w:?}");
        let w = for_session(&info("TLS 1.3", &[90, 1]), None);
        assert!(
            w.len() == 1
                && w[0].contains("certificate #1 of the chain")
                && w[0].contains("1 day ("),
            "{w:?}"
        );
        // Expired is verification's business (it fails), not a warning.
        assert!(for_session(&info("TLS 1.3", &[-1]), None).is_empty());
    }

    #[test]
    fn versions_below_the_providers_minimum_are_warned_about() {
        let providers = Providers::builtin();
        let ses = providers.get("ses").unwrap();
        let m365 = providers.get("microsoft365").unwrap();
        let gmail = providers.get("gmail").unwrap();
        for p in [ses, m365] {
            let w = for_session(&info("TLS 1.1", &[]), Some(p));
            assert!(w.len() == 1 && w[0].contains("requires TLS 1.2"), "{w:?}");
            assert!(for_session(&info("TLS 1.2", &[]), Some(p)).is_empty());
            assert!(for_session(&info("TLS 1.3", &[]), Some(p)).is_empty());
        }
        assert!(for_session(&info("TLS 1.0", &[]), Some(gmail)).is_empty());
    }
}
