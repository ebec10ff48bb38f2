//! Semantic styles in one place: reply classes, TLS, phases, buttons. With `NO_COLOR` set the
//! same roles fall back to bold, dim and reverse only (<https://no-color.org>).
//!
//! The colours come from a [`Palette`]: a dark one (the default, for dark terminals) and a
//! light one ship; the configuration file's `[theme]` picks one and may change single roles
//! ([`crate::config`]).

use ratatui::style::{Color, Modifier, Style};

use crate::engine::classify::Phase;
use crate::engine::model::StepStatus;

/// The colour of each role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub reply_2xx: Color,
    pub reply_3xx: Color,
    pub reply_4xx: Color,
    pub reply_5xx: Color,
    pub sent: Color,
    pub meta: Color,
    pub warning: Color,
    pub error: Color,
    pub ok: Color,
    pub tls: Color,
    pub dim: Color,
    pub header_fg: Color,
    pub header_bg: Color,
    pub authentication: Color,
    pub authorization: Color,
    pub envelope: Color,
    pub throttling: Color,
    pub content: Color,
    pub other_phase: Color,
}

impl Palette {
    /// For dark terminal backgrounds (the default).
    pub const DARK: Palette = Palette {
        reply_2xx: Color::Green,
        reply_3xx: Color::Cyan,
        reply_4xx: Color::Yellow,
        reply_5xx: Color::Red,
        sent: Color::White,
        meta: Color::Blue,
        warning: Color::Yellow,
        error: Color::Red,
        ok: Color::Green,
        tls: Color::Magenta,
        dim: Color::DarkGray,
        header_fg: Color::White,
        header_bg: Color::Blue,
        authentication: Color::LightRed,
        authorization: Color::LightMagenta,
        envelope: Color::LightBlue,
        throttling: Color::Yellow,
        content: Color::LightCyan,
        other_phase: Color::Gray,
    };

    /// For light backgrounds: no white or light text, yellow darkened to amber.
    pub const LIGHT: Palette = Palette {
        reply_2xx: Color::Rgb(0x1a, 0x7f, 0x37),
        reply_3xx: Color::Rgb(0x0b, 0x6e, 0x99),
        reply_4xx: Color::Rgb(0x9a, 0x67, 0x00),
        reply_5xx: Color::Rgb(0xc0, 0x1c, 0x28),
        sent: Color::Black,
        meta: Color::Rgb(0x1f, 0x4e, 0xb4),
        warning: Color::Rgb(0x9a, 0x67, 0x00),
        error: Color::Rgb(0xc0, 0x1c, 0x28),
        ok: Color::Rgb(0x1a, 0x7f, 0x37),
        tls: Color::Rgb(0x86, 0x1f, 0x9e),
        dim: Color::Rgb(0x6e, 0x6e, 0x6e),
        header_fg: Color::White,
        header_bg: Color::Rgb(0x1f, 0x4e, 0xb4),
        authentication: Color::Rgb(0xc0, 0x1c, 0x28),
        authorization: Color::Rgb(0x86, 0x1f, 0x9e),
        envelope: Color::Rgb(0x1f, 0x4e, 0xb4),
        throttling: Color::Rgb(0x9a, 0x67, 0x00),
        content: Color::Rgb(0x0b, 0x6e, 0x99),
        other_phase: Color::Rgb(0x55, 0x55, 0x55),
    };

    /// The palette called `name` ("dark" or "light").
    pub fn named(name: &str) -> Option<Palette> {
        match name {
            "dark" => Some(Palette::DARK),
            "light" => Some(Palette::LIGHT),
            _ => None,
        }
    }

    /// The role called `name` (the configuration file's key), to change it.
    pub fn role_mut(&mut self, name: &str) -> Option<&mut Color> {
        Some(match name {
            "reply_2xx" => &mut self.reply_2xx,
            "reply_3xx" => &mut self.reply_3xx,
            "reply_4xx" => &mut self.reply_4xx,
            "reply_5xx" => &mut self.reply_5xx,
            "sent" => &mut self.sent,
            "meta" => &mut self.meta,
            "warning" => &mut self.warning,
            "error" => &mut self.error,
            "ok" => &mut self.ok,
            "tls" => &mut self.tls,
            "dim" => &mut self.dim,
            "header_fg" => &mut self.header_fg,
            "header_bg" => &mut self.header_bg,
            "authentication" => &mut self.authentication,
            "authorization" => &mut self.authorization,
            "envelope" => &mut self.envelope,
            "throttling" => &mut self.throttling,
            "content" => &mut self.content,
            "other_phase" => &mut self.other_phase,
            _ => return None,
        })
    }

