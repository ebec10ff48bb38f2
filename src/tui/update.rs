//! The pure heart of the TUI: `update(&mut App, Msg) -> Vec<Effect>`. No I/O happens here;
//! what must reach the network or the disk leaves as an [`Effect`] for the event loop.

use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::command::{Command, Verb, check_address, check_arg};
use crate::engine::driver::Request;
use crate::engine::message::Draft;
use crate::engine::session::{Event, MessageSource};
use crate::engine::state::{SessionState, Step};
use crate::engine::transcript::{Entry, EntryKind};

use super::action::{Action, FormAction};
use super::app::{App, Level, Overlay, QUIT_WAIT_TICKS};
use super::form::{Field, Form, FormKind};
use super::layout;
use super::store::rows_of;

/// Everything that can change the model.
#[derive(Debug)]
pub enum Msg {
    Action(Action),
    Engine(Event),
    /// The session task has ended (after QUIT on leaving, or because it failed).
    EngineClosed,
    Resize(u16, u16),
    Tick,
    /// The outcome of a save: the file names, or why it failed.
    Saved(Result<Vec<String>, String>),
    /// Text pasted into the open form (bracketed paste).
    Paste(String),
}

/// What the event loop must do after an update.
#[derive(Debug)]
pub enum Effect {
    Send(Request),
    /// Write the transcript to files.
    Save,
    /// Abandon the session task (stuck on a slow server) and start a fresh one.
    RestartDriver,
    Quit,
}

/// Applies one message to the model.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Action(action) => {
            app.dirty = true;
            on_action(app, action)
        }
        Msg::Engine(Event::Entry(entry)) => {
            on_entry(app, entry);
            Vec::new()
        }
        Msg::Engine(Event::State(state)) => on_state(app, *state),
        Msg::EngineClosed => {
            app.busy = false;
            app.dirty = true;
            if app.quitting.is_some() {
                app.should_quit = true;
                vec![Effect::Quit]
            } else {
                app.set_status(
                    Level::Error,
                    "The session task has ended; c (or Enter) starts a new one",
                );
                Vec::new()
            }
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            app.dirty = true;
            let top = top_row(app);
            set_top(app, top);
            Vec::new()
        }
        Msg::Tick => on_tick(app),
        Msg::Paste(text) => {
            if let Some(form) = &mut app.form {
                if let Some(f) = form.focused() {
                    f.paste(&text);
                }
                form.error = None;
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::Saved(result) => {
            app.dirty = true;
            match result {
                Ok(names) => app.set_status(
                    Level::Info,
                    format!("Saved (redacted): {}", names.join(" and ")),
                ),
                Err(e) => app.set_status(Level::Error, format!("Save failed: {e}")),
            }
            Vec::new()
        }
    }
}

