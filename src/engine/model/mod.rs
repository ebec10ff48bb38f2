//! The session model: what the server knows, as one value.
//!
//! It is a fold over transcript entries: [`SessionModel::apply`] takes each entry as it is
//! recorded. The live session, the debugger, `replay` and the tests all feed it the same
//! entries, so they cannot disagree. The verdict, the outcome, the exit code, Next, the header
//! and the diagnosis notes are functions of this model, never of the last command's name.

use serde::{Deserialize, Serialize};

use super::auth::Redacted;
use super::classify::{Context, Phase};
use super::command::Verb;
use super::provider::{Detected, Providers, Signal};
use super::transcript::{Entry, EntryKind, ErrorKind, ReplyEntry};
use super::transport::{TlsInfo, TlsMode};

mod capabilities;
mod flow;
mod outcome;

pub(crate) use capabilities::Capabilities;
pub use flow::{MAX_STEPS, Plan, Progress, next_step};
pub(crate) use outcome::{AuthRejection, Failure, Outcome};

/// The steps a session is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Connect,
    Ehlo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    /// The message and its final `.`.
    Dot,
    Rset,
    Noop,
    Quit,
    /// A line typed by hand that is none of the above.
    Raw,
}

impl Step {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Ehlo => "EHLO",
            Step::StartTls => "STARTTLS",
            Step::Auth => "AUTH",
            Step::Mail => "MAIL",
            Step::Rcpt => "RCPT",
            Step::Data => "DATA",
            Step::Dot => "\".\"",
            Step::Rset => "RSET",
            Step::Noop => "NOOP",
            Step::Quit => "QUIT",
            Step::Raw => "raw",
        }
    }

    pub(crate) fn of_verb(verb: Verb) -> Step {
        match verb {
            Verb::Connect => Step::Connect,
            Verb::Ehlo | Verb::Helo => Step::Ehlo,
            Verb::StartTls => Step::StartTls,
            Verb::Auth | Verb::AuthResponse => Step::Auth,
            Verb::Mail => Step::Mail,
            Verb::Rcpt => Step::Rcpt,
            Verb::Data | Verb::Bdat => Step::Data,
            Verb::DataEnd => Step::Dot,
            Verb::Rset => Step::Rset,
            Verb::Noop => Step::Noop,
            Verb::Quit => Step::Quit,
            Verb::Other => Step::Raw,
        }
    }

    /// How far along a submission a step is. A success at a level at or past a failure's
    /// level settles that failure (a good AUTH after a 535, a reconnect after a drop).
    /// Steps off the submission path have no level: they neither decide nor settle.
    pub(crate) fn level(self) -> Option<u8> {
        Some(match self {
            Step::Connect => 0,
            Step::Ehlo => 1,
            Step::StartTls => 2,
            Step::Auth => 3,
            Step::Mail => 4,
            Step::Rcpt => 5,
            Step::Data => 6,
            Step::Dot => 7,
            Step::Rset | Step::Noop | Step::Quit | Step::Raw => return None,
        })
    }
}

/// Where one step of the history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Sent; no answer yet.
    Pending,
    Passed,
    Failed,
}

/// One step as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub step: Step,
    pub status: StepStatus,
    pub phase: Option<Phase>,
    /// Inside TLS (an EHLO after STARTTLS reads differently from the first one).
    pub tls: bool,
    /// The entry that settled it (the reply or the error).
    pub seq: u64,
}

/// How much history is kept; older steps are counted, not stored.
pub(crate) const HISTORY_LIMIT: usize = 256;

/// The latest AUTH attempt on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAttempt {
    pub user: Option<String>,
    /// `None` while the exchange is going on.
    pub rejected: Option<AuthRejection>,
    pub code: Option<u16>,
    /// Whether TLS was up when this attempt was made.
    pub tls: bool,
    /// The server's JSON error challenge to an OAuth token (XOAUTH2, OAUTHBEARER), decoded.
    #[serde(default)]
    pub oauth_error: Option<crate::engine::oauth::OAuthError>,
}

/// Where the message data stands in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataStage {
    #[default]
    NotStarted,
    /// The server answered 354: the message goes next.
    Open,
    Refused,
}

