//! Render tests: whole screens drawn into ratatui's `TestBackend` from states built by feeding
//! scripted engine events through `update` (no network, fixed times).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::render;
use crate::engine::command::{Command, Verb};
use crate::engine::transport::TlsMode;
use crate::tui::action::Action;
use crate::tui::app::App;
pub(crate) use crate::tui::sample::app_after;
use crate::tui::sample::{self, Script, USER, USER_ARN};
use crate::tui::theme::Theme;
use crate::tui::update::{Msg, update};

pub(crate) fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap_or_else(|e| match e {});
    terminal
        .draw(|f| render(f, app))
        .unwrap_or_else(|e| match e {});
    terminal
}

/// The screen as plain text, one line per row.
pub(crate) fn text(terminal: &Terminal<TestBackend>) -> String {
    super::buffer_text(terminal.backend().buffer())
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

#[test]
fn fresh_screen() {
    for (w, h) in SIZES {
        let app = app_after(Vec::new(), (w, h));
        let term = draw(&app);
        let screen = text(&term);
        assert!(screen.contains("Not connected yet"), "{screen}");
        assert!(screen.contains("Next: connect"), "{screen}");
        assert!(screen.contains("AUTH PLAIN") && screen.contains("RCPT TO"));
        insta::assert_snapshot!(format!("fresh_{w}x{h}"), term.backend());
    }
}

#[test]
fn after_535_then_530() {
    for (w, h) in SIZES {
        let app = app_after(sample::auth_failure(), (w, h));
        let term = draw(&app);
        let screen = text(&term);
        assert!(screen.contains("Authentication failed at AUTH"), "{screen}");
        assert!(screen.contains("535 Authentication Credentials Invalid"));
        assert!(screen.contains("530 Authentication required"));
        assert!(screen.contains("✗AUTH"), "{screen}");
        insta::assert_snapshot!(format!("auth_failure_{w}x{h}"), term.backend());
    }
}

#[test]
fn after_554_access_denied() {
    for (w, h) in SIZES {
        let app = app_after(sample::access_denied(), (w, h));
        let term = draw(&app);
        let screen = text(&term);
        assert!(screen.contains("authorization"), "{screen}");
        assert!(screen.contains(USER_ARN), "{screen}");
        assert!(
            screen.contains("Authenticated; authorization denied after DATA"),
            "{screen}"
        );
        assert!(
            screen.contains("✓AUTH") && screen.contains("✗\".\""),
            "{screen}"
        );
        insta::assert_snapshot!(format!("access_denied_{w}x{h}"), term.backend());
    }
}

#[test]
fn reply_lines_are_coloured_by_class_unless_no_color() {
    let find = |app: &App, needle: &str| {
        let term = draw(app);
        let buf = term.backend().buffer().clone();
        let screen = text(&term);
        let row = screen.lines().position(|l| l.contains(needle)).unwrap();
        let col = screen.lines().nth(row).unwrap().find(needle).unwrap();
        let x = screen.lines().nth(row).unwrap()[..col].chars().count();
        buf[(u16::try_from(x).unwrap(), u16::try_from(row).unwrap())].fg
    };
    let mut app = app_after(sample::access_denied(), (120, 40));
    assert_eq!(find(&app, "554 Access"), Color::Red);
    assert_eq!(find(&app, "354 End"), Color::Cyan);
    assert_eq!(find(&app, "235 Auth"), Color::Green);
    app.theme = Theme::new(false);
    assert_eq!(find(&app, "554 Access"), Color::Reset);
}

#[test]
fn selecting_an_earlier_reply_explains_it() {
    let mut app = app_after(sample::auth_failure(), (120, 40));
    // The 535 decided the verdict: it is kept, though the 530 came after it.
    let screen = text(&draw(&app));
    assert!(screen.contains("535 after AUTH"), "{screen}");
    // One up is the EHLO's 250, selected by the user.
    update(&mut app, Msg::Action(Action::SelectPrevious));
    let screen = text(&draw(&app));
    assert!(
        screen.contains("Diagnosis (selected): 250 after EHLO"),
        "{screen}"
    );
}

#[test]
fn help_lists_the_real_bindings() {
    let mut app = app_after(Vec::new(), (120, 40));
    update(&mut app, Msg::Action(Action::ToggleHelp));
    let screen = text(&draw(&app));
    for b in crate::tui::keymap::buttons() {
        assert!(screen.contains(b.help), "help misses {}", b.help);
    }
}

#[test]
fn certificate_view_shows_chain_and_outcome() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    update(&mut app, Msg::Action(Action::ToggleCertificate));
    let screen = text(&draw(&app));
    assert!(screen.contains("verified"), "{screen}");
    assert!(screen.contains("Amazon RSA 2048 M01"));
    assert!(screen.contains("names (SAN)"));
}