fn on_tick(app: &mut App) -> Vec<Effect> {
    if app.busy {
        app.busy_ticks += 1;
        app.dirty = true;
    }
    match app.quitting {
        Some(0) => {
            app.should_quit = true;
            vec![Effect::Quit]
        }
        Some(n) => {
            app.quitting = Some(n - 1);
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn on_entry(app: &mut App, entry: Entry) {
    match &entry.kind {
        EntryKind::Reply(r) if r.after == Some(Verb::Data) && app.pending_message.is_some() => {
            app.pending_answer = Some(r.code);
        }
        EntryKind::Connecting { .. } => {
            // A new connection: a message composed for the old one must not follow.
            app.closed_reason = None;
            app.pending_message = None;
            app.pending_answer = None;
        }
        EntryKind::Connected { .. } => app.closed_reason = None,
        EntryKind::Closed { reason } => app.closed_reason = Some(reason.clone()),
        _ => {}
    }
    app.store.push(entry);
    app.dirty = true;
}

fn on_state(app: &mut App, state: SessionState) -> Vec<Effect> {
    app.session = state;
    app.busy = false;
    app.busy_ticks = 0;
    app.dirty = true;
    let Some(code) = app.pending_answer.take() else {
        return Vec::new();
    };
    if let Some(text) = app.pending_message.take() {
        if code == 354 && app.session.data_started {
            return send(app, Request::Message(MessageSource::Text(text)));
        }
        app.set_status(
            Level::Warning,
            format!("DATA got {code}, not 354, so the composed message was not sent"),
        );
    }
    Vec::new()
}

/// Sends a request and marks the app busy until the session's next state snapshot.
fn send(app: &mut App, request: Request) -> Vec<Effect> {
    app.busy = true;
    app.busy_ticks = 0;
    vec![Effect::Send(request)]
}

fn command(app: &mut App, cmd: Command) -> Vec<Effect> {
    send(app, Request::Command(cmd))
}

fn on_action(app: &mut App, action: Action) -> Vec<Effect> {
    if let Some(name) = &app.read_only
        && action.sends()
    {
        let text = format!("{name} is a saved session (read-only): nothing can be sent");
        app.set_status(Level::Warning, text);
        return Vec::new();
    }
    if app.quitting.is_some() && action != Action::Quit {
        return Vec::new();
    }
    if app.overlay != Overlay::None && navigate_overlay(app, action) {
        return Vec::new();
    }
    match action {
        Action::Form(f) => on_form(app, f),
        Action::Close => {
            app.form = None;
            app.overlay = Overlay::None;
            Vec::new()
        }
        Action::Quit => quit(app),
        Action::ToggleHelp => {
            toggle_overlay(app, Overlay::Help);
            Vec::new()
        }
        Action::ToggleCertificate => {
            if app.session.tls.is_none() && app.store.last_chain().is_none() {
                app.set_status(Level::Info, "No certificate yet: TLS has not started");
            } else {
                toggle_overlay(app, Overlay::Certificate);
            }
            Vec::new()
        }
        Action::Save => {
            if app.store.is_empty() {
                app.set_status(Level::Info, "Nothing to save yet");
                Vec::new()
            } else {
                vec![Effect::Save]
            }
        }
        Action::RevealUser => {
            app.reveal_user = !app.reveal_user;
            let text = if app.reveal_user {
                "AUTH lines show the decoded user name (never the password); u hides it"
            } else {
                "AUTH lines hide the user name again"
            };
            app.set_status(Level::Info, text);
            Vec::new()
        }
        Action::Connect => connect(app),
        Action::Ehlo => {
            let name = app.prefill.ehlo.clone();
            command(app, Command::Ehlo(name))
        }
        Action::StartTls => command(app, Command::StartTls),
        Action::AuthPlain => open_auth(app, Mechanism::Plain),
        Action::AuthLogin => open_auth(app, Mechanism::Login),
        Action::MailFrom => open_mail(app, None),
        Action::RcptTo => open_rcpt(app, None),
        Action::Data => open_compose(app),
        Action::Rset => command(app, Command::Rset),
        Action::Noop => command(app, Command::Noop),
        Action::SmtpQuit => command(app, Command::Quit),
        Action::Raw => {
            app.form = Some(Form::new(FormKind::Raw, vec![Field::new("Line", "")]));
            Vec::new()
        }
        Action::Next => next(app),
        nav => {
            navigate(app, nav);
            Vec::new()
        }
    }
}

fn toggle_overlay(app: &mut App, which: Overlay) {
    app.overlay = if app.overlay == which {
        Overlay::None
    } else {
        which
    };
    app.overlay_scroll = 0;
}

/// Scroll keys move the open overlay rather than the transcript.
fn navigate_overlay(app: &mut App, action: Action) -> bool {
    let page = i32::from(layout::overlay_rows(app).saturating_sub(1).max(1));
    let delta = match action {
        Action::Scroll(n) => n,
        Action::PageUp => -page,
        Action::PageDown => page,
        Action::Top => {
            app.overlay_scroll = 0;
            return true;
        }
        _ => return false,
    };
    let next = i32::from(app.overlay_scroll) + delta;
    app.overlay_scroll = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
    true
}

fn quit(app: &mut App) -> Vec<Effect> {
    let connected = app.session.connected && !app.session.quit_sent;
    if app.quitting.is_some() || !connected || app.read_only.is_some() {
        app.should_quit = true;
        return vec![Effect::Quit];
    }
    app.quitting = Some(QUIT_WAIT_TICKS);
    app.form = None;
    app.overlay = Overlay::None;
    app.set_status(
        Level::Info,
        "Sending QUIT before leaving… (q again leaves at once)",
    );
    vec![Effect::Send(Request::Shutdown)]
}

fn connect(app: &mut App) -> Vec<Effect> {
    app.closed_reason = None;
    app.pending_message = None;
    app.pending_answer = None;
    let mut effects = Vec::new();
    if app.busy {
        effects.push(Effect::RestartDriver);
        app.set_status(
            Level::Warning,
            "Abandoned the request that was still waiting; reconnecting",
        );
    }
    effects.extend(send(app, Request::Connect));
    effects
}

/// Performs the next step of the standard flow; opens a form only for what is missing.
fn next(app: &mut App) -> Vec<Effect> {
    if app.busy {
        app.set_status(
            Level::Info,
            "Still waiting for the server; Next goes on once the reply is in (c reconnects)",
        );
        return Vec::new();
    }
    let Some(step) = app.next_step() else {
        app.set_status(
            Level::Info,
            "The session is complete: c connects again, w saves, q leaves",
        );
        return Vec::new();
    };
    match step {
        Step::Connect => send(app, Request::Connect),
        Step::Ehlo | Step::EhloTls => {
            let name = app.prefill.ehlo.clone();
            command(app, Command::Ehlo(name))
        }
        Step::StartTls => command(app, Command::StartTls),
        Step::Auth => {
            let mechanism = app.prefill.auth.mechanism().unwrap_or(Mechanism::Plain);
            match (&app.prefill.user, &app.prefill.password) {
                (Some(user), Some(password)) if !app.auth_in_clear() => {
                    match Credentials::new(user, password.clone()) {
                        Ok(credentials) => send(
                            app,
                            Request::Auth {
                                mechanism,
                                credentials,
                                initial_response: true,
                            },
                        ),
                        Err(e) => {
                            let effects = open_auth(app, mechanism);
                            set_form_error(app, e.to_string());
                            effects
                        }
                    }
                }
                _ => open_auth(app, mechanism),
            }
        }
        Step::Mail => match app.prefill.from.clone() {
            Some(from) => mail(app, from),
            None => open_mail(app, None),
        },
        Step::Rcpt => match app.prefill.to.get(app.session.rcpts_sent).cloned() {
            Some(to) => rcpt(app, to),
            None => open_rcpt(app, None),
        },
        Step::Data => command(app, Command::Data),
        Step::Dot => {
            let text = app.message_draft().render();
            send(app, Request::Message(MessageSource::Text(text)))
        }
        Step::Quit => command(app, Command::Quit),
    }
}

fn set_form_error(app: &mut App, error: String) {
    if let Some(form) = &mut app.form {
        form.error = Some(error);
    }
}

fn mail(app: &mut App, from: String) -> Vec<Effect> {
    if let Err(e) = check_address("MAIL FROM address", &from) {
        return open_mail(app, Some(e.to_string()));
    }
    command(
        app,
        Command::Mail {
            from,
            params: Vec::new(),
        },
    )
}

fn rcpt(app: &mut App, to: String) -> Vec<Effect> {
    let checked = check_address("RCPT TO address", &to).map_err(|e| e.to_string());
    let checked = checked.and_then(|()| {
        if to.is_empty() {
            Err("RCPT TO address is empty".to_string())
        } else {
            Ok(())
        }
    });
    if let Err(e) = checked {
        return open_rcpt(app, Some(e));
    }
    command(
        app,
        Command::Rcpt {
            to,
            params: Vec::new(),
        },
    )
}

const NO_TLS_WARNING: &str = "No TLS on this connection: the password would cross the network readable by anyone on the path. s starts TLS; sending anyway is allowed (e.g. to see the server's 530).";

fn open_auth(app: &mut App, mechanism: Mechanism) -> Vec<Effect> {
    let user = app.prefill.user.clone().unwrap_or_default();
    let password = app.prefill.password.clone().unwrap_or_default();
    let mut form = Form::new(
        FormKind::Auth(mechanism),
        vec![
            Field::new("User", &user),
            Field::secret("Password", &password),
        ],
    )
    .focus_first_empty();
    if app.auth_in_clear() {
        form.warning = Some(NO_TLS_WARNING.into());
    } else if !app.session.connected {
        form.warning = Some("Not connected: the engine will refuse to send (c connects)".into());
    }
    app.form = Some(form);
    Vec::new()
}

fn open_mail(app: &mut App, error: Option<String>) -> Vec<Effect> {
    let from = app.prefill.from.clone().unwrap_or_default();
    let mut form = Form::new(FormKind::Mail, vec![Field::new("Sender", &from)]);
    form.error = error;
    app.form = Some(form);
    Vec::new()
}

fn open_rcpt(app: &mut App, error: Option<String>) -> Vec<Effect> {
    let to = app
        .prefill
        .to
        .get(app.session.rcpts_sent)
        .or(app.prefill.to.first())
        .cloned()
        .unwrap_or_default();
    let mut form = Form::new(FormKind::Rcpt, vec![Field::new("Recipient", &to)]);
    form.error = error;
    app.form = Some(form);
    Vec::new()
}

fn open_compose(app: &mut App) -> Vec<Effect> {
    let draft = app.message_draft();
    let form = Form::new(
        FormKind::Compose,
        vec![
            Field::new("From", &draft.from),
            Field::new("To", &draft.to.join(", ")),
            Field::new("Subject", &draft.subject),
            Field::multiline("Body", &draft.body),
        ],
    )
    .focus_first_empty();
    app.form = Some(form);
    Vec::new()
}

fn on_form(app: &mut App, action: FormAction) -> Vec<Effect> {
    let Some(form) = &mut app.form else {
        return Vec::new();
    };
    let compose = form.kind == FormKind::Compose;
    match action {
        FormAction::Cancel => {
            app.form = None;
            return Vec::new();
        }
        FormAction::Submit => return submit(app),
        FormAction::NextField => form.next_field(),
        FormAction::PreviousField => form.previous_field(),
        FormAction::Enter => {
            let multiline = form.focused().is_some_and(|f| f.multiline);
            if multiline {
                if let Some(f) = form.focused() {
                    f.insert('\n');
                }
            } else if compose {
                form.next_field();
            } else {
                return submit(app);
            }
        }
        FormAction::Up => {
            if !form.focused().is_some_and(|f| f.multiline && f.up()) {
                form.previous_field();
            }
        }
        FormAction::Down => {
            if !form.focused().is_some_and(|f| f.multiline && f.down()) {
                form.next_field();
            }
        }
        edit => {
            if let Some(f) = form.focused() {
                match edit {
                    FormAction::Insert(c) => f.insert(c),
                    FormAction::Backspace => f.backspace(),
                    FormAction::Delete => f.delete(),
                    FormAction::Left => f.left(),
                    FormAction::Right => f.right(),
                    FormAction::Home => f.home(),
                    FormAction::End => f.end(),
                    _ => {}
                }
            }
            form.error = None;
        }
    }
    Vec::new()
}

/// Validates the open form; sends on success, keeps it open with the reason otherwise.
fn submit(app: &mut App) -> Vec<Effect> {
    let Some(form) = app.form.take() else {
        return Vec::new();
    };
    let result = match form.kind {
        FormKind::Auth(mechanism) => submit_auth(app, &form, mechanism),
        FormKind::Mail => {
            let from = form.value(0).trim().to_string();
            check_address("MAIL FROM address", &from)
                .map_err(|e| (0, e.to_string()))
                .map(|()| {
                    app.prefill.from = Some(from.clone());
                    command(
                        app,
                        Command::Mail {
                            from,
                            params: Vec::new(),
                        },
                    )
                })
        }
        FormKind::Rcpt => {
            let to = form.value(0).trim().to_string();
            match check_address("RCPT TO address", &to) {
                Err(e) => Err((0, e.to_string())),
                Ok(()) if to.is_empty() => Err((0, "RCPT TO address is empty".into())),
                Ok(()) => {
                    if app.prefill.to.is_empty() {
                        app.prefill.to.push(to.clone());
                    }
                    Ok(command(
                        app,
                        Command::Rcpt {
                            to,
                            params: Vec::new(),
                        },
                    ))
                }
            }
        }
        FormKind::Compose => submit_compose(app, &form),
        FormKind::Raw => {
            let line = form.value(0).to_string();
            match check_arg("raw command", &line) {
                Err(e) => Err((0, e.to_string())),
                Ok(()) if line.trim().is_empty() => Err((0, "the line is empty".into())),
                Ok(()) => Ok(command(app, Command::Raw(line))),
            }
        }
    };
    match result {
        Ok(effects) => effects,
        Err((field, error)) => {
            let mut form = form;
            form.focus = field;
            form.error = Some(error);
            app.form = Some(form);
            Vec::new()
        }
    }
}

type Submitted = Result<Vec<Effect>, (usize, String)>;

fn submit_auth(app: &mut App, form: &Form, mechanism: Mechanism) -> Submitted {
    let user = form.value(0).to_string();
    if user.is_empty() {
        return Err((0, "the user name is empty".into()));
    }
    let password = form
        .fields
        .get(1)
        .map(Field::secret_value)
        .unwrap_or_default();
    if password.is_empty() {
        return Err((1, "the password is empty".into()));
    }
    let credentials = Credentials::new(&user, password.clone()).map_err(|e| (0, e.to_string()))?;
    app.prefill.user = Some(user);
    app.prefill.password = Some(password);
    Ok(send(
        app,
        Request::Auth {
            mechanism,
            credentials,
            initial_response: true,
        },
    ))
}

fn submit_compose(app: &mut App, form: &Form) -> Submitted {
    let from = form.value(0).trim().to_string();
    if from.is_empty() {
        return Err((0, "From is empty".into()));
    }
    check_address("From", &from).map_err(|e| (0, e.to_string()))?;
    let to: Vec<String> = form
        .value(1)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if to.is_empty() {
        return Err((1, "To is empty".into()));
    }
    for t in &to {
        check_address("To", t).map_err(|e| (1, e.to_string()))?;
    }
    let subject = form.value(2).to_string();
    // A CR or LF in the subject would start a new header.
    check_arg("Subject", &subject).map_err(|e| (2, e.to_string()))?;
    let draft = Draft {
        from,
        to,
        subject,
        body: form.value(3).to_string(),
    };
    let text = draft.render();
    app.draft = Some(draft);
    if app.session.data_started {
        return Ok(send(app, Request::Message(MessageSource::Text(text))));
    }
    app.pending_message = Some(text);
    app.set_status(
        Level::Info,
        "DATA sent; the message follows when the server answers 354",
    );
    Ok(command(app, Command::Data))
}

// ---- navigation -------------------------------------------------------------------------

/// Rows the transcript shows.
pub fn view_rows(app: &App) -> u64 {
    let areas = layout::compute(layout::screen(app.size), app);
    u64::from(areas.transcript.height)
}

fn max_top(app: &App) -> u64 {
    app.store.total_rows().saturating_sub(view_rows(app))
}

/// The first transcript row on screen.
pub fn top_row(app: &App) -> u64 {
    let max = max_top(app);
    app.scroll.map_or(max, |t| t.min(max))
}

/// Scrolls to `top`; reaching the bottom resumes following the tail.
fn set_top(app: &mut App, top: u64) {
    let max = max_top(app);
    app.scroll = (top < max).then_some(top);
}

fn select(app: &mut App, idx: Option<usize>) {
    // Selecting the latest reply is the same as following it.
    app.selected = idx.filter(|&i| Some(i) != app.store.last_mark());
    app.diagnosis_scroll = 0;
    if let Some(i) = idx {
        ensure_visible(app, i);
    }
}

fn ensure_visible(app: &mut App, idx: usize) {
    let Some(entry) = app.store.get(idx) else {
        return;
    };
    let start = app.store.start_row(idx);
    let end = start + rows_of(entry);
    let view = view_rows(app).max(1);
    let top = top_row(app);
    if start < top {
        set_top(app, start);
    } else if end > top + view {
        set_top(app, end.saturating_sub(view));
    }
}

fn navigate(app: &mut App, action: Action) {
    let page = i64::try_from(view_rows(app).saturating_sub(1).max(1)).unwrap_or(1);
    let scroll_by = |app: &mut App, delta: i64| {
        let top = i64::try_from(top_row(app)).unwrap_or(i64::MAX);
        let next = u64::try_from(top.saturating_add(delta).max(0)).unwrap_or(0);
        set_top(app, next);
    };
    match action {
        Action::SelectPrevious => {
            let from = app.explained();
            if let Some(i) = from.and_then(|f| app.store.previous_mark(Some(f))) {
                select(app, Some(i));
            }
        }
        Action::SelectNext => {
            if let Some(i) = app.selected {
                let next = app.store.next_mark(i);
                select(app, next);
            }
        }
        Action::PageUp => scroll_by(app, -page),
        Action::PageDown => scroll_by(app, page),
        Action::Scroll(n) => scroll_by(app, i64::from(n)),
        Action::Top => app.scroll = (max_top(app) > 0).then_some(0),
        Action::Bottom => {
            app.scroll = None;
            app.selected = None;
            app.diagnosis_scroll = 0;
        }
        Action::ScrollLeft => app.hscroll = app.hscroll.saturating_sub(8),
        Action::ScrollRight => app.hscroll = app.hscroll.saturating_add(8).min(2000),
        Action::ScrollDiagnosis(n) => {
            let next = i32::from(app.diagnosis_scroll) + n;
            app.diagnosis_scroll = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
        }
        Action::ClickTranscript(row) => {
            let at = top_row(app) + u64::from(row);
            if let Some((idx, _)) = app.store.locate(at)
                && app.store.is_mark(idx)
            {
                select(app, Some(idx));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
