//! What a session knows about itself, as plain data: capabilities, login, envelope, the phase
//! timeline and the next step of the standard flow. Pure functions only; the session updates
//! it as replies arrive and front ends read it.

use serde::{Deserialize, Serialize};

use super::classify::{Classification, Phase};
use super::command::Verb;
use super::reply::Reply;
use super::transport::{TlsInfo, TlsMode};

/// What EHLO advertised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub starttls: bool,
    pub auth: Vec<String>,
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub pipelining: bool,
    /// Every keyword line as received, for display.
    pub keywords: Vec<String>,
}

impl Capabilities {
    /// Reads an EHLO reply (the first line is the server's name, not a keyword).
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let text = line.text();
            let mut words = text.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => caps.auth.extend(words.map(str::to_ascii_uppercase)),
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "PIPELINING" => caps.pipelining = true,
                _ => {}
            }
            if !keyword.is_empty() {
                caps.keywords.push(text);
            }
        }
        caps
    }

    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// The steps of a standard submission session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Connect,
    Ehlo,
    StartTls,
    /// EHLO again inside TLS.
    EhloTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    /// The message and its final `.`.
    Dot,
    Quit,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Connect,
        Step::Ehlo,
        Step::StartTls,
        Step::EhloTls,
        Step::Auth,
        Step::Mail,
        Step::Rcpt,
        Step::Data,
        Step::Dot,
        Step::Quit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Ehlo => "EHLO",
            Step::StartTls => "STARTTLS",
            Step::EhloTls => "EHLO",
            Step::Auth => "AUTH",
            Step::Mail => "MAIL",
            Step::Rcpt => "RCPT",
            Step::Data => "DATA",
            Step::Dot => "\".\"",
            Step::Quit => "QUIT",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    #[default]
    NotReached,
    Passed,
    Failed,
    /// Does not apply (STARTTLS on implicit TLS, AUTH when not wanted).
    Skipped,
}

/// The outcome of every step, with the phase of its failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub status: [StepStatus; 10],
    /// The classified phase of each step's last reply.
    pub phase: [Option<Phase>; 10],
}

impl Timeline {
    pub fn get(&self, step: Step) -> StepStatus {
        self.status[step as usize]
    }

    pub fn set(&mut self, step: Step, status: StepStatus, phase: Option<Phase>) {
        self.status[step as usize] = status;
        self.phase[step as usize] = phase;
    }

    /// The first failed step and its phase.
    pub fn first_failure(&self) -> Option<(Step, Option<Phase>)> {
        Step::ALL
            .into_iter()
            .find(|s| self.get(*s) == StepStatus::Failed)
            .map(|s| (s, self.phase[s as usize]))
    }

    /// One line that says which of authentication and authorization failed, if any.
    pub fn verdict(&self) -> String {
        let authed = self.get(Step::Auth) == StepStatus::Passed;
        if self.get(Step::Dot) == StepStatus::Passed {
            return if authed {
                "Authenticated and authorized: the message was accepted".into()
            } else {
                "The message was accepted".into()
            };
        }
        match self.first_failure() {
            Some((Step::Auth, _)) => "Authentication failed at AUTH".into(),
            Some((Step::Dot, Some(Phase::Authorization))) if authed => {
                "Authenticated; authorization denied after DATA".into()
            }
            Some((Step::Dot, Some(Phase::Authorization))) => {
                "Authorization denied after DATA".into()
            }
            Some((step, Some(Phase::Authentication))) => {
                format!("Authentication required: refused at {}", step.label())
            }
            Some((step, Some(phase))) => {
                let prefix = if authed { "Authenticated; " } else { "" };
                format!("{prefix}{} failure at {}", phase.title(), step.label())
            }
            Some((step, None)) => format!("Failed at {}", step.label()),
            None if self.get(Step::Connect) == StepStatus::NotReached => "Not connected yet".into(),
            None if authed => "Authenticated; no failure so far".into(),
            None => "No failure so far".into(),
        }
    }
}

