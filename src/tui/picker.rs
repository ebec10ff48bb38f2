//! A small list picker shown before the debugger, e.g. for `smtpscope demo`'s scenarios.
//!
//! Pure state and rendering like the rest of the TUI; the loop only reads keys.

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind};
use futures::StreamExt;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};

use super::layout::width;
use super::terminal;

/// The picker's key hint, in the words of what the keys do: a digit starts at once.
pub(crate) const HINT: &str =
    "1-9 starts that one at once · ↑/↓ then Enter starts the highlighted one · q leaves";

/// Greedy word wrap at `cols` columns; a word longer than a line is split. Never cuts.
fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let sep = usize::from(!line.is_empty());
        if !line.is_empty() && width(&line) + sep + width(word) > cols {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        for c in word.chars() {
            if width(&line) + width(c.encode_utf8(&mut [0; 4])) > cols && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One choice: a short name and a line that says what it shows.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub name: String,
    pub summary: String,
}

/// The picker's state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Picker {
    pub title: String,
    pub choices: Vec<Choice>,
    pub selected: usize,
}

/// What a key does to the picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stay,
    Chosen(usize),
    Cancelled,
}

impl Picker {
    /// Applies one key: arrows/j/k move, Enter chooses, a digit chooses directly, q/Esc cancel.
    pub(crate) fn key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Outcome {
        let n = self.choices.len();
        match code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.checked_sub(1).unwrap_or(n.saturating_sub(1));
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                self.selected = (self.selected + 1) % n.max(1);
            }
            KeyCode::Enter => return Outcome::Chosen(self.selected),
            KeyCode::Char(c @ '1'..='9') => {
                let i = c as usize - '1' as usize;
                if i < n {
                    return Outcome::Chosen(i);
                }
            }
            KeyCode::Esc | KeyCode::Char('q') => return Outcome::Cancelled,
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => {
                return Outcome::Cancelled;
            }
            _ => {}
        }
        Outcome::Stay
    }

    /// Draws the picker.
    pub(crate) fn render(&self, frame: &mut Frame<'_>, area: Rect) {
        let hint = Paragraph::new(HINT).wrap(Wrap { trim: true });
        let hint_rows = u16::try_from(hint.line_count(area.width.max(1))).unwrap_or(2);
        let [head, list, help] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(3),
            Constraint::Length(hint_rows),
        ])
        .areas(area);
        // The summary is indented 3 columns after the 2-column highlight symbol.
        let cols = usize::from(list.width.saturating_sub(5));
        frame.render_widget(
            Paragraph::new(self.title.as_str())
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::BOTTOM)),
            head,
        );
        let items: Vec<ListItem<'_>> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut lines = vec![Line::from(vec![Span::styled(
                    format!("{}  {}", i + 1, c.name),
                    Style::default().add_modifier(Modifier::BOLD),
                )])];
                lines.extend(
                    wrap(&c.summary, cols)
                        .into_iter()
                        .map(|l| Line::from(format!("   {l}"))),
                );
                ListItem::new(lines)
            })
            .collect();
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            List::new(items)
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
                .highlight_symbol("> "),
            list,
            &mut state,
        );
        frame.render_widget(hint, help);
    }
}

/// Shows the picker full screen; `None` when the user leaves without choosing.
pub(crate) async fn pick(mut picker: Picker) -> std::io::Result<Option<usize>> {
    let (mut term, guard) = terminal::init()?;
    let mut events = EventStream::new();
    let outcome = loop {
        term.draw(|f| picker.render(f, f.area()))?;
        let Some(event) = events.next().await else {
            break None;
        };
        match event? {
            Event::Key(k) if k.kind == KeyEventKind::Press => match picker.key(k.code, k.modifiers)
            {
                Outcome::Stay => {}
                Outcome::Chosen(i) => break Some(i),
                Outcome::Cancelled => break None,
            },
            Event::Mouse(m) if m.kind == MouseEventKind::ScrollDown => {
                picker.key(KeyCode::Down, KeyModifiers::NONE);
            }
            Event::Mouse(m) if m.kind == MouseEventKind::ScrollUp => {
                picker.key(KeyCode::Up, KeyModifiers::NONE);
            }
            _ => {}
        }
    };
    drop(guard);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn picker() -> Picker {
        Picker {
            title: "pick".into(),
            choices: (1..=3)
                .map(|i| Choice {
                    name: format!("c{i}"),
                    summary: format!("s{i}"),
                })
                .collect(),
            selected: 0,
        }
    }

    #[test]
    fn keys_move_and_choose() {
        let mut p = picker();
        assert_eq!(p.key(KeyCode::Up, KeyModifiers::NONE), Outcome::Stay);
        assert_eq!(p.selected, 2, "wraps around");
        p.key(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(p.selected, 0);
        assert_eq!(
            p.key(KeyCode::Enter, KeyModifiers::NONE),
            Outcome::Chosen(0)
        );
        assert_eq!(
            p.key(KeyCode::Char('3'), KeyModifiers::NONE),
            Outcome::Chosen(2)
        );
        assert_eq!(p.key(KeyCode::Char('9'), KeyModifiers::NONE), Outcome::Stay);
        assert_eq!(
            p.key(KeyCode::Char('q'), KeyModifiers::NONE),
            Outcome::Cancelled
        );
        assert_eq!(
            p.key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Outcome::Cancelled
        );
    }

    #[test]
    fn renders_every_choice_at_80x24() {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let p = picker();
        t.draw(|f| p.render(f, f.area())).unwrap();
        let text: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        for needle in ["c1", "s2", "c3", "1-9 starts that one at once"] {
            assert!(text.contains(needle), "{needle}");
        }
    }

    fn screen(p: &Picker, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| p.render(f, f.area())).unwrap();
        let buf = t.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect()
    }

    /// The hint says what the keys do: a digit starts at once, Enter the highlighted one.
    #[test]
    fn the_hint_matches_the_keys() {
        let mut p = picker();
        assert!(HINT.contains("1-9 starts") && HINT.contains("Enter starts"));
        assert_eq!(
            p.key(KeyCode::Char('2'), KeyModifiers::NONE),
            Outcome::Chosen(1)
        );
        assert_eq!(
            p.key(KeyCode::Enter, KeyModifiers::NONE),
            Outcome::Chosen(0)
        );
    }

    /// Long descriptions wrap at 80x24 and 60x15: every word of them is on screen.
    #[test]
    fn descriptions_wrap_never_cut() {
        let long = "IAM allows only 203.0.113.0/24: AUTH, MAIL, RCPT and DATA pass; 554 Access denied after the final dot, which is authorization, not authentication";
        let p = Picker {
            title: "Which session?".into(),
            choices: vec![
                Choice {
                    name: "ip-restricted".into(),
                    summary: long.into(),
                },
                Choice {
                    name: "good".into(),
                    summary: "every step passes".into(),
                },
            ],
            selected: 0,
        };
        for (w, h) in [(80, 24), (60, 15)] {
            let rows = screen(&p, w, h);
            let text = rows.join(" ");
            let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                words.contains(long),
                "{w}x{h}: the description is cut:\n{}",
                rows.join("\n")
            );
            assert!(words.contains("q leaves"), "{w}x{h}:\n{}", rows.join("\n"));
            assert!(!text.contains('…'));
        }
    }
}
