//! Live AWS diagnosis: from an SMTP user name (an access key ID) to the IAM statement or SES
//! setting that decides a send.
//!
//! Two halves. [`read`] (feature `aws`) asks IAM, SES and STS through the AWS SDK and returns
//! plain data, [`AwsFacts`]; every call it could not make is kept as an [`Unseen`] that names
//! the permission it needs. [`diagnose`] is pure: it evaluates `ses:SendRawEmail` for the exact
//! send with the policy evaluator, in the order SES checks after the final "." (credentials,
//! then IAM with the permissions boundary, then identity verification and the sandbox), and
//! predicts the SMTP outcome with the same [`Outcome`] and exit code as `run`. What it cannot
//! see is said, never guessed.

#[cfg(feature = "aws")]
pub mod read;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};

use crate::engine::iam::{
    self, Decision, DecisionKind, Policy, RequestContext, SEND_RAW_EMAIL, StatementOutcome,
};
use crate::engine::model::Outcome;

/// SES's reply to an unknown access key or a wrong password (the same for both).
pub const BAD_CREDENTIALS_REPLY: &str = "535 Authentication Credentials Invalid";

/// What the checker never sees, whatever its permissions: said in every report.
pub const NEVER_CHECKED: &[&str] = &[
    "AWS Organizations service control policies (SCPs) and resource control policies: they are \
     read from the organization's management account, not from this one",
    "SES sending-authorization policies on identities owned by another account",
    "VPC endpoint policies, when the SMTP connection goes through an SES VPC endpoint",
];

/// An AWS API call that did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unseen {
    /// The caller's credentials may not make this call.
    NotAllowed {
        call: &'static str,
        permission: &'static str,
    },
    /// The endpoint does not implement the call (a local stand-in such as moto).
    NotImplemented { call: &'static str },
    /// Anything else: network, throttling, an unexpected answer. `message` is the SDK's
    /// error, shown escaped.
    Failed { call: &'static str, message: String },
}

impl fmt::Display for Unseen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unseen::NotAllowed { call, permission } => write!(
                f,
                "{call}: not allowed for these AWS credentials (needs {permission})"
            ),
            Unseen::NotImplemented { call } => {
                write!(f, "{call}: this endpoint does not implement it")
            }
            Unseen::Failed { call, message } => write!(f, "{call} failed: {message}"),
        }
    }
}

/// A fact read from AWS, or why it could not be.
pub type Seen<T> = Result<T, Unseen>;

/// One access key of the user, as `ListAccessKeys` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub access_key_id: String,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created: Option<DateTime<Utc>>,
}

/// Where a policy is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyPlace {
    UserInline,
    UserManaged { arn: String },
    GroupInline { group: String },
    GroupManaged { group: String, arn: String },
    Boundary { arn: String },
}

/// A policy document as IAM stores it (already URL-decoded), with its name and place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyText {
    pub name: String,
    pub place: PolicyPlace,
    pub document: String,
}

impl PolicyText {
    /// How reports name it: `inline policy ses-from-office on user smtp-app`.
    pub fn label(&self, user: &str) -> String {
        match &self.place {
            PolicyPlace::UserInline => format!("inline policy {} on user {user}", self.name),
            PolicyPlace::UserManaged { .. } => {
                format!("managed policy {} attached to user {user}", self.name)
            }
            PolicyPlace::GroupInline { group } => {
                format!("inline policy {} on group {group}", self.name)
            }
            PolicyPlace::GroupManaged { group, .. } => {
                format!("managed policy {} attached to group {group}", self.name)
            }
            PolicyPlace::Boundary { .. } => format!("permissions boundary {}", self.name),
        }
    }
}

/// The IAM user that owns the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub name: String,
    pub keys: Seen<Vec<KeyInfo>>,
    /// Inline and managed policies of the user and of its groups (default versions).
    pub policies: Seen<Vec<PolicyText>>,
    pub boundary: Seen<Option<PolicyText>>,
}

