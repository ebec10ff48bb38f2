//! Terminal events to messages for `update`: keys through the [`keymap`], mouse clicks
//! through the layout's hit test, resizes and pastes as they are. The event loop calls this;
//! `keymap` stays a table of keys and `update` never sees a raw event.

use crossterm::event::{Event as TermEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};

use super::action::Action;
use super::app::{App, Overlay};
use super::keymap;
use super::layout;
use super::update::Msg;

/// Rows the wheel scrolls per notch.
const WHEEL_ROWS: i32 = 3;

/// The action of a mouse event: buttons by position, the wheel, transcript clicks.
pub(crate) fn mouse_action(app: &App, mouse: MouseEvent) -> Option<Action> {
    match mouse.kind {
        MouseEventKind::ScrollUp if app.form.is_none() => Some(Action::Scroll(-WHEEL_ROWS)),
        MouseEventKind::ScrollDown if app.form.is_none() => Some(Action::Scroll(WHEEL_ROWS)),
        MouseEventKind::Down(MouseButton::Left)
            if app.form.is_none() && app.overlay == Overlay::None =>
        {
            let areas = layout::compute(layout::screen(app.size), app);
            areas.hit(mouse.column, mouse.row)
        }
        _ => None,
    }
}

/// Turns a terminal event into a message for `update`.
pub fn translate(app: &App, event: &TermEvent) -> Option<Msg> {
    match event {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
            keymap::key_action(app, key).map(Msg::Action)
        }
        TermEvent::Mouse(mouse) => mouse_action(app, *mouse).map(Msg::Action),
        TermEvent::Resize(w, h) => Some(Msg::Resize(*w, *h)),
        TermEvent::Paste(text) if app.form.is_some() => Some(Msg::Paste(text.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    /// The layering the module docs promise: the keymap maps keys to actions only, and
    /// `update` never draws.
    #[test]
    fn keymap_is_keys_only_and_update_never_imports_the_view() {
        let keymap = include_str!("keymap.rs");
        let code = keymap.split("#[cfg(test)]").next().unwrap_or(keymap);
        for banned in [
            "super::layout",
            "super::update",
            "Msg",
            "MouseEvent",
            "crate::tui::layout",
        ] {
            assert!(!code.contains(banned), "keymap.rs mentions {banned}");
        }
        for (name, src) in [
            ("update/mod.rs", include_str!("update/mod.rs")),
            ("update/navigate.rs", include_str!("update/navigate.rs")),
            ("update/forms.rs", include_str!("update/forms.rs")),
        ] {
            let code = src.split("#[cfg(test)]").next().unwrap_or(src);
            assert!(
                !code.contains("tui::view") && !code.contains("super::view"),
                "{name} imports the view"
            );
        }
    }
}
