//! The one event loop: `tokio::select!` over terminal events, the session's events, a tick,
//! finished saves and signals. Updates run as messages arrive; a frame is drawn only when
//! something changed. Nothing here waits on the network: requests go to the session task.

use std::io::{self, Write};

use base64::Engine as _;
use std::time::Duration;

use chrono::Local;
use crossterm::event::Event as TermEvent;
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::MissedTickBehavior;

use super::action::Action;
use super::app::App;
use super::input;
use super::save;
use super::update::{Effect, EffectFailure, Msg, update};
use super::view;
use crate::engine::driver::{self, Driver};

/// Engine events handled per loop turn before drawing, so a flood cannot starve the screen.
const DRAIN_LIMIT: usize = 4096;

/// Runs until the user leaves. `live` is false for a read-only replay (no session task).
/// `side` carries messages from another part of the program (the demo's simulator).
pub(crate) async fn run<B, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    live: bool,
    mut term_events: S,
    first: Vec<Msg>,
    mut side: Option<mpsc::Receiver<Msg>>,
) -> io::Result<()>
where
    B: Backend,
    B::Error: Into<io::Error>,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let mut driver = live.then(|| driver::spawn(app.config.clone()));
    let mut tick = tokio::time::interval(Duration::from_millis(app.tick_ms));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Results of background effects (a save, an AWS check), back to `update` as messages.
    let (saved_tx, mut saved_rx) = mpsc::unbounded_channel();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let size = terminal.size().ok().map(|s| Msg::Resize(s.width, s.height));
    for msg in size.into_iter().chain(first) {
        handle(app, msg, &mut driver, &saved_tx);
    }
    draw(terminal, app)?;
    // Test builds only: lets the terminal-safety test check the restore path on a panic.
    #[cfg(feature = "test-support")]
    assert!(
        std::env::var_os("SMTPSCOPE_TEST_PANIC").is_none(),
        "SMTPSCOPE_TEST_PANIC: a test-only panic after the first frame"
    );
    while !app.should_quit {
        let engine_open = driver.is_some();
        let msg = tokio::select! {
            ev = term_events.next() => match ev {
                Some(Ok(ev)) => input::translate(app, &ev),
                Some(Err(e)) => return Err(e),
                None => break,
            },
            ev = next_engine_event(&mut driver), if engine_open => Some(if let Some(ev) = ev { Msg::Engine(ev) } else {
                driver = None;
                Msg::EngineClosed
            }),
            _ = tick.tick() => Some(Msg::Tick),
            Some(msg) = saved_rx.recv() => Some(msg),
            msg = next_side(&mut side) => if let Some(msg) = msg { Some(msg) } else {
                side = None;
                None
            },
            _ = sigint.recv() => Some(Msg::Action(Action::Quit)),
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        };
        if let Some(msg) = msg {
            handle(app, msg, &mut driver, &saved_tx);
        }
        drain_engine(app, &mut driver, &saved_tx);
        if app.dirty && !app.should_quit {
            draw(terminal, app)?;
        }
    }
    if let Some(d) = driver {
        d.task.abort();
    }
    Ok(())
}

/// Renders the model (read-only) and tells `update` the frame is on screen.
fn draw<B>(terminal: &mut Terminal<B>, app: &mut App) -> io::Result<()>
where
    B: Backend,
    B::Error: Into<io::Error>,
{
    let shown: &App = app;
    terminal
        .draw(|frame| view::render(frame, shown))
        .map_err(Into::into)?;
    update(app, Msg::Drawn);
    Ok(())
}