#[test]
fn certificate_view_shows_key_fingerprint_days_anchor_and_ocsp() {
    let mut app = app_after(sample::access_denied(), (140, 80));
    update(&mut app, Msg::Action(Action::ToggleCertificate));
    let screen = text(&draw(&app));
    // Each label and its value on one line, however they are aligned.
    let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "key exchange X25519",
        "trust anchor C=US, O=Amazon, CN=Amazon Root CA 1",
        "OCSP not stapled",
        "key RSA (2048 bits)",
        "signature sha256WithRSAEncryption",
        "SHA-256",
        // (wrapped under its label: 95 characters)
        "3F:9A:11:C2",
        "days left 9 days left: renew it now",
        "2400 days left",
        "p writes this chain as PEM",
    ] {
        assert!(flat.contains(want), "{want:?} missing from:\n{screen}");
    }
}

#[test]
fn the_password_never_reaches_the_screen() {
    let mut app = app_after(sample::access_denied(), (120, 40));
    update(&mut app, Msg::Action(Action::RevealUser));
    update(&mut app, Msg::Action(Action::AuthPlain));
    let screen = text(&draw(&app));
    assert!(!screen.contains("not-the-real-password"), "{screen}");
    assert!(screen.contains("•••••"), "{screen}");
    // Revealing shows the user name in AUTH lines, never the password.
    update(&mut app, Msg::Action(Action::Close));
    let screen = text(&draw(&app));
    assert!(screen.contains(&format!("user \"{USER}\"")), "{screen}");
}

#[test]
fn tiny_terminals_get_a_message_not_a_panic() {
    let app = app_after(sample::access_denied(), (20, 5));
    let screen = text(&draw(&app));
    assert!(screen.contains("needs at"), "{screen}");
}

#[test]
fn unverified_identities_show_the_identities_and_the_region() {
    let mut s = sample::Script::new();
    sample::opening(&mut s);
    s.message("x")
        .reply(
            crate::engine::command::Verb::DataEnd,
            554,
            &["Message rejected: Email address is not verified. The following identities failed the check in region US-WEST-2: sender@example.com, rcpt@example.org"],
        )
        .publish();
    let app = app_after(s.events(), (80, 24));
    let screen = text(&draw(&app));
    assert!(
        screen.contains("Identities: sender@example.com, rcpt@example.org"),
        "{screen}"
    );
    assert!(screen.contains("Region: us-west-2"), "{screen}");
}

#[test]
fn demo_title_and_notes_are_shown() {
    let mut app = app_after(Vec::new(), (80, 24));
    app.title = Some("demo: IP-restricted user".into());
    app.notes = vec!["Watch AUTH pass and the 554 come after the final dot".into()];
    let term = draw(&app);
    let screen = text(&term);
    assert!(screen.contains("demo: IP-restricted user"), "{screen}");
    assert!(screen.contains("Watch AUTH pass"), "{screen}");
    insta::assert_snapshot!("demo_notes_80x24", term.backend());
}

