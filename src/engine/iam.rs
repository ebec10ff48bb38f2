//! IAM identity-policy evaluation for SES sending (`ses:SendRawEmail`, `ses:SendEmail`).
//!
//! Parses identity policies (Effect, Action/NotAction, Resource/NotResource, Condition) and
//! evaluates them against one request the way IAM does: an explicit Deny wins, otherwise any
//! Allow allows, otherwise the request is implicitly denied. It covers the condition keys SES
//! supports for sending. Anything it does not understand (an operator, a key, a value, an
//! element, a duplicate JSON key) is a [`PolicyError`], never a silent allow. Every decision
//! carries a trace saying which statement and which condition decided.

pub(crate) mod arn;
mod condition;
mod document;
mod pattern;
mod strict_json;

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

pub use arn::{
    Arn, access_denied_reply, configuration_set_arn, identity_arn, sending_identity, user_arn,
};
pub use document::{Effect, Policy};
use document::{Statement, statement_label};
use pattern::{action_matches, arn_matches};

/// The action SES checks for every SMTP send.
pub const SEND_RAW_EMAIL: &str = "ses:SendRawEmail";
/// The `ses:ApiVersion` value of SMTP sends ("The SES SMTP interface uses SES API version 2").
pub(crate) const SMTP_API_VERSION: &str = "2";

/// The demo policies shipped in `assets/policies/`, by file name.
pub const DEMO_POLICIES: &[(&str, &str)] = &[
    (
        "allow-all.json",
        include_str!("../../assets/policies/allow-all.json"),
    ),
    (
        "source-ip-127.json",
        include_str!("../../assets/policies/source-ip-127.json"),
    ),
    (
        "source-ip-office.json",
        include_str!("../../assets/policies/source-ip-office.json"),
    ),
    (
        "from-address-restricted.json",
        include_str!("../../assets/policies/from-address-restricted.json"),
    ),
    (
        "identity-scoped.json",
        include_str!("../../assets/policies/identity-scoped.json"),
    ),
    (
        "explicit-deny-outside-recipients.json",
        include_str!("../../assets/policies/explicit-deny-outside-recipients.json"),
    ),
    (
        "recipients-example-only.json",
        include_str!("../../assets/policies/recipients-example-only.json"),
    ),
    (
        "send-email-only.json",
        include_str!("../../assets/policies/send-email-only.json"),
    ),
];

/// Why a policy document was refused. `at` names the statement ("statement #2 (Sid X)").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{at}: {element} must be {expected}, not {found}")]
    WrongType {
        at: String,
        element: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("unsupported policy Version {0:?} (expected \"2012-10-17\" or \"2008-10-17\")")]
    UnsupportedVersion(String),
    #[error("{at}: unknown element {element:?}")]
    UnknownElement { at: String, element: String },
    #[error("{at}: missing {element}")]
    MissingElement { at: String, element: &'static str },
    #[error("{at}: {first} and {second} cannot both be present")]
    ConflictingElements {
        at: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{at}: {element} is empty")]
    EmptyElement { at: String, element: String },
    #[error(
        "{at}: {element} is not allowed in an identity policy (it belongs in resource policies)"
    )]
    PrincipalNotAllowed { at: String, element: String },
    #[error("{at}: Effect must be \"Allow\" or \"Deny\", not {value:?}")]
    BadEffect { at: String, value: String },
    #[error("{at}: unknown condition operator {operator:?}")]
    UnknownOperator { at: String, operator: String },
    #[error(
        "{at}: unknown condition key {key:?} (smtpscope evaluates aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime, ses:FromAddress, ses:FromDisplayName, ses:Recipients, ses:FeedbackAddress, ses:ApiVersion)"
    )]
    UnknownConditionKey { at: String, key: String },
    #[error("{at}: operator {operator} does not apply to key {key}")]
    OperatorKeyMismatch {
        at: String,
        operator: String,
        key: String,
    },
    #[error(
        "{at}: {key} holds several values per request; use ForAllValues:{operator} or ForAnyValue:{operator}"
    )]
    SetOperatorRequired {
        at: String,
        operator: String,
        key: String,
    },
    #[error("{at}: {operator} {key}: bad value {value:?}: {reason}")]
    BadConditionValue {
        at: String,
        operator: String,
        key: String,
        value: String,
        reason: &'static str,
    },
}

/// What SES knows about one send when it checks authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// `ses:SendRawEmail` for SMTP.
    pub action: String,
    /// The resource ARN checked, usually the sending identity's ([`identity_arn`]).
    pub resource: String,
    /// `aws:SourceIp`: the client's address as the endpoint sees it.
    pub source_ip: IpAddr,
    /// `ses:FromAddress`.
    pub from_address: Option<String>,
    /// `ses:FromDisplayName`.
    pub from_display_name: Option<String>,
    /// `ses:Recipients` (To, CC and BCC). Empty means the key is absent.
    pub recipients: Vec<String>,
    /// `ses:FeedbackAddress` (the Return-Path).
    pub feedback_address: Option<String>,
    /// `aws:SecureTransport`: always true over SES SMTP, which requires TLS.
    pub secure_transport: bool,
    /// `aws:CurrentTime` and `aws:EpochTime`.
    pub current_time: DateTime<Utc>,
    /// `ses:ApiVersion`: "2" for SMTP sends.
    pub api_version: Option<String>,
}

