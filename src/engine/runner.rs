//! Headless runs: the standard flow (asked of the session model step by step) or a script
//! (run exactly as written). Both perform their steps through [`Runner::perform`], stop at
//! the first failure unless told to keep going, and end when a step makes no progress or the
//! step bound is reached, so no server reply can make a run loop.

use super::auth::{Credentials, Mechanism};
use super::command::Command;
use super::model::{MAX_STEPS, Plan, Step, next_step};
use super::reply::Reply;
use super::script::{Script, ScriptStep};
use super::session::{MessageSource, Session, SessionError};
use super::transport::TlsMode;

mod batch;
pub(crate) use batch::lint_before_data;
pub use batch::{Batch, Composer, MAX_COUNT, Rate, RateError};

/// Where to stop the standard flow early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopAfter {
    Connect,
    Ehlo,
    Tls,
    Auth,
    Mail,
    Rcpt,
    /// After DATA's 354: the connection is closed without sending a message.
    Data,
}

/// The values steps take from the flags.
pub struct Values {
    pub ehlo: String,
    pub credentials: Option<Credentials>,
    pub mechanism: Mechanism,
    pub from: Option<String>,
    pub to: Vec<String>,
    /// The message after 354.
    pub message: Option<MessageSource>,
    /// Warnings shown just before the first AUTH.
    pub auth_warnings: Vec<String>,
}

/// One thing a run does: a script step (the standard flow's steps are script steps too), or
/// one of the two things a script does by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// The first connection and its greeting.
    Connect,
    Step(ScriptStep),
    /// The message after DATA's 354; with `quit`, QUIT goes right after it.
    Message {
        quit: bool,
    },
    /// MAIL, the RCPTs and DATA as one PIPELINING group; with `auth`, AUTH PLAIN first.
    Group {
        auth: bool,
    },
}

/// How a run ended, besides what the session model says.
#[derive(Debug, Default)]
pub struct RunEnd {
    /// A problem on this side (the message could not be read): not the server's doing.
    pub local_error: Option<String>,
}

pub struct Runner {
    values: Values,
    keep_going: bool,
    ext: super::ext::flow::ExtRun,
    batch: Batch,
    /// Builds each message afresh (a composed or generated one); else `values.message`.
    composer: Option<Composer>,
    /// The message built and linted before DATA, sent after its 354.
    next_message: Option<MessageSource>,
    /// Messages whose DATA was sent, across connections, and when the last one began.
    started: u32,
    last_start: Option<tokio::time::Instant>,
    /// The next message has been built and linted (once per message, at MAIL or DATA).
    prepared: bool,
}

impl Runner {
    pub fn new(values: Values, keep_going: bool) -> Runner {
        Runner {
            values,
            keep_going,
            ext: super::ext::flow::ExtRun::default(),
            batch: Batch::default(),
            composer: None,
            next_message: None,
            started: 0,
            last_start: None,
            prepared: false,
        }
    }

    /// Sends several messages (`--count`, `--rate`, `--reconnect-every`).
    #[must_use]
    pub fn with_batch(mut self, batch: Batch) -> Runner {
        self.batch = batch;
        self
    }

    /// Builds each message with `composer` instead of sending `values.message`.
    #[must_use]
    pub fn with_composer(mut self, composer: Composer) -> Runner {
        self.composer = Some(composer);
        self
    }

    /// The plan for the connection now open: as many messages as are left, at most
    /// `--reconnect-every` on one connection.
    fn plan(&self, session: &Session) -> Plan {
        let on_this = session.model().conn.as_ref().map_or(0, |c| c.messages_sent);
        let left = self.batch.count.max(1).saturating_sub(self.started);
        Plan {
            tls_mode: session.config().tls_mode,
            auth: self.values.credentials.is_some(),
            recipients: self.values.to.len(),
            reconnect_once: false,
            messages: self.batch.per_connection().min(on_this + left),
        }
    }

