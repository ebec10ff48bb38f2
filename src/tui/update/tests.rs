//! `update()` tests: what each button, form and key produces, with no terminal and no network.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use zeroize::Zeroizing;

use super::{Effect, EffectFailure, Msg, update};
use crate::engine::command::{Command, Verb};
use crate::engine::driver::Request;
use crate::engine::session::{Event, MessageSource, SessionConfig};
use crate::engine::transport::TlsMode;
use crate::tui::action::{Action, FormAction};
use crate::tui::app::{App, Follow, Level, Overlay, QUIT_WAIT_TICKS};
use crate::tui::form::FormKind;
use crate::tui::input;
use crate::tui::layout;
use crate::tui::sample::app_after;
use crate::tui::sample::{self, HOST, Script, USER};

/// One effect as a short string, so tests read like the transcript.
fn describe(e: &Effect) -> String {
    match e {
        Effect::Send(Request::Connect) => "connect".into(),
        Effect::Send(Request::Command(c)) => c.line(),
        Effect::Send(Request::Auth {
            mechanism,
            credentials,
            initial_response,
        }) => format!(
            "AUTH {} {} ir={initial_response}",
            mechanism.name(),
            credentials.user
        ),
        Effect::Send(Request::Message(MessageSource::Text(_))) => "message".into(),
        Effect::Send(Request::Message(_)) => "message from elsewhere".into(),
        Effect::Send(Request::MessageLine(l)) => format!("line {l:?}"),
        Effect::Send(Request::Lint(_)) => "lint".into(),
        Effect::Send(Request::Annotated { command, .. }) => command.line(),
        Effect::Send(Request::Bdat(MessageSource::Text(t))) => format!("bdat {} bytes", t.len()),
        Effect::Send(Request::Bdat(_)) => "bdat from elsewhere".into(),
        Effect::Send(Request::Group { from, to, message }) => format!(
            "group {from} -> {} with message {}",
            to.join(","),
            message.is_some()
        ),
        Effect::Send(Request::Disconnect) => "disconnect".into(),
        Effect::Send(Request::Shutdown) => "shutdown".into(),
        Effect::Save { entries, .. } => format!("save {} entries", entries.len()),
        Effect::RestartDriver => "restart".into(),
        Effect::Copy(text) => format!("copy {text}"),
        Effect::MouseCapture(on) => format!("mouse {on}"),
        Effect::ExportChain(chain) => format!("export {} certificates", chain.len()),
        Effect::AwsCheck { question, profile } => format!(
            "aws-check {} {} from {} to {} profile {profile:?}",
            question.access_key_id,
            question.region,
            question.from,
            question.recipients.join(",")
        ),
    }
}

fn act(app: &mut App, action: Action) -> Vec<String> {
    update(app, Msg::Action(action))
        .iter()
        .map(describe)
        .collect()
}

fn feed(app: &mut App, events: Vec<Event>) -> Vec<String> {
    let mut out = Vec::new();
    for ev in events {
        out.extend(update(app, Msg::Engine(ev)).iter().map(describe));
    }
    out
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        act(app, Action::Form(FormAction::Insert(c)));
    }
}

fn clear_field(app: &mut App) {
    act(app, Action::Form(FormAction::End));
    for _ in 0..200 {
        act(app, Action::Form(FormAction::Backspace));
    }
}

fn fresh() -> App {
    app_after(Vec::new(), (120, 40))
}

/// Connected, greeted, EHLO done inside TLS: ready for AUTH.
fn in_tls() -> App {
    in_tls_script().0
}

/// The same, with the script to continue the session from there.
fn in_tls_script() -> (App, Script) {
    let mut s = Script::new();
    sample::opening(&mut s);
    let app = app_after(s.events(), (120, 40));
    (app, s)
}

/// After MAIL FROM and RCPT TO were accepted: a message composed now goes with DATA.
fn in_transaction_script() -> (App, Script) {
    let (mut app, mut s) = in_tls_script();
    sample::accept_envelope(&mut s, "policy-fail@example.com");
    feed(&mut app, s.events());
    (app, s)
}

fn form_kind(app: &App) -> Option<FormKind> {
    app.form.as_ref().map(|f| f.kind)
}

fn form_error(app: &App) -> String {
    app.form
        .as_ref()
        .and_then(|f| f.error.clone())
        .unwrap_or_default()
}

#[test]
fn simple_buttons_send_their_command() {
    let mut app = in_tls();
    assert_eq!(act(&mut app, Action::Ehlo), ["EHLO mail.example.com"]);
    assert!(app.busy);
    assert_eq!(act(&mut app, Action::StartTls), ["STARTTLS"]);
    assert_eq!(act(&mut app, Action::Rset), ["RSET"]);
    assert_eq!(act(&mut app, Action::Noop), ["NOOP"]);
    // Shift-Q is the SMTP QUIT: the app stays.
    assert_eq!(act(&mut app, Action::SmtpQuit), ["QUIT"]);
    assert!(!app.should_quit);
}

#[test]
fn buttons_work_when_they_make_no_sense() {
    // Not connected: dimmed, but the command still goes to the engine, which reports it.
    let mut app = fresh();
    assert!(!layout::sensible(&app, Action::Rset));
    assert_eq!(act(&mut app, Action::Rset), ["RSET"]);
    // AUTH before STARTTLS: the form opens with a warning, and sending is allowed.
    let mut s = Script::new();
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(Verb::Connect, 220, &["hi"])
        .publish();
    let mut app = app_after(s.events(), (120, 40));
    act(&mut app, Action::AuthPlain);
    let warning = app.form.as_ref().and_then(|f| f.warning.clone()).unwrap();
    assert!(warning.contains("No TLS"), "{warning}");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        [format!("AUTH PLAIN {USER} ir=true")]
    );
}