/// Who owns the access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    User(Box<UserFacts>),
    /// IAM does not know the key in this account: deleted, mistyped, or another account's.
    Unknown,
    /// A temporary (ASIA...) key: SES SMTP accepts only long-term IAM user keys.
    Temporary,
    Unseen(Unseen),
}

/// The account's SES sending status in the region (SES v2 `GetAccount`).
#[derive(Debug, Clone, PartialEq)]
pub struct SendingStatus {
    pub production_access: bool,
    pub sending_enabled: bool,
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

/// Everything read from AWS for one diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsFacts {
    /// The account of the AWS API credentials (`sts:GetCallerIdentity`).
    pub account: Seen<String>,
    pub owner: KeyOwner,
    /// Verification status of each identity asked about (address and domain of the From and,
    /// for the sandbox, of each recipient): `Success`, `Pending`, `Failed`,
    /// `TemporaryFailure`, `NotStarted`, or `None` when the identity is not in SES at all.
    pub identities: Seen<Vec<(String, Option<String>)>>,
    pub sending: Seen<SendingStatus>,
}

/// The send to diagnose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendQuestion {
    /// The SMTP user name: an access key ID.
    pub access_key_id: String,
    pub region: String,
    /// The From address (`ses:FromAddress`).
    pub from: String,
    pub from_display_name: Option<String>,
    /// To, CC and BCC (`ses:Recipients`).
    pub recipients: Vec<String>,
    /// The address SES sees (`aws:SourceIp`); `None` when unknown.
    pub source_ip: Option<IpAddr>,
    /// `aws:CurrentTime`.
    pub time: DateTime<Utc>,
}

impl SendQuestion {
    /// The identities whose verification status the diagnosis needs: the From address and
    /// its domain, then each recipient and its domain (for the sandbox), without repeats.
    pub fn identities(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |id: &str| {
            if !id.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(id)) {
                out.push(id.to_string());
            }
        };
        for address in std::iter::once(&self.from).chain(&self.recipients) {
            add(address);
            add(domain_of(address));
        }
        out
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The statement (or setting) that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deciding {
    /// `inline policy ses-from-office on user smtp-app`.
    pub policy: String,
    /// `statement #1 (Sid AllowOfficeOnly)`.
    pub statement: String,
    pub sid: Option<String>,
    pub effect: &'static str,
    /// `aws:SourceIp 203.0.113.5 not in 198.51.100.0/24`.
    pub condition: Option<String>,
}

impl fmt::Display for Deciding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of the {}", self.statement, self.policy)?;
        if let Some(c) = &self.condition {
            write!(f, ": {c}")?;
        }
        Ok(())
    }
}

/// The prediction and what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The outcome `run` would report, or `None` when something needed could not be read.
    pub outcome: Option<Outcome>,
    /// The reply SES would send (after AUTH for 535, after the final "." for 554).
    pub reply: Option<String>,
    /// One sentence: why.
    pub reason: String,
    pub deciding: Option<Deciding>,
    /// The IAM user that owns the key, when found.
    pub user: Option<String>,
    /// What was found, one line each, in the order SES checks.
    pub findings: Vec<String>,
    /// What was not checked, and why (including the calls the caller may not make).
    pub not_checked: Vec<String>,
    /// The evaluation trace of every policy, for `--verbose` readers and the JSON.
    pub trace: Vec<String>,
}

impl Diagnosis {
    /// `run`'s exit code for the predicted outcome; 1 when nothing could be predicted.
    pub fn exit_code(&self) -> u8 {
        self.outcome.map_or(1, Outcome::exit_code)
    }

    /// The lines shown in reports and in the debugger's diagnosis panel.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.outcome {
            Some(o) => out.push(format!("predicted: {o} (exit {})", o.exit_code())),
            None => out.push("predicted: nothing (a needed fact could not be read)".into()),
        }
        out.push(self.reason.clone());
        if let Some(d) = &self.deciding {
            out.push(format!("deciding: {d}"));
        }
        if let Some(r) = &self.reply {
            out.push(format!("SES would answer: {r}"));
        }
        for f in &self.findings {
            out.push(format!("found: {f}"));
        }
        for n in &self.not_checked {
            out.push(format!("not checked: {n}"));
        }
        out
    }
}