    /// After this connection's share of messages: QUIT and connect again when more are left
    /// and nothing failed (or `--keep-going`). Returns whether a new connection is open.
    async fn next_connection(&mut self, session: &mut Session, end: &mut RunEnd) -> bool {
        let sent_here = session.model().conn.as_ref().map_or(0, |c| c.messages_sent);
        let more = self.started < self.batch.count;
        let healthy = session.model().failure.is_none() || self.keep_going;
        if !(more && healthy && sent_here >= self.batch.per_connection()) {
            return false;
        }
        session.info(format!(
            "--reconnect-every {}: {} of {} messages sent; opening a new session",
            self.batch.per_connection(),
            self.started,
            self.batch.count
        ));
        session.close().await;
        self.perform_and_judge(session, Action::Connect, end).await
    }

    /// Waits until the next message may start under `--rate`.
    async fn pace(&mut self) {
        if let (Some(rate), Some(last)) = (self.batch.rate, self.last_start) {
            tokio::time::sleep_until(last + rate.interval()).await;
        }
        self.last_start = Some(tokio::time::Instant::now());
    }

    /// Walks the standard flow until it is done, fails, or stops at `stop_after`.
    pub async fn standard(
        &mut self,
        session: &mut Session,
        stop_after: Option<StopAfter>,
    ) -> RunEnd {
        let count = self.batch.count.max(1) as usize;
        let reconnects = count / self.batch.per_connection() as usize;
        let bound = MAX_STEPS
            + self.values.to.len()
            + (count - 1) * (4 + self.values.to.len())
            + reconnects * MAX_STEPS;
        let mut end = RunEnd::default();
        let mut last: Option<(Step, super::model::Progress)> = None;
        for _ in 0..bound {
            let plan = self.plan(session);
            let Some(step) = next_step(session.model(), &plan) else {
                return end;
            };
            if step == Step::Quit {
                if self.next_connection(session, &mut end).await {
                    continue;
                }
                return end;
            }
            if let Some(stop) = stop_after {
                let level = self.level(step, session);
                if level > stop || (stop == StopAfter::Data && step == Step::Dot) {
                    if step == Step::Dot {
                        // QUIT would be read as message text now; the only way out is to hang up.
                        session.info("--quit-after data: closing without sending a message");
                        session.close_now();
                    }
                    return end;
                }
            }
            let progress = session.model().progress();
            if last.as_ref() == Some(&(step, progress.clone())) {
                session.give_up(&format!(
                    "{} made no progress; stopping instead of sending it again",
                    step.label()
                ));
                return end;
            }
            last = Some((step, progress));
            let action = match step {
                Step::Connect => Action::Connect,
                Step::Ehlo => Action::Step(ScriptStep::Ehlo),
                Step::StartTls => Action::Step(ScriptStep::StartTls),
                Step::Auth
                    if self.auth_can_join_group(session)
                        && self.group_runs(session, stop_after) =>
                {
                    self.pace().await;
                    Action::Group { auth: true }
                }
                Step::Auth => Action::Step(ScriptStep::Auth(self.values.mechanism)),
                Step::Mail => {
                    self.pace().await;
                    if self.group_runs(session, stop_after) {
                        Action::Group { auth: false }
                    } else {
                        Action::Step(ScriptStep::Mail(None))
                    }
                }
                Step::Rcpt => Action::Step(ScriptStep::Rcpt(None)),
                Step::Data => Action::Step(ScriptStep::Data),
                Step::Dot => Action::Message {
                    quit: self.quit_can_follow(session),
                },
                Step::Rset | Step::Noop | Step::Quit | Step::Raw => return end,
            };
            if !self.perform_and_judge(session, action, &mut end).await {
                return end;
            }
        }
        session.give_up(&format!(
            "the run reached its bound of {bound} steps; stopping"
        ));
        end
    }