async fn next_side(side: &mut Option<mpsc::Receiver<Msg>>) -> Option<Msg> {
    match side {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_engine_event(driver: &mut Option<Driver>) -> Option<crate::engine::session::Event> {
    match driver {
        Some(d) => d.events.recv().await,
        None => std::future::pending().await,
    }
}

fn drain_engine(app: &mut App, driver: &mut Option<Driver>, saved_tx: &mpsc::UnboundedSender<Msg>) {
    for _ in 0..DRAIN_LIMIT {
        let Some(d) = driver.as_mut() else { return };
        match d.events.try_recv() {
            Ok(ev) => handle(app, Msg::Engine(ev), driver, saved_tx),
            Err(mpsc::error::TryRecvError::Empty) => return,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                *driver = None;
                handle(app, Msg::EngineClosed, driver, saved_tx);
                return;
            }
        }
    }
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard, base64-encoded so no byte
/// of it can act as a control sequence.
pub(crate) fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{encoded}\x07")
}

/// Runs `update`, carries out its effects, and feeds any failure back to `update` as a
/// message: the model has one writer.
fn handle(
    app: &mut App,
    msg: Msg,
    driver: &mut Option<Driver>,
    saved_tx: &mpsc::UnboundedSender<Msg>,
) {
    let mut pending = vec![msg];
    while let Some(msg) = pending.pop() {
        for effect in update(app, msg) {
            if let Err(failure) = perform(app, effect, driver, saved_tx) {
                pending.push(Msg::EffectFailed(failure));
            }
        }
    }
}

/// Carries out one effect. Reads the model (its configuration), never writes it.
fn perform(
    app: &App,
    effect: Effect,
    driver: &mut Option<Driver>,
    saved_tx: &mpsc::UnboundedSender<Msg>,
) -> Result<(), EffectFailure> {
    match effect {
        Effect::Send(request) => {
            if driver.is_none() && app.read_only.is_none() {
                *driver = Some(driver::spawn(app.config.clone()));
            }
            let Some(d) = driver.as_ref() else {
                return Ok(());
            };
            match d.requests.try_send(request) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => Err(EffectFailure::QueueFull),
                Err(TrySendError::Closed(_)) => {
                    *driver = None;
                    Err(EffectFailure::SessionEnded)
                }
            }
        }
        Effect::RestartDriver => {
            if let Some(d) = driver.take() {
                d.task.abort();
            }
            *driver = Some(driver::spawn(app.config.clone()));
            Ok(())
        }
        Effect::Save {
            entries,
            reveal_user,
        } => {
            let tx = saved_tx.clone();
            tokio::task::spawn_blocking(move || {
                let dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
                let result = save::save(&entries, &dir, &Local::now(), reveal_user)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Saved(result));
            });
            Ok(())
        }
        Effect::ExportChain(chain) => {
            let tx = saved_tx.clone();
            tokio::task::spawn_blocking(move || {
                let dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
                let result = save::save_chain(&chain, &dir, &Local::now());
                let _ = tx.send(Msg::ChainExported(result));
            });
            Ok(())
        }
        Effect::Copy(text) => {
            // The terminal's writer is the backend's; OSC 52 goes straight to stdout.
            let mut out = io::stdout();
            out.write_all(osc52(&text).as_bytes())
                .and_then(|()| out.flush())
                .map_err(|_| EffectFailure::Copy)
        }
        Effect::MouseCapture(on) => {
            let mut out = io::stdout();
            let done = if on {
                crossterm::execute!(out, crossterm::event::EnableMouseCapture)
            } else {
                crossterm::execute!(out, crossterm::event::DisableMouseCapture)
            };
            done.map_err(|_| EffectFailure::MouseCapture)
        }
        Effect::AwsCheck { question, profile } => {
            // A task, so the screen keeps drawing while AWS answers (bounded by the reader's
            // own timeouts).
            let tx = saved_tx.clone();
            tokio::spawn(async move {
                let result = crate::tui::aws::run(*question, profile).await;
                let _ = tx.send(Msg::AwsChecked(result));
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::osc52;

    #[test]
    fn osc52_carries_the_text_base64_encoded() {
        let seq = osc52("554 Access denied: \x1b[2J");
        assert!(seq.starts_with("\x1b]52;c;") && seq.ends_with('\x07'));
        let body = &seq["\x1b]52;c;".len()..seq.len() - 1];
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
        use base64::Engine as _;
        let back = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(back, "554 Access denied: \x1b[2J".as_bytes());
    }
}
