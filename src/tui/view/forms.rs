//! The dialogs: AUTH (masked password), MAIL FROM, RCPT TO, the DATA composer and the raw line.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::centered;
use crate::engine::escape::escape_str;
use crate::tui::app::App;
use crate::tui::form::{Field, Form, FormKind};
use crate::tui::layout::width;

fn footer(kind: FormKind) -> &'static str {
    match kind {
        FormKind::Compose => {
            " Ctrl-S send · Enter next field (body: new line) · Tab/S-Tab fields · Esc cancel "
        }
        _ => " Enter send · Tab field · Ctrl-U clear · Esc cancel ",
    }
}

fn explain(kind: FormKind, tls: bool) -> &'static str {
    match kind {
        // Base64 is an encoding anyone can reverse: only TLS hides the password on the wire.
        FormKind::Auth(_) if tls => {
            "The password is base64-encoded (an encoding, not encryption); TLS is on, so it is encrypted on the wire. It is never recorded."
        }
        FormKind::Auth(_) => {
            "No TLS yet: the password would go base64-encoded, which anyone on the path can decode. It is never recorded."
        }
        FormKind::Mail => {
            "The envelope sender; smtpscope adds the angle brackets. Parameters: what the extension flags and the server's EHLO call for (SIZE, BODY, SMTPUTF8, RET, ENVID, REQUIRETLS); left as they are they fit the sender sent, edited they go as typed."
        }
        FormKind::Rcpt => {
            "One recipient; RCPT again adds more. Parameters: DSN's NOTIFY= and ORCPT= from --dsn-notify when the server offers DSN; edited they go as typed."
        }
        FormKind::Compose => {
            "Sent after the server's 354, dot-stuffed, with Date and Message-ID added. Headers: one 'Name: value' a line; Attach: file paths, comma-separated; HTML: the HTML part, typed or @FILE. It is linted first: warnings go to the transcript."
        }
        FormKind::Raw => {
            "Sent as typed, plus CRLF. AUTH data typed here (and any line after a 334) is recorded redacted."
        }
        FormKind::MessageLine => {
            "Each line goes at once, no reply awaited; empty lines too. A line with only '.' ends the message (a leading '.' is doubled on the wire, so it arrives as typed)."
        }
    }
}

/// The visible part of a single-line value, scrolled so the cursor shows; and the cursor column.
fn window(text: &str, cursor: usize, cols: usize) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let start = cursor.saturating_sub(cols.saturating_sub(1));
    let shown: String = chars.iter().skip(start).take(cols).collect();
    let col = width(
        &chars[start..cursor.min(chars.len())]
            .iter()
            .collect::<String>(),
    );
    (shown, col)
}

