//! The status line and the button bar. The buttons come from the keymap; the ones that make
//! no sense in the current state are dimmed but still work.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::content::status;
use crate::tui::layout::Areas;

pub(crate) fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    frame.render_widget(
        Paragraph::new(status::status(app)).wrap(Wrap { trim: false }),
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
