//! The timeline: each step as it happened, in order (a step tried twice shows both tries),
//! then the step Next would take; and the one-line verdict under it, from the session model.

use ratatui::Frame;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::engine::model::StepStatus;
use crate::tui::app::App;
use crate::tui::content::status;
use crate::tui::layout::{Areas, width};

fn glyph(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "✓",
        StepStatus::Failed => "✗",
        StepStatus::Pending => "…",
    }
}

pub(crate) fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let next = if app.read_only.is_none() {
        app.next_step()
    } else {
        None
    };
    let sep = if areas.timeline.width >= 100 {
        " → "
    } else {
        " "
    };
    // Newest last; when the row is full the oldest steps give way to "…".
    let budget = usize::from(areas.timeline.width).saturating_sub(3);
    let mut items: Vec<Span> = Vec::new();
    let mut used = 0;
    if let Some(step) = next {
        let text = format!("·{}", step.label());
        used += width(&text);
        items.push(Span::styled(
            text,
            t.dim().add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
        ));
    }
    let mut cut = app.session.history_dropped > 0;
    for h in app.session.history.iter().rev() {
        let text = format!("{}{}", glyph(h.status), h.step.label());
        let w = width(&text) + width(sep);
        if used + w > budget {
            cut = true;
            break;
        }
        used += w;
        items.push(Span::styled(text, t.step(h.status)));
    }
    items.reverse();
    let mut spans = vec![Span::raw(" ")];
    if cut {
        spans.push(Span::styled("…", t.dim()));
        spans.push(Span::styled(sep, t.dim()));
    }
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, t.dim()));
        }
        spans.push(item);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), areas.timeline);

    frame.render_widget(
        Paragraph::new(status::verdict(app)).wrap(Wrap { trim: false }),
        areas.verdict,
    );
}
