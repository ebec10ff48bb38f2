//! Taking over the terminal and giving it back: raw mode, the alternate screen, mouse capture
//! and bracketed paste on; all of it undone on every way out (normal exit, error, panic, signal).

use std::io::{self, Stdout, stdout};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub(crate) type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped, so early returns and `?` cannot leave it raw.
pub(crate) struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undoes [`init`]. Safe to call more than once; every step is tried even if one fails.
pub(crate) fn restore() {
    let mut out = stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        Show
    );
    let _ = disable_raw_mode();
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, or the panic message lands on the alternate screen and vanishes.
            restore();
            previous(info);
        }));
    });
}

/// Takes over the terminal.
pub(crate) fn init() -> io::Result<(Tui, Guard)> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = Guard(());
    // Bracketed paste: a pasted line arrives whole, so its newline cannot press Enter.
    execute!(
        stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        Hide
    )?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}