/// Where the server's authorization check of the message stands. SES evaluates the IAM
/// policy (`ses:SendRawEmail`) only after the final ".": before that, nothing says whether
/// the user may send, however many commands passed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum IamCheck {
    #[default]
    NotEvaluated,
    /// The message was accepted: the policy allowed it.
    Allowed,
    /// `554 Access denied`: the policy does not allow this action.
    Denied { action: String },
    /// The message was refused for a reason the reply names, not an IAM denial.
    OtherRefusal { code: u16 },
}

/// One mail transaction (MAIL, RCPT…, DATA, the message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub mail_from: Option<String>,
    pub mail_refused: bool,
    pub rcpts_accepted: Vec<String>,
    pub rcpts_refused: Vec<String>,
    pub data: DataStage,
}

impl Transaction {
    pub(crate) fn rcpts_attempted(&self) -> usize {
        self.rcpts_accepted.len() + self.rcpts_refused.len()
    }
}

/// The state of the link itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Link {
    Connecting,
    Open,
    Closed { reason: String },
}

/// What the server knows about this client on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub link: Link,
    pub host: String,
    pub port: u16,
    pub mode: TlsMode,
    pub peer: Option<String>,
    /// `Some(true)` after a 2xx greeting.
    pub greeted: Option<bool>,
    pub tls: Option<TlsInfo>,
    /// From the latest EHLO since connect or the TLS upgrade.
    pub capabilities: Option<Capabilities>,
    pub ehlo_refused: bool,
    pub starttls_refused: bool,
    /// Who the server takes this client for (RFC 3207: TLS forgets it).
    pub authenticated_as: Option<String>,
    pub auth_attempt: Option<AuthAttempt>,
    /// The last reply was a 334 challenge: the next line sent is a credential.
    pub sasl_challenge: bool,
    pub transaction: Transaction,
    /// Messages sent on this connection (accepted or not).
    pub messages_sent: u32,
    pub quit_sent: bool,
    /// The command waiting for its reply, and its argument (an address) if any.
    pub pending: Option<(Verb, Option<String>)>,
    /// Commands sent after `pending` in the same PIPELINING group, oldest first: each reply
    /// answers the oldest command still waiting (RFC 2920 §3.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queued: Vec<(Verb, Option<String>)>,
    /// A failing reply the server sent unasked (an idle timeout, a 421 before closing).
    pub notice: Option<(u16, Phase)>,
    /// Amazon SES (or a server that presents itself as SES): SES-only remarks apply.
    pub ses: bool,
    /// The provider or server software its host name, greeting and EHLO reply name.
    #[serde(default)]
    pub provider: Option<Detected>,
}

impl Connection {
    fn new(host: &str, port: u16, mode: TlsMode) -> Connection {
        Connection {
            link: Link::Connecting,
            host: host.to_string(),
            port,
            mode,
            peer: None,
            greeted: None,
            tls: None,
            capabilities: None,
            ehlo_refused: false,
            starttls_refused: false,
            authenticated_as: None,
            auth_attempt: None,
            sasl_challenge: false,
            transaction: Transaction::default(),
            messages_sent: 0,
            quit_sent: false,
            pending: None,
            queued: Vec::new(),
            notice: None,
            ses: super::ses::mentions_ses(host),
            provider: Providers::builtin().observe(None, Signal::Host, host),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.link == Link::Open
    }
}

/// Everything the session knows, across reconnects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionModel {
    /// The current connection, or the last one once it closed; `None` before the first.
    pub conn: Option<Connection>,
    pub connections: u32,
    /// Connections that the server (or the network) ended after a failure.
    pub closed_by_failure: u32,
    /// Whether the server ever judged the credentials (a 235, or a refusal of them).
    pub credentials_checked: bool,
    pub ever_authenticated_as: Option<String>,
    pub auth_attempts: u32,
    /// The code of the latest refused AUTH in this session.
    pub last_auth_refusal: Option<u16>,
    pub messages_accepted: u32,
    /// The failure that decides the verdict: the first one not settled since.
    pub failure: Option<Failure>,
    /// Failures settled by a later success (a 535 before a good AUTH), oldest first.
    pub settled: Vec<Failure>,
    pub history: Vec<HistoryItem>,
    pub history_dropped: u64,
    /// The authorization check of the latest message (reset by a new MAIL FROM).
    #[serde(default)]
    pub iam: IamCheck,
    /// The envelope of the latest message that reached its final "." (accepted or not): what
    /// a refusal after the dot was about, once the transaction itself is over.
    #[serde(default)]
    pub last_message: Option<Transaction>,
}

