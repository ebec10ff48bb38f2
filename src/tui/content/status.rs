//! The status line (a message that belongs to a state, or the hint of what Enter does) and
//! the verdict line, from the session model.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::engine::escape::escape_str;
use crate::engine::model::{Outcome, Step};
use crate::tui::app::{App, Level};

/// A step as the Next button names it.
pub(crate) fn step_name(step: Step) -> &'static str {
    match step {
        Step::Connect => "connect",
        Step::Ehlo => "EHLO",
        Step::StartTls => "STARTTLS",
        Step::Auth => "AUTH",
        Step::Mail => "MAIL FROM",
        Step::Rcpt => "RCPT TO",
        Step::Data => "DATA",
        Step::Dot => "message + \".\"",
        Step::Quit => "QUIT",
        Step::Rset => "RSET",
        Step::Noop => "NOOP",
        Step::Raw => "raw line",
    }
}

fn hint(app: &App) -> String {
    if let Some(file) = &app.read_only {
        return format!(
            "Replay of {} (read-only): ↑↓ select a reply · t certificate · ? help · q quit",
            escape_str(file)
        );
    }
    if app.quitting.is_some() {
        return "Sending QUIT before leaving…".into();
    }
    if app.session.data_open() {
        return "DATA is open: ⏎ sends the message and its final \".\", or : types it line by \
                line (a line with only '.' ends it)"
            .into();
    }
    match app.next_step() {
        Some(step) => format!(
            "⏎ does the next step ({}) · ↑↓ select a reply · ? help",
            step_name(step)
        ),
        None => "Session complete: c connects again · w saves · q leaves".into(),
    }
}

/// The status line: the current message, else the hint.
pub(crate) fn status(app: &App) -> Line<'static> {
    let t = app.theme;
    let (text, style): (String, Style) = match app.current_status() {
        Some(s) => (
            escape_str(&s.text),
            match s.level {
                Level::Info => t.meta(),
                Level::Warning => t.warning(),
                Level::Error => t.error(),
            },
        ),
        None => (hint(app), t.dim()),
    };
    Line::from(vec![Span::raw(" "), Span::styled(text, style)])
}

/// The verdict line, from the session model.
pub(crate) fn verdict(app: &App) -> Line<'static> {
    let t = app.theme;
    let outcome = app.session.outcome();
    let style = if outcome.is_failure() {
        t.error()
    } else if outcome == Outcome::Accepted {
        t.ok()
    } else {
        t.title()
    };
    Line::from(vec![
        Span::styled(" Verdict: ", t.title()),
        Span::styled(app.session.verdict(), style),
    ])
}
