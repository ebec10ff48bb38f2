//! Details parsed out of a reply (ARNs and identities), and the notes that depend on what the
//! session knew when it arrived.

use super::Context;
use super::phase::{Diagnosis, Phase, Verdict};
use crate::engine::command::Verb;
use crate::engine::iam::Arn;
use crate::engine::model::{AuthContext, AuthRejection};
use crate::engine::reply::Reply;
use std::fmt::Write as _;

/// Turns captured groups into labelled details, and splits ARNs into their parts.
pub(super) fn expand_details(captured: Vec<(String, String)>) -> Vec<(String, String)> {
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

/// The next step after a "530 authentication required" once the session says why the client
/// is not authenticated; `None` when AUTH was never sent (the catalog's own remedy fits then).
fn unauthenticated_next_step(auth: AuthContext) -> Option<&'static str> {
    Some(match auth {
        AuthContext::NeverTried => return None,
        AuthContext::Rejected(AuthRejection::BadCredentials) => {
            "Fix the credentials the server refused at AUTH (the 535 before this), then AUTH again before MAIL FROM. AUTH itself is switched on: it was sent and answered."
        }
        AuthContext::Rejected(AuthRejection::TlsRequired) => {
            "Send STARTTLS, EHLO again, then AUTH, and only then MAIL FROM."
        }
        AuthContext::Rejected(AuthRejection::Temporary) => {
            "Wait, then AUTH again before MAIL FROM: the earlier refusal was temporary."
        }
        AuthContext::Rejected(_) => {
            "Complete AUTH successfully (a 235 reply) before MAIL FROM; the earlier attempt did not finish."
        }
        AuthContext::InProgress => {
            "Finish the AUTH exchange (answer the server's 334 prompts) before sending MAIL FROM."
        }
        AuthContext::Accepted => {
            "Log in again on this connection: a new EHLO after STARTTLS, or a reset, forgets the earlier login. Then send MAIL FROM."
        }
    })
}

/// What an authorization refusal is about, for the notes that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    /// SES's IAM check: the policy of the user behind the credentials.
    Iam,
    /// SES's verified identities: the sender, and in the sandbox the recipients.
    Identity,
    /// Postfix's `check_sasl_access`: a site rule keyed on the (already accepted) login name.
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

pub(super) fn add_context_notes(
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
                // What to do depends on whether the credentials were ever checked.
                if let Some(next) = unauthenticated_next_step(ctx.auth) {
                    d.remedy = next.into();
                }
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
/// 8BITMIME, SMTPUTF8, CHUNKING, DSN and REQUIRETLS, and which of them it does not.
fn ehlo_offers(reply: &Reply, tls: bool) -> String {
    let caps = crate::engine::model::Capabilities::from_ehlo(reply);
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
    let all = all
        .into_iter()
        .chain(crate::engine::ext::summary_entries(&caps));
    let (offered, missing): (Vec<_>, Vec<_>) = all.into_iter().partition(|(yes, _)| *yes);
    let offered: Vec<String> = offered.into_iter().map(|(_, n)| n).collect();
    let missing: Vec<String> = missing.into_iter().map(|(_, n)| n).collect();
    let mut note = if offered.is_empty() {
        "Offered: no extensions (plain SMTP only).".to_string()
    } else {
        format!("Offered: {}.", offered.join(" · "))
    };
    if !missing.is_empty() {
        let _ = write!(note, " Not offered: {}.", missing.join(", "));
    }
    note
}
