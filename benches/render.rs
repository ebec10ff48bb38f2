//! Render benchmark: frame time with 100 and with 1,000,000 transcript entries (it must be
//! about the same: only visible rows are drawn), and the key-press -> update -> redrawn
//! frame latency next to the tick length. Run with `cargo bench --bench render`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use smtpscope::cli::AuthChoice;
use smtpscope::engine::session::SessionConfig;
use smtpscope::engine::transport::TlsMode;
use smtpscope::tui::action::Action;
use smtpscope::tui::app::{App, Prefill};
use smtpscope::tui::input;
use smtpscope::tui::sample;
use smtpscope::tui::update::{Msg, update};
use smtpscope::tui::view;

const SIZE: (u16, u16) = (120, 40);
const FRAMES: u32 = 2_000;

fn app_with(entries: usize) -> App {
    let mut app = App::new(
        SessionConfig::new(sample::HOST, 587, TlsMode::Starttls),
        Prefill {
            ehlo: "mail.example.com".into(),
            user: Some(sample::USER.into()),
            auth: AuthChoice::Plain,
            from: Some("a@example.com".into()),
            to: vec!["b@example.com".into()],
            ..Prefill::default()
        },
    );
    update(&mut app, Msg::Resize(SIZE.0, SIZE.1));
    for ev in sample::long_session(entries) {
        update(&mut app, Msg::Engine(ev));
    }
    assert_eq!(app.store.len(), entries);
    app
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).unwrap_or_else(|e| match e {})
}

fn draw(term: &mut Terminal<TestBackend>, app: &App) {
    term.draw(|f| view::render(f, black_box(app)))
        .unwrap_or_else(|e| match e {});
}

/// Time per frame, drawing the same screen (the tail, following).
fn static_frames(app: &App) -> Duration {
    let mut term = terminal();
    for _ in 0..50 {
        draw(&mut term, app);
    }
    let start = Instant::now();
    for _ in 0..FRAMES {
        draw(&mut term, app);
    }
    start.elapsed() / FRAMES
}

/// Time per frame while scrolling a page up and down in the middle of the transcript, so
/// every frame changes and a different part of the store is looked up.
fn scrolling_frames(app: &mut App) -> Duration {
    let mut term = terminal();
    update(app, Msg::Action(Action::Top));
    let middle = i32::try_from(app.store.total_rows() / 2).unwrap_or(i32::MAX);
    update(app, Msg::Action(Action::Scroll(middle)));
    let start = Instant::now();
    for i in 0..FRAMES {
        let step = if i % 2 == 0 {
            Action::PageUp
        } else {
            Action::PageDown
        };
        update(app, Msg::Action(step));
        draw(&mut term, app);
    }
    start.elapsed() / FRAMES
}

/// Key press -> keymap -> update -> redrawn frame, as the event loop does it.
fn key_latency(app: &mut App) -> (Duration, Duration) {
    let mut term = terminal();
    draw(&mut term, app);
    let keys = [
        KeyCode::Up,
        KeyCode::Char('?'),
        KeyCode::Esc,
        KeyCode::Down,
        KeyCode::PageUp,
        KeyCode::End,
    ];
    let mut total = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let n = FRAMES;
    for i in 0..n {
        let key = TermEvent::Key(KeyEvent::new(
            keys[i as usize % keys.len()],
            KeyModifiers::NONE,
        ));
        let start = Instant::now();
        if let Some(msg) = input::translate(app, &key) {
            let effects = update(app, msg);
            black_box(effects);
        }
        draw(&mut term, app);
        let took = start.elapsed();
        total += took;
        worst = worst.max(took);
    }
    (total / n, worst)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    println!(
        "render benchmark: {}x{} TestBackend, {FRAMES} frames each",
        SIZE.0, SIZE.1
    );
    let build = Instant::now();
    let mut small = app_with(100);
    let mut large = app_with(1_000_000);
    println!(
        "(set-up: {:.1}s to feed 1,000,100 entries through update)",
        build.elapsed().as_secs_f64()
    );

    let s = static_frames(&small);
    let l = static_frames(&large);
    println!("static frame     100 entries: {:>8.1} µs/frame", micros(s));
    println!("static frame   1,000,000:     {:>8.1} µs/frame", micros(l));
    println!(
        "ratio 1,000,000 / 100:        {:>8.2}",
        l.as_secs_f64() / s.as_secs_f64()
    );

    let s = scrolling_frames(&mut small);
    let l = scrolling_frames(&mut large);
    println!("scrolling frame  100 entries: {:>8.1} µs/frame", micros(s));
    println!("scrolling frame 1,000,000:    {:>8.1} µs/frame", micros(l));
    println!(
        "ratio 1,000,000 / 100:        {:>8.2}",
        l.as_secs_f64() / s.as_secs_f64()
    );

    let tick = Duration::from_millis(large.tick_ms);
    for (name, app) in [("100", &mut small), ("1,000,000", &mut large)] {
        let (mean, worst) = key_latency(app);
        println!(
            "key -> update -> frame ({name} entries): mean {:.1} µs, worst {:.1} µs; tick {} ms ({:.0}x the worst)",
            micros(mean),
            micros(worst),
            tick.as_millis(),
            tick.as_secs_f64() / worst.as_secs_f64()
        );
    }
}
