//! The transcript: only the rows on screen are looked up (a binary search in the store) and
//! formatted, so a frame costs the same with a million entries as with a hundred.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use crate::engine::escape::{escape_bytes, escape_str};
use crate::engine::transcript::{Entry, EntryKind, marker};
use crate::tui::app::{App, Follow};
use crate::tui::layout::{Areas, width};
use crate::tui::store::rows_of;
use crate::tui::theme::Theme;
use crate::tui::update::top_row;

/// Columns before the text: gutter, time, marker.
const PREFIX: u16 = 14;

pub(crate) fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let top = top_row(app);
    let total = app.store.total_rows();
    let rows = u64::from(areas.transcript.height);
    let position = if app.scroll.is_none() {
        String::new()
    } else {
        format!(" · rows {}-{} of {total}", top + 1, (top + rows).min(total))
    };
    let (mode, mode_style) = match app.follow {
        Follow::Latest => ("following".to_string(), t.dim()),
        Follow::Decisive => (
            "✗ kept (decided the verdict) · End follows".into(),
            t.error(),
        ),
        Follow::User => ("selection kept · End follows".into(), t.warning()),
    };
    // The mode first: it says why the selection is where it is, and must not be cut.
    let title = Line::from(vec![
        Span::styled(" Transcript · ", t.title()),
        Span::styled(mode, mode_style),
        Span::styled(
            format!(" · {} entries{position} ", app.store.len()),
            t.dim(),
        ),
    ]);
    frame.render_widget(
        Block::new().borders(Borders::TOP).title(title),
        areas.transcript_title,
    );
    let explained = app.explained();
    let decisive = app.session.decisive_seq();
    let area = areas.transcript;
    let buf = frame.buffer_mut();
    for r in 0..area.height {
        let Some((idx, k)) = app.store.locate(top + u64::from(r)) else {
            break;
        };
        let Some(entry) = app.store.get(idx) else {
            break;
        };
        let row = Rect::new(area.x, area.y + r, area.width, 1);
        let gutter = Gutter {
            selected: explained == Some(idx),
            decisive: k == 0 && decisive == Some(entry.seq),
        };
        draw_row(buf, row, app, entry, k, gutter);
    }
}

/// What the first column of a row says.
#[derive(Clone, Copy)]
struct Gutter {
    /// The entry the diagnosis explains.
    selected: bool,
    /// The reply (or error) that decided the verdict.
    decisive: bool,
}

fn draw_row(buf: &mut Buffer, row: Rect, app: &App, entry: &Entry, k: u64, g: Gutter) {
    let t = app.theme;
    let selected = g.selected;
    let gutter = if g.decisive {
        Span::styled("✗", t.error())
    } else if selected {
        Span::styled("▶", t.title())
    } else {
        Span::raw(" ")
    };
    let time = if k == 0 {
        entry
            .time
            .with_timezone(&app.offset)
            .format("%H:%M:%S")
            .to_string()
    } else {
        " ".repeat(8)
    };
    let mark_style = if entry.tls { t.tls() } else { t.dim() };
    let (text, style) = row_text(app, entry, k);
    let badge = badge(t, entry, k);
    let badge_width = u16::try_from(badge.iter().map(Span::width).sum::<usize>()).unwrap_or(0);
    let avail = row.width.saturating_sub(PREFIX + badge_width);
    let style = if selected {
        style.patch(t.selected())
    } else {
        style
    };
    let mut spans = vec![
        gutter,
        Span::styled(time, t.dim()),
        Span::raw(" "),
        Span::styled(marker(entry), mark_style),
        Span::raw(" "),
        Span::styled(clip(&text, app.hscroll, avail), style),
    ];
    let used = PREFIX + u16::try_from(spans[5].width()).unwrap_or(avail);
    if badge_width > 0 && used + badge_width <= row.width {
        spans.push(Span::raw(
            " ".repeat(usize::from(row.width - used - badge_width)),
        ));
        spans.extend(badge);
    }
    buf.set_line(row.x, row.y, &Line::from(spans), row.width);
}