impl RequestContext {
    /// An SMTP send as SES sees it: `ses:SendRawEmail`, TLS, API version 2, now.
    pub fn smtp_send(resource: impl Into<String>, source_ip: IpAddr) -> RequestContext {
        RequestContext {
            action: SEND_RAW_EMAIL.to_string(),
            resource: resource.into(),
            source_ip,
            from_address: None,
            from_display_name: None,
            recipients: Vec::new(),
            feedback_address: None,
            secure_transport: true,
            current_time: Utc::now(),
            api_version: Some(SMTP_API_VERSION.to_string()),
        }
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// An Allow statement applies and no Deny does.
    Allowed,
    /// A Deny statement applies.
    ExplicitDeny,
    /// No statement applies.
    ImplicitDeny,
}

/// The statement that decided: `policy_index` is the position in the slice given to
/// [`evaluate`] (0-based); `number` is the statement's 1-based position in its policy, as
/// shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub policy_index: usize,
    pub policy_name: Option<String>,
    pub number: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.policy_name {
            write!(f, "policy {name} ")?;
        }
        f.write_str(&statement_label(self.number, self.sid.as_deref()))
    }
}

impl Effect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One condition as evaluated: the operator, key and values as the policy writes them, the
/// request's values of the key (empty when the key was absent) and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionOutcome {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
    pub request: Vec<String>,
    pub held: bool,
    /// The trace phrase: `condition IpAddress aws:SourceIp [203.0.113.0/24] did not match
    /// 127.0.0.1`.
    pub phrase: String,
}

impl ConditionOutcome {
    /// The condition in a few words, request value first: `aws:SourceIp 127.0.0.1 not in
    /// 203.0.113.0/24`.
    pub(crate) fn short(&self) -> String {
        let operator = self.operator.to_ascii_lowercase();
        let request = if self.request.is_empty() {
            "absent".to_string()
        } else {
            self.request.join(", ")
        };
        let values = self.values.join(", ");
        let base = operator.trim_end_matches("ifexists");
        if !self.request.is_empty() && base.ends_with("ipaddress") {
            // IpAddress holds when inside; NotIpAddress holds when outside.
            let inside = self.held != base.ends_with("notipaddress");
            let word = if inside { "in" } else { "not in" };
            return format!("{} {request} {word} {values}", self.key);
        }
        let verdict = if self.held {
            "matches"
        } else {
            "does not match"
        };
        format!(
            "{} {request} {verdict} {} [{values}]",
            self.key, self.operator
        )
    }
}

/// One statement as evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementOutcome {
    pub statement: StatementRef,
    pub effect: Effect,
    pub applies: bool,
    /// The conditions evaluated, in order, up to the first that failed (which then decided
    /// that the statement does not apply). Empty when Action or Resource already decided.
    pub conditions: Vec<ConditionOutcome>,
}

impl StatementOutcome {
    /// The condition that decided: the one that failed, or, for a statement that applies,
    /// the first of those that held.
    pub(crate) fn deciding_condition(&self) -> Option<&ConditionOutcome> {
        if self.applies {
            self.conditions.first()
        } else {
            self.conditions.last().filter(|c| !c.held)
        }
    }
}

/// A decision with the statement that made it (none for an implicit deny) and a trace: one
/// human line per statement saying why it applied or not, and the same as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub statement: Option<StatementRef>,
    pub trace: Vec<String>,
    /// Every statement, in the order of `trace`.
    pub statements: Vec<StatementOutcome>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.kind == DecisionKind::Allowed
    }

    /// A short multi-line explanation: the verdict, then the trace.
    pub fn explain(&self) -> String {
        let headline = match (&self.kind, &self.statement) {
            (DecisionKind::Allowed, Some(s)) => format!("ALLOWED by {s}"),
            (DecisionKind::Allowed, None) => "ALLOWED".to_string(),
            (DecisionKind::ExplicitDeny, Some(s)) => format!("DENIED explicitly by {s}"),
            (DecisionKind::ExplicitDeny, None) => "DENIED explicitly".to_string(),
            (DecisionKind::ImplicitDeny, _) => {
                "DENIED implicitly: no statement allows this request".to_string()
            }
        };
        let mut out = headline;
        for line in &self.trace {
            out.push_str("\n  ");
            out.push_str(line);
        }
        out
    }

    /// The statements that decided: the one that made an explicit deny or an allow, or for
    /// an implicit deny every statement that did not apply because of a condition (Action
    /// and Resource matched, a condition did not).
    pub(crate) fn deciding(&self) -> Vec<&StatementOutcome> {
        match &self.statement {
            Some(s) => self
                .statements
                .iter()
                .filter(|o| &o.statement == s)
                .collect(),
            None => self
                .statements
                .iter()
                .filter(|o| o.deciding_condition().is_some())
                .collect(),
        }
    }
}