#[test]
fn auth_form_is_prefilled_masked_and_asks_for_what_is_missing() {
    let mut app = in_tls();
    app.prefill.password = None;
    act(&mut app, Action::AuthLogin);
    assert_eq!(
        form_kind(&app),
        Some(FormKind::Auth(crate::engine::auth::Mechanism::Login))
    );
    let form = app.form.as_ref().unwrap();
    assert_eq!(form.value(0), USER);
    assert_eq!(form.focus, 1, "focus goes to the missing password");
    assert!(form.fields[1].secret);
    // Empty password: refused, form stays.
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("password"));
    typed(&mut app, "s3cret");
    assert_eq!(app.form.as_ref().unwrap().fields[1].shown(), "••••••••");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        [format!("AUTH LOGIN {USER} ir=true")]
    );
    assert!(app.form.is_none());
    // What was typed is kept for Next, as a secret.
    assert_eq!(
        app.prefill
            .password
            .as_deref()
            .map(std::string::String::as_str),
        Some("s3cret")
    );
}

#[test]
fn auth_form_sends_the_typed_credentials() {
    let mut app = in_tls();
    act(&mut app, Action::AuthPlain);
    let effects = update(&mut app, Msg::Action(Action::Form(FormAction::Submit)));
    match &effects[..] {
        [Effect::Send(Request::Auth { credentials, .. })] => {
            assert_eq!(credentials.user, USER);
            assert_eq!(credentials.password(), "not-the-real-password");
        }
        other => panic!("{:?}", other.iter().map(describe).collect::<Vec<_>>()),
    }
}

#[test]
fn mail_and_rcpt_forms_validate_addresses() {
    let mut app = in_tls();
    act(&mut app, Action::MailFrom);
    assert_eq!(form_kind(&app), Some(FormKind::Mail));
    assert_eq!(
        app.form.as_ref().unwrap().value(0),
        "policy-fail@example.com"
    );
    clear_field(&mut app);
    typed(&mut app, "not an address");
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(
        form_error(&app).contains("white space"),
        "{}",
        form_error(&app)
    );
    // A CR (e.g. pasted) would end the command early: refused.
    clear_field(&mut app);
    typed(&mut app, "a@b.example\rRCPT TO:<x@y>");
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(
        form_error(&app).contains("carriage return"),
        "{}",
        form_error(&app)
    );
    clear_field(&mut app);
    typed(&mut app, "me@example.com");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["MAIL FROM:<me@example.com>"]
    );
    assert_eq!(app.prefill.from.as_deref(), Some("me@example.com"));

    act(&mut app, Action::RcptTo);
    assert_eq!(app.form.as_ref().unwrap().value(0), "xxxxx@example.com");
    clear_field(&mut app);
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("empty"));
    typed(&mut app, "<you@example.com>");
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("angle brackets"));
    clear_field(&mut app);
    typed(&mut app, "you@example.com");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["RCPT TO:<you@example.com>"]
    );
}

#[test]
fn esc_cancels_a_form_without_sending() {
    let mut app = in_tls();
    act(&mut app, Action::MailFrom);
    assert!(act(&mut app, Action::Form(FormAction::Cancel)).is_empty());
    assert!(app.form.is_none());
}

#[test]
fn raw_line_is_sent_as_typed_and_refuses_cr() {
    let mut app = in_tls();
    act(&mut app, Action::Raw);
    assert_eq!(form_kind(&app), Some(FormKind::Raw));
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("empty"));
    typed(&mut app, "VRFY postmaster");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["VRFY postmaster"]
    );
    act(&mut app, Action::Raw);
    typed(&mut app, "NOOP\rQUIT");
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("carriage return"));
}

#[test]
fn composer_sends_data_then_the_message_after_354() {
    let (mut app, mut s) = in_transaction_script();
    act(&mut app, Action::Data);
    assert_eq!(form_kind(&app), Some(FormKind::Compose));
    {
        let form = app.form.as_ref().unwrap();
        assert_eq!(form.value(0), "policy-fail@example.com");
        assert_eq!(form.value(1), "xxxxx@example.com");
        assert_eq!(form.value(2), "smtpscope test message");
        assert!(form.value(3).contains("test message sent by smtpscope"));
    }
    // Enter in a header field moves on; in the body it is a new line.
    act(&mut app, Action::Form(FormAction::Enter));
    act(&mut app, Action::Form(FormAction::Enter));
    act(&mut app, Action::Form(FormAction::Enter));
    assert_eq!(app.form.as_ref().unwrap().focus, 3);
    act(&mut app, Action::Form(FormAction::End));
    typed(&mut app, "-- ");
    act(&mut app, Action::Form(FormAction::Enter));
    typed(&mut app, ".hidden dot");
    assert!(
        app.form
            .as_ref()
            .unwrap()
            .value(3)
            .ends_with("-- \n.hidden dot")
    );
    // Send: DATA first; the message waits for the 354.
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        ["lint", "DATA"]
    );
    let pending = app.pending_message.clone().unwrap_or_default();
    assert!(pending.starts_with("Date: ") && pending.contains("\r\nMessage-ID: <"));
    assert!(
        pending.contains(".hidden dot"),
        "dot-stuffing is the engine's job"
    );
    // An idle state snapshot before DATA's reply does not release the message.
    let idle = Event::State(Box::new(s.state.clone()));
    assert!(update(&mut app, Msg::Engine(idle)).is_empty());
    s.send(&Command::Data)
        .reply(Verb::Data, 354, &["End data with <CR><LF>.<CR><LF>"])
        .publish();
    let effects = feed(&mut app, s.events());
    assert_eq!(effects, ["message"]);
    assert!(app.pending_message.is_none());
}

#[test]
fn composer_drops_the_message_when_data_is_refused() {
    let (mut app, mut s) = in_transaction_script();
    act(&mut app, Action::Data);
    act(&mut app, Action::Form(FormAction::Submit));
    s.send(&Command::Data)
        .reply(Verb::Data, 503, &["Bad sequence of commands"])
        .publish();
    assert!(feed(&mut app, s.events()).is_empty());
    assert_eq!(app.status.as_ref().map(|s| s.level), Some(Level::Warning));
}

#[test]
fn composer_validates_headers() {
    let mut app = in_tls();
    act(&mut app, Action::Data);
    act(&mut app, Action::Form(FormAction::NextField));
    clear_field(&mut app);
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    assert!(form_error(&app).contains("To is empty"));
    typed(&mut app, "a@example.com, bad address");
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    assert!(form_error(&app).contains("white space"));
}

