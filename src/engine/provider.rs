//! Which mail service or server program is at the other end, from the host name, the greeting
//! and the EHLO reply. The rules are data (`assets/providers.toml`); this module loads them and
//! combines the signals of one connection.
//!
//! Rules of combination (also described in the data file): a host-name match wins over a
//! greeting or EHLO match; a greeting or EHLO match of a hosted service replaces server software
//! found earlier from a greeting; a provider's `refines` list names detections it may replace
//! even when they came from the host name.

use std::sync::OnceLock;

use regex_lite::{Regex, RegexBuilder};

use crate::engine::builtin_data::{Format, PROVIDERS, ParseError, parse};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bounds on the data: a broken or hostile file cannot make detection slow.
const MAX_PROVIDERS: usize = 200;
const MAX_PATTERNS: usize = 32;
const MAX_PATTERN_LEN: usize = 300;
/// Only this much of a host name, greeting or EHLO text is looked at.
const MAX_TEXT: usize = 4096;
/// The id reported when nothing matched.
pub const GENERIC: &str = "generic";

#[derive(Debug, Error)]
pub enum ProviderError {
    #[error("providers.toml: {0}")]
    Parse(#[from] ParseError),
    #[error("providers.toml: provider {id}: bad pattern {pattern:?}: {source}")]
    Pattern {
        id: String,
        pattern: String,
        source: regex_lite::Error,
    },
    #[error("providers.toml: provider {id}: {what}")]
    Invalid { id: String, what: String },
    #[error("providers.toml: {0} providers, at most {MAX_PROVIDERS} allowed")]
    TooMany(usize),
}

/// A hosted service (its host names are its own) or server software anyone can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Service,
    Software,
}

/// Where a detection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Host,
    Greeting,
    Ehlo,
}

impl Signal {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Signal::Host => "host name",
            Signal::Greeting => "greeting",
            Signal::Ehlo => "EHLO reply",
        }
    }
}

/// What a connection's signals say about the server so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    pub id: String,
    pub by: Signal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    kind: Kind,
    hosts: Vec<String>,
    greeting: Vec<String>,
    ehlo: Vec<String>,
    refines: Vec<String>,
    note: String,
    source: String,
    /// The lowest TLS version the provider accepts ("1.2"), when it says so publicly.
    #[serde(default)]
    min_tls: Option<String>,
    /// Where the provider says so.
    #[serde(default)]
    min_tls_source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProviders {
    provider: Vec<RawProvider>,
}

/// One recognised provider.
#[derive(Debug)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    hosts: Vec<Regex>,
    greeting: Vec<Regex>,
    ehlo: Vec<Regex>,
    pub refines: Vec<String>,
    pub note: String,
    pub source: String,
    /// The lowest TLS version accepted ("1.2"), from the data's `min_tls`.
    pub min_tls: Option<String>,
    /// The public page that states `min_tls`.
    pub min_tls_source: Option<String>,
}

impl Provider {
    fn patterns(&self, signal: Signal) -> &[Regex] {
        match signal {
            Signal::Host => &self.hosts,
            Signal::Greeting => &self.greeting,
            Signal::Ehlo => &self.ehlo,
        }
    }
}

/// All providers, in the file's order (the first match wins).
#[derive(Debug)]
pub struct Providers {
    list: Vec<Provider>,
}

/// Checks and compiles one signal's patterns. `regex-lite` (no optimiser) because a run
/// compiles all of them at start-up to match three short texts: the `regex` crate took 2 ms
/// for the 28, `regex-lite` about 0.3. Host names and banners are ASCII, which is what its
/// classes and case folding cover.
fn compile(id: &str, patterns: Vec<String>) -> Result<Vec<Regex>, ProviderError> {
    if patterns.len() > MAX_PATTERNS {
        return Err(ProviderError::Invalid {
            id: id.into(),
            what: format!("{} patterns, at most {MAX_PATTERNS}", patterns.len()),
        });
    }
    patterns
        .into_iter()
        .map(|p| {
            if p.is_empty() || p.len() > MAX_PATTERN_LEN {
                return Err(ProviderError::Invalid {
                    id: id.into(),
                    what: format!("a pattern must have 1 to {MAX_PATTERN_LEN} characters"),
                });
            }
            RegexBuilder::new(&p)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|source| ProviderError::Pattern {
                    id: id.into(),
                    pattern: p.clone(),
                    source,
                })
        })
        .collect()
}

