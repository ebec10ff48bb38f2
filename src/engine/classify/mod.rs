//! Reply classification: phase, verdict and diagnosis.
//!
//! The knowledge is data: `assets/replies.toml` (SES), `assets/replies-other.toml` (other
//! servers) and `assets/rfc-codes.toml` (RFC 5321/3463 fallbacks). This module only matches.
//! SES accepts MAIL, RCPT and DATA and reports policy problems after the final `.`, so the
//! reply text decides the phase there; the command answered is only the fallback.

use std::fmt::Write as _;
pub(crate) mod catalog;
mod details;
mod phase;
#[cfg(test)]
mod tests;

use super::command::Verb;
use super::model::AuthContext;
use super::reply::Reply;

use catalog::Meaning;
pub(crate) use catalog::verb_named;
pub use catalog::{Catalog, CatalogError, Entry};
use details::{add_context_notes, expand_details};
pub use phase::{Classification, Diagnosis, Phase, Verdict};

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
    /// The provider detected for this server (`engine::provider` id), when known: its catalog
    /// entries are tried first.
    pub provider: Option<String>,
    /// The server's JSON error to an OAuth token in this AUTH exchange, if it sent one.
    pub oauth_error: Option<crate::engine::oauth::OAuthError>,
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

impl Catalog {
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
            self.find_for(reply, ctx.after, ctx.provider.as_deref())
        };
        if let Some((entry, captured)) = found {
            phase = if entry.phase_by_context {
                super::phase_rules::Rules::builtin()
                    .decide(reply, ctx)
                    .map_or(verb_phase, |d| d.phase)
            } else {
                entry.phase.unwrap_or(verb_phase)
            };
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
            // 221 closes the connection whatever command it answers.
            phase = if reply.code == 221 {
                Phase::Connection
            } else {
                verb_phase
            };
            diagnosis = self.success(reply, answered);
        } else {
            (phase, diagnosis) = self.fallback(reply, verb_phase, ctx);
        }
        add_context_notes(&mut diagnosis, phase, verdict, reply, ctx);
        let phase = oauth_refusal(&mut diagnosis, phase, verdict, reply, ctx);
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
        let headline = answered.and_then(|v| {
            self.success
                .get(&(v, reply.code))
                .or_else(|| self.success.get(&(v, class)))
        });
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
    fn fallback(&self, reply: &Reply, verb_phase: Phase, ctx: &Context) -> (Phase, Diagnosis) {
        let code_meaning = self.codes.get(&reply.code);
        let (exact, subject) = self.enhanced_meaning(reply);
        // The enhanced code with the command and the session decide first (rfc-codes.toml's
        // [[rule]] tables); then the code tables; then the command's own phase.
        let rule = super::phase_rules::Rules::builtin().decide(reply, ctx);
        let phase = rule.as_ref().map_or_else(
            || {
                exact
                    .and_then(|m| m.phase)
                    .or_else(|| code_meaning.and_then(|m| m.phase))
                    .or_else(|| subject.and_then(|m| m.phase))
                    .unwrap_or(verb_phase)
            },
            |r| r.phase,
        );
        let mut meaning = code_meaning.map_or_else(
            || format!("Reply code {} is not defined by RFC 5321.", reply.code),
            |m| format!("{}: {}", reply.code, m.meaning),
        );
        if let (Some(e), Some(m)) = (reply.enhanced, exact.or(subject)) {
            let _ = write!(meaning, " {e}: {}", m.meaning);
        }
        if let Some(r) = &rule {
            meaning = format!("{} ({meaning})", r.meaning);
        }
        let (title, remedy) = if let Some(r) = &rule {
            if reply.code / 100 == 4 {
                (
                    format!("{} (temporary)", r.title),
                    "A temporary refusal: the same command may work later. Retry with backoff; if it lasts, act on what the server's text names.",
                )
            } else {
                (
                    r.title.clone(),
                    "A permanent refusal: repeating the same command will fail the same way. Fix what the server's text names first.",
                )
            }
        } else if reply.code / 100 == 4 {
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

/// The final reply to an AUTH whose token the server refused with a JSON error: the
/// refusal is about the token (authentication), and the JSON says why.
fn oauth_refusal(
    diagnosis: &mut Diagnosis,
    phase: Phase,
    verdict: Verdict,
    reply: &Reply,
    ctx: &Context,
) -> Phase {
    let Some(error) = &ctx.oauth_error else {
        return phase;
    };
    let auth = matches!(ctx.after, Some(Verb::Auth | Verb::AuthResponse));
    if !auth || matches!(verdict, Verdict::Success | Verdict::Intermediate) {
        return phase;
    }
    if !error.judges_token() || !matches!(reply.code, 535 | 454 | 534 | 550 | 554) {
        return phase;
    }
    diagnosis
        .details
        .push(("Token refused".into(), error.reason()));
    diagnosis
        .details
        .push(("Server's error (decoded)".into(), error.json.clone()));
    if let Some(scope) = &error.scope {
        diagnosis
            .details
            .push(("Scope wanted".into(), scope.clone()));
    }
    "Authentication failed: the server refused the OAuth access token"
        .clone_into(&mut diagnosis.title);
    diagnosis.remedy = "Get a new access token for this user name, with the scope the server names: a token that expired, was revoked, was issued to another account, or was issued for another service (e.g. Microsoft Graph instead of Outlook) is refused the same way. For Microsoft 365 the app registration needs the SMTP.Send permission and SMTP AUTH must be on for the mailbox; for Gmail the scope is https://mail.google.com/.".into();
    Phase::Authentication
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
