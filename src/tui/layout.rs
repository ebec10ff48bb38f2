//! Where each region goes, as a pure function of the screen size and the model. The view
//! draws into these rectangles and the mouse handler hit-tests the same ones, so a click
//! always lands on what is drawn.
//!
//! ```text
//! ┌ header: title, target, TLS, login, phase (2 rows) ───────────┐
//! │ notes (demo scenarios only)                                  │
//! ├ Transcript ──────────────────────────────────────────────────┤
//! │ 12:00:01 <~ 250 Ok                       [envelope] 21ms     │
//! ├ Diagnosis ───────────────────────────────────────────────────┤
//! │ phase, verdict, meaning, next step, parsed parts             │
//! │ ✓connect → ✓EHLO → … timeline                                │
//! │ Verdict line                                                 │
//! │ status line                                                  │
//! └ e EHLO  s STARTTLS  … buttons (as many rows as needed) ──────┘
//! ```

use ratatui::layout::Rect;
use ratatui::text::Span;

use super::action::Action;
use super::app::{App, Overlay};
use super::content::{self, header, status, wrapped_rows};
use crate::engine::model::Step;

/// One button on the bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub rect: Rect,
    pub action: Action,
    pub key: &'static str,
    pub label: String,
    /// Sensible in the current state (dimmed otherwise, but still usable).
    pub enabled: bool,
    /// Sending credentials here would go without TLS.
    pub warn: bool,
}

/// The rectangles of one frame.
#[derive(Debug, Clone, Default)]
pub(crate) struct Areas {
    pub header: Rect,
    pub notes: Option<Rect>,
    /// The transcript's title row.
    pub transcript_title: Rect,
    pub transcript: Rect,
    pub diagnosis_title: Rect,
    pub diagnosis: Rect,
    pub timeline: Rect,
    pub verdict: Rect,
    pub status: Rect,
    pub buttons: Vec<Slot>,
    /// The screen is too small to draw anything useful.
    pub too_small: bool,
}

/// The smallest screen the layout supports.
pub(crate) const MIN_SIZE: (u16, u16) = (40, 14);

/// Display columns of a string (wide characters count twice).
pub(crate) fn width(s: &str) -> usize {
    Span::raw(s).width()
}

pub(crate) fn screen(size: (u16, u16)) -> Rect {
    Rect::new(0, 0, size.0, size.1)
}

/// A step as the Next button names it (short: the status line says it in full).
pub(crate) fn next_label(step: Step) -> &'static str {
    match step {
        Step::Dot => "message",
        s => s.label(),
    }
}

fn label(app: &App, action: Action, base: &str) -> String {
    match action {
        Action::Next => match app.next_step() {
            Some(step) => format!("Next: {}", next_label(step)),
            None => "Next: done".into(),
        },
        Action::Connect if app.session.connected() => "Reconnect".into(),
        _ => base.to_string(),
    }
}

/// Whether an action makes sense now. Buttons that do not are dimmed, never refused.
pub(crate) fn sensible(app: &App, action: Action) -> bool {
    let s = &app.session;
    let live = s.connected() && !s.quit_sent() && app.read_only.is_none();
    let greeted = live && s.greeted();
    let ehloed = greeted && s.capabilities().is_some();
    let t = s.transaction();
    let data_open = s.data_open();
    match action {
        Action::Ehlo | Action::Rset | Action::Noop | Action::Raw | Action::SmtpQuit => greeted,
        Action::StartTls => {
            ehloed && s.tls().is_none() && s.capabilities().is_some_and(|c| c.starttls)
        }
        Action::AuthPlain | Action::AuthLogin | Action::AuthXoauth2 | Action::AuthOauthbearer => {
            ehloed && s.authenticated_as().is_none()
        }
        Action::MailFrom => ehloed && t.is_some_and(|t| t.mail_from.is_none()) && !data_open,
        Action::RcptTo => greeted && s.open_transaction().is_some() && !data_open,
        Action::Data => greeted && (t.is_some_and(|t| !t.rcpts_accepted.is_empty()) || data_open),
        Action::Next => app.read_only.is_none() && !app.busy && app.next_step().is_some(),
        Action::Connect => app.read_only.is_none(),
        Action::ToggleCertificate => s.tls().is_some() || app.store.last_chain().is_some(),
        Action::Save => !app.store.is_empty(),
        _ => true,
    }
}

/// The widest label a button can take, so the bar keeps its shape (and its height) while
/// Next's label changes from step to step.
fn widest_label(action: Action, base: &str) -> usize {
    match action {
        Action::Next => STEPS
            .iter()
            .map(|&s| width(&format!("Next: {}", next_label(s))))
            .max()
            .unwrap_or(0),
        Action::Connect => width("Reconnect").max(width(base)),
        _ => width(base),
    }
}

const STEPS: [Step; 12] = [
    Step::Connect,
    Step::Ehlo,
    Step::StartTls,
    Step::Auth,
    Step::Mail,
    Step::Rcpt,
    Step::Data,
    Step::Dot,
    Step::Quit,
    Step::Rset,
    Step::Noop,
    Step::Raw,
];

