//! The diagnosis panel, drawn from [`crate::tui::content::diagnosis`]. When its text is taller
//! than the panel, the title says which keys scroll it ("more: ]"), in the help's words.

use ratatui::Frame;
use ratatui::layout::Margin;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::content::{diagnosis, wrapped_rows};
use crate::tui::layout::Areas;

pub(crate) fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let (title, lines) = diagnosis::content(app);
    let total = wrapped_rows(lines.clone(), areas.diagnosis.width.saturating_sub(2));
    let height = usize::from(areas.diagnosis.height);
    let max_scroll = u16::try_from(total.saturating_sub(height)).unwrap_or(u16::MAX);
    let scroll = app.diagnosis_scroll.min(max_scroll);
    let mut block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(title, t.title()));
    if total > height {
        let hint = diagnosis::overflow_hint(usize::from(scroll) + height >= total, scroll > 0);
        block = block.title(Line::from(Span::styled(hint, t.warning())).right_aligned());
    }
    frame.render_widget(block, areas.diagnosis_title);
    let body = areas.diagnosis.inner(Margin::new(1, 0));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        body,
    );
}
