//! Pure rendering: `render(frame, &App)` draws one frame from the model, one file per region.
//! See [`super::layout`] for where each region goes.

mod buttons;
mod certificate;
mod diagnosis;
mod forms;
mod header;
mod help;
mod timeline;
mod transcript;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Overlay};
use super::layout::{self, MIN_SIZE};

/// Draws one frame of `width`x`height` off-screen and returns it as plain text, one line per
/// row: what a person would see, for tests and screen captures.
#[cfg(any(test, feature = "test-support"))]
pub fn render_to_text(app: &App, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .unwrap_or_else(|e| match e {});
    terminal
        .draw(|f| render(f, app))
        .unwrap_or_else(|e| match e {});
    buffer_text(terminal.backend().buffer())
}

/// A buffer's symbols as text, one line per row.
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let areas = layout::compute(area, app);
    if areas.too_small {
        let text = format!(
            "smtpscope needs at least {}x{} (this terminal: {}x{})",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    header::render(frame, &areas, app);
    transcript::render(frame, &areas, app);
    diagnosis::render(frame, &areas, app);
    timeline::render(frame, &areas, app);
    buttons::render(frame, &areas, app);
    match app.overlay {
        Overlay::Help => help::render(frame, area, app),
        Overlay::Certificate => certificate::render(frame, area, app),
        Overlay::None => {}
    }
    if let Some(form) = &app.form {
        forms::render(frame, area, app, form);
    }
}

/// A centred rectangle of at most `width` x `height` inside `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// A scrollable full-screen overlay with a border and a title.
fn overlay(frame: &mut Frame, area: Rect, app: &App, title: &str, lines: Vec<Line<'static>>) {
    let rect = centered(area, area.width.saturating_sub(2).min(110), area.height);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!(" {title} "))
        .title_bottom(" ↑↓ PgUp PgDn scroll · Esc closes ");
    let inner_rows = rect.height.saturating_sub(2);
    let total = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let scroll = app.overlay_scroll.min(total.saturating_sub(inner_rows));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        rect,
    );
}

#[cfg(test)]
pub(crate) mod tests;
