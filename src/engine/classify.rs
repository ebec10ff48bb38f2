//! Reply classification: phase, verdict and diagnosis.
//!
//! The knowledge is data: `assets/replies.toml` (SES), `assets/replies-other.toml` (other
//! servers) and `assets/rfc-codes.toml` (RFC 5321/3463 fallbacks). This module only matches.
//! SES accepts MAIL, RCPT and DATA and reports policy problems after the final `.`, so the
//! reply text decides the phase there; the command answered is only the fallback.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::command::Verb;
use super::iam::Arn;
use super::model::{AuthContext, AuthRejection};
use super::reply::{Reply, ReplyClass};

/// The part of a session a reply belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Connection,
    Ehlo,
    Tls,
    Authentication,
    Envelope,
    Data,
    Authorization,
    Throttling,
    Content,
    Service,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Connection,
        Phase::Ehlo,
        Phase::Tls,
        Phase::Authentication,
        Phase::Envelope,
        Phase::Data,
        Phase::Authorization,
        Phase::Throttling,
        Phase::Content,
        Phase::Service,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Connection => "connection",
            Phase::Ehlo => "ehlo",
            Phase::Tls => "tls",
            Phase::Authentication => "authentication",
            Phase::Envelope => "envelope",
            Phase::Data => "data",
            Phase::Authorization => "authorization",
            Phase::Throttling => "throttling",
            Phase::Content => "content",
            Phase::Service => "service",
        }
    }

    /// The name as a title: "TLS", "EHLO", "Authentication", …
    pub fn title(self) -> &'static str {
        match self {
            Phase::Connection => "Connection",
            Phase::Ehlo => "EHLO",
            Phase::Tls => "TLS",
            Phase::Authentication => "Authentication",
            Phase::Envelope => "Envelope",
            Phase::Data => "Data",
            Phase::Authorization => "Authorization",
            Phase::Throttling => "Throttling",
            Phase::Content => "Content",
            Phase::Service => "Service",
        }
    }

    pub fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The phase of a command's own step, used when the text says nothing more specific.
    pub fn of_verb(verb: Verb, positive: bool) -> Phase {
        match verb {
            Verb::Connect | Verb::Quit => Phase::Connection,
            Verb::Ehlo | Verb::Helo => Phase::Ehlo,
            Verb::StartTls => Phase::Tls,
            Verb::Auth | Verb::AuthResponse => Phase::Authentication,
            Verb::Mail | Verb::Rcpt => Phase::Envelope,
            Verb::Data => Phase::Data,
            Verb::DataEnd if positive => Phase::Data,
            Verb::DataEnd => Phase::Content,
            Verb::Rset | Verb::Noop | Verb::Other => Phase::Service,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a reply means for the step it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Success,
    Intermediate,
    Transient,
    Permanent,
}

impl Verdict {
    pub fn of(class: ReplyClass) -> Verdict {
        match class {
            ReplyClass::Positive => Verdict::Success,
            ReplyClass::Intermediate => Verdict::Intermediate,
            ReplyClass::Transient => Verdict::Transient,
            ReplyClass::Permanent => Verdict::Permanent,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Success => "success",
            Verdict::Intermediate => "intermediate",
            Verdict::Transient => "transient",
            Verdict::Permanent => "permanent",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Transient | Verdict::Permanent)
    }
}

/// What the reply means and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Catalog entry id, when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    pub meaning: String,
    /// What to do next; empty when nothing needs doing.
    pub remedy: String,
    /// Parts parsed out of the reply (user ARN, action, resource, identities, region, …).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub details: Vec<(String, String)>,
    /// Remarks that depend on the session (e.g. "authentication had succeeded").
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The classifier's verdict on one reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub phase: Phase,
    pub verdict: Verdict,
    pub diagnosis: Diagnosis,
}

/// What the session knew when the reply arrived (read from the session model).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// The command the reply answers; `None` for an unsolicited reply.
    pub after: Option<Verb>,
    /// What AUTH has done on this connection so far.
    pub auth: AuthContext,
    /// An earlier AUTH in this session was refused with this code (kept for the note on a
    /// later success).
    pub earlier_auth_refusal: Option<u16>,
    /// Whether the connection was encrypted: `None` when that is not known (a reply pasted
    /// into `explain` says nothing about its connection).
    pub tls: Option<bool>,
    /// The server is Amazon SES (or the simulator): SES-only remarks apply.
    pub ses: bool,
    /// The current transaction's sender (MAIL FROM), once the server accepted it.
    pub mail_from: Option<String>,
    /// The current transaction's accepted recipients (RCPT TO), so a note can tell a
    /// recipient from a sender when a reply lists addresses.
    pub rcpts: Vec<String>,
}

impl Context {
    pub fn after(verb: Verb) -> Context {
        Context {
            after: Some(verb),
            ..Context::default()
        }
    }

    fn authenticated(&self) -> bool {
        self.auth == AuthContext::Accepted
    }
}

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("{file}: {source}")]
    Toml {
        file: String,
        source: toml::de::Error,
    },
    #[error("{file}: entry {id}: bad pattern: {source}")]
    Pattern {
        file: String,
        id: String,
        source: regex::Error,
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
}

#[derive(Debug, Deserialize)]
struct RawReplies {
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
    prefix: String,
    /// `None` means ANY.
    after: Option<Vec<Verb>>,
    /// `None` means the phase of the command answered.
    phase: Option<Phase>,
    pub title: String,
    pub meaning: String,
    pub remedy: String,
    /// A reply this entry must match (checked by a test).
    pub example: String,
    pub evidence: String,
    pub source: String,
}

impl Entry {
    /// The first command this entry applies after (`None` = any), for self-checks.
    pub fn first_after(&self) -> Option<Verb> {
        self.after.as_ref().and_then(|v| v.first().copied())
    }

    fn applies_after(&self, verb: Option<Verb>) -> bool {
        match (&self.after, verb) {
            (None, _) => true,
            (Some(list), Some(v)) => list.contains(&v),
            // Unknown context (unsolicited, or pasted without --after): the text alone decides.
            (Some(_), None) => true,
        }
    }

    fn regex(&self) -> Option<&Regex> {
        self.pattern
            .get_or_init(|| build_pattern(&self.pattern_source).ok())
            .as_ref()
    }

    /// Whether a reply line ("CODE TEXT") matches this entry's pattern.
    pub fn matches_line(&self, line: &str) -> bool {
        self.could_match(&line.to_ascii_uppercase())
            && self.regex().is_some_and(|r| r.is_match(line))
    }

    fn could_match(&self, upper_line: &str) -> bool {
        upper_line.starts_with(&self.prefix)
    }
}

fn build_pattern(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source).case_insensitive(true).build()
}

