//! The standard submission flow (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT…, DATA, the
//! message, QUIT) as a function of the session model. `run` and the debugger's Next both ask
//! [`next_step`]; a failed step is never chosen again on the same connection, so every step
//! moves the model forward or the flow ends.

use super::{AuthRejection, DataStage, Link, SessionModel, Step};
use crate::engine::transport::TlsMode;

/// The last guard against a loop: no run takes more steps than this (plus one per recipient).
pub const MAX_STEPS: usize = 64;

/// What the standard flow is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub tls_mode: TlsMode,
    pub auth: bool,
    pub recipients: usize,
    /// After the server ends a connection on a failure, offer one reconnect (the debugger);
    /// `run` never reconnects by itself.
    pub reconnect_once: bool,
    /// Messages to send on this connection (`run --count`, `--reconnect-every`); 0 and 1
    /// both mean one.
    pub messages: u32,
}

/// The next step of the standard flow, or `None` when there is nothing left to do (or a
/// reply is awaited).
pub fn next_step(m: &SessionModel, plan: &Plan) -> Option<Step> {
    let Some(c) = &m.conn else {
        return Some(Step::Connect);
    };
    match &c.link {
        Link::Connecting => return None,
        Link::Closed { .. } => {
            let again = plan.reconnect_once
                && m.messages_accepted == 0
                && !c.quit_sent
                && m.closed_by_failure == 1
                && m.connections == 1;
            return again.then_some(Step::Connect);
        }
        Link::Open => {}
    }
    if c.quit_sent || c.pending.is_some() {
        return None;
    }
    if c.greeted != Some(true) {
        return Some(Step::Quit);
    }
    if c.capabilities.is_none() {
        return Some(if c.ehlo_refused {
            Step::Quit
        } else {
            Step::Ehlo
        });
    }
    if plan.tls_mode == TlsMode::Starttls && c.tls.is_none() {
        // Never go on to AUTH in the clear when TLS was asked for and did not start.
        return Some(if c.starttls_refused {
            Step::Quit
        } else {
            Step::StartTls
        });
    }
    if plan.auth && c.authenticated_as.is_none() {
        match c.auth_attempt.as_ref().map(|a| (a.rejected, a.tls)) {
            None => return Some(Step::Auth),
            // Refused for want of TLS before it started: the credentials were never checked.
            Some((Some(AuthRejection::TlsRequired), false)) if c.tls.is_some() => {
                return Some(Step::Auth);
            }
            Some((None, _)) => return None,
            Some((Some(AuthRejection::BadCredentials), _)) => {
                // Go on to MAIL so the learner sees what an unauthenticated client gets.
            }
            Some(_) => return Some(Step::Quit),
        }
    }
    if c.messages_sent >= plan.messages.max(1) {
        return Some(Step::Quit);
    }
    let t = &c.transaction;
    if t.mail_from.is_none() {
        return Some(if t.mail_refused {
            Step::Quit
        } else {
            Step::Mail
        });
    }
    if t.rcpts_attempted() < plan.recipients.max(1) {
        return Some(Step::Rcpt);
    }
    if t.rcpts_accepted.is_empty() {
        return Some(Step::Quit);
    }
    Some(match t.data {
        DataStage::NotStarted => Step::Data,
        DataStage::Open => Step::Dot,
        DataStage::Refused => Step::Quit,
    })
}

/// A small summary of the model that changes whenever a step got somewhere. A step that
/// leaves it as it was made no progress; `run` ends rather than repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    connections: u32,
    open: bool,
    greeted: Option<bool>,
    tls: bool,
    capabilities: bool,
    ehlo_refused: bool,
    starttls_refused: bool,
    authenticated: bool,
    auth_rejected: Option<(Option<AuthRejection>, bool)>,
    mail: (bool, bool),
    rcpts: usize,
    data: DataStage,
    messages: u32,
    quit: bool,
}

impl SessionModel {
    pub(crate) fn progress(&self) -> Progress {
        let c = self.conn.as_ref();
        Progress {
            connections: self.connections,
            open: self.connected(),
            greeted: c.and_then(|c| c.greeted),
            tls: self.tls().is_some(),
            capabilities: self.capabilities().is_some(),
            ehlo_refused: c.is_some_and(|c| c.ehlo_refused),
            starttls_refused: c.is_some_and(|c| c.starttls_refused),
            authenticated: self.authenticated_as().is_some(),
            auth_rejected: c
                .and_then(|c| c.auth_attempt.as_ref())
                .map(|a| (a.rejected, a.tls)),
            mail: c.map_or((false, false), |c| {
                (
                    c.transaction.mail_from.is_some(),
                    c.transaction.mail_refused,
                )
            }),
            rcpts: c.map_or(0, |c| c.transaction.rcpts_attempted()),
            data: c.map_or(DataStage::NotStarted, |c| c.transaction.data),
            messages: c.map_or(0, |c| c.messages_sent),
            quit: self.quit_sent(),
        }
    }
}
