//! Hostile servers seen through the debugger: the engine's events go through the TUI's pure
//! `update` and `view`, and the rendered screen must stay safe and say what happened.

mod common;
mod hostile;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hostile::{Server, Step, send};
use smtpscope::cli::AuthChoice;
use smtpscope::engine::command::Command;
use smtpscope::engine::session::{Event, Session, SessionConfig};
use smtpscope::engine::transport::TlsMode;
use smtpscope::tui::action::Action;
use smtpscope::tui::app::App;
use smtpscope::tui::update::{Msg, update};
use smtpscope::tui::{Launch, view};

/// Runs `drive` against the scripted server and returns the debugger fed with every event.
fn debugger_after(script: Vec<Step>, drive: impl AsyncFnOnce(&mut Session)) -> App {
    let server = Server::start(script);
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let mut cfg = SessionConfig::new("127.0.0.1", server.port(), TlsMode::None);
    cfg.reply_timeout = Duration::from_secs(2);
    let mut session = Session::new(
        cfg.clone(),
        Box::new(move |ev| sink.lock().unwrap().push(ev)),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        drive(&mut session).await;
        session.publish_state();
    });
    let mut app = App::from_launch(Launch {
        config: cfg,
        ehlo: "client.test".into(),
        user: None,
        password: None,
        auth: AuthChoice::None,
        from: None,
        to: vec![],
        title: None,
        notes: vec![],
        autoconnect: false,
    });
    for ev in events.lock().unwrap().drain(..) {
        let _ = update(&mut app, Msg::Engine(ev));
    }
    app
}

fn screen(app: &App) -> String {
    view::render_to_text(app, 120, 40)
}

fn assert_printable(screen: &str) {
    assert!(
        !screen.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the screen:\n{screen:?}"
    );
}

#[test]
fn ansi_escapes_in_replies_are_shown_escaped() {
    let app = debugger_after(
        vec![
            send("220 \x1b[2J\x1b]0;pwned\x07 hello\r\n"),
            Step::Expect("EHLO"),
            send("550 \x1b[31mred\x1b[0m \u{202e}txt.exe\r\n"),
            Step::Stall,
        ],
        async |s| {
            s.connect().await.unwrap();
            let _ = s.command(&Command::Ehlo("client.test".into())).await;
        },
    );
    let text = screen(&app);
    assert_printable(&text);
    assert!(text.contains("\\x1b[31mred"), "{text}");
    assert!(text.contains("\\u{202e}"), "{text}");
}

#[test]
fn a_drop_mid_session_shows_in_header_and_transcript_and_the_app_stays_usable() {
    let mut app = debugger_after(
        vec![
            send("220 hi\r\n"),
            Step::Expect("EHLO"),
            send("250-first\r\n"),
            Step::Reset,
        ],
        async |s| {
            s.connect().await.unwrap();
            let _ = s.command(&Command::Ehlo("client.test".into())).await;
        },
    );
    let text = screen(&app);
    assert_printable(&text);
    assert!(text.contains("closed"), "{text}");
    assert!(text.to_lowercase().contains("connection"), "{text}");
    // Still usable: Next offers to connect again.
    let effects = update(&mut app, Msg::Action(Action::Next));
    assert!(format!("{effects:?}").contains("Connect"), "{effects:?}");
}

#[test]
fn a_421_after_mail_is_classified_and_the_connection_marked_closed() {
    let app = debugger_after(
        vec![
            send("220 hi\r\n"),
            Step::Expect("EHLO"),
            send("250 ok\r\n"),
            Step::Expect("MAIL"),
            send("421 4.7.0 Try again later, closing connection.\r\n"),
            Step::Close,
        ],
        async |s| {
            s.connect().await.unwrap();
            s.command(&Command::Ehlo("client.test".into()))
                .await
                .unwrap();
            let _ = s
                .command(&Command::Mail {
                    from: "a@example.com".into(),
                    params: vec![],
                })
                .await;
        },
    );
    let text = screen(&app);
    assert_printable(&text);
    assert!(text.contains("421"), "{text}");
    assert!(text.contains("[service]"), "{text}");
    assert!(text.contains("✗MAIL"), "{text}");
}

#[test]
fn a_slow_loris_timeout_is_an_alert_not_a_frozen_screen() {
    let app = debugger_after(
        vec![
            send("220 hi\r\n"),
            Step::Expect("EHLO"),
            Step::SendSlow(b"250 s l o w\r\n".to_vec(), Duration::from_millis(400)),
        ],
        async |s| {
            s.connect().await.unwrap();
            let _ = s.command(&Command::Ehlo("client.test".into())).await;
        },
    );
    let text = screen(&app);
    assert_printable(&text);
    assert!(text.contains("within 2s"), "{text}");
}

/// A flood of unsolicited replies is a protocol error: the connection is closed after a
/// bounded number of them, the cause is on screen and the transcript stays small.
fn assert_flood_cut(script: Vec<Step>) {
    let app = debugger_after(script, async |s| {
        s.connect().await.unwrap();
        let _ = s.command(&Command::Ehlo("client.test".into())).await;
        s.wait(Duration::from_secs(5)).await.unwrap_or(());
    });
    assert!(
        app.store.len() < 200,
        "the transcript kept {} entries of a flood",
        app.store.len()
    );
    let text = screen(&app);
    assert_printable(&text);
    assert!(text.contains("without being asked"), "{text}");
    assert!(text.contains("flood"), "{text}");
    assert!(
        !app.session.connected(),
        "the flood must end the connection"
    );
}

#[test]
fn a_flood_of_unsolicited_replies_is_cut_and_said() {
    assert_flood_cut(vec![
        send("220 hi\r\n"),
        Step::Expect("EHLO"),
        send("250 ok\r\n"),
        Step::Repeat(b"250 unsolicited\r\n".to_vec(), 1_000_000),
        Step::Stall,
    ]);
}

#[test]
fn a_flood_of_long_unsolicited_lines_is_cut_by_bytes() {
    let mut line = b"250 ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 60_000));
    line.extend(b"\r\n");
    assert_flood_cut(vec![
        send("220 hi\r\n"),
        Step::Expect("EHLO"),
        send("250 ok\r\n"),
        Step::Repeat(line, 100_000),
        Step::Stall,
    ]);
}