    /// Runs a script's steps in order, after the implicit connect and greeting.
    pub async fn script(&mut self, session: &mut Session, script: &Script) -> RunEnd {
        let mut end = RunEnd::default();
        if !self
            .perform_and_judge(session, Action::Connect, &mut end)
            .await
        {
            return end;
        }
        for (_, step) in &script.steps {
            if !session.is_connected() && *step != ScriptStep::Reconnect {
                session.info("the connection is closed; the rest of the script is not run");
                return end;
            }
            let is_data = *step == ScriptStep::Data;
            let action = Action::Step(step.clone());
            if !self.perform_and_judge(session, action, &mut end).await {
                return end;
            }
            let open = session
                .model()
                .transaction()
                .is_some_and(|t| t.data == super::model::DataStage::Open);
            if is_data
                && open
                && !self
                    .perform_and_judge(session, Action::Message { quit: false }, &mut end)
                    .await
            {
                return end;
            }
        }
        end
    }

    /// Performs one action; says whether the run goes on.
    async fn perform_and_judge(
        &mut self,
        session: &mut Session,
        action: Action,
        end: &mut RunEnd,
    ) -> bool {
        let result = self.perform(session, action).await;
        let failed = match &result {
            Ok(Some(reply)) => reply.code >= 400,
            Ok(None) => false,
            Err(
                SessionError::MessageSource { .. } | SessionError::Input(_) | SessionError::Ext(_),
            ) => {
                end.local_error = result.as_ref().err().map(ToString::to_string);
                return false;
            }
            Err(_) => true,
        };
        !(failed && (!self.keep_going || result.is_err()))
    }

    async fn perform(
        &mut self,
        session: &mut Session,
        action: Action,
    ) -> Result<Option<Reply>, SessionError> {
        let command = match action {
            Action::Connect => return session.connect().await.map(Some),
            Action::Step(ScriptStep::Reconnect) => {
                if session.is_connected() {
                    session.info("RECONNECT: dropping the connection without QUIT");
                }
                session.close_now();
                return session.connect().await.map(Some);
            }
            Action::Step(ScriptStep::Auth(mechanism)) => {
                let Some(credentials) = self.values.credentials.clone() else {
                    return Ok(None);
                };
                for w in self.values.auth_warnings.drain(..) {
                    session.warn(w);
                }
                return session.auth(mechanism, &credentials, true).await.map(Some);
            }
            Action::Message { quit } => {
                self.started += 1;
                let Some(source) = self.take_message() else {
                    session.warn("no message to send; closing without one");
                    session.close_now();
                    return Ok(None);
                };
                let sent = if quit {
                    session.send_last_message(source).await
                } else {
                    session.send_message(source).await
                };
                return sent.map(|(r, _)| Some(r));
            }
            Action::Group { auth } => {
                let credentials = if auth {
                    for w in self.values.auth_warnings.drain(..) {
                        session.warn(w);
                    }
                    self.values.credentials.clone()
                } else {
                    None
                };
                self.prepare_message(session)?;
                let from = self.values.from.clone().unwrap_or_default();
                let to = self.values.to.clone();
                let message = self.upcoming_message();
                return self
                    .ext
                    .group(session, credentials.as_ref(), &from, &to, message.as_ref())
                    .await
                    .map(Some);
            }
            Action::Step(ScriptStep::Data) if self.ext.bdat(session) => {
                self.prepare_message(session)?;
                self.started += 1;
                let Some(source) = self.take_message() else {
                    session.warn("no message to send");
                    return Ok(None);
                };
                return self.ext.send_bdat(session, source).await.map(Some);
            }
            Action::Step(ScriptStep::Wait(secs)) => {
                session.wait(std::time::Duration::from_secs(secs)).await?;
                return Ok(None);
            }
            Action::Step(ScriptStep::Ehlo) => Command::Ehlo(self.values.ehlo.clone()),
            Action::Step(ScriptStep::Helo) => Command::Helo(self.values.ehlo.clone()),
            Action::Step(ScriptStep::StartTls) => Command::StartTls,
            Action::Step(ScriptStep::Mail(address)) => {
                let from = address
                    .or_else(|| self.values.from.clone())
                    .unwrap_or_default();
                self.prepare_message(session)?;
                let message = self.upcoming_message();
                let params =
                    self.ext
                        .mail_params(session, &from, &self.values.to, message.as_ref())?;
                Command::Mail { from, params }
            }
            Action::Step(ScriptStep::Rcpt(address)) => {
                let next = session
                    .model()
                    .transaction()
                    .map_or(0, super::model::Transaction::rcpts_attempted);
                let to = address
                    .or_else(|| self.values.to.get(next).cloned())
                    .unwrap_or_default();
                Command::Rcpt {
                    to,
                    params: self.ext.rcpt_params(next),
                }
            }
            Action::Step(ScriptStep::Data) => {
                self.prepare_message(session)?;
                Command::Data
            }
            Action::Step(ScriptStep::Rset) => Command::Rset,
            Action::Step(ScriptStep::Noop) => Command::Noop,
            Action::Step(ScriptStep::Quit) => Command::Quit,
            Action::Step(ScriptStep::Raw(line)) => Command::Raw(line),
        };
        session.command(&command).await.map(Some)
    }