#[test]
fn next_walks_the_whole_standard_flow_with_prefilled_values() {
    let mut app = fresh();
    assert_eq!(act(&mut app, Action::Next), ["connect"]);
    // Busy until the state snapshot: Next waits rather than guessing.
    assert!(act(&mut app, Action::Next).is_empty());

    let mut s = Script::new();
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(Verb::Connect, 220, &["email-smtp.amazonaws.com ESMTP"])
        .publish();
    feed(&mut app, s.events());
    let mut expect = |app: &mut App, want: &str, script: &mut dyn FnMut(&mut Script)| {
        assert_eq!(act(app, Action::Next), [want]);
        // The engine records the line it sent before the reply (AUTH and the message record
        // their own).
        if want != "message" && !want.starts_with("AUTH") {
            s.send(&Command::Raw(want.into()));
        }
        script(&mut s);
        feed(app, s.events());
    };
    let ehlo = [
        "email-smtp.amazonaws.com",
        "8BITMIME",
        "STARTTLS",
        "AUTH PLAIN LOGIN",
        "Ok",
    ];
    expect(&mut app, "EHLO mail.example.com", &mut |s| {
        s.reply(Verb::Ehlo, 250, &ehlo).publish();
    });
    expect(&mut app, "STARTTLS", &mut |s| {
        s.reply(Verb::StartTls, 220, &["Ready"])
            .start_tls()
            .publish();
    });
    expect(&mut app, "EHLO mail.example.com", &mut |s| {
        s.reply(Verb::Ehlo, 250, &ehlo).publish();
    });
    expect(&mut app, &format!("AUTH PLAIN {USER} ir=true"), &mut |s| {
        s.auth_plain(USER)
            .reply(Verb::Auth, 235, &["Authentication successful."])
            .publish();
    });
    expect(&mut app, "MAIL FROM:<policy-fail@example.com>", &mut |s| {
        s.reply(Verb::Mail, 250, &["Ok"]).publish();
    });
    expect(&mut app, "RCPT TO:<xxxxx@example.com>", &mut |s| {
        s.reply(Verb::Rcpt, 250, &["Ok"]).publish();
    });
    expect(&mut app, "DATA", &mut |s| {
        s.reply(Verb::Data, 354, &["End data"]).publish();
    });
    // After 354, Next sends the default message: no editor opens.
    expect(&mut app, "message", &mut |s| {
        s.message("x")
            .reply(Verb::DataEnd, 554, &[sample::ACCESS_DENIED])
            .publish();
    });
    assert!(app.form.is_none());
    expect(&mut app, "QUIT", &mut |s| {
        s.reply(Verb::Quit, 221, &["Bye"])
            .close("after QUIT")
            .publish();
    });
    assert!(act(&mut app, Action::Next).is_empty());
    assert!(app.status.as_ref().unwrap().text.contains("complete"));
    assert_eq!(
        app.session.verdict(),
        "Authenticated; authorization denied after DATA"
    );
}

#[test]
fn next_asks_only_for_what_is_missing() {
    let mut app = in_tls();
    app.prefill.password = None;
    assert!(act(&mut app, Action::Next).is_empty());
    let form = app.form.as_ref().unwrap();
    assert_eq!(
        form.kind,
        FormKind::Auth(crate::engine::auth::Mechanism::Plain)
    );
    assert_eq!(form.focus, 1);
    typed(&mut app, "pw");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        [format!("AUTH PLAIN {USER} ir=true")]
    );

    // No --from: Next opens MAIL FROM with an empty field.
    let mut app = in_tls();
    app.prefill.from = None;
    app.prefill.to.clear();
    let mut s = Script::new();
    sample::opening(&mut s);
    s.auth_plain(USER)
        .reply(Verb::Auth, 235, &["Authentication successful."])
        .publish();
    feed(&mut app, s.events());
    assert!(act(&mut app, Action::Next).is_empty());
    assert_eq!(form_kind(&app), Some(FormKind::Mail));
    typed(&mut app, "me@example.com");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["MAIL FROM:<me@example.com>"]
    );
    s.reply(Verb::Mail, 250, &["Ok"]).publish();
    feed(&mut app, s.events());
    assert!(act(&mut app, Action::Next).is_empty());
    assert_eq!(form_kind(&app), Some(FormKind::Rcpt));
}

#[test]
fn next_warns_before_sending_credentials_in_clear() {
    let mut app = App::new(
        SessionConfig::new("127.0.0.1", 2525, TlsMode::None),
        crate::tui::app::Prefill {
            ehlo: "h".into(),
            user: Some("u".into()),
            password: Some(Zeroizing::new("p".into())),
            ..Default::default()
        },
    );
    let mut s = Script::new();
    s.connect("127.0.0.1", 2525, TlsMode::None)
        .reply(Verb::Connect, 220, &["hi"])
        .publish();
    s.send(&Command::Ehlo("h".into()))
        .reply(Verb::Ehlo, 250, &["x", "AUTH PLAIN"])
        .publish();
    feed(&mut app, s.events());
    // Everything is prefilled, yet the form opens to show the warning first.
    assert!(act(&mut app, Action::Next).is_empty());
    assert!(app.form.as_ref().unwrap().warning.is_some());
    assert!(
        layout::compute(layout::screen(app.size), &app)
            .buttons
            .iter()
            .any(|b| b.action == Action::AuthPlain && b.warn)
    );
}

#[test]
fn after_535_next_goes_on_to_mail_and_gets_530() {
    let mut app = fresh();
    let mut s = Script::new();
    sample::opening(&mut s);
    s.auth_plain(USER)
        .reply(Verb::Auth, 535, &["Authentication Credentials Invalid"])
        .publish();
    feed(&mut app, s.events());
    assert_eq!(
        act(&mut app, Action::Next),
        ["MAIL FROM:<policy-fail@example.com>"]
    );
}

#[test]
fn t_switches_target_only_when_there_are_targets() {
    let mut app = in_tls();
    assert!(act(&mut app, Action::SwitchTarget).is_empty());
    assert!(!app.switch_target && !app.should_quit && app.quitting.is_none());
    app.targets = vec!["ses-tokyo".into(), "office".into()];
    // Connected: QUIT first, then leave for the picker.
    assert_eq!(act(&mut app, Action::SwitchTarget), ["shutdown"]);
    assert!(app.switch_target && app.quitting.is_some());
}