/// The part of a text the patterns look at: bounded, and without a trailing CR/LF.
fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim_end_matches(['\r', '\n'])
}

impl Providers {
    /// The providers built into the binary.
    ///
    /// # Panics
    /// If the built-in list is broken, which a unit test rules out.
    #[must_use]
    pub fn builtin() -> &'static Providers {
        static P: OnceLock<Providers> = OnceLock::new();
        P.get_or_init(|| {
            Providers::load(PROVIDERS.json, Format::Json).unwrap_or_else(|e| {
                panic!("the built-in provider list is broken (a test catches this): {e}")
            })
        })
    }

    /// Loads and checks a provider list.
    ///
    /// # Errors
    /// A [`ProviderError`] names the provider and what is wrong with it.
    pub fn from_toml(text: &str) -> Result<Providers, ProviderError> {
        Self::load(text, Format::Toml)
    }

    fn load(text: &str, format: Format) -> Result<Providers, ProviderError> {
        let raw: RawProviders = parse(format, text)?;
        if raw.provider.len() > MAX_PROVIDERS {
            return Err(ProviderError::TooMany(raw.provider.len()));
        }
        let mut list: Vec<Provider> = Vec::with_capacity(raw.provider.len());
        for p in raw.provider {
            let valid_id = !p.id.is_empty()
                && p.id.len() <= 40
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_id || p.id == GENERIC {
                return Err(ProviderError::Invalid {
                    id: p.id.clone(),
                    what: "an id is 1 to 40 characters of a-z, 0-9 and '-', and not \"generic\""
                        .into(),
                });
            }
            if list.iter().any(|q| q.id == p.id) {
                return Err(ProviderError::Invalid {
                    id: p.id,
                    what: "listed twice".into(),
                });
            }
            if p.name.is_empty() || p.source.is_empty() {
                return Err(ProviderError::Invalid {
                    id: p.id,
                    what: "needs a name and a source".into(),
                });
            }
            let tls_ok = match (&p.min_tls, &p.min_tls_source) {
                (None, None) => true,
                (Some(v), Some(src)) => {
                    matches!(v.as_str(), "1.0" | "1.1" | "1.2" | "1.3") && !src.is_empty()
                }
                _ => false,
            };
            if !tls_ok {
                return Err(ProviderError::Invalid {
                    id: p.id,
                    what: "min_tls is one of \"1.0\" to \"1.3\", given with min_tls_source".into(),
                });
            }
            list.push(Provider {
                min_tls: p.min_tls,
                min_tls_source: p.min_tls_source,
                hosts: compile(&p.id, p.hosts)?,
                greeting: compile(&p.id, p.greeting)?,
                ehlo: compile(&p.id, p.ehlo)?,
                id: p.id,
                name: p.name,
                kind: p.kind,
                refines: p.refines,
                note: p.note,
                source: p.source,
            });
        }
        for p in &list {
            if let Some(unknown) = p.refines.iter().find(|r| !list.iter().any(|q| &q.id == *r)) {
                return Err(ProviderError::Invalid {
                    id: p.id.clone(),
                    what: format!("refines unknown provider {unknown:?}"),
                });
            }
        }
        Ok(Providers { list })
    }

    #[must_use]
    pub fn all(&self) -> &[Provider] {
        &self.list
    }

    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.id == id)
    }

    /// The display name of an id ("generic" and unknown ids read as a generic server).
    #[must_use]
    pub fn name_of(&self, id: &str) -> &str {
        self.get(id).map_or("an SMTP server", |p| p.name.as_str())
    }

    /// The first provider one signal's text matches.
    #[must_use]
    pub fn matching(&self, signal: Signal, text: &str) -> Option<&Provider> {
        let text = bounded(text);
        if text.is_empty() {
            return None;
        }
        // Host names compare without case and without a trailing dot.
        let host;
        let text = if signal == Signal::Host {
            host = text.trim_end_matches('.').to_ascii_lowercase();
            host.as_str()
        } else {
            text
        };
        self.list
            .iter()
            .find(|p| p.patterns(signal).iter().any(|r| r.is_match(text)))
    }

    /// The detection after one more signal: `current` updated by what `text` says.
    #[must_use]
    pub fn observe(
        &self,
        current: Option<&Detected>,
        signal: Signal,
        text: &str,
    ) -> Option<Detected> {
        let Some(found) = self.matching(signal, text) else {
            return current.cloned();
        };
        let new = Detected {
            id: found.id.clone(),
            by: signal,
        };
        let Some(cur) = current else {
            return Some(new);
        };
        if cur.id == found.id {
            return Some(cur.clone());
        }
        let refines = found.refines.iter().any(|r| r == &cur.id);
        let replace = match (cur.by, signal) {
            // Nothing said later outranks the host name, unless the data says it is more precise.
            (Signal::Host, _) => refines,
            (_, Signal::Host) => true,
            _ => {
                let cur_kind = self.get(&cur.id).map(|p| p.kind);
                refines || (found.kind == Kind::Service && cur_kind == Some(Kind::Software))
            }
        };
        Some(if replace { new } else { cur.clone() })
    }
}