    /// The role names, for error messages and the example file.
    pub const ROLES: &'static [&'static str] = &[
        "reply_2xx",
        "reply_3xx",
        "reply_4xx",
        "reply_5xx",
        "sent",
        "meta",
        "warning",
        "error",
        "ok",
        "tls",
        "dim",
        "header_fg",
        "header_bg",
        "authentication",
        "authorization",
        "envelope",
        "throttling",
        "content",
        "other_phase",
    ];
}

impl Default for Palette {
    fn default() -> Palette {
        Palette::DARK
    }
}

/// The styles of the app. `color: false` drops every colour and keeps only modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub palette: Palette,
}

impl Theme {
    /// The dark palette, in colour or not.
    pub(crate) const fn new(color: bool) -> Theme {
        Theme {
            color,
            palette: Palette::DARK,
        }
    }

    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub(crate) fn from_env() -> Theme {
        Theme::with_palette(Palette::DARK)
    }

    /// `palette`, unless `NO_COLOR` is set to a non-empty value (then no colour at all).
    pub(crate) fn with_palette(palette: Palette) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme {
            color: !no_color,
            palette,
        }
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
            2 => self.fg(self.palette.reply_2xx),
            3 => self.fg(self.palette.reply_3xx),
            4 => self.fg(self.palette.reply_4xx).add_modifier(Modifier::BOLD),
            _ => self.fg(self.palette.reply_5xx).add_modifier(Modifier::BOLD),
        }
    }

    /// A line the client sent.
    pub(crate) fn sent(self) -> Style {
        self.fg(self.palette.sent)
    }

    pub(crate) fn meta(self) -> Style {
        self.fg(self.palette.meta)
    }

    pub(crate) fn warning(self) -> Style {
        self.fg(self.palette.warning).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn error(self) -> Style {
        self.fg(self.palette.error).add_modifier(Modifier::BOLD)
    }

    pub(crate) fn ok(self) -> Style {
        self.fg(self.palette.ok).add_modifier(Modifier::BOLD)
    }

    /// The TLS marker and TLS facts.
    pub(crate) fn tls(self) -> Style {
        self.fg(self.palette.tls)
    }

    pub(crate) fn dim(self) -> Style {
        if self.color {
            Style::new().fg(self.palette.dim)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub(crate) fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub(crate) fn header(self) -> Style {
        if self.color {
            Style::new()
                .bg(self.palette.header_bg)
                .fg(self.palette.header_fg)
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
            Phase::Authentication => self.palette.authentication,
            Phase::Authorization => self.palette.authorization,
            Phase::Tls => self.palette.tls,
            Phase::Envelope => self.palette.envelope,
            Phase::Throttling => self.palette.throttling,
            Phase::Content | Phase::Data => self.palette.content,
            Phase::Connection | Phase::Ehlo | Phase::Service => self.palette.other_phase,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_palette_has_no_light_text_and_no_color_drops_it() {
        let light = Theme {
            color: true,
            palette: Palette::LIGHT,
        };
        assert_eq!(light.sent().fg, Some(Color::Black));
        assert_ne!(light.reply(451).fg, Theme::new(true).reply(451).fg);
        let plain = Theme {
            color: false,
            palette: Palette::LIGHT,
        };
        assert_eq!(plain.reply(554).fg, None);
        assert_eq!(
            plain.header(),
            Style::new().add_modifier(Modifier::REVERSED)
        );
        let mut p = Palette::DARK;
        *p.role_mut("sent").unwrap() = Color::Indexed(250);
        assert_eq!(
            Theme {
                color: true,
                palette: p
            }
            .sent()
            .fg,
            Some(Color::Indexed(250))
        );
        for role in Palette::ROLES {
            assert!(p.role_mut(role).is_some(), "{role}");
        }
        assert!(p.role_mut("nope").is_none());
    }
}