#[test]
fn q_sends_quit_then_leaves() {
    let mut app = in_tls();
    assert_eq!(act(&mut app, Action::Quit), ["shutdown"]);
    assert!(!app.should_quit);
    assert_eq!(app.quitting, Some(QUIT_WAIT_TICKS));
    // Buttons do nothing while leaving.
    assert!(act(&mut app, Action::Ehlo).is_empty());
    // The session task ends after QUIT: leave.
    let effects: Vec<String> = update(&mut app, Msg::EngineClosed)
        .iter()
        .map(describe)
        .collect();
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.should_quit);
}

#[test]
fn q_leaves_after_a_bounded_wait_or_when_pressed_again() {
    let mut app = in_tls();
    act(&mut app, Action::Quit);
    for _ in 0..QUIT_WAIT_TICKS {
        update(&mut app, Msg::Tick);
        assert!(!app.should_quit);
    }
    update(&mut app, Msg::Tick);
    assert!(app.should_quit);

    let mut app = in_tls();
    act(&mut app, Action::Quit);
    assert!(act(&mut app, Action::Quit).is_empty());
    assert!(app.should_quit);
}

#[test]
fn q_when_not_connected_leaves_at_once() {
    let mut app = fresh();
    assert!(act(&mut app, Action::Quit).is_empty());
    assert!(app.should_quit);
    assert!(app.should_quit);
}

#[test]
fn connect_and_reconnect() {
    let mut app = fresh();
    assert_eq!(act(&mut app, Action::Connect), ["connect"]);
    // Still waiting (a slow server): reconnecting abandons the stuck request.
    assert_eq!(act(&mut app, Action::Connect), ["restart", "connect"]);
}

#[test]
fn drops_show_in_the_header_and_the_app_stays_up() {
    let mut app = in_tls();
    let mut s = Script::new();
    s.close("the server closed the connection").publish();
    feed(&mut app, s.events());
    assert_eq!(
        app.closed_reason.as_deref(),
        Some("the server closed the connection")
    );
    assert!(!app.should_quit);
    assert_eq!(act(&mut app, Action::Next), ["connect"]);
}

#[test]
fn save_help_certificate_and_reveal() {
    let mut app = fresh();
    assert!(
        act(&mut app, Action::Save).is_empty(),
        "nothing to save yet"
    );
    act(&mut app, Action::ToggleCertificate);
    assert_eq!(app.overlay, Overlay::None, "no TLS yet");
    let mut app = in_tls();
    let entries = app.store.entries().len();
    assert_eq!(
        act(&mut app, Action::Save),
        [format!("save {entries} entries")]
    );
    act(&mut app, Action::ToggleCertificate);
    assert_eq!(app.overlay, Overlay::Certificate);
    act(&mut app, Action::Close);
    act(&mut app, Action::ToggleHelp);
    assert_eq!(app.overlay, Overlay::Help);
    // Scroll keys scroll the overlay, not the transcript.
    act(&mut app, Action::Scroll(3));
    assert_eq!(app.overlay_scroll, 3);
    act(&mut app, Action::ToggleHelp);
    assert_eq!(app.overlay, Overlay::None);
    act(&mut app, Action::RevealUser);
    assert!(app.reveal_user);
    update(
        &mut app,
        Msg::Saved(Ok(vec!["a.txt".into(), "a.jsonl".into()])),
    );
    assert!(app.status.as_ref().unwrap().text.contains("a.txt, a.jsonl"));
}

#[test]
fn p_in_the_certificate_view_exports_the_chain_when_the_certificates_are_there() {
    // The sample chain holds no certificate bytes (as in an older saved transcript).
    let mut app = in_tls();
    act(&mut app, Action::ToggleCertificate);
    assert!(act(&mut app, Action::ExportChain).is_empty());
    let status = app.status.as_ref().unwrap().text.clone();
    assert!(
        status.contains("does not hold the certificates"),
        "{status}"
    );
    // A chain as the transport records it.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["mail.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut info = sample::tls_info();
    info.chain = vec![crate::engine::transport::describe_cert(cert.der())];
    let mut s = Script::new();
    s.start_tls_with(info);
    let mut app = app_after(s.events(), (120, 40));
    assert!(
        act(&mut app, Action::ExportChain).is_empty(),
        "only in the certificate view"
    );
    act(&mut app, Action::ToggleCertificate);
    assert_eq!(app.overlay, Overlay::Certificate);
    assert_eq!(
        act(&mut app, Action::ExportChain),
        ["export 1 certificates"]
    );
    update(&mut app, Msg::ChainExported(Ok("chain.pem".into())));
    let status = app.status.as_ref().unwrap().text.clone();
    assert!(status.contains("as PEM to chain.pem"), "{status}");
    update(&mut app, Msg::ChainExported(Err("disk full".into())));
    assert!(app.status.as_ref().unwrap().text.contains("disk full"));
}

#[test]
fn replay_is_read_only() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    app.read_only = Some("old.jsonl".into());
    for a in [
        Action::Next,
        Action::Ehlo,
        Action::Connect,
        Action::AuthPlain,
        Action::Raw,
    ] {
        assert!(act(&mut app, a).is_empty(), "{a:?}");
        assert!(app.form.is_none());
    }
    assert!(app.status.as_ref().unwrap().text.contains("read-only"));
    assert!(act(&mut app, Action::Quit).is_empty());
    assert!(app.should_quit);
}

#[test]
fn selection_scrolling_and_following_the_tail() {
    let mut app = app_after(sample::long_session(500), (80, 24));
    assert_eq!(app.explained(), app.store.last_mark());
    act(&mut app, Action::SelectPrevious);
    let sel = app.selected.unwrap();
    assert!(sel < app.store.last_mark().unwrap());
    act(&mut app, Action::SelectNext);
    assert_eq!(app.explained(), app.store.last_mark());
    assert_eq!(
        app.follow,
        Follow::User,
        "the selection stays where the user put it"
    );
    act(&mut app, Action::PageUp);
    assert!(app.scroll.is_some());
    // New entries do not move a scrolled view.
    let top = super::top_row(&app);
    feed(&mut app, sample::long_session(30));
    assert_eq!(super::top_row(&app), top);
    act(&mut app, Action::Bottom);
    assert_eq!(app.scroll, None);
    act(&mut app, Action::Top);
    assert_eq!(super::top_row(&app), 0);
    act(&mut app, Action::Scroll(-3));
    assert_eq!(super::top_row(&app), 0);
    act(&mut app, Action::PageDown);
    assert!(super::top_row(&app) > 0);
}

