//! Semantic styles in one place: reply classes, TLS, phases, buttons. With `NO_COLOR` set the
//! same roles fall back to bold, dim and reverse only (<https://no-color.org>).

use ratatui::style::{Color, Modifier, Style};

use crate::engine::classify::Phase;
use crate::engine::model::StepStatus;

/// The styles of the app. `color: false` drops every colour and keeps only modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub(crate) fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A reply line, by its code's class.
    pub(crate) fn reply(self, code: u16) -> Style {
        match code / 100 {
            2 => self.fg(Color::Green),
            3 => self.fg(Color::Cyan),
            4 => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            _ => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// A line the client sent.
    pub(crate) fn sent(self) -> Style {
        self.fg(Color::White)
    }

    pub(crate) fn meta(self) -> Style {
        self.fg(Color::Blue)
    }

    pub(crate) fn warning(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn ok(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    /// The TLS marker and TLS facts.
    pub(crate) fn tls(self) -> Style {
        self.fg(Color::Magenta)
    }

    pub(crate) fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub(crate) fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub(crate) fn header(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub(crate) fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The key cap of a button.
    pub(crate) fn key(self, enabled: bool) -> Style {
        let base = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        if enabled {
            base
        } else {
            base.patch(self.dim())
        }
    }

    pub(crate) fn label(self, enabled: bool) -> Style {
        if enabled { Style::new() } else { self.dim() }
    }

    /// The phase badge of a reply.
    pub(crate) fn phase(self, phase: Phase) -> Style {
        let color = match phase {
            Phase::Authentication => Color::LightRed,
            Phase::Authorization => Color::LightMagenta,
            Phase::Tls => Color::Magenta,
            Phase::Envelope => Color::LightBlue,
            Phase::Throttling => Color::Yellow,
            Phase::Content | Phase::Data => Color::LightCyan,
            Phase::Connection | Phase::Ehlo | Phase::Service => Color::Gray,
        };
        self.fg(color)
    }

    pub(crate) fn step(self, status: StepStatus) -> Style {
        match status {
            StepStatus::Passed => self.ok(),
            StepStatus::Failed => self.error().add_modifier(Modifier::REVERSED),
            StepStatus::Pending => self.warning(),
        }
    }
}
