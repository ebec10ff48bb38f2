//! The reply catalog: loading the TOML files in `assets/`, and finding the entry that
//! matches a reply (a literal-prefix filter first, then the lazily compiled regex).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex_lite::{Regex, RegexBuilder};

use crate::engine::builtin_data::{Builtin, Format, ParseError, RFC_CODES, builtin, parse};
use serde::Deserialize;
use thiserror::Error;

use super::phase::Phase;
use crate::engine::command::Verb;
use crate::engine::reply::Reply;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("{file}: {source}")]
    Parse { file: String, source: ParseError },
    #[error("{file}: entry {id}: bad pattern: {source}")]
    Pattern {
        file: String,
        id: String,
        source: regex_lite::Error,
    },
    #[error("{file}: entry {id}: unknown phase {phase:?}")]
    Phase {
        file: String,
        id: String,
        phase: String,
    },
    #[error("{file}: entry {id}: unknown command {after:?} in `after`")]
    After {
        file: String,
        id: String,
        after: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    code: u16,
    pattern: String,
    after: Vec<String>,
    phase: String,
    title: String,
    meaning: String,
    remedy: String,
    example: String,
    evidence: String,
    source: String,
    /// The words are common to many servers: use this entry only when its file's provider is
    /// the known provider.
    #[serde(default)]
    known_provider_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplies {
    /// The provider (`engine::provider` id) whose replies this file holds; none: any server.
    provider: Option<String>,
    #[serde(default)]
    reply: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
struct RawCodes {
    code: Vec<RawCode>,
    enhanced: Vec<RawEnhanced>,
    success: Vec<RawSuccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuccess {
    after: Vec<String>,
    class: u16,
    /// A headline for one reply code only (e.g. 221), before the class-wide one.
    code: Option<u16>,
    title: String,
    meaning: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    code: u16,
    meaning: String,
    phase: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnhanced {
    code: String,
    meaning: String,
    phase: Option<String>,
}

/// One catalog entry. Its pattern is compiled on first use: a session meets a handful of reply
/// codes, and compiling every pattern up front would cost more than the whole session.
#[derive(Debug)]
pub struct Entry {
    pub id: String,
    pub code: u16,
    pattern_source: String,
    pattern: OnceLock<Option<Regex>>,
    /// The literal start of the pattern, upper-cased: a cheap filter before the regex.
    pub(super) prefix: String,
    /// The characters a match can start with when the pattern lists them (`^[45]\d\d`,
    /// `^(421|4[0-9][0-9])`); empty when any may. A second cheap filter: without it, such
    /// patterns would be compiled for the first reply of every session.
    pub(super) first: String,
    /// `None` means ANY.
    after: Option<Vec<Verb>>,
    /// `None` means the phase of the command answered.
    pub(super) phase: Option<Phase>,
    /// `phase = "by-context"`: the fallback rules (enhanced code, command, AUTH state) decide,
    /// as for a reply no entry explains; the entry still gives the words.
    pub(super) phase_by_context: bool,
    pub title: String,
    pub meaning: String,
    pub remedy: String,
    /// A reply this entry must match (checked by a test).
    pub example: String,
    pub evidence: String,
    pub source: String,
    /// The provider whose replies these are (`None`: any server).
    pub provider: Option<String>,
    /// Used only when `provider` is the known provider (the words are common to many servers).
    pub known_provider_only: bool,
}

impl Entry {
    /// The first command this entry applies after (`None` = any), for self-checks.
    #[cfg(test)]
    pub(crate) fn first_after(&self) -> Option<Verb> {
        self.after.as_ref().and_then(|v| v.first().copied())
    }

    fn applies_after(&self, verb: Option<Verb>) -> bool {
        match (&self.after, verb) {
            (Some(list), Some(v)) => list.contains(&v),
            // ANY; or an unknown context (unsolicited, or pasted without --after): the text
            // alone decides.
            (None, _) | (Some(_), None) => true,
        }
    }

    fn regex(&self) -> Option<&Regex> {
        self.pattern
            .get_or_init(|| build_pattern(&self.pattern_source).ok())
            .as_ref()
    }

    pub(super) fn could_match(&self, upper_line: &str) -> bool {
        upper_line.starts_with(&self.prefix)
            && (self.first.is_empty()
                || upper_line
                    .chars()
                    .next()
                    .is_some_and(|c| self.first.contains(c)))
    }
}

fn build_pattern(source: &str) -> Result<Regex, regex_lite::Error> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// The literal text every match must start with: what follows `^` up to the first regex
/// syntax, minus a last character that a quantifier makes optional. Upper-cased.
pub(super) fn literal_prefix(pattern: &str) -> String {
    let Some(rest) = pattern.strip_prefix('^') else {
        return String::new();
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !(c.is_ascii_alphanumeric() || c == ' ' || c == '-' || c == ':' || c == ',') {
            break;
        }
        if matches!(chars.get(i + 1), Some('?' | '*' | '{')) {
            break;
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The digits a match must start with, when the pattern says so plainly right after `^`: a
/// class of digits (`[45]`) or a group of alternatives that each start with a digit or such a
/// class (`(421|4[0-9][0-9])`), not made optional by a quantifier. Empty otherwise: any first
/// character may match.
pub(super) fn first_chars(pattern: &str) -> String {
    let Some(rest) = pattern.strip_prefix('^') else {
        return String::new();
    };
    let optional = |after: &str| after.starts_with(['?', '*', '{']);
    // The digits one alternative starts with, if it says so plainly.
    let leading = |alt: &str| -> Option<String> {
        match alt.chars().next()? {
            c if c.is_ascii_digit() => (!optional(&alt[1..])).then(|| c.to_string()),
            '[' => {
                let end = alt.find(']')?;
                let digits = &alt[1..end];
                (!digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !optional(&alt[end + 1..]))
                .then(|| digits.to_string())
            }
            _ => None,
        }
    };
    let found = if let Some(group) = rest.strip_prefix('(') {
        // A plain group: no nested group, escape or flag before its end.
        group.find(')').and_then(|end| {
            let inner = &group[..end];
            if inner.contains(['(', '\\', '?']) || optional(&group[end + 1..]) {
                return None;
            }
            inner
                .split('|')
                .map(leading)
                .collect::<Option<Vec<String>>>()
                .map(|v| v.concat())
        })
    } else if rest.starts_with('[') {
        leading(rest)
    } else {
        None
    };
    let mut chars: Vec<char> = found.unwrap_or_default().chars().collect();
    chars.sort_unstable();
    chars.dedup();
    chars.into_iter().collect()
}

#[derive(Debug)]
pub(super) struct Meaning {
    pub(super) meaning: String,
    pub(super) phase: Option<Phase>,
}

/// What a positive reply to a command says went well: the headline of a 2xx/3xx reply.
#[derive(Debug)]
pub(super) struct Success {
    pub(super) title: String,
    pub(super) meaning: String,
}

/// All reply knowledge, compiled once.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
    pub(super) codes: HashMap<u16, Meaning>,
    /// Keyed by "x.S" or "x.S.D".
    pub(super) enhanced: HashMap<String, Meaning>,
    /// Keyed by the command answered and the reply's first digit (2 or 3), or its whole code
    /// for a code-specific headline (221).
    pub(super) success: HashMap<(Verb, u16), Success>,
}

/// The reply files, in the order they are tried when the provider is unknown: SES, the
/// providers, then the replies of any server (a known provider's own file goes first).
pub(crate) const REPLY_FILES: &[Builtin] = &[
    builtin!("replies.toml"),
    builtin!("replies/microsoft365.toml"),
    builtin!("replies/exchange.toml"),
    builtin!("replies/gmail.toml"),
    // Server software before the hosted services that run it: Postmark answers in Postfix's
    // words, and without a known provider the Postfix reading is the safer one.
    builtin!("replies/postfix.toml"),
    builtin!("replies/exim.toml"),
    builtin!("replies/sendmail.toml"),
    builtin!("replies/qmail.toml"),
    builtin!("replies/opensmtpd.toml"),
    builtin!("replies/hmailserver.toml"),
    builtin!("replies/sendgrid.toml"),
    builtin!("replies/mailgun.toml"),
    builtin!("replies/postmark.toml"),
    builtin!("replies/sparkpost.toml"),
    builtin!("replies/zoho.toml"),
    builtin!("replies/yahoo.toml"),
    builtin!("replies/icloud.toml"),
    builtin!("replies-other.toml"),
];

/// A command as the catalogs and the fallback rules name it in `after`.
pub(crate) fn verb_named(name: &str) -> Option<Verb> {
    Some(match name {
        "CONNECT" | "TLS-HANDSHAKE" => Verb::Connect,
        "EHLO" => Verb::Ehlo,
        "HELO" => Verb::Helo,
        "STARTTLS" => Verb::StartTls,
        "AUTH" => Verb::Auth,
        "AUTH-RESPONSE" => Verb::AuthResponse,
        "MAIL" => Verb::Mail,
        "RCPT" => Verb::Rcpt,
        "DATA" => Verb::Data,
        "DATA-END" => Verb::DataEnd,
        "RSET" => Verb::Rset,
        "NOOP" => Verb::Noop,
        "QUIT" => Verb::Quit,
        _ => return None,
    })
}

fn parse_phase(file: &str, id: &str, name: &str) -> Result<Option<Phase>, CatalogError> {
    if name == "from-command" {
        return Ok(None);
    }
    Phase::parse(name)
        .map(Some)
        .ok_or_else(|| CatalogError::Phase {
            file: file.into(),
            id: id.into(),
            phase: name.into(),
        })
}

/// The catalog built into the binary, once built.
static BUILTIN: OnceLock<Catalog> = OnceLock::new();

impl Catalog {
    /// Starts building [`Catalog::builtin`] on a thread of its own, once per process: parsing
    /// the reply files takes a few milliseconds, which a session otherwise spends before it
    /// connects, while the catalog is first needed for the greeting. Whoever needs it first
    /// waits for that thread or, if the thread could not start, builds it.
    pub fn warm_up() {
        static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if BUILTIN.get().is_some() || STARTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("reply catalog".into())
            .spawn(|| {
                let _ = Catalog::builtin();
            });
    }

    /// The catalog built into the binary.
    pub fn builtin() -> &'static Catalog {
        BUILTIN.get_or_init(|| {
            // Lazily compiled: every pattern is compiled and checked by the tests instead.
            let replies = REPLY_FILES.iter().map(|f| (f.name, f.json));
            Catalog::load(replies, RFC_CODES.json, Format::Json, false).unwrap_or_else(|e| {
                panic!("the built-in catalog is broken (a test catches this): {e}")
            })
        })
    }

    /// Compiles reply files (checked in order) and the RFC code table; every pattern is
    /// compiled now, so a bad one is reported here.
    #[cfg(test)]
    pub(crate) fn from_sources(
        replies: &[(&str, &str)],
        rfc_codes: &str,
    ) -> Result<Catalog, CatalogError> {
        Self::load(replies.iter().copied(), rfc_codes, Format::Toml, true)
    }

    fn load<'a>(
        replies: impl IntoIterator<Item = (&'a str, &'a str)>,
        rfc_codes: &str,
        format: Format,
        eager: bool,
    ) -> Result<Catalog, CatalogError> {
        let mut entries = Vec::new();
        for (file, text) in replies {
            let raw: RawReplies = parse(format, text).map_err(|source| CatalogError::Parse {
                file: file.into(),
                source,
            })?;
            for e in raw.reply {
                entries.push(Self::compile(file, e, raw.provider.clone(), eager)?);
            }
        }
        let file = "rfc-codes.toml";
        let raw: RawCodes = parse(format, rfc_codes).map_err(|source| CatalogError::Parse {
            file: file.into(),
            source,
        })?;
        let mut codes = HashMap::new();
        for c in raw.code {
            let id = c.code.to_string();
            let phase = c
                .phase
                .as_deref()
                .map(|p| parse_phase(file, &id, p))
                .transpose()?
                .flatten();
            codes.insert(
                c.code,
                Meaning {
                    meaning: c.meaning,
                    phase,
                },
            );
        }
        let mut enhanced = HashMap::new();
        for c in raw.enhanced {
            let phase = c
                .phase
                .as_deref()
                .map(|p| parse_phase(file, &c.code, p))
                .transpose()?
                .flatten();
            enhanced.insert(
                c.code,
                Meaning {
                    meaning: c.meaning,
                    phase,
                },
            );
        }
        let mut success = HashMap::new();
        for s in raw.success {
            for a in &s.after {
                let verb = verb_named(a).ok_or_else(|| CatalogError::After {
                    file: file.into(),
                    id: format!("success {}", s.title),
                    after: a.clone(),
                })?;
                success.insert(
                    (verb, s.code.unwrap_or(s.class)),
                    Success {
                        title: s.title.clone(),
                        meaning: s.meaning.clone(),
                    },
                );
            }
        }
        Ok(Catalog {
            entries,
            codes,
            enhanced,
            success,
        })
    }

    fn compile(
        file: &str,
        e: RawEntry,
        provider: Option<String>,
        eager: bool,
    ) -> Result<Entry, CatalogError> {
        let pattern = OnceLock::new();
        if eager {
            let regex = build_pattern(&e.pattern).map_err(|source| CatalogError::Pattern {
                file: file.into(),
                id: e.id.clone(),
                source,
            })?;
            let _ = pattern.set(Some(regex));
        }
        let after = if e.after.iter().any(|a| a == "ANY" || a == "IDLE") {
            None
        } else {
            let verbs = e
                .after
                .iter()
                .map(|a| {
                    verb_named(a).ok_or_else(|| CatalogError::After {
                        file: file.into(),
                        id: e.id.clone(),
                        after: a.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(verbs)
        };
        let phase_by_context = e.phase == "by-context";
        let phase = if phase_by_context {
            None
        } else {
            parse_phase(file, &e.id, &e.phase)?
        };
        Ok(Entry {
            id: e.id,
            code: e.code,
            prefix: literal_prefix(&e.pattern),
            first: first_chars(&e.pattern),
            pattern_source: e.pattern,
            pattern,
            after,
            phase,
            phase_by_context,
            title: e.title,
            meaning: e.meaning,
            remedy: e.remedy,
            example: e.example,
            evidence: e.evidence,
            source: e.source,
            provider,
            known_provider_only: e.known_provider_only,
        })
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Finds the first entry that matches the reply's last line in this context.
    pub fn find(
        &self,
        reply: &Reply,
        after: Option<Verb>,
    ) -> Option<(&Entry, Vec<(String, String)>)> {
        self.find_for(reply, after, None)
    }

    /// Like `find`, trying the entries of `provider` (when known) before all others.
    pub fn find_for(
        &self,
        reply: &Reply,
        after: Option<Verb>,
        provider: Option<&str>,
    ) -> Option<(&Entry, Vec<(String, String)>)> {
        let line = match_line(reply);
        let upper = line.to_ascii_uppercase();
        let own = |e: &&Entry| provider.is_some() && e.provider.as_deref() == provider;
        self.entries
            .iter()
            .filter(own)
            .chain(self.entries.iter().filter(|e| !own(e)))
            .filter(|e| !e.known_provider_only || own(e))
            .filter(|e| e.applies_after(after) && e.could_match(&upper))
            .find_map(|e| {
                let regex = e.regex()?;
                let caps = regex.captures(&line)?;
                let details = regex
                    .capture_names()
                    .flatten()
                    .filter_map(|name| {
                        caps.name(name)
                            .map(|m| (name.to_string(), m.as_str().to_string()))
                    })
                    .collect();
                Some((e, details))
            })
    }
}

/// The reply's last line in the form the patterns expect: `CODE TEXT`.
pub(super) fn match_line(reply: &Reply) -> String {
    let text = reply.last_text();
    if text.is_empty() {
        reply.code.to_string()
    } else {
        format!("{} {}", reply.code, text)
    }
}