/// Everything the session knows, as one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub connected: bool,
    pub peer: Option<String>,
    pub tls: Option<TlsInfo>,
    pub greeted: bool,
    /// Capabilities from the latest EHLO since connect or the TLS upgrade.
    pub capabilities: Option<Capabilities>,
    pub authenticated_as: Option<String>,
    pub auth_failed: bool,
    /// The last reply was a 334 challenge to AUTH: the next line sent is a credential.
    pub sasl_challenge: bool,
    pub mail_from: Option<String>,
    pub rcpts_sent: usize,
    pub rcpts_accepted: Vec<String>,
    pub data_started: bool,
    pub messages_accepted: u32,
    pub quit_sent: bool,
    pub timeline: Timeline,
    /// The phase of the most recent classified event.
    pub phase: Option<Phase>,
}

impl SessionState {
    /// Which timeline step a command belongs to, given where the session stands.
    pub fn step_of(&self, verb: Verb) -> Option<Step> {
        Some(match verb {
            Verb::Connect => Step::Connect,
            Verb::Ehlo | Verb::Helo
                if self.tls.is_some()
                    && self.timeline.get(Step::StartTls) == StepStatus::Passed =>
            {
                Step::EhloTls
            }
            Verb::Ehlo | Verb::Helo => Step::Ehlo,
            Verb::StartTls => Step::StartTls,
            Verb::Auth | Verb::AuthResponse => Step::Auth,
            Verb::Mail => Step::Mail,
            Verb::Rcpt => Step::Rcpt,
            Verb::Data => Step::Data,
            Verb::DataEnd => Step::Dot,
            Verb::Quit => Step::Quit,
            Verb::Rset | Verb::Noop | Verb::Other => return None,
        })
    }

    /// Updates the state for a reply to `verb` (`user` names who is logging in, for AUTH).
    pub fn apply_reply(
        &mut self,
        verb: Verb,
        reply: &Reply,
        class: &Classification,
        user: Option<&str>,
    ) {
        self.phase = Some(class.phase);
        let ok = reply.is_positive();
        let intermediate = reply.code / 100 == 3;
        self.sasl_challenge = reply.code == 334 && matches!(verb, Verb::Auth | Verb::AuthResponse);
        if let Some(step) = self.step_of(verb) {
            // A 334 challenge is not yet a verdict on AUTH.
            if !intermediate || step == Step::Data {
                let status = if ok || (intermediate && step == Step::Data) {
                    StepStatus::Passed
                } else {
                    StepStatus::Failed
                };
                self.timeline.set(step, status, Some(class.phase));
            }
        }
        match verb {
            Verb::Connect => self.greeted = ok,
            Verb::Ehlo if ok => self.capabilities = Some(Capabilities::from_ehlo(reply)),
            Verb::Helo if ok => self.capabilities = Some(Capabilities::default()),
            Verb::Auth | Verb::AuthResponse if ok => {
                self.authenticated_as = Some(user.unwrap_or("").to_string());
                self.auth_failed = false;
            }
            Verb::Auth | Verb::AuthResponse if !intermediate => self.auth_failed = true,
            Verb::Mail => self.mail_from = ok.then(String::new),
            Verb::Rcpt => {
                self.rcpts_sent += 1;
                if ok {
                    self.rcpts_accepted.push(String::new());
                }
            }
            Verb::Data => self.data_started = intermediate,
            Verb::DataEnd => {
                if ok {
                    self.messages_accepted += 1;
                }
                self.end_transaction();
            }
            Verb::Rset if ok => {
                self.end_transaction();
            }
            _ => {}
        }
    }

    fn end_transaction(&mut self) {
        self.mail_from = None;
        self.rcpts_sent = 0;
        self.rcpts_accepted.clear();
        self.data_started = false;
    }

