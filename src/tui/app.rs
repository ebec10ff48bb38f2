//! The model: everything the screen shows and every choice the user made, as plain data.
//! `update` changes it; `view` draws it; neither does I/O.

use std::fmt;

use chrono::{DateTime, FixedOffset, Offset, Utc};
use zeroize::Zeroizing;

use super::form::Form;
use super::store::Store;
use super::theme::Theme;
use crate::cli::AuthChoice;
use crate::engine::iam::Authorization;
use crate::engine::message::Draft;
use crate::engine::model::{Plan, SessionModel, Step, next_step};
use crate::engine::session::SessionConfig;
use crate::engine::transcript::{Entry, EntryKind};
use crate::engine::transport::TlsMode;

/// Decisions of the in-process simulator kept for the screen, at most.
pub(crate) const SIM_DECISIONS_KEPT: usize = 32;

/// One IAM decision of the in-process simulator (`smtpscope demo`), and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDecision {
    pub time: DateTime<Utc>,
    pub authorization: Authorization,
}

/// Ticks the app waits for the server's reply to QUIT before leaving anyway.
pub(crate) const QUIT_WAIT_TICKS: u32 = 12;

/// Values from flags and the environment that prefill the forms and drive Next.
#[derive(Clone, Default)]
pub struct Prefill {
    pub ehlo: String,
    pub user: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub auth: AuthChoice,
    pub from: Option<String>,
    pub to: Vec<String>,
}

impl fmt::Debug for Prefill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prefill")
            .field("ehlo", &self.ehlo)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

/// Which overlay covers the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlay {
    #[default]
    None,
    Help,
    Certificate,
}

/// How a status message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// The one-line message above the buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub level: Level,
    pub text: String,
    /// The [`App::epoch`] it was set in: a status belongs to that state and goes with it.
    pub epoch: u64,
}

/// A message the TUI composed and sent: its first bytes, to show under its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub text: String,
    /// The message was longer than the copy.
    pub truncated: bool,
}

/// What the selection in the transcript follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Follow {
    /// Each new reply is selected as it comes.
    #[default]
    Latest,
    /// The reply that decided the verdict stays selected: a later QUIT, 221, idle timeout or
    /// reconnect does not replace it. Ends when the user selects something else, presses End
    /// or c, or a later success settles that failure.
    Decisive,
    /// The user put the selection where it is (↑, a click, Home); it stays there.
    User,
}

/// The whole state of the TUI.
pub struct App {
    pub config: SessionConfig,
    /// The main screen's key bindings: the defaults, or as the configuration file says.
    pub keymap: Vec<super::keymap::Binding>,
    pub prefill: Prefill,
    /// What this session is (set by `smtpscope demo`), shown in the header.
    pub title: Option<String>,
    /// What to watch for, shown until the first reply and in the help.
    pub notes: Vec<String>,
    /// What the server knows: the engine's session model, folded from the same entries.
    pub session: SessionModel,
    pub store: Store,
    /// A request was sent and its state snapshot has not come back yet.
    pub busy: bool,
    pub busy_ticks: u32,
    /// The top transcript row when the user has scrolled; `None` follows the tail.
    pub scroll: Option<u64>,
    /// Columns of the transcript text scrolled off to the left.
    pub hscroll: u16,
    /// The selected entry (a reply, a warning or an error) when not following the latest.
    pub selected: Option<usize>,
    /// What the selection follows.
    pub follow: Follow,
    /// The `seq` of the entry that decided the verdict, once the selection has been taken to
    /// it (so that leaving it, with End or `c`, is not undone by the next entry).
    pub decided_seq: Option<u64>,
    pub diagnosis_scroll: u16,
    pub overlay: Overlay,
    pub overlay_scroll: u16,
    pub form: Option<Form>,
    pub status: Option<Status>,
    /// Counts the entries that change the session's state (a reply, an error, a connection
    /// opened or closed). A status line set before the latest of them is stale.
    pub epoch: u64,
    /// The one-time hint about scrolling the diagnosis ("more: ]") has been shown.
    pub overflow_hinted: bool,
    pub reveal_user: bool,
    /// The terminal's mouse capture is on (M turns it off for the terminal's own selection).
    pub mouse_capture: bool,
    /// Set in `smtpscope replay`: the source file's name; nothing can be sent.
    pub read_only: Option<String>,
    /// The terminal size, for paging and mouse hit tests.
    pub size: (u16, u16),
    /// Ticks left to wait for QUIT's reply before leaving.
    pub quitting: Option<u32>,
    /// A composed message waiting for the 354 to its DATA.
    pub pending_message: Option<String>,
    /// The code of the reply to that DATA, once it came; the message goes (or is dropped)
    /// with the state snapshot that follows it, not with an earlier idle snapshot.
    pub pending_answer: Option<u16>,
    /// A bounded copy of the message just sent, until its `<message …>` entry comes.
    pub outgoing: Option<SentMessage>,
    /// Bounded copies of the messages sent, by their entry's `seq` (the latest few).
    pub messages: std::collections::VecDeque<(u64, SentMessage)>,
    /// The message Next sends after 354 (the composer's last draft, else the default).
    pub draft: Option<Draft>,
    /// A message composed before MAIL FROM, kept until it is sent: MAIL FROM declares its
    /// size and 8-bit body (SIZE=, BODY=8BITMIME), and Next (after 354) or `b` (BDAT) sends it.
    pub held: Option<String>,
    /// Why the connection closed, when it did without the user asking.
    pub closed_reason: Option<String>,
    /// The latest error (a timeout, a TLS failure…) until the next reply or connection.
    pub alert: Option<String>,
    pub theme: Theme,
    /// Times are shown in this offset (local time; UTC in tests).
    pub offset: FixedOffset,
    pub tick_ms: u64,
    pub should_quit: bool,
    /// The configuration file's targets, for `T` (empty: nothing to switch to).
    pub targets: Vec<String>,
    /// Set when the user left to pick another target.
    pub switch_target: bool,
    /// Something visible changed since the last frame.
    pub dirty: bool,
    /// The in-process simulator's IAM decisions, oldest first (`smtpscope demo`); `None` when
    /// the session is not against it, and the IAM policy is out of smtpscope's sight.
    pub sim_iam: Option<Vec<SimDecision>>,
    /// AWS API credentials for `A` (the AWS check); `None` when there are none.
    pub aws: Option<super::aws::AwsAccess>,
    /// The latest AWS check of this session.
    pub aws_check: Option<super::aws::AwsCheckState>,
}

