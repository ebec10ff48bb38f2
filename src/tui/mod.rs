//! The interactive debugger: a ratatui front end over the engine.
//!
//! The model ([`app`]) changes only in [`update`] (pure, tested without a terminal), the screen
//! is drawn only by [`view`] (pure render from the model), and [`event_loop`] is the single
//! place that waits on the terminal, the session task and the clock. The engine never imports
//! this module.

pub mod action;
pub mod app;
pub mod aws;
pub(crate) mod content;
pub(crate) mod event_loop;
pub(crate) mod form;
pub mod input;
pub(crate) mod keymap;
pub(crate) mod layout;
pub(crate) mod picker;
pub mod replay;
#[cfg(any(test, feature = "test-support"))]
pub mod sample;
pub mod save;
pub(crate) mod store;
pub(crate) mod terminal;
pub(crate) mod theme;
pub mod update;
pub mod view;

use std::fmt;
use std::path::Path;

use chrono::{Local, Offset};
use crossterm::event::EventStream;
use zeroize::Zeroizing;

use crate::cli::AuthChoice;
use crate::commands::error::CommandError;
use crate::engine::classify::Catalog;
use crate::engine::session::SessionConfig;

use self::action::Action;
use self::app::{App, Prefill};
use self::theme::Theme;
use self::update::Msg;

/// Everything the debugger needs to start: the target and the values that prefill its forms.
pub struct Launch {
    pub config: SessionConfig,
    /// The EHLO name.
    pub ehlo: String,
    pub user: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub auth: AuthChoice,
    pub from: Option<String>,
    pub to: Vec<String>,
    /// What this session is (e.g. the demo scenario), shown in the header.
    pub title: Option<String>,
    /// What to watch for, shown on the notes row, in the diagnosis panel and in the help.
    pub notes: Vec<String>,
    /// Connect at once instead of waiting for Enter or `c`.
    pub autoconnect: bool,
}

impl fmt::Debug for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launch")
            .field("config", &self.config)
            .field("ehlo", &self.ehlo)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("title", &self.title)
            .field("notes", &self.notes)
            .field("autoconnect", &self.autoconnect)
            .finish()
    }
}

impl App {
    /// The model for a live session.
    pub fn from_launch(launch: Launch) -> App {
        let mut app = App::new(
            launch.config,
            Prefill {
                ehlo: launch.ehlo,
                user: launch.user,
                password: launch.password,
                auth: launch.auth,
                from: launch.from,
                to: launch.to,
            },
        );
        app.title = launch.title;
        app.notes = launch.notes;
        app
    }
}

fn local_setup(app: &mut App) {
    app.theme = Theme::from_env();
    app.offset = Local::now().offset().fix();
}

/// The configured palette (under `NO_COLOR`'s rule) and keys.
pub(crate) fn apply_ui(app: &mut App, ui: &UiSettings) {
    if let Some(p) = ui.palette {
        app.theme = Theme::with_palette(p);
    }
    if let Some(k) = &ui.keymap {
        app.keymap.clone_from(k);
    }
}

/// Opens the debugger on a live target and runs it until the user leaves.
pub async fn run(launch: Launch) -> std::io::Result<()> {
    run_with(launch, None).await
}

/// Colours and keys from the configuration file ([`crate::config`]).
#[derive(Debug, Clone, Default)]
pub struct UiSettings {
    /// The palette (`[theme]`); `NO_COLOR` still drops every colour.
    pub palette: Option<theme::Palette>,
    /// The main screen's bindings (`[keys]`), already checked for clashes.
    pub keymap: Option<Vec<keymap::Binding>>,
}

/// [`run`] with the configured colours, keys and targets (for `T`), and AWS API credentials
/// from `--aws-profile` (or the environment) for `A`. Returns true when the user left to pick
/// another target.
pub async fn run_configured(
    launch: Launch,
    ui: UiSettings,
    targets: Vec<String>,
    aws_profile: Option<String>,
) -> std::io::Result<bool> {
    run_inner(
        launch,
        None,
        &ui,
        targets,
        aws::AwsAccess::detect(aws_profile),
    )
    .await
}

/// The picker of the configuration file's targets: (name, summary) each; the index chosen.
pub async fn pick_target(choices: Vec<(String, String)>) -> std::io::Result<Option<usize>> {
    picker::pick(picker::Picker {
        title: "Which target? (from the configuration file)".into(),
        choices: choices
            .into_iter()
            .map(|(name, summary)| picker::Choice { name, summary })
            .collect(),
        selected: 0,
    })
    .await
}

/// [`run`], with messages from the in-process simulator (`smtpscope demo`): its IAM
/// decisions, which explain its 554s.
pub(crate) async fn run_with(
    launch: Launch,
    simulator: Option<tokio::sync::mpsc::Receiver<Msg>>,
) -> std::io::Result<()> {
    run_inner(
        launch,
        simulator,
        &UiSettings::default(),
        Vec::new(),
        aws::AwsAccess::detect(None),
    )
    .await
    .map(|_| ())
}

async fn run_inner(
    launch: Launch,
    simulator: Option<tokio::sync::mpsc::Receiver<Msg>>,
    ui: &UiSettings,
    targets: Vec<String>,
    aws: Option<aws::AwsAccess>,
) -> std::io::Result<bool> {
    let autoconnect = launch.autoconnect;
    let mut app = App::from_launch(launch);
    app.targets = targets;
    app.aws = aws;
    if simulator.is_some() {
        app.sim_iam = Some(Vec::new());
    }
    local_setup(&mut app);
    apply_ui(&mut app, ui);
    let first = if autoconnect {
        vec![Msg::Action(Action::Connect)]
    } else {
        Vec::new()
    };
    let (mut terminal, guard) = terminal::init()?;
    let result = event_loop::run(
        &mut terminal,
        &mut app,
        true,
        EventStream::new(),
        first,
        simulator,
    )
    .await;
    drop(guard);
    result.map(|()| app.switch_target)
}

/// Opens a saved `.jsonl` transcript read-only, classified again with the built-in catalog.
/// A file that cannot be read is the user's to fix; a terminal that fails is not.
pub async fn replay(path: &Path) -> Result<(), CommandError> {
    let entries = replay::load(path).await.map_err(CommandError::usage)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut app = replay::app_for(entries, &name, Catalog::builtin());
    local_setup(&mut app);
    let terminal_error = |e| CommandError::environment(e).context("terminal");
    let (mut terminal, guard) = terminal::init().map_err(terminal_error)?;
    let result = event_loop::run(
        &mut terminal,
        &mut app,
        false,
        EventStream::new(),
        Vec::new(),
        None,
    )
    .await
    .map_err(terminal_error);
    drop(guard);
    result
}