/// Cuts `text` to `avail` columns after skipping `skip` columns; `…` marks a cut.
fn clip(text: &str, skip: u16, avail: u16) -> String {
    let mut out = String::new();
    let mut col = 0usize;
    let mut used = 0usize;
    let avail = usize::from(avail);
    let skip = usize::from(skip);
    let total = width(text);
    let cut = total > skip + avail;
    let room = if cut { avail.saturating_sub(1) } else { avail };
    for c in text.chars() {
        let w = width(c.encode_utf8(&mut [0; 4]));
        if col < skip {
            col += w;
            continue;
        }
        if used + w > room {
            break;
        }
        out.push(c);
        used += w;
    }
    if cut && avail > 0 {
        out.push('…');
    }
    out
}

/// The phase badge and latency at the end of a reply's last line (or an error's line).
fn badge(t: Theme, entry: &Entry, k: u64) -> Vec<Span<'static>> {
    match &entry.kind {
        EntryKind::Reply(r) if k + 1 == rows_of(entry) => {
            let mut out = vec![Span::styled(
                format!(" [{}]", r.class.phase),
                t.phase(r.class.phase),
            )];
            match entry.latency_ms {
                Some(ms) => out.push(Span::styled(format!(" {ms:>4}ms"), t.dim())),
                None if r.after.is_none() => out.push(Span::styled(" unasked", t.warning())),
                None => {}
            }
            out
        }
        EntryKind::Error { phase, .. } => {
            vec![Span::styled(format!(" [{phase}]"), t.phase(*phase))]
        }
        _ => Vec::new(),
    }
}

/// The text of row `k` of an entry, escaped, and its style.
fn row_text(app: &App, entry: &Entry, k: u64) -> (String, Style) {
    let t = app.theme;
    match &entry.kind {
        EntryKind::Connecting { host, port, mode } => (
            format!("Trying {}:{port} (TLS mode: {mode})…", escape_str(host)),
            t.meta(),
        ),
        EntryKind::Connected { peer } => (format!("Connected to {}", escape_str(peer)), t.meta()),
        EntryKind::TlsStarted { info } if k == 0 => (
            format!("TLS started: {}", escape_str(&info.summary())),
            t.tls(),
        ),
        EntryKind::TlsStarted { info } => {
            let names = info
                .chain
                .first()
                .map(|c| format!("{}; valid until {}", c.sans.join(", "), c.not_after))
                .unwrap_or_default();
            (
                format!("  certificate names: {}", escape_str(&names)),
                t.tls(),
            )
        }
        EntryKind::Sent { line, redacted, .. } => {
            let shown = match redacted {
                Some(r) => r.render(app.reveal_user),
                None => line.clone(),
            };
            (escape_str(&shown), t.sent())
        }
        EntryKind::Message { stats, .. } => (
            format!(
                "<message: {} bytes, {} lines, {} dot-stuffed; then \".\">",
                stats.bytes, stats.lines, stats.stuffed_lines
            ),
            t.sent(),
        ),
        EntryKind::Reply(r) => {
            let line = usize::try_from(k)
                .ok()
                .and_then(|k| r.lines.get(k))
                .map(|l| escape_bytes(&l.raw))
                .unwrap_or_default();
            (line, t.reply(r.code))
        }
        EntryKind::Info { text } => (escape_str(text), t.meta()),
        EntryKind::Warning { text, .. } => (format!("warning: {}", escape_str(text)), t.warning()),
        EntryKind::Error { phase, text, .. } => {
            (format!("{phase} error: {}", escape_str(text)), t.error())
        }
        EntryKind::Closed { reason } => (
            format!("Connection closed: {}", escape_str(reason)),
            t.warning(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clip_marks_the_cut_and_scrolls() {
        assert_eq!(clip("hello", 0, 10), "hello");
        assert_eq!(clip("hello world", 0, 6), "hello…");
        assert_eq!(clip("hello world", 6, 10), "world");
        assert_eq!(clip("hello world", 2, 4), "llo…");
    }
}