impl SessionModel {
    pub fn connected(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::is_open)
    }

    /// The open connection.
    pub(crate) fn open(&self) -> Option<&Connection> {
        self.conn.as_ref().filter(|c| c.is_open())
    }

    pub fn tls(&self) -> Option<&TlsInfo> {
        self.open().and_then(|c| c.tls.as_ref())
    }

    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.open().and_then(|c| c.capabilities.as_ref())
    }

    pub(crate) fn authenticated_as(&self) -> Option<&str> {
        self.open().and_then(|c| c.authenticated_as.as_deref())
    }

    pub(crate) fn sasl_challenge(&self) -> bool {
        self.open().is_some_and(|c| c.sasl_challenge)
    }

    pub(crate) fn quit_sent(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.quit_sent)
    }

    /// The greeting of the open connection was a 2xx.
    pub(crate) fn greeted(&self) -> bool {
        self.open().is_some_and(|c| c.greeted == Some(true))
    }

    /// DATA was answered 354: what is sent next is the message.
    pub(crate) fn data_open(&self) -> bool {
        self.transaction()
            .is_some_and(|t| t.data == DataStage::Open)
    }

    /// RCPT commands answered in the current transaction.
    pub(crate) fn rcpts_attempted(&self) -> usize {
        self.transaction().map_or(0, Transaction::rcpts_attempted)
    }

    pub(crate) fn transaction(&self) -> Option<&Transaction> {
        self.open().map(|c| &c.transaction)
    }

    /// The transaction that MAIL FROM opened on this connection, if one is open.
    pub(crate) fn open_transaction(&self) -> Option<&Transaction> {
        self.transaction().filter(|t| t.mail_from.is_some())
    }

    /// The sender and recipients the latest failure was about: the open transaction's, else
    /// the last message's (a 554 after the dot ends its transaction).
    pub fn envelope(&self) -> (Option<&str>, &[String]) {
        match self.open_transaction().or(self.last_message.as_ref()) {
            Some(t) => (t.mail_from.as_deref(), &t.rcpts_accepted),
            None => (None, &[]),
        }
    }

    /// A command is waiting for its reply.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> bool {
        self.open().is_some_and(|c| c.pending.is_some())
            || self
                .conn
                .as_ref()
                .is_some_and(|c| c.link == Link::Connecting)
    }

    /// The outcome so far (or final, once the session ended).
    pub(crate) fn outcome(&self) -> Outcome {
        if let Some(f) = &self.failure {
            f.outcome
        } else if self.messages_accepted > 0 {
            Outcome::Accepted
        } else if self.ever_authenticated_as.is_some() {
            Outcome::Authenticated
        } else {
            Outcome::Incomplete
        }
    }

    /// One line that says what happened: which of authentication and authorization failed,
    /// if either did.
    pub(crate) fn verdict(&self) -> String {
        if let Some(f) = &self.failure {
            return f.verdict();
        }
        let authed = self.ever_authenticated_as.is_some();
        let refused = self
            .conn
            .as_ref()
            .map_or(0, |c| c.transaction.rcpts_refused.len());
        match self.messages_accepted {
            0 => {}
            n => {
                let what = if n == 1 {
                    "the message was accepted".to_string()
                } else {
                    format!("{n} messages were accepted")
                };
                let some = if refused > 0 {
                    format!(" ({refused} recipient(s) refused)")
                } else {
                    String::new()
                };
                return if authed {
                    format!("Authenticated and authorized: {what}{some}")
                } else {
                    format!("The server accepted: {what}{some}")
                };
            }
        }
        let Some(conn) = &self.conn else {
            return "Not connected yet".into();
        };
        let ended = match &conn.link {
            Link::Closed { .. } => match conn.notice {
                Some((code, _)) => format!("; the server closed the connection ({code})"),
                None => "; the session ended".into(),
            },
            _ => String::new(),
        };
        if authed {
            format!("Authenticated; no message sent yet{ended}")
        } else {
            format!("No failure so far{ended}")
        }
    }

    /// The IAM check of the current or latest message, for SES (other servers have none).
    pub(crate) fn iam_check(&self) -> Option<&IamCheck> {
        self.conn
            .as_ref()
            .is_some_and(|c| c.ses)
            .then_some(&self.iam)
    }

    /// The transcript entry (its `seq`) whose reply or error decided the verdict, while that
    /// failure stands. Front ends keep it in view: a later QUIT or idle timeout decides nothing.
    pub(crate) fn decisive_seq(&self) -> Option<u64> {
        self.failure.as_ref().map(|f| f.seq)
    }

    /// The standard flow's step that was last sent on this connection.
    fn last_step(&self) -> Option<Step> {
        self.history.last().map(|h| h.step)
    }

    /// Takes one transcript entry into account.
    pub(crate) fn apply(&mut self, entry: &Entry) {
        let seq = entry.seq;
        match &entry.kind {
            EntryKind::Connecting { host, port, mode } => {
                let mode = TlsMode::parse(mode).unwrap_or(TlsMode::Starttls);
                self.conn = Some(Connection::new(host, *port, mode));
                self.connections += 1;
                self.push(Step::Connect, entry.tls);
            }
            EntryKind::Connected { peer } => {
                if let Some(c) = &mut self.conn {
                    c.link = Link::Open;
                    c.peer = Some(peer.clone());
                    c.pending = Some((Verb::Connect, None));
                }
            }
            EntryKind::TlsStarted { info } => {
                if let Some(c) = &mut self.conn {
                    // RFC 3207 §4.2: the server forgets EHLO and any login.
                    c.tls = Some(info.clone());
                    c.capabilities = None;
                    c.authenticated_as = None;
                    c.auth_attempt = None;
                    c.sasl_challenge = false;
                    c.ehlo_refused = false;
                }
            }
            EntryKind::Sent {
                line,
                verb,
                redacted,
            } => self.on_sent(*verb, line, redacted.as_ref(), entry.tls),
            EntryKind::Message { .. } => {
                if let Some(c) = &mut self.conn {
                    c.pending = Some((Verb::DataEnd, None));
                    c.messages_sent += 1;
                }
                self.push(Step::Dot, entry.tls);
            }
            EntryKind::Reply(r) => match r.after {
                Some(verb) => self.on_reply(verb, r, seq),
                None => {
                    if r.code >= 400
                        && let Some(c) = &mut self.conn
                    {
                        c.notice = Some((r.code, r.class.phase));
                    }
                }
            },
            EntryKind::Error { kind, phase, .. } => self.on_error(*kind, *phase, seq),
            EntryKind::Closed { reason } => {
                if let Some(c) = &mut self.conn {
                    let by_user = reason == "closed by the user" || reason == "reconnecting";
                    if !matches!(c.link, Link::Closed { .. }) && !c.quit_sent && !by_user {
                        self.closed_by_failure += 1;
                    }
                    c.link = Link::Closed {
                        reason: reason.clone(),
                    };
                    c.pending = None;
                    c.queued.clear();
                    c.sasl_challenge = false;
                }
                // Every command still waiting (a whole pipelined group) went unanswered.
                for h in self.history.iter_mut().rev() {
                    if h.status != StepStatus::Pending {
                        break;
                    }
                    h.status = StepStatus::Failed;
                    h.phase = Some(Phase::Connection);
                    h.seq = seq;
                }
            }
            EntryKind::Info { .. } | EntryKind::Warning { .. } => {}
        }
    }

    fn push(&mut self, step: Step, tls: bool) {
        if self.history.len() >= HISTORY_LIMIT {
            self.history.remove(0);
            self.history_dropped += 1;
        }
        self.history.push(HistoryItem {
            step,
            status: StepStatus::Pending,
            phase: None,
            tls,
            seq: 0,
        });
    }

    /// Marks the step just answered passed or failed (`None`: it never got an answer): the
    /// newest one, or in a pipelined group the oldest still waiting, as many steps back as
    /// commands remain outstanding after it.
    fn settle_pending_history(&mut self, seq: u64, result: Option<(bool, Phase)>) {
        let outstanding = self
            .conn
            .as_ref()
            .map_or(0, |c| usize::from(c.pending.is_some()) + c.queued.len());
        let Some(index) = self.history.len().checked_sub(1 + outstanding) else {
            return;
        };
        if let Some(h) = self.history.get_mut(index)
            && h.status == StepStatus::Pending
        {
            let (ok, phase) = result.unwrap_or((false, Phase::Connection));
            h.status = if ok {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            };
            h.phase = Some(phase);
            h.seq = seq;
        }
    }

    fn on_sent(&mut self, verb: Verb, line: &str, redacted: Option<&Redacted>, tls: bool) {
        let Some(c) = &mut self.conn else { return };
        // After a 354, what is sent is the message, typed line by line, until the final ".".
        if c.transaction.data == DataStage::Open && c.pending.is_none() {
            if verb == Verb::DataEnd {
                c.pending = Some((Verb::DataEnd, None));
                c.messages_sent += 1;
                self.push(Step::Dot, tls);
            }
            return;
        }
        let user = match redacted {
            Some(
                Redacted::PlainBlob { user, .. }
                | Redacted::LoginUser { user }
                | Redacted::OAuthToken { user, .. },
            ) => Some(user.clone()),
            _ => None,
        };
        let arg = match verb {
            Verb::Mail | Verb::Rcpt => path_of(line),
            _ => None,
        };
        if c.pending.is_some() {
            // Sent before the previous command's reply came: a pipelined group.
            c.queued.push((verb, arg));
        } else {
            c.pending = Some((verb, arg));
        }
        c.sasl_challenge = false;
        match verb {
            Verb::Auth => {
                c.auth_attempt = Some(AuthAttempt {
                    user,
                    rejected: None,
                    code: None,
                    tls: c.tls.is_some(),
                    oauth_error: None,
                });
                self.auth_attempts += 1;
                self.push(Step::Auth, tls);
            }
            Verb::AuthResponse => {
                if let (Some(a), Some(u)) = (&mut c.auth_attempt, user) {
                    a.user = Some(u);
                }
            }
            Verb::Quit => {
                c.quit_sent = true;
                self.push(Step::Quit, tls);
            }
            // BDAT's LAST chunk ends the message, as the final "." does after DATA.
            Verb::DataEnd => {
                c.messages_sent += 1;
                self.push(Step::Dot, tls);
            }
            other => self.push(Step::of_verb(other), tls),
        }
    }

    fn on_reply(&mut self, verb: Verb, r: &ReplyEntry, seq: u64) {
        let Some(c) = &mut self.conn else { return };
        let arg = c.pending.take().and_then(|(_, a)| a);
        if !c.queued.is_empty() {
            c.pending = Some(c.queued.remove(0));
        }
        let code = r.code;
        let ok = code / 100 == 2;
        let intermediate = code / 100 == 3;
        let phase = r.class.phase;
        let step = Step::of_verb(verb);
        let was_authenticated = c.authenticated_as.is_some();
        c.sasl_challenge = code == 334 && matches!(verb, Verb::Auth | Verb::AuthResponse);
        let mut rejection = None;
        match verb {
            Verb::Connect => {
                c.greeted = Some(ok);
                c.ses |= super::ses::mentions_ses(&r.text);
                c.provider =
                    Providers::builtin().observe(c.provider.as_ref(), Signal::Greeting, &r.text);
            }
            Verb::Ehlo if ok => {
                c.provider =
                    Providers::builtin().observe(c.provider.as_ref(), Signal::Ehlo, &r.text);
                c.capabilities = Some(Capabilities::from_ehlo(&r.reply()));
                c.ehlo_refused = false;
            }
            Verb::Helo if ok => {
                c.capabilities = Some(Capabilities::default());
                c.ehlo_refused = false;
            }
            Verb::Ehlo | Verb::Helo => c.ehlo_refused = true,
            Verb::StartTls if !ok => c.starttls_refused = true,
            Verb::Auth | Verb::AuthResponse if code == 334 => {
                if let (Some(a), Some(e)) = (
                    &mut c.auth_attempt,
                    crate::engine::oauth::OAuthError::from_challenge(&r.reply().last_text()),
                ) {
                    a.oauth_error = Some(e);
                }
            }
            Verb::Auth | Verb::AuthResponse if code == 235 => {
                let user = c
                    .auth_attempt
                    .as_ref()
                    .and_then(|a| a.user.clone())
                    .unwrap_or_default();
                c.authenticated_as = Some(user.clone());
                self.ever_authenticated_as = Some(user);
                self.credentials_checked = true;
            }
            Verb::Auth | Verb::AuthResponse if !ok && !intermediate => {
                let token_judged = c
                    .auth_attempt
                    .as_ref()
                    .and_then(|a| a.oauth_error.as_ref())
                    .is_some_and(crate::engine::oauth::OAuthError::judges_token);
                let why = if was_authenticated && code == 503 {
                    AuthRejection::Misstep
                } else if token_judged && matches!(code, 535 | 454 | 534 | 550 | 554) {
                    // The server said, in its JSON challenge, what was wrong with the token.
                    AuthRejection::BadCredentials
                } else {
                    AuthRejection::of(code, phase, &r.text, c.tls.is_some())
                };
                if let Some(a) = &mut c.auth_attempt {
                    a.rejected = Some(why);
                    a.code = Some(code);
                }
                self.credentials_checked |= why.checked_credentials();
                self.last_auth_refusal = Some(code);
                rejection = Some(why);
            }
            Verb::Mail if ok => {
                self.iam = IamCheck::NotEvaluated;
                c.transaction = Transaction {
                    mail_from: Some(arg.unwrap_or_default()),
                    ..Transaction::default()
                };
            }
            Verb::Mail => c.transaction.mail_refused = true,
            Verb::Rcpt if ok => c.transaction.rcpts_accepted.push(arg.unwrap_or_default()),
            Verb::Rcpt => c.transaction.rcpts_refused.push(arg.unwrap_or_default()),
            Verb::Data if code == 354 => c.transaction.data = DataStage::Open,
            Verb::Data | Verb::Bdat if !ok => c.transaction.data = DataStage::Refused,
            Verb::DataEnd => {
                let action = r
                    .class
                    .diagnosis
                    .details
                    .iter()
                    .find(|(k, _)| k == "Action");
                self.iam = match (ok, action) {
                    (true, _) => IamCheck::Allowed,
                    (false, Some((_, action))) if phase == Phase::Authorization => {
                        IamCheck::Denied {
                            action: action.clone(),
                        }
                    }
                    _ if code / 100 == 5 => IamCheck::OtherRefusal { code },
                    _ => IamCheck::NotEvaluated,
                };
                if ok {
                    self.messages_accepted += 1;
                }
                self.last_message = Some(std::mem::take(&mut c.transaction));
            }
            Verb::Rset if ok => c.transaction = Transaction::default(),
            _ => {}
        }
        if intermediate && !(verb == Verb::Data && code == 354) {
            // A 334 challenge is not yet a verdict; the exchange goes on.
            return;
        }
        self.settle_pending_history(seq, Some((ok || intermediate, phase)));
        if ok || intermediate {
            self.settle(step);
            return;
        }
        let while_authenticated = self
            .conn
            .as_ref()
            .is_some_and(|c| c.authenticated_as.is_some());
        let auth_tried = self.conn.as_ref().is_some_and(|c| c.auth_attempt.is_some());
        let outcome = match rejection {
            Some(_) if phase == Phase::Throttling => Outcome::Throttled,
            Some(why) => why.outcome(),
            None => self.reply_outcome(step, code, phase),
        };
        self.fail(Failure {
            outcome,
            step: Some(step),
            phase,
            code: Some(code),
            seq,
            rejection,
            while_authenticated,
            auth_tried,
        });
    }

    /// What a failing reply to a step means for the session.
    fn reply_outcome(&self, step: Step, code: u16, phase: Phase) -> Outcome {
        let conn = self.open();
        let attempt = conn.and_then(|c| c.auth_attempt.as_ref());
        let auth_refused_credentials =
            attempt.and_then(|a| a.rejected) == Some(AuthRejection::BadCredentials);
        // MAIL or RCPT refused on policy grounds before any AUTH on this connection: for a
        // submission server that is "log in first", whatever words it uses.
        let never_logged_in = attempt.is_none()
            && conn.is_some_and(|c| c.authenticated_as.is_none())
            && matches!(step, Step::Mail | Step::Rcpt);
        let tls_up = conn.is_some_and(|c| c.tls.is_some());
        let no_recipients = conn.is_some_and(|c| c.transaction.rcpts_accepted.is_empty());
        match (step, phase) {
            (_, Phase::Throttling) => Outcome::Throttled,
            // Before any login the step decides: the text's subject class says little here.
            (Step::Connect, _) => Outcome::ServerUnavailable,
            (Step::Ehlo, _) if code / 100 == 4 => Outcome::ServerUnavailable,
            (Step::Ehlo, _) => Outcome::EhloRefused,
            // "TLS already active": the session is fine, the command was a misstep.
            (Step::StartTls, _) if tls_up => Outcome::ProtocolError,
            (Step::StartTls, _) | (_, Phase::Tls) => Outcome::TlsFailed,
            (_, Phase::Authorization | Phase::Authentication) if never_logged_in => {
                Outcome::NotAuthenticated
            }
            (_, Phase::Authorization) => Outcome::AuthorizationDenied,
            _ if code == 421 => Outcome::ServerUnavailable,
            (_, Phase::Authentication) if auth_refused_credentials => Outcome::AuthenticationFailed,
            (_, Phase::Authentication) => Outcome::NotAuthenticated,
            _ if matches!(code, 500 | 502 | 503) => Outcome::ProtocolError,
            _ if code / 100 == 4 && phase == Phase::Service => Outcome::ServerUnavailable,
            (Step::Mail, _) => Outcome::SenderRefused,
            (Step::Rcpt, _) => Outcome::RecipientRefused,
            // DATA refused with no recipient accepted: "no valid recipients", whatever the code.
            (Step::Data, _) if no_recipients && code != 503 => Outcome::RecipientRefused,
            (Step::Data | Step::Dot, _) => Outcome::MessageRefused,
            _ => Outcome::ProtocolError,
        }
    }

    fn on_error(&mut self, kind: ErrorKind, phase: Phase, seq: u64) {
        let connecting = self
            .conn
            .as_ref()
            .is_some_and(|c| c.link == Link::Connecting);
        let pending = self.conn.as_mut().and_then(|c| c.pending.take());
        // After DATA's 354 and before the final "." is recorded, the message is on its way:
        // a write that fails then (the server hung up mid-message) fails the message.
        let sending_message = self
            .conn
            .as_ref()
            .is_some_and(|c| c.transaction.data == DataStage::Open);
        let notice = self.conn.as_ref().and_then(|c| c.notice);
        let mode = self.conn.as_ref().map(|c| c.mode);
        let step = match kind {
            // The handshake follows the 220 to STARTTLS, or the connect for implicit TLS.
            ErrorKind::Tls => Some(if mode == Some(TlsMode::Implicit) {
                Step::Connect
            } else {
                Step::StartTls
            }),
            ErrorKind::Unexpected => self.last_step(),
            ErrorKind::Input | ErrorKind::Local => return,
            _ if connecting => Some(Step::Connect),
            _ => pending
                .map(|(v, _)| Step::of_verb(v))
                .or(sending_message.then_some(Step::Dot)),
        };
        if !matches!(kind, ErrorKind::Unexpected) {
            self.settle_pending_history(seq, Some((false, phase)));
            // The rest of a pipelined group waits on a connection that the error ends.
            if let Some(c) = &mut self.conn {
                c.queued.clear();
            }
        } else if let Some(h) = self.history.last_mut() {
            h.status = StepStatus::Failed;
            h.seq = seq;
        }
        if step == Some(Step::Quit) {
            return; // a QUIT that is not answered decides nothing
        }
        if step.is_none() && self.messages_accepted > 0 {
            return; // the server hung up on an idle session whose work was done
        }
        let outcome = match (kind, phase) {
            (ErrorKind::Tls, _) | (_, Phase::Tls) => Outcome::TlsFailed,
            (ErrorKind::Unexpected, _) if step == Some(Step::StartTls) => Outcome::TlsFailed,
            (ErrorKind::Unexpected | ErrorKind::Protocol, _) => Outcome::ProtocolError,
            (ErrorKind::Connect, _) => Outcome::ConnectionFailed,
            _ => match notice {
                Some((_, Phase::Throttling)) => Outcome::Throttled,
                Some((code, _)) if code / 100 == 4 => Outcome::ServerUnavailable,
                _ => Outcome::ConnectionFailed,
            },
        };
        let while_authenticated = self.authenticated_as().is_some();
        let auth_tried = self.conn.as_ref().is_some_and(|c| c.auth_attempt.is_some());
        self.fail(Failure {
            outcome,
            step,
            phase,
            code: None,
            seq,
            rejection: None,
            while_authenticated,
            auth_tried,
        });
    }

    /// Records a failure unless an earlier one still stands (the root cause comes first:
    /// after a 535, the 530 to MAIL follows from it).
    fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
    }

    /// A success at `step` settles a standing failure at the same level or before it.
    fn settle(&mut self, step: Step) {
        let (Some(level), Some(f)) = (step.level(), &self.failure) else {
            return;
        };
        let failed_level = f.step.and_then(Step::level).unwrap_or(0);
        // Refused credentials stay the verdict through MAIL, RCPT and DATA that a server
        // takes without them (a pipelined group's, or an open relay's): only a good AUTH or
        // an accepted message moves the session past them.
        let auth_stands =
            f.outcome == Outcome::AuthenticationFailed && !matches!(step, Step::Auth | Step::Dot);
        if level >= failed_level
            && !auth_stands
            && let Some(f) = self.failure.take()
        {
            if self.settled.len() >= 16 {
                self.settled.remove(0);
            }
            self.settled.push(f);
        }
    }

    /// The settled failure that a note should mention, e.g. the 535 before a good AUTH.
    #[cfg(test)]
    pub(crate) fn settled_auth_failure(&self) -> Option<&Failure> {
        self.settled
            .iter()
            .rev()
            .find(|f| f.step == Some(Step::Auth))
    }

    /// The provider or server software detected on the current (or last) connection.
    pub fn provider(&self) -> Option<&Detected> {
        self.conn.as_ref().and_then(|c| c.provider.as_ref())
    }

    /// Classification context for the next reply: what the server knows right now.
    pub(crate) fn context(&self) -> Context {
        Context {
            after: None,
            auth: self.auth_context(),
            earlier_auth_refusal: self.last_auth_refusal,
            tls: Some(self.tls().is_some()),
            ses: self.conn.as_ref().is_some_and(|c| {
                crate::engine::provider::speaks_as_ses(
                    c.ses,
                    c.provider.as_ref().map(|p| p.id.as_str()),
                )
            }),
            provider: self.provider().map(|p| p.id.clone()),
            oauth_error: self
                .open()
                .and_then(|c| c.auth_attempt.as_ref())
                .filter(|a| a.rejected.is_none())
                .and_then(|a| a.oauth_error.clone()),
            mail_from: self.transaction().and_then(|t| t.mail_from.clone()),
            rcpts: self
                .transaction()
                .map(|t| t.rcpts_accepted.clone())
                .unwrap_or_default(),
        }
    }

    /// What AUTH has done on the open connection.
    pub(crate) fn auth_context(&self) -> AuthContext {
        let Some(c) = self.open() else {
            return AuthContext::NeverTried;
        };
        if c.authenticated_as.is_some() {
            return AuthContext::Accepted;
        }
        match c.auth_attempt.as_ref().map(|a| a.rejected) {
            None => AuthContext::NeverTried,
            Some(None) => AuthContext::InProgress,
            Some(Some(why)) => AuthContext::Rejected(why),
        }
    }
}

/// What AUTH has done on the current connection, for classifying the next reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthContext {
    #[default]
    NeverTried,
    InProgress,
    Rejected(AuthRejection),
    Accepted,
}

/// The address inside `MAIL FROM:<…>` or `RCPT TO:<…>`.
fn path_of(line: &str) -> Option<String> {
    let start = line.find('<')?;
    let end = line[start..].find('>')? + start;
    Some(line[start + 1..end].to_string())
}

#[cfg(test)]
mod tests;