impl App {
    pub fn new(config: SessionConfig, prefill: Prefill) -> App {
        App {
            config,
            prefill,
            title: None,
            notes: Vec::new(),
            session: SessionModel::default(),
            store: Store::new(),
            busy: false,
            busy_ticks: 0,
            scroll: None,
            hscroll: 0,
            selected: None,
            follow: Follow::Latest,
            decided_seq: None,
            diagnosis_scroll: 0,
            overlay: Overlay::None,
            overlay_scroll: 0,
            form: None,
            status: None,
            epoch: 0,
            overflow_hinted: false,
            reveal_user: false,
            mouse_capture: true,
            read_only: None,
            size: (80, 24),
            quitting: None,
            pending_message: None,
            pending_answer: None,
            draft: None,
            held: None,
            outgoing: None,
            messages: std::collections::VecDeque::default(),
            closed_reason: None,
            alert: None,
            theme: Theme::new(true),
            keymap: super::keymap::NORMAL.to_vec(),
            offset: Utc.fix(),
            tick_ms: 250,
            should_quit: false,
            targets: Vec::new(),
            switch_target: false,
            dirty: true,
            sim_iam: None,
            aws: None,
            aws_check: None,
        }
    }

    /// The standard flow this session follows.
    pub(crate) fn plan(&self) -> Plan {
        Plan {
            tls_mode: self.config.tls_mode,
            auth: self.prefill.auth != AuthChoice::None,
            recipients: self.prefill.to.len().max(1),
            reconnect_once: true,
            messages: 1,
        }
    }

    /// What Next would do now.
    pub fn next_step(&self) -> Option<Step> {
        next_step(&self.session, &self.plan())
    }

    /// The entry the diagnosis panel explains.
    pub(crate) fn explained(&self) -> Option<usize> {
        match self.follow {
            Follow::Latest => self.store.last_mark(),
            Follow::Decisive | Follow::User => self.selected.or_else(|| self.store.last_mark()),
        }
    }

    /// The simulator's decision behind a `554 Access denied` entry: the latest one made before
    /// the reply came for the same user, action and resource (the parts the 554 names).
    pub(crate) fn sim_decision_for(&self, entry: &Entry) -> Option<&Authorization> {
        let EntryKind::Reply(r) = &entry.kind else {
            return None;
        };
        let detail = |key: &str| {
            r.class
                .diagnosis
                .details
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let (user, action, resource) =
            (detail("User ARN")?, detail("Action")?, detail("Resource")?);
        self.sim_iam
            .as_ref()?
            .iter()
            .rev()
            .filter(|d| d.time <= entry.time)
            .map(|d| &d.authorization)
            .find(|a| a.user_arn == user && a.action == action && a.resource == resource)
    }

    /// Credentials would cross the network readable: connected and no TLS.
    pub(crate) fn auth_in_clear(&self) -> bool {
        self.session.connected() && self.session.tls().is_none()
    }

    pub(crate) fn host_port(&self) -> String {
        if self.config.host.contains(':') {
            format!("[{}]:{}", self.config.host, self.config.port)
        } else {
            format!("{}:{}", self.config.host, self.config.port)
        }
    }

    /// The message Next sends after 354.
    pub(crate) fn message_draft(&self) -> Draft {
        self.draft.clone().unwrap_or_else(|| {
            Draft::default_for(self.prefill.from.as_deref().unwrap_or(""), &self.prefill.to)
        })
    }

    pub(crate) fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status {
            level,
            text: text.into(),
            epoch: self.epoch,
        });
    }

    /// The status line, unless the state it was about has ended.
    pub(crate) fn current_status(&self) -> Option<&Status> {
        self.status.as_ref().filter(|s| s.epoch == self.epoch)
    }

    pub(crate) fn tls_mode_name(&self) -> &'static str {
        match self.config.tls_mode {
            TlsMode::Starttls => "STARTTLS",
            TlsMode::Implicit => "implicit TLS",
            TlsMode::None => "no TLS",
        }
    }
}