pub(crate) fn render(frame: &mut Frame, area: Rect, app: &App, form: &Form) {
    let t = app.theme;
    let compose = form.kind == FormKind::Compose;
    let w = area
        .width
        .saturating_sub(4)
        .min(if compose { 100 } else { 76 });
    let h = if compose {
        area.height.saturating_sub(2)
    } else {
        // Borders, the wrapped explanation and warning, a blank row, the fields, the error:
        // the box grows with its text, so the field is never pushed out of it.
        let mut head = Vec::new();
        if let Some(w) = &form.warning {
            head.push(Line::raw(format!("⚠ {w}")));
        }
        head.push(Line::raw(explain(form.kind, app.session.tls().is_some())));
        let head_rows = wrapped_rows(&head, w.saturating_sub(2));
        let error_rows = u16::from(form.error.is_some()) * 2;
        let fields = u16::try_from(form.fields.len()).unwrap_or(u16::MAX);
        2 + head_rows + 1 + fields + error_rows
    };
    let rect = centered(area, w, h);
    frame.render_widget(Clear, rect);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(Span::styled(
            if form.bdat {
                " BDAT: compose the message (sent in chunks, no dot-stuffing) ".to_string()
            } else {
                format!(" {} ", form.kind.title())
            },
            t.title(),
        ))
        .title_bottom(footer(form.kind));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let mut head: Vec<Line> = Vec::new();
    if let Some(w) = &form.warning {
        head.push(Line::from(Span::styled(format!("⚠ {w}"), t.warning())));
    }
    head.push(Line::from(Span::styled(
        explain(form.kind, app.session.tls().is_some()),
        t.dim(),
    )));
    let head_rows = wrapped_rows(&head, inner.width);
    frame.render_widget(
        Paragraph::new(head).wrap(Wrap { trim: true }),
        Rect::new(inner.x, inner.y, inner.width, head_rows.min(inner.height)),
    );
    let label_w = form
        .fields
        .iter()
        .map(|f| width(f.label))
        .max()
        .map_or(0, |w| u16::try_from(w).unwrap_or(u16::MAX))
        + 2;
    let mut y = inner.y + head_rows + 1;
    let bottom = inner.y + inner.height;
    let error_rows = u16::from(form.error.is_some()) * 2;
    for (i, f) in form.fields.iter().enumerate() {
        if y >= bottom {
            break;
        }
        let focused = i == form.focus;
        let label_style = if focused { t.title() } else { t.dim() };
        let label = Line::from(Span::styled(format!("{}:", f.label), label_style));
        frame.render_widget(Paragraph::new(label), Rect::new(inner.x, y, label_w, 1));
        let x = inner.x + label_w;
        let cols = inner.width.saturating_sub(label_w);
        if f.multiline {
            // The fields below keep their rows: a line each, three for a multi-line one.
            let below: u16 = form.fields[i + 1..]
                .iter()
                .map(|f| if f.multiline { 3 } else { 1 })
                .sum();
            let rows = bottom.saturating_sub(y + error_rows + below).max(1);
            draw_multiline(frame, Rect::new(x, y, cols, rows), f, focused);
            y += rows;
        } else {
            let (shown, col) = window(&f.shown(), f.shown_cursor(), usize::from(cols));
            let style = if focused {
                t.selected()
            } else {
                ratatui::style::Style::new()
            };
            let pad = usize::from(cols).saturating_sub(width(&shown));
            let text = format!("{}{}", escape_str(&shown), " ".repeat(pad));
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(text, style))),
                Rect::new(x, y, cols, 1),
            );
            if focused {
                let cx = x + u16::try_from(col).unwrap_or(0).min(cols.saturating_sub(1));
                frame.set_cursor_position(Position::new(cx, y));
            }
            y += 1;
        }
    }
    if let Some(e) = &form.error {
        let row = Rect::new(inner.x, bottom.saturating_sub(1), inner.width, 1);
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!("✗ {}", escape_str(e)),
                t.error(),
            ))),
            row,
        );
    }
}

fn wrapped_rows(lines: &[Line], cols: u16) -> u16 {
    let n = crate::tui::content::wrapped_rows(lines.to_vec(), cols.max(1));
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// A multi-line field: the lines around the cursor, each cut to the width.
fn draw_multiline(frame: &mut Frame, rect: Rect, f: &Field, focused: bool) {
    let (cur_line, cur_col) = f.line_col();
    let rows = usize::from(rect.height);
    let first = cur_line.saturating_sub(rows.saturating_sub(1));
    let cols = usize::from(rect.width);
    let hskip = cur_col.saturating_sub(cols.saturating_sub(1));
    let lines: Vec<Line> = f
        .value()
        .split('\n')
        .skip(first)
        .take(rows)
        .map(|l| {
            let shown: String = l.chars().skip(hskip).take(cols).collect();
            Line::raw(escape_str(&shown))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rect);
    if focused {
        let x = rect.x + u16::try_from(cur_col - hskip).unwrap_or(0);
        let y = rect.y + u16::try_from(cur_line - first).unwrap_or(0);
        frame.set_cursor_position(Position::new(x, y));
    }
}