#[test]
fn the_timeline_shows_steps_in_the_order_they_happened() {
    // AUTH before STARTTLS, then the right order: both AUTH tries show, in place.
    let mut s = Script::new();
    s.connect(sample::HOST, 587, TlsMode::Starttls)
        .reply(Verb::Connect, 220, &["email-smtp.amazonaws.com ESMTP"])
        .send(&Command::Ehlo("me".into()))
        .reply(
            Verb::Ehlo,
            250,
            &["email-smtp.amazonaws.com", "STARTTLS", "AUTH PLAIN"],
        )
        .auth_plain(sample::USER)
        .reply(Verb::Auth, 530, &["Must issue a STARTTLS command first"])
        .send(&Command::StartTls)
        .reply(Verb::StartTls, 220, &["Ready to start TLS"])
        .start_tls()
        .send(&Command::Ehlo("me".into()))
        .reply(Verb::Ehlo, 250, &["email-smtp.amazonaws.com", "AUTH PLAIN"])
        .auth_plain(sample::USER)
        .reply(Verb::Auth, 235, &["Authentication successful."])
        .publish();
    let app = app_after(s.events(), (120, 40));
    let screen = text(&draw(&app));
    assert!(
        screen.contains("✓connect → ✓EHLO → ✗AUTH → ✓STARTTLS → ✓EHLO → ✓AUTH → ·MAIL"),
        "{screen}"
    );
    assert!(
        screen.contains("Verdict: Authenticated; no message sent yet"),
        "{screen}"
    );
    assert!(!screen.contains("Authentication failed"), "{screen}");
}

/// The server's view (the header) at each demo scenario's decisive moment, at 80 columns:
/// what the server knows, authentication apart from authorization.
#[test]
fn the_servers_view_in_each_demo_scenario() {
    use crate::engine::command::Verb;
    use crate::tui::content::header;
    let denied = |user: &str| {
        format!(
            "Access denied: User `arn:aws:iam::123456789012:user/{user}' is not authorized to \
             perform `ses:SendRawEmail' on resource \
             `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
        )
    };
    let after_dot = |code: u16, text: &str| {
        let mut s = Script::new();
        sample::up_to_data(&mut s, "sender@example.com");
        s.message(sample::MESSAGE)
            .reply(Verb::DataEnd, code, &[text])
            .publish();
        s.events()
    };
    let before_dot = {
        let mut s = Script::new();
        sample::up_to_data(&mut s, "sender@example.com");
        s.events()
    };
    let scenarios = [
        ("good_before_the_dot", before_dot),
        ("good", after_dot(250, "Ok 0100018f-demo-message-id-000000")),
        ("wrong_password", sample::auth_failure()),
        ("ip_restricted", after_dot(554, &denied("ip-restricted"))),
        (
            "loopback_policy",
            after_dot(554, &denied("loopback-remote")),
        ),
        (
            "sandbox",
            after_dot(
                554,
                "Message rejected: Email address is not verified. The following identities \
                 failed the check in region US-EAST-1: someone@unverified.example.net",
            ),
        ),
    ];
    for (name, events) in scenarios {
        let app = app_after(events, (80, 24));
        let lines = header::lines(&app, 80);
        let rows = crate::tui::content::wrapped_rows(lines.clone(), 80);
        let mut term = Terminal::new(TestBackend::new(80, u16::try_from(rows).unwrap()))
            .unwrap_or_else(|e| match e {});
        term.draw(|f| {
            f.render_widget(
                ratatui::widgets::Paragraph::new(lines)
                    .wrap(ratatui::widgets::Wrap { trim: false }),
                f.area(),
            );
        })
        .unwrap_or_else(|e| match e {});
        let shown = text(&term);
        assert!(shown.contains("Server's view"), "{shown}");
        insta::assert_snapshot!(format!("servers_view_{name}"), shown);
    }
}