/// Amazon SES's provider id.
pub const SES: &str = "ses";

/// Whether SES-only remarks apply: the server mentioned SES (host, greeting, EHLO, reply) and
/// is not known to be another provider, whatever its texts quote.
#[must_use]
pub fn speaks_as_ses(mentions_ses: bool, provider: Option<&str>) -> bool {
    mentions_ses && provider.is_none_or(|p| p == SES)
}

/// The provider id to report: the detected one, or "generic".
#[must_use]
pub fn id_or_generic(d: Option<&Detected>) -> &str {
    d.map_or(GENERIC, |d| d.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> Option<String> {
        Providers::builtin()
            .matching(Signal::Host, h)
            .map(|p| p.id.clone())
    }

    fn greeting(g: &str) -> Option<String> {
        Providers::builtin()
            .matching(Signal::Greeting, g)
            .map(|p| p.id.clone())
    }

    #[test]
    fn builtin_list_loads_and_every_provider_has_a_signal() {
        let p = Providers::builtin();
        assert!(p.all().len() >= 17);
        for prov in p.all() {
            assert!(
                !(prov.hosts.is_empty() && prov.greeting.is_empty() && prov.ehlo.is_empty()),
                "{} has no way to be detected",
                prov.id
            );
            assert!(prov.source.starts_with("https://"), "{}", prov.id);
        }
    }

    #[test]
    fn host_names() {
        let cases = [
            ("email-smtp.us-east-1.amazonaws.com", "ses"),
            ("EMAIL-SMTP.eu-west-2.amazonaws.com.", "ses"),
            ("email-smtp-fips.us-gov-west-1.amazonaws.com", "ses"),
            ("smtp.office365.com", "microsoft365"),
            ("smtp-mail.outlook.com", "microsoft365"),
            ("contoso-com.mail.protection.outlook.com", "microsoft365"),
            ("smtp.gmail.com", "gmail"),
            ("smtp-relay.gmail.com", "gmail"),
            ("smtp.sendgrid.net", "sendgrid"),
            ("smtp.mailgun.org", "mailgun"),
            ("smtp.eu.mailgun.org", "mailgun"),
            ("smtp.postmarkapp.com", "postmark"),
            ("smtp.sparkpostmail.com", "sparkpost"),
            ("smtp.zoho.eu", "zoho"),
            ("smtp.zoho.com", "zoho"),
            ("smtp.mail.yahoo.com", "yahoo"),
            ("smtp.mail.me.com", "icloud"),
        ];
        for (h, id) in cases {
            assert_eq!(host(h).as_deref(), Some(id), "{h}");
        }
        for h in [
            "mail.example.com",
            "smtp.gmail.com.evil.example",
            "notsmtp.office365.com",
            "127.0.0.1",
            "email-smtp.us-east-1.amazonaws.com.example.org",
        ] {
            assert_eq!(host(h), None, "{h}");
        }
    }

    #[test]
    fn greetings() {
        let cases = [
            (
                "email-smtp.amazonaws.com ESMTP SimpleEmailService-d-ABC123 xyz",
                "ses",
            ),
            (
                "BLUPR02CA041.outlook.office365.com Microsoft ESMTP MAIL Service ready at Fri, 11 Apr 2014 21:10:09 +0000",
                "microsoft365",
            ),
            (
                "mail.blah.com Microsoft ESMTP MAIL Service ready at Wed, 6 Mar 2013 10:51:10 -0800",
                "exchange",
            ),
            ("smtp.gmail.com ESMTP x12sm123456pgh.12 - gsmtp", "gmail"),
            (
                "SG ESMTP service ready at ismtpd0003p1lon1.sendgrid.net",
                "sendgrid",
            ),
            ("smtp.postmarkapp.com ESMTP sc-ams-smtp1", "postmark"),
            (
                "mx.zohomail.com SMTP Server ready July 7, 2015 8:18:44 AM PDT",
                "zoho",
            ),
            ("gms.tgs-enterprise.com ESMTP Postfix", "postfix"),
            ("mail.example.com ESMTP Postfix (Debian/GNU)", "postfix"),
            (
                "mail.smtp.com ESMTP Exim 4.94.2-S2G Mon, 01 Nov 2021 11:28:45 +0000",
                "exim",
            ),
            (
                "mail.xxx.com ESMTP Sendmail 8.13.8/8.13.8; Mon, 16 Sep 2013 10:13:21 +0800",
                "sendmail",
            ),
            ("mail.etorok.net ESMTP OpenSMTPD", "opensmtpd"),
            ("mx.example.net ESMTP qmail ready", "qmail"),
            ("mail.example.org hMailServer ESMTP", "hmailserver"),
        ];
        for (g, id) in cases {
            assert_eq!(greeting(g).as_deref(), Some(id), "{g}");
        }
        // Greetings that name no program: stock qmail and hMailServer, aiosmtpd.
        for g in [
            "WIN-EASY ESMTP",
            "mail.example.com ESMTP",
            "host Python SMTP 1.4.6",
        ] {
            assert_eq!(greeting(g), None, "{g}");
        }
    }

    #[test]
    fn a_host_match_wins_over_a_greeting() {
        let p = Providers::builtin();
        let d = p.observe(None, Signal::Host, "smtp.office365.com");
        assert_eq!(
            d,
            Some(Detected {
                id: "microsoft365".into(),
                by: Signal::Host
            })
        );
        // A relay's banner does not overrule the host name.
        let d2 = p.observe(
            d.as_ref(),
            Signal::Greeting,
            "relay.example.com ESMTP Postfix",
        );
        assert_eq!(d2, d);
        // Nor does Exchange's generic wording: Microsoft 365 is the more precise name.
        let d3 = p.observe(
            d.as_ref(),
            Signal::Greeting,
            "x.example.com Microsoft ESMTP MAIL Service ready",
        );
        assert_eq!(d3, d);
    }

    #[test]
    fn a_more_specific_later_signal_refines() {
        let p = Providers::builtin();
        // A custom host name (a CNAME to SES): the greeting tells.
        let d = p.observe(None, Signal::Host, "smtp.example.com");
        assert_eq!(d, None);
        let d = p.observe(
            d.as_ref(),
            Signal::Greeting,
            "email-smtp.amazonaws.com ESMTP SimpleEmailService-d-1 x",
        );
        assert_eq!(d.as_ref().map(|d| d.id.as_str()), Some("ses"));
        assert_eq!(d.as_ref().map(|d| d.by), Some(Signal::Greeting));
        // Software found from a greeting gives way to a service named later.
        let sw = Some(Detected {
            id: "exchange".into(),
            by: Signal::Greeting,
        });
        let d = p.observe(
            sw.as_ref(),
            Signal::Ehlo,
            "x.outlook.com Microsoft ESMTP MAIL Service",
        );
        assert_eq!(d, sw, "no EHLO pattern for Microsoft 365: unchanged");
        let d = p.observe(
            sw.as_ref(),
            Signal::Greeting,
            "email-smtp.amazonaws.com ESMTP SimpleEmailService",
        );
        assert_eq!(d.map(|d| d.id), Some("ses".into()));
        // …but a service is not replaced by software named later.
        let svc = Some(Detected {
            id: "gmail".into(),
            by: Signal::Greeting,
        });
        let d = p.observe(svc.as_ref(), Signal::Greeting, "x ESMTP Postfix");
        assert_eq!(d, svc);
        // `refines`: Microsoft 365 may replace Exchange even when Exchange came first.
        let d = p.observe(
            sw.as_ref(),
            Signal::Greeting,
            "AM6PR.eurprd07.prod.outlook.com Microsoft ESMTP MAIL Service ready",
        );
        assert_eq!(d.map(|d| d.id), Some("microsoft365".into()));
    }

    #[test]
    fn bad_lists_are_typed_errors() {
        let ok = r#"[[provider]]
id = "a"
name = "A"
kind = "service"
hosts = ['^a\.example$']
greeting = []
ehlo = []
refines = []
note = ""
source = "https://example.com"
"#;
        assert!(Providers::from_toml(ok).is_ok());
        let bad_re = ok.replace(r"^a\.example$", "(");
        assert!(matches!(
            Providers::from_toml(&bad_re),
            Err(ProviderError::Pattern { .. })
        ));
        let twice = format!("{ok}\n{ok}");
        assert!(matches!(
            Providers::from_toml(&twice),
            Err(ProviderError::Invalid { .. })
        ));
        let generic = ok.replace("id = \"a\"", "id = \"generic\"");
        assert!(matches!(
            Providers::from_toml(&generic),
            Err(ProviderError::Invalid { .. })
        ));
        let refines = ok.replace("refines = []", "refines = [\"nobody\"]");
        assert!(matches!(
            Providers::from_toml(&refines),
            Err(ProviderError::Invalid { .. })
        ));
        let long = ok.replace(r"^a\.example$", &"a".repeat(MAX_PATTERN_LEN + 1));
        assert!(matches!(
            Providers::from_toml(&long),
            Err(ProviderError::Invalid { .. })
        ));
        let unknown_field = ok.replace("note = \"\"", "note = \"\"\nextra = 1");
        assert!(matches!(
            Providers::from_toml(&unknown_field),
            Err(ProviderError::Parse(_))
        ));
        let many: String = (0..=MAX_PROVIDERS)
            .map(|i| ok.replace("id = \"a\"", &format!("id = \"a{i}\"")))
            .collect();
        assert!(matches!(
            Providers::from_toml(&many),
            Err(ProviderError::TooMany(_))
        ));
    }

    #[test]
    fn long_text_is_bounded() {
        let mut g = "x".repeat(MAX_TEXT);
        g.push_str(" ESMTP Postfix");
        assert_eq!(greeting(&g), None, "only the first {MAX_TEXT} bytes count");
        let mut g = "é".repeat(MAX_TEXT);
        g.push_str(" ESMTP Postfix");
        // A cut inside a character must not panic.
        let _ = greeting(&g);
    }
}