#[test]
fn clicks_press_buttons_and_select_replies() {
    let mut app = in_tls();
    let areas = layout::compute(layout::screen(app.size), &app);
    let slot = areas
        .buttons
        .iter()
        .find(|s| s.action == Action::Noop)
        .unwrap();
    let click = |x, y| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    assert_eq!(
        input::mouse_action(&app, click(slot.rect.x + 1, slot.rect.y)),
        Some(Action::Noop)
    );
    // A click on a reply's row selects it.
    let top = super::top_row(&app);
    let row = (0..areas.transcript.height)
        .find(|&r| {
            app.store
                .locate(top + u64::from(r))
                .is_some_and(|(i, _)| app.store.is_mark(i))
        })
        .map(|r| areas.transcript.y + r)
        .expect("a reply on screen");
    let action = input::mouse_action(&app, click(20, row)).unwrap();
    act(&mut app, action);
    assert!(app.selected.is_some());
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        ..click(0, 0)
    };
    assert_eq!(input::mouse_action(&app, wheel), Some(Action::Scroll(-3)));
}

#[test]
fn keys_reach_update_through_the_keymap() {
    let mut app = in_tls();
    let key = |c| crossterm::event::Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    let Some(Msg::Action(a)) = input::translate(&app, &key('m')) else {
        panic!("m is MAIL FROM")
    };
    act(&mut app, a);
    // With a form open, letters are text, not buttons.
    let Some(Msg::Action(a)) = input::translate(&app, &key('q')) else {
        panic!("q is text in a form")
    };
    assert_eq!(a, Action::Form(FormAction::Insert('q')));
}

#[test]
fn a_pasted_line_break_is_refused_not_sent() {
    let mut app = in_tls();
    act(&mut app, Action::MailFrom);
    clear_field(&mut app);
    update(
        &mut app,
        Msg::Paste("me@example.com\r\nRCPT TO:<victim@example.org>".into()),
    );
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(
        form_error(&app).contains("carriage return"),
        "{}",
        form_error(&app)
    );
}

#[test]
fn the_diagnosis_scrolls_within_its_text() {
    let mut app = app_after(sample::access_denied(), (80, 24));
    for _ in 0..100 {
        act(&mut app, Action::ScrollDiagnosis(1));
    }
    let stuck = app.diagnosis_scroll;
    assert!(stuck > 0 && stuck < 30, "{stuck}");
    act(&mut app, Action::ScrollDiagnosis(-1));
    assert_eq!(app.diagnosis_scroll, stuck - 1);
}

#[test]
fn a_timeout_shows_in_the_header_until_the_next_reply() {
    let (mut app, mut s) = in_tls_script();
    s.send(&Command::Noop);
    let mut events = s.events();
    if let Some(Event::Entry(e)) = events.last().cloned() {
        events.push(Event::Entry(crate::engine::transcript::Entry {
            kind: crate::engine::transcript::EntryKind::Error {
                phase: crate::engine::classify::Phase::Connection,
                kind: crate::engine::transcript::ErrorKind::Timeout,
                text: "no complete reply to NOOP within 30s".into(),
                chain: vec![],
            },
            ..e
        }));
    }
    feed(&mut app, events);
    let screen = crate::tui::view::tests::text(&crate::tui::view::tests::draw(&app));
    let header: String = screen.lines().take(2).collect();
    assert!(header.contains("no complete reply to NOOP"), "{screen}");
    assert!(
        screen.contains("connection error: no complete reply"),
        "{screen}"
    );
    s.send(&Command::Noop)
        .reply(Verb::Noop, 250, &["Ok"])
        .publish();
    feed(&mut app, s.events());
    assert_eq!(app.alert, None);
}

#[test]
fn raw_line_after_a_334_challenge_is_masked() {
    let (mut app, mut s) = in_tls_script();
    update(&mut app, Msg::Action(Action::Raw));
    assert!(
        !app.form.as_ref().unwrap().fields[0].secret,
        "an ordinary raw line is visible"
    );
    update(&mut app, Msg::Action(Action::Close));
    s.send(&Command::Raw("AUTH LOGIN".into()))
        .reply(Verb::Auth, 334, &["VXNlcm5hbWU6"])
        .publish();
    feed(&mut app, s.events());
    update(&mut app, Msg::Action(Action::Raw));
    let form = app.form.as_ref().unwrap();
    assert!(
        form.fields[0].secret,
        "a line typed after 334 is a credential"
    );
}

