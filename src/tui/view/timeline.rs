//! The phase timeline (connect → EHLO → … → QUIT, each not reached, passed or failed) and the
//! one-line verdict under it: authentication or authorization.

use ratatui::Frame;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::state::{Step, StepStatus};
use crate::engine::transport::TlsMode;
use crate::tui::app::App;
use crate::tui::layout::Areas;

fn glyph(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "✓",
        StepStatus::Failed => "✗",
        StepStatus::NotReached => "·",
        StepStatus::Skipped => "–",
    }
}

pub fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let timeline = &app.session.timeline;
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
    let mut spans = vec![Span::raw(" ")];
    for (i, step) in Step::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, t.dim()));
        }
        let mut status = timeline.get(step);
        // Without TLS the STARTTLS steps do not apply (the engine marks this only for implicit TLS).
        if app.config.tls_mode == TlsMode::None
            && matches!(step, Step::StartTls | Step::EhloTls)
            && status == StepStatus::NotReached
        {
            status = StepStatus::Skipped;
        }
        let mut style = t.step(status);
        if next == Some(step) {
            style = style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
        }
        spans.push(Span::styled(
            format!("{}{}", glyph(status), step.label()),
            style,
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), areas.timeline);

    let verdict = timeline.verdict();
    let style = if timeline.first_failure().is_some() {
        t.error()
    } else if timeline.get(Step::Dot) == StepStatus::Passed {
        t.ok()
    } else {
        t.title()
    };
    let line = Line::from(vec![
        Span::styled(" Verdict: ", t.title()),
        Span::styled(verdict, style),
    ]);
    frame.render_widget(Paragraph::new(line), areas.verdict);
}