/// The Allow/Deny verdict of the identity policies and the boundary together.
struct Verdict {
    allowed: bool,
    deciding: Option<Deciding>,
    reason: String,
}

/// Labels the policies for the evaluator and keeps each one's display name.
fn parse_policies(user: &str, texts: &[PolicyText]) -> Result<Vec<Policy>, String> {
    texts
        .iter()
        .map(|t| {
            Policy::from_json(&t.document)
                .map(|p| p.with_name(t.label(user)))
                .map_err(|e| format!("the {} cannot be evaluated: {e}", t.label(user)))
        })
        .collect()
}

fn deciding_of(decision: &Decision) -> Option<Deciding> {
    let first: &StatementOutcome = decision.deciding().into_iter().next()?;
    Some(Deciding {
        policy: first
            .statement
            .policy_name
            .clone()
            .unwrap_or_else(|| "policy".into()),
        statement: {
            let mut s = first.statement.clone();
            s.policy_name = None;
            s.to_string()
        },
        sid: first.statement.sid.clone(),
        effect: first.effect.name(),
        condition: first
            .deciding_condition()
            .map(crate::engine::iam::ConditionOutcome::short),
    })
}

/// Statements whose verdict may change with the source address: an `aws:SourceIp`
/// condition was evaluated in them. Each as `statement …: requires aws:SourceIp …`.
fn source_ip_dependencies(decision: &Decision) -> Vec<String> {
    decision
        .statements
        .iter()
        .flat_map(|s| {
            s.conditions
                .iter()
                .filter(|c| c.key.eq_ignore_ascii_case("aws:SourceIp"))
                .map(move |c| {
                    let mut label = s.statement.clone();
                    let policy = label.policy_name.take().unwrap_or_default();
                    format!(
                        "{label} of the {policy} {}: {} {} [{}]",
                        if s.effect == iam::Effect::Allow {
                            "applies only when"
                        } else {
                            "denies when"
                        },
                        c.key,
                        c.operator,
                        c.values.join(", ")
                    )
                })
        })
        .collect()
}

/// Evaluates one request against the identity policies and the boundary, as IAM combines
/// them: an explicit deny in either wins; otherwise both must allow.
fn combine(identity: &Decision, boundary: Option<(&Decision, &str)>) -> Verdict {
    if identity.kind == DecisionKind::ExplicitDeny {
        return Verdict {
            allowed: false,
            deciding: deciding_of(identity),
            reason: "an identity policy denies the send explicitly (an explicit deny always wins)"
                .into(),
        };
    }
    if let Some((b, name)) = boundary
        && b.kind == DecisionKind::ExplicitDeny
    {
        return Verdict {
            allowed: false,
            deciding: deciding_of(b),
            reason: format!("the permissions boundary {name} denies the send explicitly"),
        };
    }
    if identity.kind == DecisionKind::ImplicitDeny {
        let deciding = deciding_of(identity);
        let reason = if deciding.is_some() {
            "no identity policy allows the send: the statements that would have allowed it \
             have a condition that does not hold"
                .to_string()
        } else {
            format!(
                "no identity policy of the user allows {SEND_RAW_EMAIL} on this identity \
                 (SMTP sends need {SEND_RAW_EMAIL}; ses:SendEmail is not enough)"
            )
        };
        return Verdict {
            allowed: false,
            deciding,
            reason,
        };
    }
    if let Some((b, name)) = boundary
        && b.kind == DecisionKind::ImplicitDeny
    {
        return Verdict {
            allowed: false,
            deciding: deciding_of(b).or_else(|| {
                Some(Deciding {
                    policy: format!("permissions boundary {name}"),
                    statement: "no statement".into(),
                    sid: None,
                    effect: "Deny",
                    condition: None,
                })
            }),
            reason: format!(
                "the identity policies allow the send, but the permissions boundary {name} \
                 does not allow {SEND_RAW_EMAIL}: a boundary caps what the policies grant"
            ),
        };
    }
    Verdict {
        allowed: true,
        deciding: deciding_of(identity),
        reason: "the identity policies allow the send".into(),
    }
}

