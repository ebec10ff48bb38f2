//! IAM identity-policy evaluation for SES sending (`ses:SendRawEmail`, `ses:SendEmail`).
//!
//! Parses identity policies (Effect, Action/NotAction, Resource/NotResource, Condition) and
//! evaluates them against one request the way IAM does: an explicit Deny wins, otherwise any
//! Allow allows, otherwise the request is implicitly denied. It covers the condition keys SES
//! supports for sending. Anything it does not understand (an operator, a key, a value, an
//! element, a duplicate JSON key) is a [`PolicyError`], never a silent allow. Every decision
//! carries a trace saying which statement and which condition decided.

mod arn;
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
pub use document::Policy;
use document::{Effect, Statement, statement_label};
use pattern::{action_matches, arn_matches};

/// The action SES checks for every SMTP send.
pub const SEND_RAW_EMAIL: &str = "ses:SendRawEmail";
/// The `ses:ApiVersion` value of SMTP sends ("The SES SMTP interface uses SES API version 2").
pub const SMTP_API_VERSION: &str = "2";

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

/// A decision with the statement that made it (none for an implicit deny) and a trace: one
/// human line per statement saying why it applied or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub statement: Option<StatementRef>,
    pub trace: Vec<String>,
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
}

/// Evaluate `policies` (all attached to the same identity) for one request.
pub fn evaluate(policies: &[Policy], ctx: &RequestContext) -> Decision {
    let mut trace = Vec::new();
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
            let (applies, line) = statement_applies(st, ctx);
            let effect = match st.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            };
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
    }
}

/// Whether a statement covers the request; the phrase says why (or why not).
fn statement_applies(st: &Statement, ctx: &RequestContext) -> (bool, String) {
    if let Err(why) = st.actions.check(&ctx.action, action_matches) {
        return (false, format!("action {why}"));
    }
    if let Err(why) = st.resources.check(&ctx.resource, arn_matches) {
        return (false, format!("resource {why}"));
    }
    let mut matched = Vec::new();
    for cond in &st.conditions {
        let (holds, phrase) = cond.evaluate(ctx);
        if !holds {
            return (false, phrase);
        }
        matched.push(phrase);
    }
    if matched.is_empty() {
        (true, String::new())
    } else {
        (true, format!(" ({})", matched.join("; ")))
    }
}
