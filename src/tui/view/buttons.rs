//! The status line and the button bar. The buttons come from the keymap; the ones that make
//! no sense in the current state are dimmed but still work.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::escape::escape_str;
use crate::tui::app::{App, Level};
use crate::tui::layout::{Areas, step_name};

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
    match app.next_step() {
        Some(step) => format!(
            "⏎ does the next step ({}) · ↑↓ select a reply · ? help",
            step_name(step)
        ),
        None => "Session complete: c connects again · w saves · q leaves".into(),
    }
}

pub fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let (text, style) = match &app.status {
        Some(s) => (
            s.text.clone(),
            match s.level {
                Level::Info => t.meta(),
                Level::Warning => t.warning(),
                Level::Error => t.error(),
            },
        ),
        None => (hint(app), t.dim()),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::raw(" "), Span::styled(text, style)])),
        areas.status,
    );
    let buf = frame.buffer_mut();
    for slot in &areas.buttons {
        let label_style = if slot.warn {
            t.warning()
        } else {
            t.label(slot.enabled)
        };
        let line = Line::from(vec![
            Span::styled(slot.key, t.key(slot.enabled)),
            Span::raw(" "),
            Span::styled(slot.label.clone(), label_style),
        ]);
        buf.set_line(slot.rect.x, slot.rect.y, &line, slot.rect.width);
    }
}
