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

use super::terminal;

/// One choice: a short name and a line that says what it shows.
#[derive(Debug, Clone)]
pub struct Choice {
    pub name: String,
    pub summary: String,
}

/// The picker's state.
#[derive(Debug, Clone, Default)]
pub struct Picker {
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
    pub fn key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Outcome {
        let n = self.choices.len();
        match code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.checked_sub(1).unwrap_or(n.saturating_sub(1))
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                self.selected = (self.selected + 1) % n.max(1)
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
    pub fn render(&self, frame: &mut Frame<'_>, area: Rect) {
        let [head, list, help] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(3),
            Constraint::Length(2),
        ])
        .areas(area);
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
                ListItem::new(vec![
                    Line::from(vec![Span::styled(
                        format!("{}  {}", i + 1, c.name),
                        Style::default().add_modifier(Modifier::BOLD),
                    )]),
                    Line::from(format!("   {}", c.summary)),
                ])
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
        frame.render_widget(
            Paragraph::new("Up/Down or 1-9 to choose, Enter to start, q to leave"),
            help,
        );
    }
}

/// Shows the picker full screen; `None` when the user leaves without choosing.
pub async fn pick(mut picker: Picker) -> std::io::Result<Option<usize>> {
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
            .map(|c| c.symbol())
            .collect();
        for needle in ["c1", "s2", "c3", "Enter to start"] {
            assert!(text.contains(needle), "{needle}");
        }
    }
}