fn flow_buttons(app: &App, cols: u16) -> Vec<Slot> {
    let mut out = Vec::new();
    let (mut x, mut y) = (0u16, 0u16);
    for b in app.keymap.iter().filter(|b| b.button.is_some()) {
        // The XOAUTH2 button shows when the debugger was started for OAuth (--auth xoauth2 or
        // oauthbearer), so the bar keeps its height for everyone else; `o` always works.
        if b.action == Action::AuthXoauth2 && !app.prefill.auth.is_oauth() {
            continue;
        }
        let base = b.button.unwrap_or("");
        let text = label(app, b.action, base);
        let w = u16::try_from(width(b.key) + 1 + widest_label(b.action, base)).unwrap_or(u16::MAX);
        if x > 0 && x.saturating_add(w) > cols {
            x = 0;
            y += 1;
        }
        let warn = matches!(
            b.action,
            Action::AuthPlain | Action::AuthLogin | Action::AuthXoauth2 | Action::AuthOauthbearer
        ) && app.auth_in_clear();
        out.push(Slot {
            rect: Rect::new(x, y, w.min(cols), 1),
            action: b.action,
            key: b.key,
            label: text,
            enabled: sensible(app, b.action),
            warn,
        });
        x = x.saturating_add(w + 1);
    }
    out
}

/// Rows a region's text needs at this width, between `min` and `max`.
fn rows_for(lines: Vec<ratatui::text::Line<'_>>, width: u16, min: u16, max: u16) -> u16 {
    let n = u16::try_from(wrapped_rows(lines, width)).unwrap_or(u16::MAX);
    n.clamp(min, max.max(min))
}

/// Lays out the screen. The header, the notes, the verdict and the status line get the rows
/// their wrapped text needs (within limits), so nothing is cut; the button bar's height
/// depends only on the width.
pub(crate) fn compute(area: Rect, app: &App) -> Areas {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let w = area.width;
    let mut buttons = flow_buttons(app, w);
    let button_rows = buttons.last().map_or(0, |s| s.rect.y + 1);
    let mut header_rows = rows_for(header::lines(app, w), w, 2, 5);
    let mut notes_rows = header::notes(app).map_or(0, |l| rows_for(vec![l], w, 1, 3));
    let mut verdict_rows = rows_for(vec![status::verdict(app)], w, 1, 2);
    let mut status_rows = rows_for(vec![status::status(app)], w, 1, 3);
    // Keep at least a few rows for the transcript and the diagnosis: on a small screen the
    // wrapped regions give way first (the notes stay in the diagnosis panel and the help).
    let fixed = |h, n, v, s| h + n + 2 + 1 + v + s + button_rows;
    let min_middle = 4;
    for shrink in 0..4 {
        if area
            .height
            .saturating_sub(fixed(header_rows, notes_rows, verdict_rows, status_rows))
            >= min_middle
        {
            break;
        }
        match shrink {
            0 => notes_rows = notes_rows.min(1),
            1 => status_rows = 1,
            2 => header_rows = 2,
            _ => verdict_rows = 1,
        }
    }
    let middle =
        area.height
            .saturating_sub(fixed(header_rows, notes_rows, verdict_rows, status_rows));
    // Small screens split evenly: the diagnosis is what a learner reads.
    let diagnosis_rows = if middle < 30 {
        middle / 2
    } else {
        (middle * 2 / 5).clamp(12, 16)
    };
    let transcript_rows = middle - diagnosis_rows;
    let row = |y: u16, h: u16| Rect::new(area.x, area.y + y, area.width, h);
    let mut y = 0;
    let header = row(y, header_rows);
    y += header_rows;
    let notes = (notes_rows > 0).then(|| row(y, notes_rows));
    y += notes_rows;
    let transcript_title = row(y, 1);
    let transcript = row(y + 1, transcript_rows);
    y += 1 + transcript_rows;
    let diagnosis_title = row(y, 1);
    let diagnosis = row(y + 1, diagnosis_rows);
    y += 1 + diagnosis_rows;
    let timeline = row(y, 1);
    let verdict = row(y + 1, verdict_rows);
    let status = row(y + 1 + verdict_rows, status_rows);
    y += 1 + verdict_rows + status_rows;
    for s in &mut buttons {
        s.rect.x += area.x;
        s.rect.y += area.y + y;
    }
    Areas {
        header,
        notes,
        transcript_title,
        transcript,
        diagnosis_title,
        diagnosis,
        timeline,
        verdict,
        status,
        buttons,
        too_small: false,
    }
}

/// Rows the diagnosis text takes in this frame's panel, and the panel's height.
pub(crate) fn diagnosis_fill(app: &App) -> (usize, usize) {
    let area = compute(screen(app.size), app).diagnosis;
    (
        content::diagnosis::content_rows(app, area.width),
        usize::from(area.height),
    )
}

impl Areas {
    /// The action under a click.
    pub(crate) fn hit(&self, x: u16, y: u16) -> Option<Action> {
        let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        if let Some(s) = self.buttons.iter().find(|s| inside(s.rect)) {
            return Some(s.action);
        }
        inside(self.transcript).then(|| Action::ClickTranscript(y - self.transcript.y))
    }
}

/// Rows of a full-screen overlay's text area, for paging.
pub(crate) fn overlay_rows(app: &App) -> u16 {
    match app.overlay {
        Overlay::None => 0,
        _ => app.size.1.saturating_sub(4).max(1),
    }
}