/// The simulator's decision behind an ip-restricted 554, as `smtpscope demo` forwards it.
fn ip_restricted_decision() -> crate::tui::app::SimDecision {
    use crate::engine::sim::account::SimAccount;
    use crate::engine::sim::config::SimConfig;
    use crate::engine::sim::delivery::Transaction;
    let account = SimAccount::new(SimConfig::default_demo().unwrap());
    let user = account
        .config
        .users
        .iter()
        .position(|u| u.name == "ip-restricted")
        .unwrap();
    let recipients = vec!["rcpt@example.org".to_string()];
    let body = b"From: sender@example.com\r\n\r\nx\r\n".to_vec();
    let verdict = account.deliver(Transaction {
        user,
        peer: "127.0.0.1:40000".parse().unwrap(),
        mail_from: "sender@example.com",
        recipients: &recipients,
        size: body.len(),
        body,
    });
    crate::tui::app::SimDecision {
        time: sample::start_time(),
        authorization: *verdict.authorization.expect("denied, with its decision"),
    }
}

/// The 554 after the final "." in the ip-restricted scenario.
fn ip_restricted_554() -> Vec<crate::engine::session::Event> {
    let mut s = Script::new();
    sample::up_to_data(&mut s, "sender@example.com");
    s.message(sample::MESSAGE)
        .reply(
            Verb::DataEnd,
            554,
            &[
                "Access denied: User `arn:aws:iam::123456789012:user/ip-restricted' is not \
               authorized to perform `ses:SendRawEmail' on resource \
               `arn:aws:ses:us-east-1:123456789012:identity/example.com'",
            ],
        )
        .publish();
    s.events()
}

/// Against the in-process simulator, the 554's diagnosis and the server's view name the
/// policy, the statement and the condition that decided, and the IP it was evaluated with;
/// against any other server, the diagnosis says where to look, since smtpscope cannot see it.
#[test]
fn the_554_names_the_simulators_iam_decision() {
    use crate::tui::content::{diagnosis, header};
    let flat = |lines: Vec<ratatui::text::Line<'static>>| {
        lines
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut app = app_after(Vec::new(), (120, 40));
    app.sim_iam = Some(Vec::new());
    update(
        &mut app,
        Msg::SimDecision(Box::new(ip_restricted_decision())),
    );
    for ev in ip_restricted_554() {
        update(&mut app, Msg::Engine(ev));
    }
    let panel = flat(diagnosis::content(&app).1);
    for want in [
        "Note: The simulator's IAM check: DENIED implicitly: no statement allows this request",
        "Note: policy source-ip-office.json statement #1 (Sid AllowOffice): Allow does not \
         apply: condition IpAddress aws:SourceIp [203.0.113.0/24] did not match 127.0.0.1",
        "Note: aws:SourceIp was 127.0.0.1: the IP SES saw (this connection's address)",
    ] {
        assert!(panel.contains(want), "missing {want:?} in:\n{panel}");
    }
    assert!(!panel.contains("smtpscope cannot see"), "{panel}");
    let view = flat(header::lines(&app, 120));
    assert!(
        view.contains(
            "IAM policy: denied by source-ip-office.json: aws:SourceIp 127.0.0.1 not in \
             203.0.113.0/24"
        ),
        "{view}"
    );
    let screen = text(&draw(&app));
    assert!(
        screen.contains("aws:SourceIp 127.0.0.1 not in 203.0.113.0/24"),
        "{screen}"
    );

    // Not the simulator: today's server's view, and the honest pointer.
    let app = app_after(ip_restricted_554(), (120, 40));
    let panel = flat(diagnosis::content(&app).1);
    assert!(
        panel.contains("Note: smtpscope cannot see IAM policies"),
        "{panel}"
    );
    assert!(panel.contains("aws:SourceIp"), "{panel}");
    let view = flat(header::lines(&app, 120));
    assert!(
        view.contains("IAM policy: denied ses:SendRawEmail"),
        "{view}"
    );
}

/// A closed session's header keeps its history: what TLS and which login it had.
#[test]
fn a_closed_sessions_header_says_what_it_was() {
    let app = sample::app_after(sample::success(), (120, 40));
    let screen = text(&draw(&app));
    let header: String = screen.lines().take(4).collect::<Vec<_>>().join(" ");
    assert!(header.contains("closed"), "{header}");
    assert!(header.contains("was TLS 1.3"), "{header}");
    assert!(header.contains("was authenticated as"), "{header}");
}
