//! The help overlay, generated from the keymap so it lists the real bindings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::overlay;
use crate::engine::escape::escape_str;
use crate::tui::app::App;
use crate::tui::keymap::{FORM_HELP, MOUSE_HELP, Section};

/// How the selection moves, in the words of the transcript's title.
pub(crate) const SELECTION_RULES: &[&str] = &[
    "following: each new reply is selected and explained.",
    "When a reply decides the verdict (a 535, a 554…), it is marked ✗, selected and kept: a later QUIT, 221, idle timeout or reconnect does not replace it.",
    "↑/k, ↓/j, a click or Home/g select a reply yourself; the selection stays where you put it.",
    "End/G follows again; c (reconnect) follows the new connection's replies.",
];

/// Every binding, grouped by section; keys of the same action share a line.
pub(crate) fn lines(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let mut out = Vec::new();
    let row = |keys: String, help: &str| {
        Line::from(vec![
            Span::styled(format!("  {keys:<12}"), t.title()),
            Span::raw(help.to_string()),
        ])
    };
    for section in [Section::Smtp, Section::App, Section::Navigate] {
        out.push(Line::from(Span::styled(section.title(), t.ok())));
        let mut done = Vec::new();
        for b in app.keymap.iter().filter(|b| b.section == section) {
            if done.contains(&b.action) {
                continue;
            }
            done.push(b.action);
            let keys: Vec<&str> = app
                .keymap
                .iter()
                .filter(|o| o.action == b.action)
                .map(|o| if o.key == "⏎" { "Enter" } else { o.key })
                .collect();
            out.push(row(keys.join(", "), b.help));
        }
        out.push(Line::raw(""));
    }
    out.push(Line::from(Span::styled("Mouse", t.ok())));
    for (k, h) in MOUSE_HELP {
        out.push(row((*k).to_string(), h));
    }
    out.push(Line::raw(""));
    out.push(Line::from(Span::styled("In a form", t.ok())));
    for (k, h) in FORM_HELP {
        out.push(row((*k).to_string(), h));
    }
    out.push(Line::raw(""));
    out.push(Line::from(Span::styled("Reading the screen", t.ok())));
    for (k, h) in [
        ("-> <-", "sent / received in clear; ~> <~ inside TLS"),
        ("[phase]", "the reply's phase; then its latency"),
        (
            "✓ ✗ · –",
            "timeline step passed, failed, not reached, skipped",
        ),
        ("▶", "the reply the diagnosis panel explains"),
        ("✗", "the reply that decided the verdict"),
    ] {
        out.push(row(k.to_string(), h));
    }
    out.push(Line::raw(""));
    out.push(Line::from(Span::styled("Which reply is explained", t.ok())));
    for text in SELECTION_RULES {
        out.push(Line::raw(format!("  {text}")));
    }
    if !app.notes.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::from(Span::styled("This scenario", t.ok())));
        for n in &app.notes {
            out.push(Line::raw(format!("  {}", escape_str(n))));
        }
    }
    out
}

pub(crate) fn render(frame: &mut Frame, area: Rect, app: &App) {
    overlay(frame, area, app, "Help: keys and buttons", lines(app));
}
