//! The one event loop: `tokio::select!` over terminal events, the session's events, a tick,
//! finished saves and signals. Updates run as messages arrive; a frame is drawn only when
//! something changed. Nothing here waits on the network: requests go to the session task.

use std::io;
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
use super::app::{App, Level};
use super::keymap;
use super::save;
use super::update::{Effect, Msg, update};
use super::view;
use crate::engine::driver::{self, Driver};

/// Engine events handled per loop turn before drawing, so a flood cannot starve the screen.
const DRAIN_LIMIT: usize = 4096;

/// Runs until the user leaves. `live` is false for a read-only replay (no session task).
/// `side` carries messages from another part of the program (the demo's simulator).
pub async fn run<B, S>(
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
    let (saved_tx, mut saved_rx) = mpsc::unbounded_channel();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    if let Ok(size) = terminal.size() {
        app.size = (size.width, size.height);
    }
    for msg in first {
        handle(app, msg, &mut driver, &saved_tx);
    }
    draw(terminal, app)?;
    // Debug builds only: lets the terminal-safety test check the restore path on a panic.
    #[cfg(debug_assertions)]
    if std::env::var_os("SMTPSCOPE_TEST_PANIC").is_some() {
        panic!("SMTPSCOPE_TEST_PANIC: a test-only panic after the first frame");
    }
    while !app.should_quit {
        let engine_open = driver.is_some();
        let msg = tokio::select! {
            ev = term_events.next() => match ev {
                Some(Ok(ev)) => keymap::translate(app, &ev),
                Some(Err(e)) => return Err(e),
                None => break,
            },
            ev = next_engine_event(&mut driver), if engine_open => Some(match ev {
                Some(ev) => Msg::Engine(ev),
                None => {
                    driver = None;
                    Msg::EngineClosed
                }
            }),
            _ = tick.tick() => Some(Msg::Tick),
            Some(result) = saved_rx.recv() => Some(Msg::Saved(result)),
            msg = next_side(&mut side) => match msg {
                Some(msg) => Some(msg),
                None => {
                    side = None;
                    None
                }
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

fn draw<B>(terminal: &mut Terminal<B>, app: &mut App) -> io::Result<()>
where
    B: Backend,
    B::Error: Into<io::Error>,
{
    terminal
        .draw(|frame| view::render(frame, app))
        .map_err(Into::into)?;
    app.dirty = false;
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

fn drain_engine(
    app: &mut App,
    driver: &mut Option<Driver>,
    saved_tx: &mpsc::UnboundedSender<Result<Vec<String>, String>>,
) {
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

/// Runs `update` and carries out its effects.
fn handle(
    app: &mut App,
    msg: Msg,
    driver: &mut Option<Driver>,
    saved_tx: &mpsc::UnboundedSender<Result<Vec<String>, String>>,
) {
    for effect in update(app, msg) {
        match effect {
            Effect::Send(request) => {
                if driver.is_none() && app.read_only.is_none() {
                    *driver = Some(driver::spawn(app.config.clone()));
                }
                let Some(d) = driver.as_ref() else { continue };
                match d.requests.try_send(request) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        app.busy = false;
                        app.set_status(
                            Level::Warning,
                            "Too many requests queued behind a slow server; not sent (c reconnects)",
                        );
                    }
                    Err(TrySendError::Closed(_)) => {
                        app.busy = false;
                        app.set_status(
                            Level::Error,
                            "The session task has ended; c starts a new one",
                        );
                        *driver = None;
                    }
                }
            }
            Effect::RestartDriver => {
                if let Some(d) = driver.take() {
                    d.task.abort();
                }
                *driver = Some(driver::spawn(app.config.clone()));
            }
            Effect::Save => {
                let entries = app.store.entries().to_vec();
                let reveal_user = app.reveal_user;
                let tx = saved_tx.clone();
                app.set_status(Level::Info, "Saving…");
                tokio::task::spawn_blocking(move || {
                    let dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
                    let result = save::save(&entries, &dir, &Local::now(), reveal_user)
                        .map_err(|e| e.to_string());
                    let _ = tx.send(result);
                });
            }
            Effect::Quit => app.should_quit = true,
        }
    }
}
