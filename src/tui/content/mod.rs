//! The text of the screen's regions, as pure functions of the model: the view draws it, and
//! the layout measures it (so that what is wrapped gets the rows it needs, never cut).
//! A leaf: it imports neither `layout`, `update` nor `view`.

pub(crate) mod diagnosis;
pub(crate) mod header;
pub(crate) mod status;

use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

/// Rows `lines` take when word-wrapped at `width`, exactly as the view wraps them.
pub(crate) fn wrapped_rows(lines: Vec<Line<'_>>, width: u16) -> usize {
    if width == 0 {
        return lines.len();
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(width)
}