/// The text of the reply the diagnosis panel explains.
fn explained_text(app: &App) -> String {
    let idx = app.explained().expect("something is explained");
    match &app.store.get(idx).unwrap().kind {
        crate::engine::transcript::EntryKind::Reply(r) => format!("{} {}", r.code, r.text),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_decisive_reply_stays_selected_after_quit_221_and_an_idle_timeout() {
    let mut s = sample::access_denied_script();
    let mut app = app_after(s.events(), (80, 24));
    assert_eq!(app.follow, Follow::Decisive);
    assert!(explained_text(&app).starts_with("554 Access denied"));
    let decisive = app.explained();
    sample::after_the_verdict(&mut s);
    feed(&mut app, s.events());
    assert_eq!(
        app.explained(),
        decisive,
        "QUIT, 221 and the idle timeout keep the 554"
    );
    assert!(explained_text(&app).starts_with("554 Access denied"));
    assert_eq!(app.follow, Follow::Decisive);
    let screen = crate::tui::view::render_to_text(&app, 80, 24);
    assert!(screen.contains("✗"), "{screen}");
    assert!(screen.contains("End follows"), "{screen}");
    assert!(screen.contains("Diagnosis ✗: 554"), "{screen}");

    // Home selects the first reply (it does not only scroll), and the selection stays.
    act(&mut app, Action::Top);
    assert_eq!(app.explained(), app.store.first_mark());
    assert!(explained_text(&app).starts_with("220"));
    assert_eq!(app.follow, Follow::User);
    // End follows again: the newest reply, and the 554 is not taken back.
    act(&mut app, Action::Bottom);
    assert_eq!(app.follow, Follow::Latest);
    assert_eq!(app.explained(), app.store.last_mark());
    feed(&mut app, sample::long_session(3));
    assert_eq!(app.follow, Follow::Latest);
}

#[test]
fn reconnect_follows_the_new_connections_replies() {
    let mut s = sample::access_denied_script();
    let mut app = app_after(s.events(), (80, 24));
    assert_eq!(app.follow, Follow::Decisive);
    act(&mut app, Action::Connect);
    assert_eq!(app.follow, Follow::Latest);
    s.close("reconnecting")
        .connect(HOST, 587, TlsMode::Starttls)
        .reply(
            Verb::Connect,
            220,
            &["email-smtp.amazonaws.com ESMTP SimpleEmailService"],
        )
        .publish();
    feed(&mut app, s.events());
    assert!(
        explained_text(&app).starts_with("220"),
        "{}",
        explained_text(&app)
    );
}

#[test]
fn a_settled_failure_gives_the_selection_back_to_following() {
    // AUTH refused before STARTTLS (credentials never checked), then the right order passes.
    let mut s = Script::new();
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(
            Verb::Connect,
            220,
            &["email-smtp.amazonaws.com ESMTP SimpleEmailService"],
        )
        .publish();
    s.send(&Command::Ehlo("mail.example.com".into()))
        .reply(
            Verb::Ehlo,
            250,
            &["email-smtp.amazonaws.com", "STARTTLS", "Ok"],
        )
        .publish();
    s.auth_plain(USER)
        .reply(Verb::Auth, 530, &["Must issue a STARTTLS command first"])
        .publish();
    let mut app = app_after(s.events(), (80, 24));
    assert_eq!(app.follow, Follow::Decisive);
    s.send(&Command::StartTls)
        .reply(Verb::StartTls, 220, &["Ready to start TLS"])
        .start_tls()
        .publish();
    s.send(&Command::Ehlo("mail.example.com".into()))
        .reply(
            Verb::Ehlo,
            250,
            &["email-smtp.amazonaws.com", "AUTH PLAIN LOGIN", "Ok"],
        )
        .publish();
    s.auth_plain(USER)
        .reply(Verb::Auth, 235, &["Authentication successful."])
        .publish();
    feed(&mut app, s.events());
    assert_eq!(app.follow, Follow::Latest);
    assert!(explained_text(&app).starts_with("235"));
}

#[test]
fn replay_opens_on_the_decisive_reply() {
    let mut s = sample::access_denied_script();
    let mut events = s.events();
    sample::after_the_verdict(&mut s);
    events.extend(s.events());
    let entries: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Entry(e) => Some(e),
            Event::State(_) => None,
        })
        .collect();
    let app = crate::tui::replay::app_for(
        entries,
        "saved.jsonl",
        crate::engine::classify::Catalog::builtin(),
    );
    assert_eq!(app.follow, Follow::Decisive);
    assert!(explained_text(&app).starts_with("554 Access denied"));
}

#[test]
fn status_lines_go_when_their_state_ends() {
    // "Still waiting" goes when the connection closes.
    let (mut app, mut s) = in_tls_script();
    act(&mut app, Action::Noop);
    act(&mut app, Action::Next);
    assert!(app.current_status().unwrap().text.contains("Still waiting"));
    s.close("the server closed the connection");
    feed(&mut app, s.events());
    assert!(app.current_status().is_none());

    // "Saved" goes with a reconnect.
    update(&mut app, Msg::Saved(Ok(vec!["a.txt".into()])));
    assert!(
        app.current_status()
            .unwrap()
            .text
            .contains("Saved (redacted)")
    );
    act(&mut app, Action::Connect);
    s.connect(HOST, 587, TlsMode::Starttls);
    feed(&mut app, s.events());
    assert!(app.current_status().is_none());

    // "DATA sent" goes with the server's answer.
    let mut s = Script::new();
    sample::up_to_data(&mut s, "a@example.com");
    let mut app = app_after(s.events(), (80, 24));
    app.set_status(
        Level::Info,
        "DATA sent; the message follows when the server answers 354",
    );
    s.message(sample::MESSAGE)
        .reply(Verb::DataEnd, 250, &["Ok"]);
    feed(&mut app, s.events());
    assert!(
        app.current_status()
            .is_none_or(|st| !st.text.contains("DATA sent"))
    );
}

#[test]
fn the_first_overflow_of_the_diagnosis_says_which_keys_scroll_it() {
    let mut app = app_after(Vec::new(), (80, 24));
    let mut hinted_at = None;
    for (i, ev) in sample::access_denied().into_iter().enumerate() {
        feed(&mut app, vec![ev]);
        if app.overflow_hinted && hinted_at.is_none() {
            hinted_at = Some(i);
            let st = app.current_status().expect("a one-time hint");
            assert!(st.text.contains("more: ]"), "{}", st.text);
            let screen = crate::tui::view::render_to_text(&app, 80, 24);
            assert!(screen.contains("more: ]"), "{screen}");
        }
    }
    assert!(
        hinted_at.is_some(),
        "the 554's diagnosis overflows at 80x24"
    );
    // Once only.
    app.status = None;
    feed(&mut app, sample::long_session(2));
    assert!(
        app.current_status()
            .is_none_or(|s| !s.text.contains("more: ]"))
    );
}

#[test]
fn after_354_raw_lines_are_message_lines_sent_without_waiting() {
    let mut s = Script::new();
    sample::up_to_data(&mut s, "a@example.com");
    let mut app = app_after(s.events(), (80, 24));
    act(&mut app, Action::Raw);
    assert_eq!(form_kind(&app), Some(FormKind::MessageLine));
    assert!(
        app.current_status()
            .unwrap()
            .text
            .contains("a line with only '.' ends it")
    );
    typed(&mut app, "Subject: hi");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["line \"Subject: hi\""]
    );
    assert!(!app.busy, "no reply is awaited");
    // Empty lines are allowed; the form stays open for the next line.
    assert_eq!(form_kind(&app), Some(FormKind::MessageLine));
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["line \"\""]
    );
    typed(&mut app, ".");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Enter)),
        ["line \".\""]
    );
    assert!(app.busy, "the final '.' waits for the reply");
    assert!(app.form.is_none());
}

