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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// The command the reply answers; `None` for an unsolicited reply.
    pub after: Option<Verb>,
    /// What AUTH has done on this connection so far.
    pub auth: AuthContext,
    /// An earlier AUTH in this session was refused with this code (kept for the note on a
    /// later success).
    pub earlier_auth_refusal: Option<u16>,
    pub tls: bool,
    /// The server is Amazon SES (or the simulator): SES-only remarks apply.
    pub ses: bool,
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

/// All reply knowledge, compiled once.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
    codes: HashMap<u16, Meaning>,
    /// Keyed by "x.S" or "x.S.D".
    enhanced: HashMap<String, Meaning>,
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
        Ok(Catalog {
            entries,
            codes,
            enhanced,
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
        let verb_phase = Phase::of_verb(ctx.after.unwrap_or(Verb::Other), positive);
        let mut diagnosis;
        let phase;
        if let Some((entry, captured)) = self.find(reply, ctx.after) {
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
        } else {
            (phase, diagnosis) = self.fallback(reply, verb_phase, positive);
        }
        add_context_notes(&mut diagnosis, phase, verdict, reply, ctx);
        Classification {
            phase,
            verdict,
            diagnosis,
        }
    }

    fn fallback(&self, reply: &Reply, verb_phase: Phase, positive: bool) -> (Phase, Diagnosis) {
        let code_meaning = self.codes.get(&reply.code);
        let (exact, subject) = match reply.enhanced {
            Some(e) => (
                self.enhanced.get(&format!("x.{}.{}", e.subject, e.detail)),
                self.enhanced.get(&format!("x.{}", e.subject)),
            ),
            None => (None, None),
        };
        let phase = if positive {
            verb_phase
        } else {
            exact
                .and_then(|m| m.phase)
                .or_else(|| code_meaning.and_then(|m| m.phase))
                .or_else(|| subject.and_then(|m| m.phase))
                .unwrap_or(verb_phase)
        };
        let mut meaning = code_meaning.map_or_else(
            || format!("Reply code {} is not defined by RFC 5321.", reply.code),
            |m| format!("{}: {}", reply.code, m.meaning),
        );
        if let (Some(e), Some(m)) = (reply.enhanced, exact.or(subject)) {
            meaning.push_str(&format!(" {e}: {}", m.meaning));
        }
        let remedy = match Verdict::of(reply.class()) {
            Verdict::Success | Verdict::Intermediate => String::new(),
            Verdict::Transient => "A temporary failure: the same command may work later. Retry with backoff; if it persists, read the server's text.".into(),
            Verdict::Permanent => "A permanent failure: repeating the same command will fail again. Read the server's text and fix the request.".into(),
        };
        let title = match Verdict::of(reply.class()) {
            Verdict::Success => format!("{} accepted", verb_phase.title()),
            Verdict::Intermediate => "Server waits for more".into(),
            Verdict::Transient => format!("Temporary {} failure", phase.name()),
            Verdict::Permanent => format!("{} failed", phase.title()),
        };
        let diagnosis = Diagnosis {
            id: None,
            title,
            meaning,
            remedy,
            details: Vec::new(),
            notes: Vec::new(),
            evidence: None,
            source: None,
        };
        (phase, diagnosis)
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
    match phase {
        Phase::Authorization if verdict.is_failure() => {
            if ctx.authenticated() {
                d.notes.push("Authentication had succeeded (235) earlier in this session: the credentials are valid. This is authorization: the identity behind them may not send this message.".into());
            } else if d.id.as_deref() == Some("ses-access-denied") {
                d.notes.push("SES sends this only to a client that authenticated: the credentials are valid. This is authorization, not authentication.".into());
            }
            if after_dot && ctx.ses {
                d.notes.push("SES accepted MAIL FROM, RCPT TO and DATA and checked the policy only after the final \".\".".into());
            } else if after_dot {
                d.notes.push("The server accepted the envelope and refused only after the final \".\": a policy check on the message, not on the login.".into());
            }
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
            if !ctx.tls && at_auth {
                d.notes
                    .push("This AUTH went over a connection without TLS.".into());
            }
        }
        Phase::Throttling
            if reply.code / 100 == 4 && d.id.as_deref() == Some("ses-daily-quota") =>
        {
            d.notes.push("Transient on paper (4xx), but retrying will not help until the 24-hour window frees quota: it needs action.".into());
        }
        _ => {}
    }
    if reply.has_bare_lf() {
        d.notes.push(
            "The server ended lines with a bare LF instead of CRLF (RFC 5321 requires CRLF)."
                .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        // The seed's own wording of the 535.
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
}