/// Whether the AWS account can explain a session that ended so: the credentials (535/530),
/// IAM (554 Access denied) or SES's verification and sandbox (554 Message rejected).
pub(crate) fn explains(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::AuthenticationFailed
            | Outcome::NotAuthenticated
            | Outcome::AuthorizationDenied
            | Outcome::MessageRefused
    )
}

/// "554 Message rejected: Email address is not verified. …" as SES words it.
pub fn not_verified_reply(region: &str, identities: &[String]) -> String {
    format!(
        "554 Message rejected: Email address is not verified. The following identities failed \
         the check in region {}: {}",
        region.to_ascii_uppercase(),
        identities.join(", ")
    )
}

fn is_verified(address: &str, statuses: &[(String, Option<String>)]) -> bool {
    let ok = |id: &str| {
        statuses
            .iter()
            .any(|(i, s)| i.eq_ignore_ascii_case(id) && s.as_deref() == Some("Success"))
    };
    ok(address) || ok(domain_of(address))
}

fn status_of<'a>(id: &str, statuses: &'a [(String, Option<String>)]) -> &'a str {
    statuses
        .iter()
        .find(|(i, _)| i.eq_ignore_ascii_case(id))
        .and_then(|(_, s)| s.as_deref())
        .unwrap_or("not in SES")
}