/// The literal text every match must start with: what follows `^` up to the first regex
/// syntax, minus a last character that a quantifier makes optional. Upper-cased.
fn literal_prefix(pattern: &str) -> String {
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

#[derive(Debug)]
struct Meaning {
    meaning: String,
    phase: Option<Phase>,
}

/// What a positive reply to a command says went well: the headline of a 2xx/3xx reply.
#[derive(Debug)]
struct Success {
    title: String,
    meaning: String,
}

/// All reply knowledge, compiled once.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
    codes: HashMap<u16, Meaning>,
    /// Keyed by "x.S" or "x.S.D".
    enhanced: HashMap<String, Meaning>,
    /// Keyed by the command answered and the reply's first digit (2 or 3).
    success: HashMap<(Verb, u16), Success>,
}

const SES_REPLIES: &str = include_str!("../../assets/replies.toml");
const OTHER_REPLIES: &str = include_str!("../../assets/replies-other.toml");
const RFC_CODES: &str = include_str!("../../assets/rfc-codes.toml");

fn verb_named(name: &str) -> Option<Verb> {
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

impl Catalog {
    /// The catalog built into the binary.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // Lazily compiled: every pattern is compiled and checked by the tests instead.
            Catalog::load(
                &[
                    ("replies.toml", SES_REPLIES),
                    ("replies-other.toml", OTHER_REPLIES),
                ],
                RFC_CODES,
                false,
            )
            .unwrap_or_else(|e| panic!("the built-in catalog is broken (a test catches this): {e}"))
        })
    }

    /// Compiles reply files (checked in order) and the RFC code table; every pattern is
    /// compiled now, so a bad one is reported here.
    pub fn from_sources(
        replies: &[(&str, &str)],
        rfc_codes: &str,
    ) -> Result<Catalog, CatalogError> {
        Self::load(replies, rfc_codes, true)
    }

    fn load(
        replies: &[(&str, &str)],
        rfc_codes: &str,
        eager: bool,
    ) -> Result<Catalog, CatalogError> {
        let mut entries = Vec::new();
        for (file, text) in replies {
            let raw: RawReplies = toml::from_str(text).map_err(|source| CatalogError::Toml {
                file: (*file).into(),
                source,
            })?;
            for e in raw.reply {
                entries.push(Self::compile(file, e, eager)?);
            }
        }
        let file = "rfc-codes.toml";
        let raw: RawCodes = toml::from_str(rfc_codes).map_err(|source| CatalogError::Toml {
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
                    (verb, s.class),
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

    fn compile(file: &str, e: RawEntry, eager: bool) -> Result<Entry, CatalogError> {
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
        let phase = parse_phase(file, &e.id, &e.phase)?;
        Ok(Entry {
            id: e.id,
            code: e.code,
            prefix: literal_prefix(&e.pattern),
            pattern_source: e.pattern,
            pattern,
            after,
            phase,
            title: e.title,
            meaning: e.meaning,
            remedy: e.remedy,
            example: e.example,
            evidence: e.evidence,
            source: e.source,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Finds the first entry that matches the reply's last line in this context.
    pub fn find(
        &self,
        reply: &Reply,
        after: Option<Verb>,
    ) -> Option<(&Entry, Vec<(String, String)>)> {
        let line = match_line(reply);
        let upper = line.to_ascii_uppercase();
        self.entries
            .iter()
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

    /// Classifies one reply.
    pub fn classify(&self, reply: &Reply, ctx: &Context) -> Classification {
        let verdict = Verdict::of(reply.class());
        let positive = matches!(verdict, Verdict::Success | Verdict::Intermediate);
        // A positive reply pasted without its command often says which one it answered.
        let answered = ctx
            .after
            .or_else(|| positive.then(|| guess_command(reply)).flatten());
        let verb_phase = Phase::of_verb(answered.unwrap_or(Verb::Other), positive);
        let mut diagnosis;
        let phase;
        // A bare "250 Ok" answers most commands; without the command it says only "accepted".
        let bare_ok = ctx.after.is_none() && positive && is_bare_ok(reply);
        let found = if bare_ok {
            None
        } else {
            self.find(reply, ctx.after)
        };
        if let Some((entry, captured)) = found {
            phase = entry.phase.unwrap_or(verb_phase);
            diagnosis = Diagnosis {
                id: Some(entry.id.clone()),
                title: entry.title.clone(),
                meaning: entry.meaning.clone(),
                remedy: nothing_to_do(&entry.remedy)
                    .map_or_else(|| entry.remedy.clone(), |_| String::new()),
                details: expand_details(captured),
                // "None; <remark>" in the catalog: nothing to do, but worth knowing.
                notes: nothing_to_do(&entry.remedy).flatten().into_iter().collect(),
                evidence: Some(entry.evidence.clone()),
                source: Some(entry.source.clone()),
            };
        } else if positive {
            phase = verb_phase;
            diagnosis = self.success(reply, answered);
        } else {
            (phase, diagnosis) = self.fallback(reply, verb_phase);
        }
        add_context_notes(&mut diagnosis, phase, verdict, reply, ctx);
        Classification {
            phase,
            verdict,
            diagnosis,
        }
    }

    /// The RFC 3463 meaning of the reply's enhanced code: the exact one, else its subject's.
    fn enhanced_meaning(&self, reply: &Reply) -> (Option<&Meaning>, Option<&Meaning>) {
        match reply.enhanced {
            Some(e) => (
                self.enhanced.get(&format!("x.{}.{}", e.subject, e.detail)),
                self.enhanced.get(&format!("x.{}", e.subject)),
            ),
            None => (None, None),
        }
    }

    /// A 2xx/3xx reply no catalog entry explains. The headline says what went well (the
    /// sender, a recipient, the message was accepted); the enhanced code names only a subject
    /// (x.1: addressing), so it is a detail under the headline, never the headline itself.
    fn success(&self, reply: &Reply, answered: Option<Verb>) -> Diagnosis {
        let class = reply.code / 100;
        let headline = answered.and_then(|v| self.success.get(&(v, class)));
        let code_meaning = self.codes.get(&reply.code);
        let (title, meaning) = match headline {
            Some(h) => (h.title.clone(), h.meaning.clone()),
            None if class == 3 => (
                "Server waits for more".to_string(),
                code_meaning.map_or_else(
                    || "The server waits for the next part of the command.".to_string(),
                    |m| format!("{}: {}", reply.code, m.meaning),
                ),
            ),
            None => (
                "Accepted".to_string(),
                code_meaning.map_or_else(
                    || "The server accepted the command.".to_string(),
                    |m| format!("{}: {}", reply.code, m.meaning),
                ),
            ),
        };
        let mut details = Vec::new();
        // The plain codes (250, 354, …) say nothing the headline does not; 251 or 252 do.
        if headline.is_some()
            && !matches!(reply.code, 220 | 221 | 235 | 250 | 334 | 354)
            && let Some(m) = code_meaning
        {
            details.push((
                "Reply code".into(),
                format!("{}: {}", reply.code, m.meaning),
            ));
        }
        let (exact, subject) = self.enhanced_meaning(reply);
        if let (Some(e), Some(m)) = (reply.enhanced, exact.or(subject)) {
            details.push(("Enhanced code".into(), format!("{e}: {}", m.meaning)));
        }
        Diagnosis {
            id: None,
            title,
            meaning,
            remedy: String::new(),
            details,
            notes: Vec::new(),
            evidence: None,
            source: None,
        }
    }

    /// A failing reply no catalog entry explains: the RFC meanings of its codes.
    fn fallback(&self, reply: &Reply, verb_phase: Phase) -> (Phase, Diagnosis) {
        let code_meaning = self.codes.get(&reply.code);
        let (exact, subject) = self.enhanced_meaning(reply);
        let phase = exact
            .and_then(|m| m.phase)
            .or_else(|| code_meaning.and_then(|m| m.phase))
            .or_else(|| subject.and_then(|m| m.phase))
            .unwrap_or(verb_phase);
        let mut meaning = code_meaning.map_or_else(
            || format!("Reply code {} is not defined by RFC 5321.", reply.code),
            |m| format!("{}: {}", reply.code, m.meaning),
        );
        if let (Some(e), Some(m)) = (reply.enhanced, exact.or(subject)) {
            meaning.push_str(&format!(" {e}: {}", m.meaning));
        }
        let (title, remedy) = if reply.code / 100 == 4 {
            (
                format!("Temporary {} failure", phase.name()),
                "A temporary failure: the same command may work later. Retry with backoff; if it persists, read the server's text.",
            )
        } else {
            (
                format!("{} failed", phase.title()),
                "A permanent failure: repeating the same command will fail again. Read the server's text and fix the request.",
            )
        };
        let diagnosis = Diagnosis {
            id: None,
            title,
            meaning,
            remedy: remedy.into(),
            details: Vec::new(),
            notes: Vec::new(),
            evidence: None,
            source: None,
        };
        (phase, diagnosis)
    }
}

/// A reply whose text, after any enhanced code, is only "Ok".
fn is_bare_ok(reply: &Reply) -> bool {
    reply
        .message()
        .trim()
        .trim_end_matches('.')
        .eq_ignore_ascii_case("ok")
}

/// The command a positive reply most likely answers when it came without one (a reply
/// pasted into `explain`): some codes belong to one command, and servers answer an accepted
/// sender with 2.1.0 and an accepted recipient with 2.1.5.
fn guess_command(reply: &Reply) -> Option<Verb> {
    match reply.code {
        221 => Some(Verb::Quit),
        235 | 334 => Some(Verb::Auth),
        354 => Some(Verb::Data),
        250 => match reply.enhanced.map(|e| (e.subject, e.detail)) {
            Some((1, 0)) => Some(Verb::Mail),
            Some((1, 5)) => Some(Verb::Rcpt),
            _ if reply.last_text().to_ascii_lowercase().contains("queued as") => {
                Some(Verb::DataEnd)
            }
            _ => None,
        },
        _ => None,
    }
}

/// `Some` when a catalog remedy says there is nothing to do ("None", "None; remark"), with the
/// remark if there is one.
fn nothing_to_do(remedy: &str) -> Option<Option<String>> {
    let rest = remedy
        .strip_prefix("None")
        .or_else(|| remedy.strip_prefix("none"))?;
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return None; // a word such as "Nonetheless"
    }
    let remark = rest.trim_start_matches([';', ':', ',', '.', ' ']).trim();
    if remark.is_empty() {
        return Some(None);
    }
    let mut chars = remark.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    Some(Some(format!("{first}{}", chars.as_str())))
}

/// The reply's last line in the form the patterns expect: `CODE TEXT`.
fn match_line(reply: &Reply) -> String {
    let text = reply.last_text();
    if text.is_empty() {
        reply.code.to_string()
    } else {
        format!("{} {}", reply.code, text)
    }
}

/// Turns captured groups into labelled details, and splits ARNs into their parts.
fn expand_details(captured: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in captured {
        match name.as_str() {
            "user_arn" => {
                out.push(("User ARN".into(), value.clone()));
                if let Some(arn) = Arn::parse(&value) {
                    if !arn.account.is_empty() {
                        out.push(("Account".into(), arn.account.to_string()));
                    }
                    if let Some(user) = arn.resource.strip_prefix("user/") {
                        out.push(("IAM user".into(), user.to_string()));
                    }
                }
            }
            "action" => out.push(("Action".into(), value)),
            "resource" => {
                out.push(("Resource".into(), value.clone()));
                if let Some(arn) = Arn::parse(&value) {
                    if !arn.region.is_empty() {
                        out.push(("Region".into(), arn.region.to_string()));
                    }
                    if let Some(id) = arn.resource.strip_prefix("identity/") {
                        out.push(("Identity".into(), id.to_string()));
                    } else if let Some(set) = arn.resource.strip_prefix("configuration-set/") {
                        out.push(("Configuration set".into(), set.to_string()));
                    }
                }
            }
            "region" => out.push(("Region".into(), value.to_ascii_lowercase())),
            "identities" => {
                let list: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                out.push(("Identities".into(), list.join(", ")));
            }
            "message_id" => out.push(("SES message ID".into(), value)),
            "queue_id" => out.push(("Queue ID".into(), value)),
            "login" => out.push(("SASL login".into(), value)),
            "reason" => out.push(("Reason".into(), value)),
            "header" => out.push(("Header".into(), value)),
            "configuration_set" => out.push(("Configuration set".into(), value)),
            other => out.push((other.replace('_', " "), value)),
        }
    }
    out
}

/// Why a command was refused for want of AUTH, from what AUTH had done.
fn unauthenticated_note(auth: AuthContext) -> &'static str {
    match auth {
        AuthContext::Rejected(AuthRejection::BadCredentials) => {
            "An earlier AUTH on this connection was refused: the server checked the credentials and still sees an unauthenticated client. Fix the credentials first; this refusal follows from that."
        }
        AuthContext::Rejected(AuthRejection::TlsRequired) => {
            "AUTH was refused because TLS had not started, so the credentials were never checked. Run STARTTLS, EHLO again, then AUTH."
        }
        AuthContext::Rejected(AuthRejection::Temporary) => {
            "AUTH got only a temporary refusal, so the credentials were never judged. Try AUTH again later."
        }
        AuthContext::Rejected(_) => {
            "AUTH did not complete, so the server still sees an unauthenticated client; the credentials were never checked."
        }
        AuthContext::NeverTried => {
            "Not authenticated: AUTH was never sent on this connection, and this server wants it before mail. Send AUTH (after STARTTLS) first."
        }
        AuthContext::InProgress => "An AUTH exchange was still open when this command went out.",
        AuthContext::Accepted => {
            "AUTH had succeeded earlier, yet the server asks for it again: the connection may have been reset (e.g. a new EHLO after STARTTLS clears the login)."
        }
    }
}

/// What an authorization refusal is about, for the notes that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    /// SES's IAM check: the policy of the user behind the credentials.
    Iam,
    /// SES's verified identities: the sender, and in the sandbox the recipients.
    Identity,
    /// Postfix's check_sasl_access: a site rule keyed on the (already accepted) login name.
    SaslAccess,
    Other,
}

impl Denial {
    fn of(id: Option<&str>) -> Denial {
        match id {
            Some(
                "ses-access-denied" | "ses-access-denied-requoted" | "ses-access-denied-other",
            ) => Denial::Iam,
            Some("ses-not-verified") => Denial::Identity,
            Some(id) if id.starts_with("postfix-sasl-access") => Denial::SaslAccess,
            _ => Denial::Other,
        }
    }
}

/// Notes for a refused authorization: which check refused, and that the login itself held.
fn authorization_notes(d: &mut Diagnosis, ctx: &Context, after_dot: bool) {
    let kind = Denial::of(d.id.as_deref());
    let authenticated = ctx.authenticated();
    match kind {
        Denial::Iam => {
            if authenticated {
                d.notes.push("Authentication had succeeded (235) earlier in this session: the credentials are valid. This is authorization: the identity behind them may not send this message.".into());
            } else if d.id.as_deref() == Some("ses-access-denied") {
                d.notes.push("SES sends this only to a client that authenticated: the credentials are valid. This is authorization, not authentication.".into());
            }
        }
        Denial::Identity => {
            d.notes.extend(unverified_identity_notes(d, ctx));
            if authenticated {
                d.notes.push("Authentication had succeeded (235) earlier in this session: the credentials are valid. This refusal is about verified identities (addresses SES knows you own), not about the login or the IAM policy.".into());
            }
        }
        Denial::SaslAccess => {
            if authenticated {
                d.notes.push("Authentication had succeeded (235) earlier in this session: the password was right and the server knows who you are. \"SASL login name rejected\" is not a login failure: a rule of this server (Postfix's check_sasl_access) looked up that login name and refused this step. That is authorization.".into());
            } else {
                d.notes.push("\"SASL login name rejected\" comes only after a successful AUTH: the server has a login name to look up only once the password was accepted. So this is authorization (what this login may do), not authentication.".into());
            }
        }
        Denial::Other => {
            if authenticated {
                d.notes.push("Authentication had succeeded (235) earlier in this session: the credentials are valid. This is authorization: the server knows who you are and refuses this request.".into());
            }
        }
    }
    if !after_dot {
        return;
    }
    match kind {
        Denial::Iam | Denial::Other if ctx.ses => {
            d.notes.push("SES accepted MAIL FROM, RCPT TO and DATA and checked the policy only after the final \".\".".into());
        }
        // The wording of this reply is SES's own, whatever the host name said.
        Denial::Identity => {
            d.notes.push("SES accepted MAIL FROM, RCPT TO and DATA without checking the addresses; it checks identities only after the final \".\".".into());
        }
        Denial::SaslAccess => {
            d.notes.push("The server accepted MAIL FROM, RCPT TO and DATA and refused only after the final \".\", where its end-of-message rules run.".into());
        }
        _ => {
            d.notes.push("The server accepted the envelope and refused only after the final \".\": a policy check on the message, not on the login.".into());
        }
    }
}

/// Who the addresses of an "Email address is not verified" reply are, and the fix for each:
/// a recipient means the account is in the sandbox; a sender needs verifying anywhere.
fn unverified_identity_notes(d: &Diagnosis, ctx: &Context) -> Vec<String> {
    let detail = |k: &str| {
        d.details
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let region = detail("Region").unwrap_or("this region");
    let ids: Vec<&str> = detail("Identities")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().trim_end_matches("..."))
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let rcpts: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| ctx.rcpts.iter().any(|r| same(r, id)))
        .collect();
    let senders: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| ctx.mail_from.as_deref().is_some_and(|f| same(f, id)))
        .collect();
    let mut notes = Vec::new();
    if !rcpts.is_empty() {
        let (list, is) = (
            rcpts.join(", "),
            if rcpts.len() == 1 {
                "is a recipient"
            } else {
                "are recipients"
            },
        );
        notes.push(format!("{list} {is} of this message, not verified in {region}. SES checks recipients only while an account is in the sandbox, so this account is still in it. Two fixes: verify {list} in SES in {region} (SES mails a link to confirm), or request production access for the account, after which any recipient is allowed."));
    }
    if !senders.is_empty() {
        let list = senders.join(", ");
        notes.push(format!("{list} is the sender (MAIL FROM), not verified in {region}. Verify that address, or its whole domain, in SES in {region}: a verified sender is needed in and out of the sandbox."));
    }
    if rcpts.is_empty() && senders.is_empty() {
        let list = ids.join(", ");
        notes.push(format!("SES lists {list} as not verified in {region}. If that is a recipient, the account is in the SES sandbox, where every recipient must be verified too: verify the recipient in {region}, or request production access. If it is the sender (MAIL FROM, From or Return-Path), verify that address or its domain in {region}."));
    }
    notes
}

fn add_context_notes(
    d: &mut Diagnosis,
    phase: Phase,
    verdict: Verdict,
    reply: &Reply,
    ctx: &Context,
) {
    let after_dot = ctx.after == Some(Verb::DataEnd);
    let at_auth = matches!(ctx.after, Some(Verb::Auth | Verb::AuthResponse));
    if at_auth && verdict.is_failure() && reply.code / 100 == 4 && phase != Phase::Throttling {
        d.notes.push("A temporary refusal: the server did not judge the credentials. Retry later, with backoff; nothing needs fixing yet.".into());
    }
    if at_auth
        && reply.code == 235
        && let Some(code) = ctx.earlier_auth_refusal
    {
        d.notes.push(format!("An earlier AUTH in this session was refused ({code}); this one succeeded, so the client is authenticated now."));
    }
    if ctx.ses && reply.code / 100 == 2 && matches!(ctx.after, Some(Verb::Mail | Verb::Rcpt)) {
        d.notes.push("SES accepts any well-formed address here: it checks verified identities, the IAM policy and quotas only after the final \".\". This 250 does not yet mean the message may be sent.".into());
    }
    match phase {
        Phase::Authorization if verdict.is_failure() => {
            authorization_notes(d, ctx, after_dot);
        }
        Phase::Tls if verdict.is_failure() && at_auth => {
            d.notes.push("This is about the order of steps, not your credentials: the server wants STARTTLS (then EHLO again) before AUTH. The credentials were never checked.".into());
        }
        Phase::Authentication if verdict.is_failure() => {
            if at_auth && ctx.authenticated() && reply.code == 503 {
                d.notes.push("Already authenticated: one connection allows one successful AUTH (RFC 4954). This refusal is a misstep; authentication still holds.".into());
            } else if !at_auth && reply.code == 530 {
                d.notes.push(unauthenticated_note(ctx.auth).into());
            }
            match ctx.tls {
                Some(false) if at_auth => d
                    .notes
                    .push("This AUTH went over a connection without TLS.".into()),
                None if at_auth => d.notes.push(
                    "TLS: unknown. The reply alone does not say whether this AUTH went over an encrypted connection."
                        .into(),
                ),
                _ => {}
            }
        }
        Phase::Throttling
            if reply.code / 100 == 4 && d.id.as_deref() == Some("ses-daily-quota") =>
        {
            d.notes.push("Transient on paper (4xx), but retrying will not help until the 24-hour window frees quota: it needs action.".into());
        }
        _ => {}
    }
    if ctx.after == Some(Verb::Ehlo) && reply.code == 250 {
        d.notes.push(ehlo_offers(reply, ctx.tls == Some(true)));
    }
    if reply.has_bare_lf() {
        d.notes.push(
            "The server ended lines with a bare LF instead of CRLF (RFC 5321 requires CRLF)."
                .into(),
        );
    }
}

/// What an EHLO reply offers, for any server: TLS, the AUTH mechanisms, SIZE, PIPELINING,
/// 8BITMIME, SMTPUTF8 and CHUNKING, and which of them it does not.
fn ehlo_offers(reply: &Reply, tls: bool) -> String {
    let caps = super::model::Capabilities::from_ehlo(reply);
    // Mechanism names are server bytes: keep the ones that look like names, at most ten.
    let mechanisms: Vec<&str> = caps
        .auth
        .iter()
        .map(String::as_str)
        .filter(|m| {
            m.len() <= 40
                && m.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .take(10)
        .collect();
    let size = match caps.size {
        Some(0) => "SIZE (no fixed limit)".to_string(),
        Some(n) => format!("SIZE {n} ({:.1} MB)", n as f64 / 1_000_000.0),
        None => "SIZE".to_string(),
    };
    let tls_name = if tls { "TLS (already on)" } else { "STARTTLS" };
    let all = [
        (tls || caps.starttls, tls_name.to_string()),
        (
            !mechanisms.is_empty(),
            format!("AUTH {}", mechanisms.join(" "))
                .trim_end()
                .to_string(),
        ),
        (caps.size.is_some(), size),
        (caps.pipelining, "PIPELINING".to_string()),
        (caps.eight_bit_mime, "8BITMIME".to_string()),
        (caps.smtputf8, "SMTPUTF8".to_string()),
        (caps.chunking, "CHUNKING".to_string()),
    ];
    let (offered, missing): (Vec<_>, Vec<_>) = all.into_iter().partition(|(yes, _)| *yes);
    let offered: Vec<String> = offered.into_iter().map(|(_, n)| n).collect();
    let missing: Vec<String> = missing.into_iter().map(|(_, n)| n).collect();
    let mut note = if offered.is_empty() {
        "Offered: no extensions (plain SMTP only).".to_string()
    } else {
        format!("Offered: {}.", offered.join(" · "))
    };
    if !missing.is_empty() {
        note.push_str(&format!(" Not offered: {}.", missing.join(", ")));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ehlo_says_what_the_server_offers() {
        let postfix = Reply::from_lines(
            250,
            &[
                "mail.example.test",
                "PIPELINING",
                "SIZE 10240000",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "8BITMIME",
                "CHUNKING",
            ],
        );
        let c = Catalog::builtin().classify(&postfix, &Context::after(Verb::Ehlo));
        let note = c
            .diagnosis
            .notes
            .iter()
            .find(|n| n.starts_with("Offered:"))
            .expect("an offers note");
        for want in [
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "SIZE 10240000 (10.2 MB)",
            "PIPELINING",
            "8BITMIME",
            "CHUNKING",
            "Not offered: SMTPUTF8.",
        ] {
            assert!(note.contains(want), "{want}: {note}");
        }
        let bare = Reply::from_lines(250, &["tiny.example.test"]);
        let ctx = Context {
            tls: Some(true),
            ..Context::after(Verb::Ehlo)
        };
        let c = Catalog::builtin().classify(&bare, &ctx);
        let note = c.diagnosis.notes.join(" ");
        assert!(note.contains("Offered: TLS (already on)."), "{note}");
        assert!(
            note.contains("Not offered: AUTH, SIZE, PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING."),
            "{note}"
        );
    }

    fn classify(text: &str, after: Verb) -> Classification {
        let (code, rest) = text.split_at(3);
        let reply = Reply::from_lines(
            code.parse().unwrap(),
            &[rest.trim_start_matches([' ', '-'])],
        );
        Catalog::builtin().classify(&reply, &Context::after(after))
    }

    #[test]
    fn every_builtin_pattern_compiles_and_its_prefix_admits_its_example() {
        let eager = Catalog::from_sources(
            &[
                ("replies.toml", SES_REPLIES),
                ("replies-other.toml", OTHER_REPLIES),
            ],
            RFC_CODES,
        )
        .expect("all patterns compile");
        for e in eager.entries() {
            assert!(
                e.could_match(&e.example.to_ascii_uppercase()),
                "{}: prefix {:?}",
                e.id,
                e.prefix
            );
        }
        assert_eq!(
            literal_prefix("^535 Authentication Credentials Invalid$"),
            "535 AUTHENTICATION CREDENTIALS INVALID"
        );
        assert_eq!(literal_prefix("^451( 4\\.4\\.2)? Timeout"), "451");
        assert_eq!(literal_prefix("^55\\d[ -]"), "55");
        assert_eq!(literal_prefix("^250 Oks? x"), "250 OK");
        assert_eq!(literal_prefix("(a|b)"), "");
    }

    #[test]
    fn every_catalog_entry_matches_its_own_example() {
        let catalog = Catalog::builtin();
        assert!(catalog.entries().len() > 70);
        for entry in catalog.entries() {
            let (code, rest) = entry.example.split_at(3);
            let reply = Reply::from_lines(code.parse().unwrap(), &[rest.trim_start()]);
            assert_eq!(reply.code, entry.code, "{}: code", entry.id);
            let after = entry.first_after().or(Some(Verb::Other));
            let found = catalog.find(&reply, after).map(|(e, _)| e.id.as_str());
            assert_eq!(
                found,
                Some(entry.id.as_str()),
                "example of {} matched another entry",
                entry.id
            );
            let c = catalog.classify(&reply, &Context::after(after.unwrap_or(Verb::Other)));
            assert!(!c.diagnosis.title.is_empty());
        }
    }

    #[test]
    fn seed_scenarios() {
        let c = classify("535 Authentication Credentials Invalid", Verb::AuthResponse);
        assert_eq!(
            (c.phase, c.verdict),
            (Phase::Authentication, Verdict::Permanent)
        );
        assert!(c.diagnosis.remedy.contains("region"), "{:?}", c.diagnosis);
        assert!(c.diagnosis.remedy.contains("secret"));

        // The published walkthrough's wording of the 535.
        let c = classify("535 Authentication failed", Verb::Auth);
        assert_eq!(c.phase, Phase::Authentication);

        let c = classify("530 Authentication required", Verb::Mail);
        assert_eq!(c.phase, Phase::Authentication);

        let c = classify("530 Must issue a STARTTLS command first", Verb::Auth);
        assert_eq!(c.phase, Phase::Tls);

        let text = "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:123456789012:identity/example.com'";
        let reply = Reply::from_lines(554, &[&text[4..]]);
        let ctx = Context {
            after: Some(Verb::DataEnd),
            auth: AuthContext::Accepted,
            ses: true,
            ..Context::default()
        };
        let c = Catalog::builtin().classify(&reply, &ctx);
        assert_eq!(c.phase, Phase::Authorization);
        let get = |k: &str| {
            c.diagnosis
                .details
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("User ARN"),
            Some("arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1")
        );
        assert_eq!(get("Action"), Some("ses:SendRawEmail"));
        assert_eq!(
            get("Resource"),
            Some("arn:aws:ses:ap-northeast-1:123456789012:identity/example.com")
        );
        assert_eq!(get("Region"), Some("ap-northeast-1"));
        assert_eq!(get("Identity"), Some("example.com"));
        assert_eq!(get("IAM user"), Some("ses-smtp-user.20230808-1"));
        assert!(
            c.diagnosis
                .notes
                .iter()
                .any(|n| n.contains("Authentication had succeeded"))
        );
    }

    #[test]
    fn unverified_identities() {
        let c = classify(
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-WEST-2: a@example.com, b@example.org",
            Verb::DataEnd,
        );
        assert_eq!(c.phase, Phase::Authorization);
        assert!(
            c.diagnosis
                .details
                .contains(&("Region".into(), "us-west-2".into()))
        );
        assert!(
            c.diagnosis
                .details
                .contains(&("Identities".into(), "a@example.com, b@example.org".into()))
        );
    }

    #[test]
    fn throttling_and_content() {
        assert_eq!(
            classify(
                "454 Throttling failure: Maximum sending rate exceeded.",
                Verb::DataEnd
            )
            .phase,
            Phase::Throttling
        );
        let c = classify(
            "454 Throttling failure: Daily message quota exceeded.",
            Verb::DataEnd,
        );
        assert_eq!(
            (c.phase, c.verdict),
            (Phase::Throttling, Verdict::Transient)
        );
        assert!(!c.diagnosis.notes.is_empty());
        assert_eq!(
            classify(
                "554 Transaction failed: Duplicate header 'DKIM-Signature'.",
                Verb::DataEnd
            )
            .phase,
            Phase::Content
        );
        assert_eq!(
            classify("552 Message is too long.", Verb::DataEnd).phase,
            Phase::Content
        );
    }

    #[test]
    fn other_servers_fall_back_sensibly() {
        let cases = [
            (
                "535 5.7.8 Error: authentication failed: authentication failure",
                Verb::AuthResponse,
                Phase::Authentication,
            ),
            (
                "535 5.7.8 Username and Password not accepted. Learn more",
                Verb::AuthResponse,
                Phase::Authentication,
            ),
            (
                "530 5.7.0 Must issue a STARTTLS command first.",
                Verb::Mail,
                Phase::Tls,
            ),
            (
                "554 5.7.1 <x@y>: Relay access denied",
                Verb::Rcpt,
                Phase::Authorization,
            ),
            (
                "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
                Verb::Rcpt,
                Phase::Envelope,
            ),
            (
                "421 4.7.0 Too many connections from your IP, try again later",
                Verb::Mail,
                Phase::Throttling,
            ),
            (
                "552 5.3.4 Message size exceeds fixed limit",
                Verb::DataEnd,
                Phase::Content,
            ),
            (
                "451 4.3.0 Error: queue file write error",
                Verb::DataEnd,
                Phase::Service,
            ),
            (
                "550 5.7.26 Unauthenticated email is not accepted",
                Verb::DataEnd,
                Phase::Content,
            ),
            ("250 2.0.0 Ok: queued as 4ABC", Verb::DataEnd, Phase::Data),
            ("250 2.1.5 Ok", Verb::Rcpt, Phase::Envelope),
            (
                "503 5.5.1 Error: authentication not enabled",
                Verb::Auth,
                Phase::Authentication,
            ),
            (
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
                Verb::AuthResponse,
                Phase::Authentication,
            ),
            (
                "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
                Verb::DataEnd,
                Phase::Authorization,
            ),
            (
                "454 4.7.0 TLS not available due to local problem",
                Verb::StartTls,
                Phase::Tls,
            ),
            (
                "500 5.5.2 Error: command not recognized",
                Verb::Other,
                Phase::Service,
            ),
            ("221 2.0.0 Bye", Verb::Quit, Phase::Connection),
            // A temporary problem is not rate limiting unless the server says so.
            (
                "421 4.7.0 Temporary System Problem. Try again later.",
                Verb::Auth,
                Phase::Service,
            ),
            (
                "421 4.7.0 Too many connections from your IP, try again later",
                Verb::Connect,
                Phase::Throttling,
            ),
        ];
        for (text, after, phase) in cases {
            assert_eq!(classify(text, after).phase, phase, "{text}");
        }
    }

    #[test]
    fn fallback_explains_codes() {
        let c = classify("550 5.1.1 no such mailbox here", Verb::Rcpt);
        assert!(c.diagnosis.meaning.contains("550"));
        assert!(c.diagnosis.meaning.contains("5.1.1"));
        assert!(!c.diagnosis.remedy.is_empty());
    }

    #[test]
    fn bad_catalog_is_a_clear_error() {
        let bad = "[[reply]]\nid='x'\ncode=250\npattern='('\nafter=['ANY']\nphase='ehlo'\ntitle='t'\nmeaning='m'\nremedy='r'\nexample='250 x'\nevidence='E'\nsource='s'\n";
        let err = Catalog::from_sources(&[("t.toml", bad)], RFC_CODES).unwrap_err();
        assert!(err.to_string().contains("bad pattern"), "{err}");
        let bad_phase = bad.replace("'('", "'x'").replace("'ehlo'", "'nope'");
        let err = Catalog::from_sources(&[("t.toml", &bad_phase)], RFC_CODES).unwrap_err();
        assert!(err.to_string().contains("unknown phase"), "{err}");
    }

    #[test]
    fn none_remedies_become_notes() {
        assert_eq!(nothing_to_do("None"), Some(None));
        assert_eq!(
            nothing_to_do("None; do not assume x"),
            Some(Some("Do not assume x".into()))
        );
        assert_eq!(nothing_to_do("Nonetheless retry"), None);
        assert_eq!(nothing_to_do("Retry"), None);
        let c = classify(
            "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-X Y",
            Verb::Connect,
        );
        assert!(c.diagnosis.remedy.is_empty());
        assert!(
            c.diagnosis
                .notes
                .iter()
                .any(|n| n.starts_with("On 465/2465")),
            "{:?}",
            c.diagnosis.notes
        );
    }

    #[test]
    fn arn_parts() {
        let a = Arn::parse("arn:aws:ses:eu-west-2:123456789012:identity/example.com").unwrap();
        assert_eq!(
            (a.service, a.region, a.account, a.resource),
            ("ses", "eu-west-2", "123456789012", "identity/example.com")
        );
        assert!(Arn::parse("not-an-arn").is_none());
    }

    fn detail<'a>(c: &'a Classification, key: &str) -> Option<&'a str> {
        c.diagnosis
            .details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Issue 18, item 1: a positive reply says what went well, for every step and every
    /// server we know the words of; an enhanced code's subject (x.1: addressing) is a detail.
    #[test]
    fn success_replies_say_what_succeeded() {
        use Verb::*;
        let gsmtp = "a1-20020a05.123 - gsmtp";
        let cases: Vec<(Verb, String, &str)> = vec![
            // greeting
            (Connect, "220 postfix.smtpscope.test ESMTP Postfix (Debian/GNU)".into(), "Server ready"),
            (Connect, "220 mail.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 00:00:00 +0000".into(), "Server ready"),
            (Connect, format!("220 smtp.gmail.com ESMTP {gsmtp}"), "Server ready"),
            (Connect, "220 BN8PR04CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024 00:00:00 +0000".into(), "Server ready"),
            (Connect, "220 localhost Python SMTP 1.4.4".into(), "Server ready"),
            (Connect, "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-VCSHDP1YZ A1b2C3d4E5f6G7h8I9j0".into(), "SES greeting"),
            // EHLO (the last line of the capability list)
            (Ehlo, "250 CHUNKING".into(), "EHLO accepted"),
            (Ehlo, "250 HELP".into(), "EHLO accepted"),
            (Ehlo, "250 SMTPUTF8".into(), "EHLO accepted"),
            (Ehlo, "250 Ok".into(), "EHLO capabilities"),
            // STARTTLS
            (StartTls, "220 2.0.0 Ready to start TLS".into(), "Ready for TLS"),
            (StartTls, "220 TLS go ahead".into(), "Ready for TLS"),
            (StartTls, "220 2.0.0 SMTP server ready".into(), "Ready for TLS"),
            (StartTls, "220 Ready to start TLS".into(), "Ready for the TLS handshake"),
            // AUTH
            (Auth, "334 ".into(), "AUTH goes on"),
            (Auth, "334 VXNlcm5hbWU6".into(), "AUTH LOGIN asks for the user name"),
            (AuthResponse, "334 UGFzc3dvcmQ6".into(), "AUTH LOGIN asks for the password"),
            (Auth, "235 2.7.0 Authentication successful".into(), "Authenticated"),
            (AuthResponse, "235 Authentication succeeded".into(), "Authenticated"),
            (AuthResponse, "235 2.7.0 Accepted".into(), "Authenticated"),
            (AuthResponse, "235 Authentication successful.".into(), "Authenticated"),
            // MAIL
            (Mail, "250 2.1.0 Ok".into(), "Sender accepted"),
            (Mail, "250 OK".into(), "Sender accepted"),
            (Mail, format!("250 2.1.0 OK {gsmtp}"), "Sender accepted"),
            (Mail, "250 2.1.0 Sender OK".into(), "Sender accepted"),
            (Mail, "250 Ok".into(), "Sender accepted"),
            // RCPT
            (Rcpt, "250 2.1.5 Ok".into(), "Recipient accepted"),
            (Rcpt, "250 Accepted".into(), "Recipient accepted"),
            (Rcpt, format!("250 2.1.5 OK {gsmtp}"), "Recipient accepted"),
            (Rcpt, "250 2.1.5 Recipient OK".into(), "Recipient accepted"),
            (Rcpt, "250 Ok".into(), "Recipient accepted"),
            (Rcpt, "251 2.1.5 User not local; will forward".into(), "Recipient accepted"),
            // DATA
            (Data, "354 End data with <CR><LF>.<CR><LF>".into(), "Ready for the message"),
            (Data, "354 Enter message, ending with \".\" on a line by itself".into(), "Ready for the message"),
            (Data, format!("354  Go ahead {gsmtp}"), "Ready for the message"),
            (Data, "354 Start mail input; end with <CRLF>.<CRLF>".into(), "Ready for the message"),
            // the final "."
            (DataEnd, "250 2.0.0 Ok: queued as 4ABC123DEF".into(), "Message accepted"),
            (DataEnd, "250 OK id=1r2s3t-0004Xy-AB".into(), "Message accepted"),
            (DataEnd, format!("250 2.0.0 OK  1700000000 {gsmtp}"), "Message accepted"),
            (DataEnd, "250 2.0.0 OK <BN8PR04MB0001@BN8PR04MB0001.namprd04.prod.outlook.com> [Hostname=BN8PR04MB0001.namprd04.prod.outlook.com]".into(), "Message accepted"),
            (DataEnd, "250 Message accepted for delivery".into(), "Message accepted"),
            (DataEnd, "250 Ok 0107017033dbb64d-be13a01e-dbf1-44b7-b876-3622165dacc1-000000".into(), "Message accepted by SES"),
            // RSET, NOOP
            (Rset, "250 2.0.0 Ok".into(), "Transaction reset"),
            (Rset, "250 Reset OK".into(), "Transaction reset"),
            (Rset, format!("250 2.1.5 Flushed {gsmtp}"), "Transaction reset"),
            (Rset, "250 2.0.0 Resetting".into(), "Transaction reset"),
            (Rset, "250 Ok".into(), "Transaction reset"),
            (Noop, "250 2.0.0 Ok".into(), "Connection alive"),
            (Noop, format!("250 2.0.0 OK {gsmtp}"), "Connection alive"),
            (Noop, "250 OK".into(), "Connection alive"),
            // QUIT
            (Quit, "221 2.0.0 Bye".into(), "Session closed"),
            (Quit, "221 mail.example.com closing connection".into(), "Session closed"),
            (Quit, format!("221 2.0.0 closing connection {gsmtp}"), "Session closed"),
            (Quit, "221 2.0.0 Service closing transmission channel".into(), "Session closed"),
            (Quit, "221 Bye".into(), "Session closed"),
        ];
        for (after, text, title) in &cases {
            let c = classify(text, *after);
            let d = &c.diagnosis;
            assert!(!c.verdict.is_failure(), "{text}");
            assert_eq!(d.title, *title, "{text} after {after:?}: {d:?}");
            let said = format!("{} {}", d.title, d.meaning).to_ascii_lowercase();
            for bad in [
                "problem",
                "fail",
                "refus",
                "denied",
                "error",
                "connection accepted",
            ] {
                assert!(!said.contains(bad), "{text}: {bad:?} in {d:?}");
            }
            // The enhanced code is never the headline; when the RFC table explains it, it is
            // a detail.
            let reply = Reply::from_lines(text[..3].parse().unwrap(), &[&text[4..]]);
            if let Some(e) = reply.enhanced {
                assert!(!d.title.contains(&e.to_string()), "{text}");
                if d.id.is_none() {
                    let shown =
                        detail(&c, "Enhanced code").unwrap_or_else(|| panic!("{text}: {d:?}"));
                    assert!(shown.starts_with(&e.to_string()), "{text}: {shown}");
                }
            }
        }
        // The subject class reads neutrally, for failures too.
        let c = classify("250 2.1.5 Ok", Verb::Rcpt);
        assert_eq!(
            detail(&c, "Enhanced code"),
            Some("2.1.5: Destination address valid.")
        );
        let c = classify("250 2.1.0 Ok", Verb::Mail);
        assert!(!detail(&c, "Enhanced code").unwrap().contains("problem"));
        // The queue id is a parsed part.
        let c = classify("250 2.0.0 Ok: queued as 4ABC123DEF", Verb::DataEnd);
        assert_eq!(detail(&c, "Queue ID"), Some("4ABC123DEF"));
    }

    /// A positive reply pasted without its command (`explain` without --after): the code or
    /// the enhanced code says which command it answered, or the headline stays "Accepted".
    #[test]
    fn success_without_the_command() {
        let ctx = Context::default();
        let cases = [
            ("250 2.1.0 Ok", "Sender accepted", Phase::Envelope),
            ("250 2.1.5 Ok", "Recipient accepted", Phase::Envelope),
            ("221 2.0.0 Bye", "Session closed", Phase::Connection),
            (
                "235 2.7.0 Authentication successful",
                "Authenticated",
                Phase::Authentication,
            ),
            (
                "354 Start mail input; end with <CRLF>.<CRLF>",
                "Ready for the message",
                Phase::Data,
            ),
            (
                "250 2.0.0 Ok: queued as 4ABC123DEF",
                "Message accepted",
                Phase::Data,
            ),
            ("250 Ok", "Accepted", Phase::Service),
            ("250 2.0.0 Ok", "Accepted", Phase::Service),
        ];
        for (text, title, phase) in cases {
            let reply = Reply::from_lines(text[..3].parse().unwrap(), &[&text[4..]]);
            let c = Catalog::builtin().classify(&reply, &ctx);
            assert_eq!(
                (c.diagnosis.title.as_str(), c.phase),
                (title, phase),
                "{text}"
            );
        }
    }

    /// SES's MAIL/RCPT 250 is not a promise: its checks come after the final ".". Other
    /// servers get no such note.
    #[test]
    fn ses_envelope_acceptance_is_not_a_promise() {
        let reply = Reply::from_lines(250, &["Ok"]);
        let ses = Context {
            after: Some(Verb::Rcpt),
            ses: true,
            ..Context::default()
        };
        let c = Catalog::builtin().classify(&reply, &ses);
        assert!(
            c.diagnosis
                .notes
                .iter()
                .any(|n| n.contains("after the final"))
        );
        let other = Context { ses: false, ..ses };
        assert!(
            Catalog::builtin()
                .classify(&reply, &other)
                .diagnosis
                .notes
                .is_empty()
        );
    }

    fn at_dot(ses: bool) -> Context {
        Context {
            after: Some(Verb::DataEnd),
            auth: AuthContext::Accepted,
            ses,
            mail_from: Some("sender@example.com".into()),
            rcpts: vec!["recipient@example.com".into()],
            ..Context::default()
        }
    }

    /// Issue 18, item 7: the sandbox refusal is about an unverified recipient, not about the
    /// identity (IAM user) behind the credentials; the note names the recipient and both fixes.
    #[test]
    fn sandbox_note_names_the_unverified_recipient_and_both_fixes() {
        let text = "Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: recipient@example.com";
        let reply = Reply::from_lines(554, &[text]);
        let c = Catalog::builtin().classify(&reply, &at_dot(true));
        assert_eq!(c.phase, Phase::Authorization);
        assert_eq!(c.diagnosis.id.as_deref(), Some("ses-not-verified"));
        let notes = &c.diagnosis.notes;
        let first = &notes[0];
        for needle in [
            "recipient@example.com is a recipient",
            "us-east-1",
            "sandbox",
            "verify recipient@example.com",
            "request production access",
        ] {
            assert!(first.contains(needle), "{needle:?} missing from {first:?}");
        }
        assert!(
            notes.iter().all(|n| !n.contains("identity behind them")),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("235") && n.contains("not about the login or the IAM policy")),
            "{notes:?}"
        );

        // The sender listed: verify the sender; no sandbox story.
        let text = "Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: sender@example.com";
        let c = Catalog::builtin().classify(&Reply::from_lines(554, &[text]), &at_dot(true));
        let first = &c.diagnosis.notes[0];
        assert!(
            first.contains("sender@example.com is the sender"),
            "{first}"
        );
        assert!(
            first.contains("eu-west-1") && !first.contains("sandbox,"),
            "{first}"
        );

        // Pasted without the session: both readings, each with its fix.
        let c = Catalog::builtin().classify(
            &Reply::from_lines(554, &[text]),
            &Context::after(Verb::DataEnd),
        );
        let first = &c.diagnosis.notes[0];
        assert!(first.contains("If that is a recipient"), "{first}");
        assert!(first.contains("production access") && first.contains("If it is the sender"));
    }

    /// Issue 18, item 8: Postfix's "SASL login name rejected" comes after a successful AUTH:
    /// authorization, with the relayed ARN, action and resource parsed, and no SES claim.
    #[test]
    fn postfix_sasl_login_name_rejected_is_authorization() {
        let text = "5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/denied' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'";
        let reply = Reply::from_lines(554, &[text]);
        for ses in [false, true] {
            let c = Catalog::builtin().classify(&reply, &at_dot(ses));
            assert_eq!(
                (c.phase, c.verdict),
                (Phase::Authorization, Verdict::Permanent)
            );
            assert_eq!(c.diagnosis.id.as_deref(), Some("postfix-sasl-access-iam"));
            assert_eq!(detail(&c, "SASL login"), Some("denied"));
            assert_eq!(
                detail(&c, "User ARN"),
                Some("arn:aws:iam::123456789012:user/denied")
            );
            assert_eq!(detail(&c, "IAM user"), Some("denied"));
            assert_eq!(detail(&c, "Action"), Some("ses:SendRawEmail"));
            assert_eq!(
                detail(&c, "Resource"),
                Some("arn:aws:ses:us-east-1:123456789012:identity/example.com")
            );
            assert_eq!(detail(&c, "Identity"), Some("example.com"));
            assert_eq!(detail(&c, "Region"), Some("us-east-1"));
            let all = format!(
                "{} {} {:?}",
                c.diagnosis.title, c.diagnosis.meaning, c.diagnosis.notes
            );
            assert!(c.diagnosis.title.contains("Authorization"), "{all}");
            assert!(!all.contains("SES accepted"), "{all}");
            assert!(!all.contains("Authentication failed"), "{all}");
            assert!(
                c.diagnosis
                    .notes
                    .iter()
                    .any(|n| n.contains("not a login failure") && n.contains("authorization")),
                "{all}"
            );
        }
        // Pasted alone, it still says the login had worked.
        let c = Catalog::builtin().classify(&reply, &Context::default());
        assert!(
            c.diagnosis.notes[0].contains("only after a successful AUTH"),
            "{c:?}"
        );

        // Any check_sasl_access refusal, at any step, temporary or not.
        let c = classify(
            "554 5.7.1 <bob>: SASL login name rejected: Access denied",
            Verb::Rcpt,
        );
        assert_eq!(c.diagnosis.id.as_deref(), Some("postfix-sasl-access"));
        assert_eq!(c.phase, Phase::Authorization);
        assert_eq!(detail(&c, "SASL login"), Some("bob"));
        assert_eq!(detail(&c, "Reason"), Some("Access denied"));
        let c = classify(
            "450 4.7.1 <bob>: SASL login name rejected: try again tomorrow",
            Verb::Mail,
        );
        assert_eq!(
            (c.phase, c.verdict),
            (Phase::Authorization, Verdict::Transient)
        );
    }
}
