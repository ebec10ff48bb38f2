//! The pure heart of the TUI: `update(&mut App, Msg) -> Vec<Effect>`. No I/O happens here;
//! what must reach the network or the disk leaves as an [`Effect`] for the event loop.

use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::command::{Command, Verb};
use crate::engine::driver::Request;
use crate::engine::escape::{escape_bytes, escape_str};
use crate::engine::model::{SessionModel, Step};
use crate::engine::session::{Event, MessageSource};
use crate::engine::transcript::{Entry, EntryKind};
use crate::engine::transport::CertInfo;

mod ext;
mod forms;
mod navigate;

use super::action::Action;
use super::app::{
    App, Level, Overlay, QUIT_WAIT_TICKS, SIM_DECISIONS_KEPT, SentMessage, SimDecision,
};
use super::form::{Field, Form, FormKind};
use super::layout;

use self::forms::{
    mail, on_form, open_auth, open_compose, open_mail, open_rcpt, rcpt, set_form_error,
};
use self::navigate::{follow_latest, navigate, set_top};
pub(crate) use self::navigate::{top_row, track_decisive};

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
    /// The outcome of writing the certificate chain as PEM: the file name, or why not.
    ChainExported(Result<String, String>),
    /// Text pasted into the open form (bracketed paste).
    Paste(String),
    /// An IAM decision of the in-process simulator (`smtpscope demo`), made after a final
    /// "." on its side, for the 554 that follows to be explained with.
    SimDecision(Box<SimDecision>),
    /// The event loop could not carry out an effect.
    EffectFailed(EffectFailure),
    /// A frame showing the model as it is now has been drawn.
    Drawn,
    /// The AWS check (`A`) finished: the diagnosis as lines, or why it could not run.
    AwsChecked(Result<Vec<String>, String>),
}

/// Why an effect was not carried out; reported back so that `update` stays the only writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectFailure {
    /// The request queue is full behind a slow server: the request was dropped.
    QueueFull,
    /// The session task has ended: the request had nowhere to go.
    SessionEnded,
    /// Writing the OSC 52 sequence to the terminal failed.
    Copy,
    /// Changing the terminal's mouse capture failed.
    MouseCapture,
}

/// What the event loop must do after an update.
#[derive(Debug)]
pub enum Effect {
    Send(Request),
    /// Write these entries (the transcript so far) to files.
    Save {
        entries: Vec<Entry>,
        reveal_user: bool,
    },
    /// Write this certificate chain to a new PEM file.
    ExportChain(Vec<CertInfo>),
    /// Abandon the session task (stuck on a slow server) and start a fresh one.
    RestartDriver,
    /// Put this text on the terminal's clipboard (OSC 52). Never a password: it comes from
    /// the transcript, where AUTH lines are already redacted.
    Copy(String),
    /// Turn the terminal's mouse capture on or off.
    MouseCapture(bool),
    /// Read the AWS account and diagnose this send (a task; the result comes back as
    /// [`Msg::AwsChecked`]).
    AwsCheck {
        question: Box<crate::engine::aws::SendQuestion>,
        profile: Option<String>,
    },
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
        // The snapshot only marks the end of a request: `app.session` is folded from the very
        // entries the engine's model was folded from, so it has one writer, `on_entry`.
        Msg::Engine(Event::State(_)) => on_state(app),
        Msg::EngineClosed => {
            app.busy = false;
            app.dirty = true;
            if app.quitting.is_some() {
                app.should_quit = true;
            } else {
                app.set_status(
                    Level::Error,
                    "The session task has ended; c (or Enter) starts a new one",
                );
            }
            Vec::new()
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
        Msg::SimDecision(decision) => {
            let kept = app.sim_iam.get_or_insert_with(Vec::new);
            if kept.len() >= SIM_DECISIONS_KEPT {
                kept.remove(0);
            }
            kept.push(*decision);
            app.dirty = true;
            Vec::new()
        }
        Msg::Saved(result) => {
            app.dirty = true;
            match result {
                Ok(names) => app.set_status(
                    Level::Info,
                    format!("Saved (redacted): {}", names.join(", ")),
                ),
                Err(e) => app.set_status(Level::Error, format!("Save failed: {e}")),
            }
            Vec::new()
        }
        Msg::ChainExported(result) => {
            app.dirty = true;
            match result {
                Ok(name) => app.set_status(
                    Level::Info,
                    format!("Certificate chain written as PEM to {name}"),
                ),
                Err(e) => app.set_status(Level::Error, format!("Export failed: {e}")),
            }
            Vec::new()
        }
        Msg::EffectFailed(failure) => {
            on_effect_failed(app, failure);
            Vec::new()
        }
        Msg::Drawn => {
            app.dirty = false;
            Vec::new()
        }
        Msg::AwsChecked(result) => {
            super::aws::on_result(app, result);
            Vec::new()
        }
    }
}