#[test]
fn y_copies_the_selected_reply_and_shift_y_its_user_arn() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    let copied = act(&mut app, Action::Copy);
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert!(
        copied[0].starts_with("copy 554 Access denied"),
        "{copied:?}"
    );
    let status = app
        .current_status()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("Copied the 554 reply"), "{status}");
    assert_eq!(
        act(&mut app, Action::CopyPart),
        vec![format!("copy {}", sample::USER_ARN)]
    );
    // Never a password: everything selectable is a reply, warning or error, and none holds it.
    for _ in 0..40 {
        act(&mut app, Action::SelectPrevious);
        for c in act(&mut app, Action::Copy) {
            assert!(!c.contains("not-the-real-password"), "{c}");
        }
    }
}

#[test]
fn m_toggles_mouse_capture_and_says_how_to_select() {
    let mut app = fresh();
    assert!(app.mouse_capture);
    assert_eq!(act(&mut app, Action::ToggleMouse), vec!["mouse false"]);
    let status = app
        .current_status()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("the terminal selects"), "{status}");
    assert_eq!(act(&mut app, Action::ToggleMouse), vec!["mouse true"]);
}

#[test]
fn credential_warnings_are_selectable_and_the_535_repeats_them() {
    let mut s = Script::new();
    sample::opening(&mut s);
    let warning = "The password is 40 characters long, like an AWS secret access key.";
    s.lint("secret-key-as-password", warning)
        .auth_plain(sample::USER)
        .reply(Verb::Auth, 535, &["Authentication Credentials Invalid"])
        .publish();
    let mut app = app_after(s.events(), (120, 40));
    let (_, lines) = crate::tui::content::diagnosis::content(&app);
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    assert!(
        text.contains(&format!(
            "before AUTH, the credential check warned: {warning}"
        )),
        "{text}"
    );
    // ↑ from the 535 selects the warning, which has its own diagnosis.
    act(&mut app, Action::SelectPrevious);
    let idx = app.explained().unwrap();
    assert!(matches!(
        app.store.get(idx).map(|e| &e.kind),
        Some(crate::engine::transcript::EntryKind::Warning { .. })
    ));
    let (title, lines) = crate::tui::content::diagnosis::content(&app);
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    assert!(title.contains("credential check"), "{title}");
    assert!(text.contains(warning) && text.contains("535"), "{text}");
}

#[test]
fn the_message_entry_opens_on_what_was_sent_and_says_when_cut() {
    let (mut app, mut s) = in_tls_script();
    let text = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nfirst body line\r\n{}",
        "x".repeat(70 * 1024)
    );
    let effects = super::send_message(&mut app, text);
    assert_eq!(effects.len(), 1);
    s.message(&"y".repeat(10)).publish();
    feed(&mut app, s.events());
    let idx = app.store.last_mark().unwrap();
    assert!(matches!(
        app.store.get(idx).map(|e| &e.kind),
        Some(crate::engine::transcript::EntryKind::Message { .. })
    ));
    app.selected = Some(idx);
    app.follow = Follow::User;
    let (title, lines) = crate::tui::content::diagnosis::content(&app);
    let shown: Vec<String> = lines.iter().map(std::string::ToString::to_string).collect();
    assert!(title.contains("Message sent"), "{title}");
    assert!(shown.contains(&"Subject: hello".to_string()), "{shown:?}");
    assert!(shown.contains(&"first body line".to_string()), "{shown:?}");
    assert!(
        shown.last().unwrap().contains("only the first 64 KiB"),
        "{:?}",
        shown.last()
    );
    // The copy is bounded whatever was sent.
    assert!(app.messages.iter().all(|(_, m)| m.text.len() <= 64 * 1024));
}

/// After a closing 421, Next reconnects once; after the second, it says the server refuses for
/// now and when to retry, instead of reconnecting forever.
#[test]
fn after_two_closing_421s_next_stops_and_says_when_to_retry() {
    let (mut app, mut s) = in_tls_script();
    s.auth_plain(USER)
        .reply(
            Verb::Auth,
            421,
            &["4.7.0 Temporary System Problem. Try again later"],
        )
        .close("the server sent 421 (closing the channel)")
        .publish();
    feed(&mut app, s.events());
    assert_eq!(act(&mut app, Action::Next), ["connect"], "one reconnect");
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(
            Verb::Connect,
            421,
            &["4.7.0 Temporary System Problem. Try again later"],
        )
        .close("the server sent 421 (closing the channel)")
        .publish();
    feed(&mut app, s.events());
    assert!(act(&mut app, Action::Next).is_empty(), "no third try");
    let status = app.status.as_ref().unwrap();
    assert!(status.text.contains("refuses for now"), "{}", status.text);
    assert!(
        status.text.contains("retry in a few minutes"),
        "{}",
        status.text
    );
    assert!(!app.session.verdict().contains("Authentication failed"));
}

fn status_text(app: &App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[test]
fn effects_that_fail_come_back_as_messages() {
    let mut app = in_tls();
    app.busy = true;
    update(&mut app, Msg::EffectFailed(EffectFailure::QueueFull));
    assert!(!app.busy);
    assert!(status_text(&app).contains("Too many requests queued"));
    app.busy = true;
    update(&mut app, Msg::EffectFailed(EffectFailure::SessionEnded));
    assert!(!app.busy);
    assert!(status_text(&app).contains("session task has ended"));
    update(&mut app, Msg::EffectFailed(EffectFailure::Copy));
    assert!(status_text(&app).contains("copy"));
    update(&mut app, Msg::EffectFailed(EffectFailure::MouseCapture));
    assert!(status_text(&app).contains("mouse capture"));
}

#[test]
fn save_says_saving_and_carries_the_redacted_entries() {
    let mut app = in_tls();
    let effects = act(&mut app, Action::Save);
    assert_eq!(effects.len(), 1);
    assert!(effects[0].starts_with("save ") && !effects[0].starts_with("save 0 "));
    assert!(status_text(&app).contains("Saving"));
}

#[test]
fn composer_headers_and_attachments_build_a_mime_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.csv");
    std::fs::write(&file, "a,b\n").unwrap();
    let mut app = in_transaction_script().0;
    act(&mut app, Action::Data);
    app.form.as_mut().unwrap().focus = 4;
    typed(&mut app, "Bad Header");
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    assert!(
        form_error(&app).contains("is not 'Name: value'"),
        "{}",
        form_error(&app)
    );
    clear_field(&mut app);
    typed(&mut app, "X-SES-CONFIGURATION-SET: tracking");
    app.form.as_mut().unwrap().focus = 5;
    typed(&mut app, &file.display().to_string());
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        ["lint", "DATA"]
    );
    let pending = app.pending_message.clone().unwrap_or_default();
    assert!(
        pending.contains("X-SES-CONFIGURATION-SET: tracking\r\n"),
        "{pending}"
    );
    assert!(pending.contains("filename=\"notes.csv\"") && pending.contains("text/csv"));
}

