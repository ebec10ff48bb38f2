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
use super::keymap;
use crate::engine::model::Step;

/// One button on the bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
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
pub struct Areas {
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
pub const MIN_SIZE: (u16, u16) = (40, 14);

/// Display columns of a string (wide characters count twice).
pub fn width(s: &str) -> usize {
    Span::raw(s).width()
}

pub fn screen(size: (u16, u16)) -> Rect {
    Rect::new(0, 0, size.0, size.1)
}

/// A step as the Next button names it.
pub fn step_name(step: Step) -> &'static str {
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

fn label(app: &App, action: Action, base: &str) -> String {
    match action {
        Action::Next => match app.next_step() {
            Some(step) => format!("Next: {}", step_name(step)),
            None => "Next: done".into(),
        },
        Action::Connect if app.session.connected() => "Reconnect".into(),
        _ => base.to_string(),
    }
}

/// Whether an action makes sense now. Buttons that do not are dimmed, never refused.
pub fn sensible(app: &App, action: Action) -> bool {
    let s = &app.session;
    let live = s.connected() && !s.quit_sent() && app.read_only.is_none();
    let greeted = live && s.greeted();
    let ehloed = greeted && s.capabilities().is_some();
    let t = s.transaction();
    let data_open = s.data_open();
    match action {
        Action::Ehlo => greeted,
        Action::StartTls => {
            ehloed && s.tls().is_none() && s.capabilities().is_some_and(|c| c.starttls)
        }
        Action::AuthPlain | Action::AuthLogin => ehloed && s.authenticated_as().is_none(),
        Action::MailFrom => ehloed && t.is_some_and(|t| t.mail_from.is_none()) && !data_open,
        Action::RcptTo => greeted && t.is_some_and(|t| t.mail_from.is_some()) && !data_open,
        Action::Data => greeted && (t.is_some_and(|t| !t.rcpts_accepted.is_empty()) || data_open),
        Action::Rset | Action::Noop | Action::Raw | Action::SmtpQuit => greeted,
        Action::Next => app.read_only.is_none() && !app.busy && app.next_step().is_some(),
        Action::Connect => app.read_only.is_none(),
        Action::ToggleCertificate => s.tls().is_some() || app.store.last_chain().is_some(),
        Action::Save => !app.store.is_empty(),
        _ => true,
    }
}

fn flow_buttons(app: &App, cols: u16) -> Vec<Slot> {
    let mut out = Vec::new();
    let (mut x, mut y) = (0u16, 0u16);
    for b in keymap::buttons() {
        let text = label(app, b.action, b.button.unwrap_or(""));
        let w = u16::try_from(width(b.key) + 1 + width(&text)).unwrap_or(u16::MAX);
        if x > 0 && x.saturating_add(w) > cols {
            x = 0;
            y += 1;
        }
        let warn = matches!(b.action, Action::AuthPlain | Action::AuthLogin) && app.auth_in_clear();
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

/// Lays out the screen.
pub fn compute(area: Rect, app: &App) -> Areas {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let mut buttons = flow_buttons(app, area.width);
    let button_rows = buttons.last().map_or(0, |s| s.rect.y + 1);
    let notes_rows = u16::from(!app.notes.is_empty());
    // header 2, notes, two titles, timeline, verdict, status, buttons
    let fixed = 2 + notes_rows + 2 + 3 + button_rows;
    let middle = area.height.saturating_sub(fixed);
    // Small screens split evenly: the diagnosis is what a learner reads.
    let diagnosis_rows = if middle < 30 {
        middle / 2
    } else {
        (middle * 2 / 5).clamp(12, 16)
    };
    let transcript_rows = middle - diagnosis_rows;
    let row = |y: u16, h: u16| Rect::new(area.x, area.y + y, area.width, h);
    let mut y = 0;
    let header = row(y, 2);
    y += 2;
    let notes = (notes_rows > 0).then(|| row(y, 1));
    y += notes_rows;
    let transcript_title = row(y, 1);
    let transcript = row(y + 1, transcript_rows);
    y += 1 + transcript_rows;
    let diagnosis_title = row(y, 1);
    let diagnosis = row(y + 1, diagnosis_rows);
    y += 1 + diagnosis_rows;
    let timeline = row(y, 1);
    let verdict = row(y + 1, 1);
    let status = row(y + 2, 1);
    y += 3;
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

impl Areas {
    /// The action under a click.
    pub fn hit(&self, x: u16, y: u16) -> Option<Action> {
        let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        if let Some(s) = self.buttons.iter().find(|s| inside(s.rect)) {
            return Some(s.action);
        }
        inside(self.transcript).then(|| Action::ClickTranscript(y - self.transcript.y))
    }
}

/// Rows of a full-screen overlay's text area, for paging.
pub fn overlay_rows(app: &App) -> u16 {
    match app.overlay {
        Overlay::None => 0,
        _ => app.size.1.saturating_sub(4).max(1),
    }
}