fn on_effect_failed(app: &mut App, failure: EffectFailure) {
    app.dirty = true;
    match failure {
        EffectFailure::QueueFull => {
            app.busy = false;
            app.set_status(
                Level::Warning,
                "Too many requests queued behind a slow server; not sent (c reconnects)",
            );
        }
        EffectFailure::SessionEnded => {
            app.busy = false;
            app.set_status(
                Level::Error,
                "The session task has ended; c starts a new one",
            );
        }
        EffectFailure::Copy => {
            app.set_status(Level::Warning, "Could not write to the terminal to copy");
        }
        EffectFailure::MouseCapture => {
            app.set_status(Level::Warning, "Could not change the mouse capture");
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
            Vec::new()
        }
        Some(n) => {
            app.quitting = Some(n - 1);
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn on_entry(app: &mut App, entry: Entry) {
    if matches!(
        entry.kind,
        EntryKind::Reply(_)
            | EntryKind::Error { .. }
            | EntryKind::Connected { .. }
            | EntryKind::Closed { .. }
    ) {
        // The state moved on: a status line about the old one goes.
        app.epoch += 1;
    }
    match &entry.kind {
        EntryKind::Reply(r) if r.after == Some(Verb::Data) && app.pending_message.is_some() => {
            app.pending_answer = Some(r.code);
        }
        EntryKind::Connecting { .. } => {
            // A new connection: a message composed for the old one must not follow.
            app.closed_reason = None;
            app.alert = None;
            app.pending_message = None;
            app.pending_answer = None;
        }
        EntryKind::Connected { .. } => {
            app.closed_reason = None;
            app.alert = None;
        }
        EntryKind::Closed { reason } => app.closed_reason = Some(reason.clone()),
        EntryKind::Error { text, .. } => app.alert = Some(text.clone()),
        EntryKind::Reply(_) => app.alert = None,
        _ => {}
    }
    if matches!(entry.kind, EntryKind::Message { .. })
        && let Some(copy) = app.outgoing.take()
    {
        app.messages.push_back((entry.seq, copy));
        if app.messages.len() > MESSAGES_KEPT {
            app.messages.pop_front();
        }
    }
    app.session.apply(&entry);
    app.store.push(entry);
    track_decisive(app);
    hint_overflow_once(app);
    app.dirty = true;
}

/// The first time the diagnosis is taller than its panel, the status line says how to read
/// the rest, in the words of the panel's marker and the help.
fn hint_overflow_once(app: &mut App) {
    if app.overflow_hinted || app.read_only.is_some() {
        return;
    }
    let (total, height) = layout::diagnosis_fill(app);
    if height > 0 && total > height {
        app.overflow_hinted = true;
        app.set_status(
            Level::Info,
            "The diagnosis goes on below its panel (\"more: ]\"): ] scrolls it down, [ back up",
        );
    }
}

fn on_state(app: &mut App) -> Vec<Effect> {
    app.busy = false;
    app.busy_ticks = 0;
    app.dirty = true;
    let Some(code) = app.pending_answer.take() else {
        return Vec::new();
    };
    if let Some(text) = app.pending_message.take() {
        if code == 354 && app.session.data_open() {
            return send_message(app, text);
        }
        app.set_status(
            Level::Warning,
            format!("DATA got {code}, not 354, so the composed message was not sent"),
        );
    }
    Vec::new()
}

/// Most bytes of a composed message kept to show it again (its `<message …>` entry).
pub(crate) const MESSAGE_COPY_LIMIT: usize = 64 * 1024;
/// Composed messages kept for showing; older ones are dropped.
const MESSAGES_KEPT: usize = 16;

/// Sends a message the TUI composed, keeping a bounded copy for its transcript entry.
pub(super) fn send_message(app: &mut App, text: String) -> Vec<Effect> {
    let mut end = text.len().min(MESSAGE_COPY_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    app.outgoing = Some(SentMessage {
        text: text[..end].to_string(),
        truncated: end < text.len(),
    });
    send(app, Request::Message(MessageSource::Text(text)))
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
        Action::SwitchTarget => {
            if app.targets.is_empty() {
                app.set_status(
                    Level::Info,
                    "No targets to switch to: name them in the configuration file's [targets.NAME] tables (see assets/config.example.toml)",
                );
                return Vec::new();
            }
            app.switch_target = true;
            quit(app)
        }
        Action::AwsCheck => super::aws::on_key(app),
        Action::ToggleHelp => {
            toggle_overlay(app, Overlay::Help);
            Vec::new()
        }
        Action::ToggleCertificate => {
            if app.session.tls().is_none() && app.store.last_chain().is_none() {
                app.set_status(Level::Info, "No certificate yet: TLS has not started");
            } else {
                toggle_overlay(app, Overlay::Certificate);
            }
            Vec::new()
        }
        Action::ExportChain => export_chain(app),
        Action::Save => {
            if app.store.is_empty() {
                app.set_status(Level::Info, "Nothing to save yet");
                Vec::new()
            } else {
                app.set_status(Level::Info, "Saving…");
                vec![Effect::Save {
                    entries: app.store.entries().to_vec(),
                    reveal_user: app.reveal_user,
                }]
            }
        }
        Action::RevealUser => {
            flip(
                app,
                |a| &mut a.reveal_user,
                "AUTH lines show the decoded user name (never the password); u hides it",
                "AUTH lines hide the user name again",
            );
            Vec::new()
        }
        Action::Copy => copy(app, false),
        Action::CopyPart => copy(app, true),
        Action::ToggleMouse => {
            let on = flip(
                app,
                |a| &mut a.mouse_capture,
                "Mouse capture on: clicks press buttons and select replies",
                "Mouse capture off: the terminal selects and copies text; M turns it back on",
            );
            vec![Effect::MouseCapture(on)]
        }
        Action::Connect => connect(app),
        Action::Ehlo => {
            let name = app.prefill.ehlo.clone();
            command(app, Command::Ehlo(name))
        }
        Action::StartTls => command(app, Command::StartTls),
        Action::AuthPlain => open_auth(app, Mechanism::Plain),
        Action::AuthLogin => open_auth(app, Mechanism::Login),
        Action::AuthXoauth2 => open_auth(app, Mechanism::Xoauth2),
        Action::AuthOauthbearer => open_auth(app, Mechanism::Oauthbearer),
        Action::MailFrom => open_mail(app, None),
        Action::RcptTo => open_rcpt(app, None),
        Action::Data => open_compose(app),
        Action::Bdat => ext::bdat_key(app),
        Action::Rset => command(app, Command::Rset),
        Action::Noop => command(app, Command::Noop),
        Action::SmtpQuit => command(app, Command::Quit),
        Action::Raw if app.session.data_open() => {
            open_message_line(app);
            Vec::new()
        }
        Action::Raw => {
            // After a 334 challenge the line typed is a credential: mask it like a password.
            let field = if app.session.sasl_challenge() {
                Field::secret("AUTH response (hidden)", "")
            } else {
                Field::new("Line", "")
            };
            app.form = Some(Form::new(FormKind::Raw, vec![field]));
            Vec::new()
        }
        Action::Next => next(app),
        nav => {
            navigate(app, nav);
            Vec::new()
        }
    }
}

/// After a 354, `:` types the message line by line.
pub(super) fn open_message_line(app: &mut App) {
    app.form = Some(Form::new(
        FormKind::MessageLine,
        vec![Field::new("Line", "")],
    ));
    app.set_status(
        Level::Info,
        "typing the message: a line with only '.' ends it",
    );
}

/// The chain the certificate view shows: the live session's, else the transcript's last.
pub(crate) fn chain_on_show(app: &App) -> Option<&[CertInfo]> {
    if let Some(info) = app.session.tls() {
        return Some(&info.chain);
    }
    match app.store.last_chain().map(|e| &e.kind) {
        Some(EntryKind::TlsStarted { info }) => Some(&info.chain),
        Some(EntryKind::Error { chain, .. }) => Some(chain),
        _ => None,
    }
}

/// `p` in the certificate view: the chain to a PEM file, when there is one to write.
fn export_chain(app: &mut App) -> Vec<Effect> {
    if app.overlay != Overlay::Certificate {
        return Vec::new();
    }
    let chain = chain_on_show(app).unwrap_or_default().to_vec();
    match crate::engine::tls::certinfo::chain_pem(&chain) {
        Ok(_) => {
            app.set_status(Level::Info, "Writing the certificate chain…");
            vec![Effect::ExportChain(chain)]
        }
        Err(e) => {
            app.set_status(Level::Warning, format!("Cannot export: {e}"));
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

/// Flips a setting and says in the status line what it is now.
fn flip(app: &mut App, flag: fn(&mut App) -> &mut bool, on: &str, off: &str) -> bool {
    let setting = flag(app);
    *setting = !*setting;
    let now = *setting;
    app.set_status(Level::Info, if now { on } else { off });
    now
}

/// Most bytes put on the clipboard: terminals refuse longer OSC 52 sequences.
pub(crate) const COPY_LIMIT: usize = 64 * 1024;

/// `y`: the selected entry as shown (server bytes escaped); `Y` (`part`): its main parsed
/// part, the user ARN first.
fn copy(app: &mut App, part: bool) -> Vec<Effect> {
    let Some(entry) = app.explained().and_then(|i| app.store.get(i)) else {
        app.set_status(Level::Info, "Nothing selected to copy yet");
        return Vec::new();
    };
    let (what, mut text) = match (&entry.kind, part) {
        (EntryKind::Reply(r), false) => (
            format!("the {} reply", r.code),
            r.lines
                .iter()
                .map(|l| escape_bytes(&l.raw))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (EntryKind::Reply(r), true) => {
            let details = &r.class.diagnosis.details;
            let pick = ["User ARN", "Resource", "Identities", "Action"]
                .iter()
                .find_map(|k| details.iter().find(|(dk, _)| dk == k))
                .or_else(|| details.first());
            if let Some((k, v)) = pick {
                (k.clone(), escape_str(v))
            } else {
                app.set_status(
                    Level::Info,
                    "This reply has no parsed part; y copies the reply",
                );
                return Vec::new();
            }
        }
        (EntryKind::Warning { text, .. }, _) => ("the warning".into(), escape_str(text)),
        (EntryKind::Error { text, .. }, _) => ("the error".into(), escape_str(text)),
        _ => return Vec::new(),
    };
    let mut cut = "";
    if text.len() > COPY_LIMIT {
        let mut end = COPY_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = ", cut to 64 KiB";
    }
    app.set_status(
        Level::Info,
        format!(
            "Copied {what} ({} bytes{cut}) to the clipboard with OSC 52 (if the terminal allows it)",
            text.len()
        ),
    );
    vec![Effect::Copy(text)]
}

fn quit(app: &mut App) -> Vec<Effect> {
    let connected = app.session.connected() && !app.session.quit_sent();
    if app.quitting.is_some() || !connected || app.read_only.is_some() {
        app.should_quit = true;
        return Vec::new();
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
    // The user asked for a new connection: follow its replies.
    follow_latest(app);
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

/// After the server closed the connection on a temporary refusal twice (Next reconnects once),
/// what to tell the user instead of "complete": the server refuses for now, and when to retry.
fn refused_for_now(s: &SessionModel) -> Option<String> {
    use crate::engine::model::Outcome;
    let f = s.failure.as_ref()?;
    let temporary = matches!(f.outcome, Outcome::ServerUnavailable | Outcome::Throttled);
    if !temporary || s.connected() || s.closed_by_failure < 2 {
        return None;
    }
    let code = f.code.map(|c| format!(" ({c})")).unwrap_or_default();
    Some(format!(
        "The server refuses for now{code}, twice: retry in a few minutes, then back off (15, 30, 60 min); c reconnects at once"
    ))
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
        if let Some(text) = refused_for_now(&app.session) {
            app.set_status(Level::Warning, text);
            return Vec::new();
        }
        app.set_status(
            Level::Info,
            "The session is complete: c connects again, w saves, q leaves",
        );
        return Vec::new();
    };
    match step {
        Step::Connect => send(app, Request::Connect),
        Step::Ehlo => {
            let name = app.prefill.ehlo.clone();
            command(app, Command::Ehlo(name))
        }
        Step::StartTls => command(app, Command::StartTls),
        Step::Auth => {
            let mechanism = app.prefill.auth.mechanism().unwrap_or(Mechanism::Plain);
            match (&app.prefill.user, &app.prefill.password) {
                (Some(user), Some(password)) if !app.auth_in_clear() => {
                    let made = if mechanism.is_oauth() {
                        Credentials::with_token(user, password.clone())
                    } else {
                        Credentials::new(user, password.clone())
                    };
                    match made {
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
        Step::Rcpt => match app.prefill.to.get(app.session.rcpts_attempted()).cloned() {
            Some(to) => rcpt(app, to),
            None => open_rcpt(app, None),
        },
        Step::Data => ext::next_bdat(app).unwrap_or_else(|| command(app, Command::Data)),
        Step::Dot => {
            let text = app
                .held
                .take()
                .unwrap_or_else(|| app.message_draft().render());
            send_message(app, text)
        }
        Step::Quit => command(app, Command::Quit),
        Step::Rset | Step::Noop | Step::Raw => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
