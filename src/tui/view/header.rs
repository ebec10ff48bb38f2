//! The header and the notes row, drawn from [`crate::tui::content::header`]: wrapped, so
//! nothing is cut (the layout gives them the rows they need).

use ratatui::Frame;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::content::header;
use crate::tui::layout::Areas;

pub(crate) fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    frame.render_widget(
        Paragraph::new(header::lines(app, areas.header.width))
            .style(t.header())
            .wrap(Wrap { trim: false }),
        areas.header,
    );
    if let (Some(rect), Some(line)) = (areas.notes, header::notes(app)) {
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: false }), rect);
    }
}