#[test]
fn composer_html_field_adds_an_html_part_typed_or_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.html");
    std::fs::write(&file, "<p>from the file</p>").unwrap();
    let html_of = |value: &str| {
        let mut app = in_transaction_script().0;
        act(&mut app, Action::Data);
        app.form.as_mut().unwrap().focus = 6;
        assert_eq!(app.form.as_ref().unwrap().fields[6].label, "HTML");
        typed(&mut app, value);
        let effects = act(&mut app, Action::Form(FormAction::Submit));
        (effects, app)
    };
    let (effects, app) = html_of("<p>typed</p>");
    assert_eq!(effects, ["lint", "DATA"]);
    let pending = app.pending_message.clone().unwrap_or_default();
    assert!(pending.contains("multipart/alternative"), "{pending}");
    assert!(pending.contains("text/html") && pending.contains("<p>typed</p>"));
    let (_, app) = html_of(&format!("@{}", file.display()));
    let pending = app.pending_message.clone().unwrap_or_default();
    assert!(pending.contains("<p>from the file</p>"), "{pending}");
    // A file that cannot be read is the field's error, and nothing is sent.
    let (effects, app) = html_of(&format!("@{}", dir.path().join("missing.html").display()));
    assert!(effects.is_empty());
    assert_eq!(app.form.as_ref().unwrap().focus, 6);
    assert!(
        form_error(&app).contains("missing.html"),
        "{}",
        form_error(&app)
    );
}

#[test]
fn oauth_key_asks_for_an_access_token_and_sends_xoauth2() {
    use crate::engine::auth::Mechanism;
    let mut app = in_tls();
    // The button shows only for a debugger started with --auth xoauth2 (or oauthbearer).
    let has_button = |app: &App| {
        layout::compute(layout::screen((120, 40)), app)
            .buttons
            .iter()
            .any(|b| b.action == Action::AuthXoauth2)
    };
    assert!(!has_button(&app));
    // A password prefilled for PLAIN is never offered as a token.
    act(&mut app, Action::AuthXoauth2);
    assert_eq!(form_kind(&app), Some(FormKind::Auth(Mechanism::Xoauth2)));
    let form = app.form.as_ref().unwrap();
    assert_eq!(form.fields[1].label, "Access token");
    assert!(form.fields[1].secret);
    assert_eq!(form.fields[1].secret_value().as_str(), "");
    assert!(act(&mut app, Action::Form(FormAction::Enter)).is_empty());
    assert!(form_error(&app).contains("access token"));
    act(&mut app, Action::Close);
    app.prefill.auth = crate::cli::AuthChoice::Xoauth2;
    app.prefill.password = Some(Zeroizing::new("ya29.token-from-the-flags".into()));
    assert!(has_button(&app));
    act(&mut app, Action::AuthXoauth2);
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        [format!("AUTH XOAUTH2 {USER} ir=true")]
    );
    act(&mut app, Action::AuthOauthbearer);
    assert_eq!(
        form_kind(&app),
        Some(FormKind::Auth(Mechanism::Oauthbearer))
    );
}

#[test]
fn a_without_aws_credentials_says_how_to_get_them() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    assert!(act(&mut app, Action::AwsCheck).is_empty());
    let status = app.status.as_ref().unwrap();
    assert!(status.text.contains("--aws-profile"), "{}", status.text);
    // Nothing about AWS in the panel when it cannot run.
    let screen = crate::tui::view::render_to_text(&app, 120, 40);
    assert!(!screen.contains("AWS: "), "{screen}");
}

#[test]
fn a_after_a_554_checks_this_sessions_send_and_shows_the_deciding_statement() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    app.aws = Some(crate::tui::aws::AwsAccess {
        profile: Some("auditor".into()),
    });
    let screen = crate::tui::view::render_to_text(&app, 120, 40);
    assert!(
        screen.contains("AWS: A reads the AWS account behind this user"),
        "{screen}"
    );
    // The envelope asked about is the one sent (MAIL FROM, RCPT TO), not the start-up flags.
    app.prefill.from = Some("started-with@example.com".into());
    app.prefill.to = vec!["flag-recipient@example.com".into()];
    assert_eq!(
        act(&mut app, Action::AwsCheck),
        [format!(
            "aws-check {USER} ap-northeast-1 from policy-fail@example.com to xxxxx@example.com profile Some(\"auditor\")"
        )]
    );
    // A second press while it runs starts nothing.
    assert!(act(&mut app, Action::AwsCheck).is_empty());
    update(
        &mut app,
        Msg::AwsChecked(Ok(vec![
            "predicted: authorization_denied (exit 9)".into(),
            "deciding: statement #1 (Sid AllowOfficeOnly) of the inline policy ses-from-office on user smtp-app".into(),
        ])),
    );
    let screen = crate::tui::view::render_to_text(&app, 120, 40);
    assert!(
        screen.contains("AWS: predicted: authorization_denied"),
        "{screen}"
    );
    assert!(screen.contains("Sid AllowOfficeOnly"), "{screen}");
    update(
        &mut app,
        Msg::AwsChecked(Err("no AWS API credentials found".into())),
    );
    let screen = crate::tui::view::render_to_text(&app, 120, 40);
    assert!(
        screen.contains("AWS: check failed: no AWS API credentials found"),
        "{screen}"
    );
}

#[test]
fn a_before_any_failure_does_nothing() {
    let mut app = fresh();
    app.aws = Some(crate::tui::aws::AwsAccess { profile: None });
    assert!(act(&mut app, Action::AwsCheck).is_empty());
    assert!(app.status.as_ref().unwrap().text.contains("none yet"));
}

mod ext;
