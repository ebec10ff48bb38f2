//! What a reply is about (its phase), what it means for the step (its verdict), and the
//! diagnosis shown to the user.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::command::Verb;
use crate::engine::reply::ReplyClass;

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
    pub(crate) const ALL: [Phase; 10] = [
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
    pub(crate) fn title(self) -> &'static str {
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
    pub(crate) fn of_verb(verb: Verb, positive: bool) -> Phase {
        match verb {
            Verb::Connect | Verb::Quit => Phase::Connection,
            Verb::Ehlo | Verb::Helo => Phase::Ehlo,
            Verb::StartTls => Phase::Tls,
            Verb::Auth | Verb::AuthResponse => Phase::Authentication,
            Verb::Mail | Verb::Rcpt => Phase::Envelope,
            Verb::Data | Verb::Bdat => Phase::Data,
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
    pub(crate) fn of(class: ReplyClass) -> Verdict {
        match class {
            ReplyClass::Positive => Verdict::Success,
            ReplyClass::Intermediate => Verdict::Intermediate,
            ReplyClass::Transient => Verdict::Transient,
            ReplyClass::Permanent => Verdict::Permanent,
        }
    }

    pub(crate) fn name(self) -> &'static str {
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