/// One authorization check as SES makes it after the final ".": who asked for which action
/// on which resource, from which address (`aws:SourceIp`), and what the policies decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub user_arn: String,
    pub action: String,
    pub resource: String,
    pub source_ip: IpAddr,
    /// `source_ip` is a configured stand-in for the address SES would see (a NAT's, say),
    /// not the connection's own.
    pub source_ip_stand_in: bool,
    pub decision: Decision,
}

impl Authorization {
    /// One line: `denied by source-ip-office.json: aws:SourceIp 127.0.0.1 not in
    /// 203.0.113.0/24`.
    pub(crate) fn summary(&self) -> String {
        let verdict = if self.decision.allowed() {
            "allowed"
        } else {
            "denied"
        };
        let Some(first) = self.decision.deciding().into_iter().next() else {
            return match self.decision.kind {
                DecisionKind::ImplicitDeny => format!(
                    "denied: no statement allows {} on {}",
                    self.action, self.resource
                ),
                _ => verdict.to_string(),
            };
        };
        let by = first
            .statement
            .policy_name
            .clone()
            .unwrap_or_else(|| first.statement.to_string());
        match first.deciding_condition() {
            Some(c) => format!("{verdict} by {by}: {}", c.short()),
            None => format!("{verdict} by {}", first.statement),
        }
    }

    /// The explanation as lines: the verdict, one line per statement, and the address IAM
    /// evaluated `aws:SourceIp` with.
    pub(crate) fn explanation(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .decision
            .explain()
            .lines()
            .map(|l| l.trim().to_string())
            .collect();
        let origin = if self.source_ip_stand_in {
            "a configured stand-in for the address SES would see, not this connection's"
        } else {
            "this connection's address"
        };
        lines.push(format!(
            "aws:SourceIp was {}: the IP SES saw ({origin})",
            self.source_ip
        ));
        lines
    }
}

/// Evaluate `policies` (all attached to the same identity) for one request.
pub fn evaluate(policies: &[Policy], ctx: &RequestContext) -> Decision {
    let mut trace = Vec::new();
    let mut statements = Vec::new();
    let mut first_allow = None;
    let mut first_deny = None;
    for (policy_index, policy) in policies.iter().enumerate() {
        let policy_name = policy
            .name
            .clone()
            .or_else(|| (policies.len() > 1).then(|| format!("#{}", policy_index + 1)));
        for st in &policy.statements {
            let sref = StatementRef {
                policy_index,
                policy_name: policy_name.clone(),
                number: st.number,
                sid: st.sid.clone(),
            };
            let (applies, line, conditions) = statement_applies(st, ctx);
            let effect = st.effect.name();
            statements.push(StatementOutcome {
                statement: sref.clone(),
                effect: st.effect,
                applies,
                conditions,
            });
            if applies {
                trace.push(format!("{sref}: {effect} applies{line}"));
                let slot = match st.effect {
                    Effect::Allow => &mut first_allow,
                    Effect::Deny => &mut first_deny,
                };
                if slot.is_none() {
                    *slot = Some(sref);
                }
            } else {
                trace.push(format!("{sref}: {effect} does not apply: {line}"));
            }
        }
    }
    if policies.iter().all(|p| p.statements.is_empty()) {
        trace.push("no policy statements: nothing allows the request".to_string());
    }
    let (kind, statement) = match (first_deny, first_allow) {
        (Some(d), _) => (DecisionKind::ExplicitDeny, Some(d)),
        (None, Some(a)) => (DecisionKind::Allowed, Some(a)),
        (None, None) => (DecisionKind::ImplicitDeny, None),
    };
    Decision {
        kind,
        statement,
        trace,
        statements,
    }
}

/// Whether a statement covers the request; the phrase says why (or why not); the conditions
/// evaluated, up to the first that failed.
fn statement_applies(
    st: &Statement,
    ctx: &RequestContext,
) -> (bool, String, Vec<ConditionOutcome>) {
    if let Err(why) = st.actions.check(&ctx.action, action_matches) {
        return (false, format!("action {why}"), Vec::new());
    }
    if let Err(why) = st.resources.check(&ctx.resource, arn_matches) {
        return (false, format!("resource {why}"), Vec::new());
    }
    let mut evaluated = Vec::new();
    for cond in &st.conditions {
        let outcome = cond.evaluate(ctx);
        if !outcome.held {
            let phrase = outcome.phrase.clone();
            evaluated.push(outcome);
            return (false, phrase, evaluated);
        }
        evaluated.push(outcome);
    }
    if evaluated.is_empty() {
        (true, String::new(), evaluated)
    } else {
        let phrases: Vec<&str> = evaluated.iter().map(|c| c.phrase.as_str()).collect();
        (true, format!(" ({})", phrases.join("; ")), evaluated)
    }
}