/// Predicts the outcome of `question` from `facts`. Pure: no I/O.
pub fn diagnose(question: &SendQuestion, facts: &AwsFacts) -> Diagnosis {
    let mut d = Diagnosis {
        outcome: None,
        reply: None,
        reason: String::new(),
        deciding: None,
        user: None,
        findings: Vec::new(),
        not_checked: NEVER_CHECKED.iter().map(|s| (*s).to_string()).collect(),
        trace: Vec::new(),
    };
    let fail = |mut d: Diagnosis, reason: String| {
        d.reason = reason;
        d
    };
    let account = match &facts.account {
        Ok(a) => {
            d.findings
                .push(format!("AWS account {a} (of the AWS API credentials)"));
            a.clone()
        }
        Err(e) => {
            d.not_checked.insert(0, e.to_string());
            return fail(d, "cannot tell which account to look in".into());
        }
    };

    // 1. AUTH: the key must be a long-term key of an IAM user in this account, and active.
    let user = match &facts.owner {
        KeyOwner::Unseen(e) => {
            d.not_checked.insert(0, e.to_string());
            return fail(d, "cannot tell who owns the access key".into());
        }
        KeyOwner::Temporary => {
            d.outcome = Some(Outcome::AuthenticationFailed);
            d.reply = Some(BAD_CREDENTIALS_REPLY.into());
            d.reason = format!(
                "{} is a temporary (ASIA…) key: SES SMTP credentials must come from an IAM \
                 user's long-term access key",
                question.access_key_id
            );
            return d;
        }
        KeyOwner::Unknown => {
            d.outcome = Some(Outcome::AuthenticationFailed);
            d.reply = Some(BAD_CREDENTIALS_REPLY.into());
            d.reason = format!(
                "access key {} is unknown to account {account}: it was deleted, is mistyped, or \
                 belongs to another account",
                question.access_key_id
            );
            return d;
        }
        KeyOwner::User(u) => u,
    };
    d.user = Some(user.name.clone());
    d.findings.push(format!(
        "access key {} belongs to IAM user {}",
        question.access_key_id, user.name
    ));
    match &user.keys {
        Err(e) => d.not_checked.push(format!("the key's status: {e}")),
        Ok(keys) => {
            let key = keys
                .iter()
                .find(|k| k.access_key_id == question.access_key_id);
            let since = |k: &KeyInfo| {
                k.created.map_or_else(String::new, |c| {
                    let days = (question.time - c).num_days();
                    format!(", created {} ({days} days ago)", c.format("%Y-%m-%d"))
                })
            };
            match key {
                None => {
                    d.outcome = Some(Outcome::AuthenticationFailed);
                    d.reply = Some(BAD_CREDENTIALS_REPLY.into());
                    d.reason = format!(
                        "user {} no longer lists access key {}: it was deleted",
                        user.name, question.access_key_id
                    );
                    return d;
                }
                Some(k) if k.status != "Active" => {
                    d.outcome = Some(Outcome::AuthenticationFailed);
                    d.reply = Some(BAD_CREDENTIALS_REPLY.into());
                    d.reason = format!(
                        "access key {} of user {} is {}{}: SES refuses its SMTP password until \
                         it is made Active again",
                        k.access_key_id,
                        user.name,
                        k.status,
                        since(k)
                    );
                    return d;
                }
                Some(k) => d
                    .findings
                    .push(format!("the key is {}{}", k.status, since(k))),
            }
        }
    }

    // 2. After the final ".": IAM authorizes ses:SendRawEmail on the sending identity.
    let identities = match &facts.identities {
        Ok(ids) => Some(ids.as_slice()),
        Err(e) => {
            d.not_checked.push(format!("identity verification: {e}"));
            None
        }
    };
    let sandbox = match &facts.sending {
        Ok(s) => {
            d.findings.push(format!(
                "SES in {}: {}, quota {} messages a day ({} sent in the last 24 hours), {} a second{}",
                question.region,
                if s.production_access {
                    "production access"
                } else {
                    "sandbox (recipients must be verified too)"
                },
                s.max_24_hour_send,
                s.sent_last_24_hours,
                s.max_send_rate,
                if s.sending_enabled {
                    ""
                } else {
                    ", sending PAUSED for the account"
                }
            ));
            Some(!s.production_access)
        }
        Err(e) => {
            d.not_checked
                .push(format!("sandbox or production access, send quota: {e}"));
            None
        }
    };
    let verified: Vec<String> = identities.map_or_else(Vec::new, |ids| {
        ids.iter()
            .filter(|(_, s)| s.as_deref() == Some("Success"))
            .map(|(i, _)| i.clone())
            .collect()
    });
    let (policies, boundary) = match (&user.policies, &user.boundary) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(e), _) | (_, Err(e)) => {
            d.not_checked.insert(0, format!("the user's policies: {e}"));
            return fail(
                d,
                "cannot evaluate ses:SendRawEmail without all of the user's policies".into(),
            );
        }
    };
    let parsed = parse_policies(&user.name, policies).and_then(|p| {
        boundary
            .as_ref()
            .map(|b| parse_policies(&user.name, std::slice::from_ref(b)))
            .transpose()
            .map(|b| (p, b))
    });
    let (parsed, parsed_boundary) = match parsed {
        Ok(x) => x,
        Err(e) => return fail(d, e),
    };
    d.findings.push(format!(
        "{} identity {}: {}",
        policies.len(),
        if policies.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        if policies.is_empty() {
            "none".to_string()
        } else {
            policies
                .iter()
                .map(|p| p.label(&user.name))
                .collect::<Vec<_>>()
                .join("; ")
        }
    ));
    let boundary_name = boundary.as_ref().map(|b| b.name.clone());
    d.findings.push(match &boundary_name {
        Some(n) => format!("permissions boundary: {n}"),
        None => "no permissions boundary".into(),
    });

    let source_ip = question
        .source_ip
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut resources = vec![iam::sending_identity(&question.from, &verified)];
    if sandbox == Some(true) {
        for r in &question.recipients {
            let id = iam::sending_identity(r, &verified);
            if !resources.contains(&id) {
                resources.push(id);
            }
        }
    }
    let user_arn = iam::user_arn(&account, &user.name);
    for identity in &resources {
        let resource = iam::identity_arn(&question.region, &account, identity);
        let mut ctx = RequestContext::smtp_send(resource.clone(), source_ip);
        ctx.from_address = Some(question.from.clone());
        ctx.from_display_name
            .clone_from(&question.from_display_name);
        ctx.recipients.clone_from(&question.recipients);
        ctx.feedback_address = Some(question.from.clone());
        ctx.current_time = question.time;
        let decision = iam::evaluate(&parsed, &ctx);
        d.trace.extend(decision.trace.iter().cloned());
        let bdecision = parsed_boundary
            .as_ref()
            .map(|b| iam::evaluate(b, &ctx))
            .inspect(|b| d.trace.extend(b.trace.iter().cloned()));
        if question.source_ip.is_none() {
            let mut deps = source_ip_dependencies(&decision);
            if let Some(b) = &bdecision {
                deps.extend(source_ip_dependencies(b));
            }
            if !deps.is_empty() {
                d.not_checked.push(format!(
                    "the source address is unknown (give --source-ip): the verdict below \
                     assumes one outside every range named here; {}",
                    deps.join("; ")
                ));
            }
        }
        let verdict = combine(&decision, bdecision.as_ref().zip(boundary_name.as_deref()));
        if !verdict.allowed {
            d.outcome = Some(Outcome::AuthorizationDenied);
            d.reply = Some(iam::access_denied_reply(
                &user_arn,
                SEND_RAW_EMAIL,
                &resource,
            ));
            d.deciding = verdict.deciding;
            d.reason = format!(
                "AUTH succeeds, then SES refuses the message after the final \".\": {}",
                verdict.reason
            );
            return d;
        }
        d.findings.push(format!(
            "{SEND_RAW_EMAIL} on {resource}: allowed{}",
            verdict
                .deciding
                .as_ref()
                .map_or_else(String::new, |x| format!(" by {x}"))
        ));
        if d.deciding.is_none() {
            d.deciding = verdict.deciding;
        }
    }

    // 3. Verification: the From identity always; recipients in the sandbox.
    let Some(ids) = identities else {
        d.reason =
            "IAM allows the send, but the From identity's verification could not be read".into();
        return d;
    };
    let mut unverified = Vec::new();
    let from_verified = is_verified(&question.from, ids);
    d.findings.push(format!(
        "From {} is {}verified in {} (address: {}, domain: {})",
        question.from,
        if from_verified { "" } else { "NOT " },
        question.region,
        status_of(&question.from, ids),
        status_of(domain_of(&question.from), ids)
    ));
    if !from_verified {
        unverified.push(question.from.clone());
    }
    match sandbox {
        Some(true) => {
            for r in &question.recipients {
                if !is_verified(r, ids) && !unverified.iter().any(|u| u.eq_ignore_ascii_case(r)) {
                    unverified.push(r.clone());
                }
            }
        }
        Some(false) => {}
        None => d.not_checked.push(
            "whether the recipients must be verified too (they must while the account is in \
             the sandbox)"
                .into(),
        ),
    }
    if !unverified.is_empty() {
        // The outcome `run` gives this 554 (the catalog files it under authorization), so
        // the prediction and the session agree.
        d.outcome = Some(Outcome::AuthorizationDenied);
        d.reply = Some(not_verified_reply(&question.region, &unverified));
        d.reason = format!(
            "IAM allows the send, but SES refuses it after the final \".\": {} not verified in \
             {}{}",
            unverified.join(", "),
            question.region,
            if sandbox == Some(true) {
                " (the account is in the sandbox, so recipients must be verified too)"
            } else {
                ""
            }
        );
        return d;
    }
    d.outcome = Some(Outcome::Accepted);
    d.reason = "AUTH, IAM and identity verification all pass: SES should accept the message".into();
    d
}

#[cfg(test)]
mod tests;