    /// Whether the envelope goes as one PIPELINING group. A group runs through DATA: not when
    /// the run is to stop before it.
    fn group_runs(&mut self, session: &mut Session, stop_after: Option<StopAfter>) -> bool {
        stop_after.is_none_or(|s| s >= StopAfter::Data) && self.ext.pipelined(session)
    }

    /// Whether AUTH may open the PIPELINING group: only AUTH PLAIN with a password, which
    /// completes in one round trip (RFC 4954 §4), to a server that offers it (one that does
    /// not gets AUTH alone, with its warning), and not under `--keep-going`, whose run would
    /// go on to send the message after a failed AUTH.
    fn auth_can_join_group(&self, session: &Session) -> bool {
        self.values.mechanism == super::auth::Mechanism::Plain
            && !self.keep_going
            && session
                .model()
                .capabilities()
                .is_some_and(|c| c.offers_auth("PLAIN"))
            && self
                .values
                .credentials
                .as_ref()
                .is_some_and(|c| !c.is_token())
    }

    /// Whether QUIT may follow the next message in the same group: PIPELINING is in use and
    /// it is the run's last message.
    fn quit_can_follow(&self, session: &Session) -> bool {
        self.started + 1 >= self.batch.count.max(1)
            && super::ext::pipelining::decide(&session.config().ext, session.model().capabilities())
                .0
    }

    /// The message to send, built and linted already or now.
    fn take_message(&mut self) -> Option<MessageSource> {
        self.prepared = false;
        self.next_message
            .take()
            .or_else(|| self.values.message.clone())
    }

    /// The message the next MAIL FROM announces (its SIZE, its BODY=8BITMIME).
    fn upcoming_message(&self) -> Option<MessageSource> {
        self.next_message
            .clone()
            .or_else(|| self.values.message.clone())
    }

    /// Builds the next message (when a composer makes them) and lints it, before MAIL FROM
    /// announces it (or before DATA, for a script without MAIL); once per message.
    fn prepare_message(&mut self, session: &mut Session) -> Result<(), SessionError> {
        if self.prepared {
            return Ok(());
        }
        if let Some(compose) = self.composer.as_mut() {
            let text = compose().map_err(|e| SessionError::MessageSource {
                path: "the composed message".into(),
                source: std::io::Error::other(e),
            })?;
            self.next_message = Some(MessageSource::Text(text));
        }
        if let Some(source) = self.upcoming_message() {
            batch::lint_before_data(session, &source);
        }
        self.prepared = true;
        Ok(())
    }

    /// How far along the flow a step is, on the `--quit-after` scale.
    fn level(&self, step: Step, session: &Session) -> StopAfter {
        match step {
            Step::Connect => StopAfter::Connect,
            Step::Ehlo
                if session.model().tls().is_some()
                    && session.config().tls_mode == TlsMode::Starttls =>
            {
                StopAfter::Tls
            }
            Step::Ehlo => StopAfter::Ehlo,
            Step::StartTls => StopAfter::Tls,
            Step::Auth => StopAfter::Auth,
            Step::Mail => StopAfter::Mail,
            Step::Rcpt => StopAfter::Rcpt,
            _ => StopAfter::Data,
        }
    }
}