    /// After the TLS upgrade the server forgets EHLO and any login (RFC 3207 §4.2).
    pub fn tls_started(&mut self, info: TlsInfo) {
        self.tls = Some(info);
        self.capabilities = None;
        self.authenticated_as = None;
        // Implicit TLS has no STARTTLS step; it stays "not applicable".
        if self.timeline.get(Step::StartTls) != StepStatus::Skipped {
            self.timeline
                .set(Step::StartTls, StepStatus::Passed, Some(Phase::Tls));
        }
    }

    /// Forgets the connection but keeps the timeline for the user to read.
    pub fn disconnected(&mut self) {
        let timeline = self.timeline.clone();
        let phase = self.phase;
        *self = SessionState {
            timeline,
            phase,
            ..SessionState::default()
        };
    }
}

/// What the standard flow is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub tls_mode: TlsMode,
    pub auth: bool,
    pub recipients: usize,
}

/// The next step of the standard flow, or `None` when the session is complete.
pub fn next_step(state: &SessionState, plan: &Plan) -> Option<Step> {
    if !state.connected {
        return (state.timeline.get(Step::Quit) == StepStatus::NotReached).then_some(Step::Connect);
    }
    if state.quit_sent {
        return None;
    }
    if !state.greeted {
        // A failed greeting leaves only QUIT.
        return Some(Step::Quit);
    }
    let tls_pending = plan.tls_mode == TlsMode::Starttls && state.tls.is_none();
    if state.capabilities.is_none() {
        return Some(
            if state.tls.is_some() && plan.tls_mode == TlsMode::Starttls {
                Step::EhloTls
            } else {
                Step::Ehlo
            },
        );
    }
    if tls_pending {
        return Some(Step::StartTls);
    }
    if plan.auth && state.authenticated_as.is_none() && !state.auth_failed {
        return Some(Step::Auth);
    }
    if state.timeline.get(Step::Dot) != StepStatus::NotReached {
        return Some(Step::Quit);
    }
    if state.mail_from.is_none() {
        return Some(if state.timeline.get(Step::Mail) == StepStatus::Failed {
            Step::Quit
        } else {
            Step::Mail
        });
    }
    if state.rcpts_sent < plan.recipients {
        return Some(Step::Rcpt);
    }
    if !state.data_started {
        return Some(if state.timeline.get(Step::Data) == StepStatus::Failed {
            Step::Quit
        } else {
            Step::Data
        });
    }
    Some(Step::Dot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::classify::{Catalog, Context};

    fn reply(state: &mut SessionState, verb: Verb, code: u16, text: &str) {
        let r = Reply::from_lines(code, &[text]);
        let c = Catalog::builtin().classify(&r, &Context::after(verb));
        state.apply_reply(verb, &r, &c, Some("AKIAEXAMPLE"));
    }

    fn plan() -> Plan {
        Plan {
            tls_mode: TlsMode::Starttls,
            auth: true,
            recipients: 2,
        }
    }

    fn tls_info() -> TlsInfo {
        TlsInfo {
            version: "TLS 1.3".into(),
            cipher: "x".into(),
            server_name: "h".into(),
            chain: vec![],
            verification: crate::engine::transport::Verification::Verified,
        }
    }

    #[test]
    fn walks_the_standard_flow() {
        let mut s = SessionState::default();
        assert_eq!(next_step(&s, &plan()), Some(Step::Connect));
        s.connected = true;
        s.timeline.set(Step::Connect, StepStatus::Passed, None);
        reply(&mut s, Verb::Connect, 220, "hi");
        assert_eq!(next_step(&s, &plan()), Some(Step::Ehlo));
        let ehlo = Reply::from_lines(
            250,
            &[
                "email-smtp.amazonaws.com",
                "8BITMIME",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "Ok",
            ],
        );
        let c = Catalog::builtin().classify(&ehlo, &Context::after(Verb::Ehlo));
        s.apply_reply(Verb::Ehlo, &ehlo, &c, None);
        let caps = s.capabilities.clone().unwrap();
        assert!(caps.starttls && caps.eight_bit_mime && caps.offers_auth("login"));
        assert_eq!(next_step(&s, &plan()), Some(Step::StartTls));
        s.tls_started(tls_info());
        assert_eq!(next_step(&s, &plan()), Some(Step::EhloTls));
        assert_eq!(s.step_of(Verb::Ehlo), Some(Step::EhloTls));
        reply(&mut s, Verb::Ehlo, 250, "Ok");
        assert_eq!(next_step(&s, &plan()), Some(Step::Auth));
        reply(&mut s, Verb::Auth, 235, "Authentication successful.");
        assert_eq!(s.authenticated_as.as_deref(), Some("AKIAEXAMPLE"));
        assert_eq!(next_step(&s, &plan()), Some(Step::Mail));
        reply(&mut s, Verb::Mail, 250, "Ok");
        assert_eq!(next_step(&s, &plan()), Some(Step::Rcpt));
        reply(&mut s, Verb::Rcpt, 250, "Ok");
        assert_eq!(next_step(&s, &plan()), Some(Step::Rcpt));
        reply(&mut s, Verb::Rcpt, 250, "Ok");
        assert_eq!(next_step(&s, &plan()), Some(Step::Data));
        reply(&mut s, Verb::Data, 354, "End data with <CR><LF>.<CR><LF>");
        assert_eq!(next_step(&s, &plan()), Some(Step::Dot));
        reply(
            &mut s,
            Verb::DataEnd,
            554,
            "Access denied: User `arn:aws:iam::1:user/u' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:1:identity/example.com'",
        );
        assert_eq!(
            s.timeline.verdict(),
            "Authenticated; authorization denied after DATA"
        );
        assert_eq!(next_step(&s, &plan()), Some(Step::Quit));
        s.quit_sent = true;
        assert_eq!(next_step(&s, &plan()), None);
    }

    #[test]
    fn auth_failure_is_named_and_not_retried() {
        let mut s = SessionState {
            connected: true,
            greeted: true,
            capabilities: Some(Capabilities::default()),
            ..Default::default()
        };
        s.tls = Some(tls_info());
        reply(
            &mut s,
            Verb::Auth,
            535,
            "Authentication Credentials Invalid",
        );
        assert_eq!(s.timeline.verdict(), "Authentication failed at AUTH");
        // The flow goes on to MAIL, where SES answers 530: the learner sees both.
        assert_eq!(next_step(&s, &plan()), Some(Step::Mail));
        reply(&mut s, Verb::Mail, 530, "Authentication required");
        assert_eq!(s.timeline.verdict(), "Authentication failed at AUTH");
        assert_eq!(next_step(&s, &plan()), Some(Step::Quit));
    }

    #[test]
    fn implicit_tls_skips_starttls() {
        let p = Plan {
            tls_mode: TlsMode::Implicit,
            auth: false,
            recipients: 1,
        };
        let mut s = SessionState {
            connected: true,
            greeted: true,
            ..Default::default()
        };
        s.tls = Some(tls_info());
        assert_eq!(next_step(&s, &p), Some(Step::Ehlo));
        s.capabilities = Some(Capabilities::default());
        assert_eq!(next_step(&s, &p), Some(Step::Mail));
    }

    #[test]
    fn verdict_lines() {
        let mut t = Timeline::default();
        assert_eq!(t.verdict(), "Not connected yet");
        t.set(Step::Connect, StepStatus::Passed, None);
        t.set(Step::StartTls, StepStatus::Failed, Some(Phase::Tls));
        assert_eq!(t.verdict(), "TLS failure at STARTTLS");
        let mut t = Timeline::default();
        t.set(Step::Auth, StepStatus::Passed, Some(Phase::Authentication));
        t.set(Step::Dot, StepStatus::Passed, Some(Phase::Data));
        assert_eq!(
            t.verdict(),
            "Authenticated and authorized: the message was accepted"
        );
    }
}
