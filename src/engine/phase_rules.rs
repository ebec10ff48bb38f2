//! The fallback for a failing reply that no catalog entry explains: its phase from the RFC 3463
//! enhanced status code *together with* the command it answered and what the session knew (did
//! AUTH succeed?). The rules are data, the `[[rule]]` tables of `assets/rfc-codes.toml`; the
//! first rule that fits decides.
//!
//! Why the command matters: an enhanced code names a subject, not a phase. `x.7.0` ("other
//! security problem") after AUTH is a refused login, but after the final "." it is the server's
//! policy refusing the message; `x.7.1` ("not authorized") after RCPT from a client that never
//! logged in is "relay denied: log in first", from one that did it is authorization.

use std::sync::OnceLock;

use regex_lite::{Regex, RegexBuilder};

use crate::engine::builtin_data::{Format, ParseError, RFC_CODES, parse};
use serde::Deserialize;
use thiserror::Error;

use super::classify::{Context, Phase, verb_named};
use super::command::Verb;
use super::model::AuthContext;
use super::reply::Reply;

const MAX_RULES: usize = 500;
const MAX_PATTERN_LEN: usize = 300;
/// Only this much of a reply's text is searched by a rule's `text` pattern.
const MAX_TEXT: usize = 2048;

#[derive(Debug, Error)]
pub enum RuleError {
    #[error("rfc-codes.toml: {0}")]
    Parse(#[from] ParseError),
    #[error("rfc-codes.toml: rule {id}: {what}")]
    Invalid { id: String, what: String },
    #[error("rfc-codes.toml: rule {id}: bad text pattern: {source}")]
    Pattern {
        id: String,
        source: regex_lite::Error,
    },
}

/// Whether the client had authenticated when the reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum AuthCondition {
    Any,
    Accepted,
    NotAccepted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    /// "x.S.D" (any class) or "x.S" (any detail); empty: any enhanced code, or none.
    #[serde(default)]
    enhanced: Vec<String>,
    /// Basic reply classes this rule applies to (4 or 5); empty: both.
    #[serde(default)]
    class: Vec<u16>,
    /// A case-insensitive regex on the reply's text.
    text: Option<String>,
    after: Vec<String>,
    #[serde(default = "any")]
    auth: AuthCondition,
    phase: String,
    title: String,
    meaning: String,
}

fn any() -> AuthCondition {
    AuthCondition::Any
}

#[derive(Debug, Deserialize)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeMatch {
    Exact(u16, u16),
    Subject(u16),
}

/// One fallback rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    enhanced: Vec<CodeMatch>,
    class: Vec<u16>,
    text: Option<Regex>,
    /// `None`: any command (and an unknown one).
    after: Option<Vec<Verb>>,
    auth: AuthCondition,
    pub phase: Phase,
    pub title: String,
    pub meaning: String,
}

/// What the rules say about a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub phase: Phase,
    pub title: String,
    pub meaning: String,
}

#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
}

fn parse_code(id: &str, s: &str) -> Result<CodeMatch, RuleError> {
    let bad = || RuleError::Invalid {
        id: id.into(),
        what: format!("enhanced code {s:?} is not x.S or x.S.D"),
    };
    let rest = s.strip_prefix("x.").ok_or_else(bad)?;
    let mut parts = rest.split('.');
    let subject: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    match parts.next() {
        None => Ok(CodeMatch::Subject(subject)),
        Some(d) => {
            let detail: u16 = d.parse().map_err(|_| bad())?;
            if parts.next().is_some() {
                return Err(bad());
            }
            Ok(CodeMatch::Exact(subject, detail))
        }
    }
}

fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Rules {
    /// The rules built into the binary.
    ///
    /// # Panics
    /// If the built-in rules are broken, which a unit test rules out.
    #[must_use]
    pub fn builtin() -> &'static Rules {
        static R: OnceLock<Rules> = OnceLock::new();
        R.get_or_init(|| {
            Rules::load(RFC_CODES.json, Format::Json).unwrap_or_else(|e| {
                panic!("the built-in fallback rules are broken (a test catches this): {e}")
            })
        })
    }

    /// Loads the `[[rule]]` tables of an rfc-codes file (its other tables are ignored here).
    ///
    /// # Errors
    /// A [`RuleError`] names the rule and what is wrong with it.
    #[cfg(test)]
    pub fn from_toml(text: &str) -> Result<Rules, RuleError> {
        Self::load(text, Format::Toml)
    }

    fn load(text: &str, format: Format) -> Result<Rules, RuleError> {
        let raw: RawFile = parse(format, text)?;
        if raw.rule.len() > MAX_RULES {
            return Err(RuleError::Invalid {
                id: "(all)".into(),
                what: format!("{} rules, at most {MAX_RULES}", raw.rule.len()),
            });
        }
        let mut rules = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let enhanced = r
                .enhanced
                .iter()
                .map(|c| parse_code(&r.id, c))
                .collect::<Result<Vec<_>, _>>()?;
            if enhanced.is_empty() && r.text.is_none() {
                return Err(RuleError::Invalid {
                    id: r.id,
                    what: "needs an enhanced code or a text pattern".into(),
                });
            }
            if r.class.iter().any(|c| !matches!(c, 4 | 5)) {
                return Err(RuleError::Invalid {
                    id: r.id,
                    what: "class must be 4 or 5".into(),
                });
            }
            let text = match r.text {
                Some(t) if t.is_empty() || t.len() > MAX_PATTERN_LEN => {
                    return Err(RuleError::Invalid {
                        id: r.id,
                        what: format!("a text pattern has 1 to {MAX_PATTERN_LEN} characters"),
                    });
                }
                Some(t) => Some(
                    RegexBuilder::new(&t)
                        .case_insensitive(true)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|source| RuleError::Pattern {
                            id: r.id.clone(),
                            source,
                        })?,
                ),
                None => None,
            };
            let after = if r.after.iter().any(|a| a == "ANY") {
                None
            } else {
                Some(
                    r.after
                        .iter()
                        .map(|a| {
                            verb_named(a).ok_or_else(|| RuleError::Invalid {
                                id: r.id.clone(),
                                what: format!("unknown command {a:?} in `after`"),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
            };
            let phase = Phase::parse(&r.phase).ok_or_else(|| RuleError::Invalid {
                id: r.id.clone(),
                what: format!("unknown phase {:?}", r.phase),
            })?;
            if r.title.is_empty() || r.meaning.is_empty() {
                return Err(RuleError::Invalid {
                    id: r.id,
                    what: "needs a title and a meaning".into(),
                });
            }
            rules.push(Rule {
                id: r.id,
                enhanced,
                class: r.class,
                text,
                after,
                auth: r.auth,
                phase,
                title: r.title,
                meaning: r.meaning,
            });
        }
        Ok(Rules { rules })
    }

    #[cfg(test)]
    #[must_use]
    pub fn all(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule that fits a failing reply in its context.
    #[must_use]
    pub fn decide(&self, reply: &Reply, ctx: &Context) -> Option<Decision> {
        let class = reply.code / 100;
        if !matches!(class, 4 | 5) {
            return None;
        }
        let text = reply.text();
        let text = bounded(&text);
        let authenticated = ctx.auth == AuthContext::Accepted;
        self.rules
            .iter()
            .find(|r| {
                let code_ok = r.enhanced.is_empty()
                    || reply.enhanced.is_some_and(|e| {
                        r.enhanced.iter().any(|m| match *m {
                            CodeMatch::Exact(s, d) => e.subject == s && e.detail == d,
                            CodeMatch::Subject(s) => e.subject == s,
                        })
                    });
                let class_ok = r.class.is_empty() || r.class.contains(&class);
                let text_ok = r.text.as_ref().is_none_or(|t| t.is_match(text));
                let after_ok = match (&r.after, ctx.after) {
                    (None, _) => true,
                    (Some(list), Some(v)) => list.contains(&v),
                    (Some(_), None) => false,
                };
                let auth_ok = match r.auth {
                    AuthCondition::Any => true,
                    AuthCondition::Accepted => authenticated,
                    AuthCondition::NotAccepted => !authenticated,
                };
                code_ok && class_ok && text_ok && after_ok && auth_ok
            })
            .map(|r| Decision {
                id: r.id.clone(),
                phase: r.phase,
                title: r.title.clone(),
                meaning: r.meaning.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reply::ReplyParser;

    fn reply(text: &str) -> Reply {
        let mut p = ReplyParser::default();
        p.push(text.as_bytes());
        p.push(b"\r\n");
        p.next_reply().unwrap().unwrap()
    }

    fn ctx(after: Option<Verb>, auth: AuthContext) -> Context {
        Context {
            after,
            auth,
            ..Context::default()
        }
    }

    fn decide(text: &str, after: Option<Verb>, auth: AuthContext) -> Option<(Phase, String)> {
        Rules::builtin()
            .decide(&reply(text), &ctx(after, auth))
            .map(|d| (d.phase, d.id))
    }

    fn phase(text: &str, after: Option<Verb>, auth: AuthContext) -> Option<Phase> {
        decide(text, after, auth).map(|(p, _)| p)
    }

    use AuthContext::{Accepted, NeverTried};

    #[test]
    fn builtin_rules_load() {
        assert!(Rules::builtin().all().len() >= 10);
    }

    #[test]
    fn texts_that_name_the_missing_step() {
        let cases = [
            (
                "503 Error: send HELO first",
                Verb::Mail,
                "greeting-first",
                Phase::Ehlo,
            ),
            (
                "503 HELO or EHLO required",
                Verb::Mail,
                "greeting-first",
                Phase::Ehlo,
            ),
            (
                "550 encryption required",
                Verb::Rcpt,
                "encryption-required-text",
                Phase::Tls,
            ),
            (
                "503 STARTTLS required before AUTH",
                Verb::Auth,
                "encryption-required-text",
                Phase::Tls,
            ),
            (
                "503 valid RCPT command must precede DATA",
                Verb::Data,
                "no-valid-recipient",
                Phase::Envelope,
            ),
            (
                "550 smtp auth required",
                Verb::Rcpt,
                "authentication-required-text",
                Phase::Authentication,
            ),
        ];
        for (reply, after, id, want) in cases {
            let (p, got) = decide(reply, Some(after), NeverTried).unwrap();
            assert_eq!((p, got.as_str()), (want, id), "{reply}");
        }
    }

    #[test]
    fn blocklists_are_not_relay_refusals() {
        let (p, id) = decide(
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Some(Verb::Rcpt),
            NeverTried,
        )
        .unwrap();
        assert_eq!((p, id.as_str()), (Phase::Connection, "client-blocklisted"));
        let (p, id) = decide(
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; Error: open resolver",
            Some(Verb::Rcpt),
            NeverTried,
        )
        .unwrap();
        assert_eq!(
            (p, id.as_str()),
            (Phase::Service, "blocklist-open-resolver")
        );
        // "may be blacklisted" in a sender-verify text is not a listing of the client.
        assert_ne!(
            decide(
                "550 Sender verify failed; they may be blacklisted",
                Some(Verb::Rcpt),
                NeverTried
            )
            .map(|(_, id)| id),
            Some("client-blocklisted".to_string())
        );
    }

    #[test]
    fn refusals_by_rule_are_authorization_but_relay_comes_first() {
        let (p, id) = decide(
            "550 Sender address is not allowed.",
            Some(Verb::Mail),
            NeverTried,
        )
        .unwrap();
        assert_eq!(
            (p, id.as_str()),
            (Phase::Authorization, "sender-or-recipient-not-allowed")
        );
        let (p, id) = decide(
            "554 5.7.1 <a@b.example>: Relay access denied",
            Some(Verb::Rcpt),
            NeverTried,
        )
        .unwrap();
        assert_eq!(
            (p, id.as_str()),
            (Phase::Authentication, "relay-text-needs-auth")
        );
    }

    #[test]
    fn a_full_mailbox_is_not_throttling() {
        let (p, id) = decide("452 4.2.2 Mailbox over quota", Some(Verb::Rcpt), NeverTried).unwrap();
        assert_eq!((p, id.as_str()), (Phase::Envelope, "mailbox-full"));
        let (p, _) = decide(
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred",
            Some(Verb::Mail),
            NeverTried,
        )
        .unwrap();
        assert_eq!(p, Phase::Throttling);
    }

    #[test]
    fn x78_is_authentication_wherever_it_comes() {
        for after in [
            Some(Verb::Auth),
            Some(Verb::AuthResponse),
            Some(Verb::Mail),
            None,
        ] {
            assert_eq!(
                phase("535 5.7.8 nope", after, NeverTried),
                Some(Phase::Authentication),
                "{after:?}"
            );
        }
    }

    #[test]
    fn x70_depends_on_the_command() {
        assert_eq!(
            phase("535 5.7.0 rejected", Some(Verb::AuthResponse), NeverTried),
            Some(Phase::Authentication)
        );
        assert_eq!(
            phase("550 5.7.0 rejected", Some(Verb::DataEnd), Accepted),
            Some(Phase::Content)
        );
    }

    #[test]
    fn x71_after_rcpt_depends_on_auth() {
        let (p, id) = decide("550 5.7.1 not allowed", Some(Verb::Rcpt), NeverTried).unwrap();
        assert_eq!(p, Phase::Authentication);
        assert_eq!(id, "relay-needs-auth");
        assert_eq!(
            phase("550 5.7.1 not allowed", Some(Verb::Rcpt), Accepted),
            Some(Phase::Authorization)
        );
        assert_eq!(
            phase("553 5.7.1 not allowed", Some(Verb::Mail), Accepted),
            Some(Phase::Authorization)
        );
        // After the final dot: policy on the message, or authorization for a logged-in client.
        assert_eq!(
            phase("554 5.7.1 refused", Some(Verb::DataEnd), Accepted),
            Some(Phase::Authorization)
        );
        assert_eq!(
            phase("554 5.7.1 refused", Some(Verb::DataEnd), NeverTried),
            Some(Phase::Content)
        );
    }

    #[test]
    fn throttling_codes_and_texts() {
        assert_eq!(
            phase(
                "452 4.4.5 Insufficient system storage",
                Some(Verb::Rcpt),
                Accepted
            ),
            Some(Phase::Throttling)
        );
        assert_eq!(
            phase(
                "550 5.4.5 Daily sending quota exceeded",
                Some(Verb::Mail),
                Accepted
            ),
            Some(Phase::Throttling)
        );
        assert_eq!(
            phase(
                "451 Sending rate limit reached, slow down",
                Some(Verb::Rcpt),
                Accepted
            ),
            Some(Phase::Throttling)
        );
        assert_eq!(
            phase("421 Too many messages in this session", None, Accepted),
            Some(Phase::Throttling)
        );
    }

    #[test]
    fn x22_is_the_recipients_mailbox_even_with_quota_words() {
        let (p, id) = decide(
            "552 5.2.2 The email account that you tried to reach is over quota",
            Some(Verb::Rcpt),
            Accepted,
        )
        .unwrap();
        assert_eq!(p, Phase::Envelope);
        assert_eq!(id, "mailbox-full");
    }

    #[test]
    fn other_security_codes() {
        assert_eq!(
            phase("534 5.7.9 weak", Some(Verb::Auth), NeverTried),
            Some(Phase::Authentication)
        );
        assert_eq!(
            phase(
                "538 5.7.11 Encryption required",
                Some(Verb::Auth),
                NeverTried
            ),
            Some(Phase::Tls)
        );
        assert_eq!(
            phase("530 5.7.10 Encryption needed", Some(Verb::Mail), NeverTried),
            Some(Phase::Tls)
        );
        assert_eq!(
            phase(
                "432 4.7.12 A password transition is needed",
                Some(Verb::Auth),
                NeverTried
            ),
            Some(Phase::Authentication)
        );
        assert_eq!(
            phase(
                "535 5.7.13 User account disabled",
                Some(Verb::Auth),
                NeverTried
            ),
            Some(Phase::Authentication)
        );
        assert_eq!(
            phase(
                "550 5.7.26 Unauthenticated email is not accepted",
                Some(Verb::DataEnd),
                Accepted
            ),
            Some(Phase::Content)
        );
        assert_eq!(
            phase("552 5.3.4 Message too big", Some(Verb::DataEnd), Accepted),
            Some(Phase::Content)
        );
        assert_eq!(
            phase("554 5.6.0 Bad content", Some(Verb::DataEnd), Accepted),
            Some(Phase::Content)
        );
    }

    #[test]
    fn nothing_fits_a_plain_reply_or_a_success() {
        assert_eq!(
            phase("550 no such user here", Some(Verb::Rcpt), Accepted),
            None
        );
        assert_eq!(phase("250 2.7.0 fine", Some(Verb::Auth), Accepted), None);
        // x.7.1 without the command: the code alone does not decide.
        assert_eq!(phase("550 5.7.1 refused", None, NeverTried), None);
    }

    #[test]
    fn bad_rules_are_typed_errors() {
        let ok = r#"[[rule]]
id = "r"
enhanced = ["x.7.8"]
after = ["ANY"]
phase = "authentication"
title = "T"
meaning = "M"
"#;
        assert!(Rules::from_toml(ok).is_ok());
        for (from, to) in [
            ("x.7.8", "7.8"),
            ("x.7.8", "x.a"),
            ("\"ANY\"", "\"LOGIN\""),
            ("authentication", "nowhere"),
            ("enhanced = [\"x.7.8\"]", "enhanced = []"),
            ("title = \"T\"", "title = \"\""),
            (
                "enhanced = [\"x.7.8\"]",
                "enhanced = [\"x.7.8\"]\nclass = [2]",
            ),
        ] {
            let bad = ok.replace(from, to);
            assert!(
                matches!(Rules::from_toml(&bad), Err(RuleError::Invalid { .. })),
                "{from} -> {to}"
            );
        }
        let bad_re = ok.replace("enhanced = [\"x.7.8\"]", "text = \"(\"");
        assert!(matches!(
            Rules::from_toml(&bad_re),
            Err(RuleError::Pattern { .. })
        ));
        let unknown = ok.replace("meaning = \"M\"", "meaning = \"M\"\nfoo = 1");
        assert!(matches!(
            Rules::from_toml(&unknown),
            Err(RuleError::Parse(_))
        ));
    }
}
