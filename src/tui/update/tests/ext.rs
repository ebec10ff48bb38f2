//! The SMTP extensions from the debugger's forms and keys: MAIL FROM's and RCPT TO's
//! parameters from the extension flags (shown and editable), BDAT, and PIPELINING on Next.

use super::*;
use crate::engine::ext::{Ext, ExtSettings, dsn};

/// A Postfix-like EHLO reply (inside TLS too), with `extra` keywords.
fn ehlo_lines(extra: &[&'static str]) -> Vec<&'static str> {
    let mut lines = vec!["mx.example.net", "SIZE 200000", "STARTTLS", "AUTH PLAIN"];
    lines.extend_from_slice(extra);
    lines.push("8BITMIME");
    lines
}

/// Greeted, EHLO'd with `extra` offered, inside TLS when `tls`; the flags as `settings`.
fn ext_app(settings: ExtSettings, extra: &[&'static str], tls: bool) -> (App, Script) {
    let mut s = Script::new();
    let lines = ehlo_lines(extra);
    s.connect(sample::HOST, 587, TlsMode::Starttls)
        .reply(Verb::Connect, 220, &["mx.example.net ESMTP"])
        .publish();
    s.send(&Command::Ehlo("mail.example.com".into()))
        .reply(Verb::Ehlo, 250, &lines)
        .publish();
    if tls {
        s.send(&Command::StartTls)
            .reply(Verb::StartTls, 220, &["Ready to start TLS"])
            .start_tls()
            .publish();
        s.send(&Command::Ehlo("mail.example.com".into()))
            .reply(Verb::Ehlo, 250, &lines)
            .publish();
    }
    let mut app = app_after(s.events(), (120, 40));
    app.config.ext = settings;
    (app, s)
}

fn dsn_settings() -> ExtSettings {
    let mut settings = ExtSettings::default();
    settings.dsn.notify = Some(dsn::parse_notify("success,failure").unwrap());
    settings.dsn.ret = Some(dsn::parse_ret("hdrs").unwrap());
    settings.dsn.envid = Some("id+1".into());
    settings
}

/// MAIL FROM and RCPT TO accepted, as the server would answer them.
fn accept_envelope(app: &mut App, s: &mut Script) {
    sample::accept_envelope(s, "policy-fail@example.com");
    feed(app, s.events());
}

fn field(app: &App, i: usize) -> String {
    app.form.as_ref().unwrap().value(i).to_string()
}

/// The notes and warnings an annotated request carries into the transcript.
/// Does `action`: the lines it sends, and the notes and warnings that go with them.
fn act_noted(app: &mut App, action: Action) -> (Vec<String>, Vec<String>) {
    let effects = update(app, Msg::Action(action));
    let notes = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Request::Annotated {
                notes, warnings, ..
            }) => Some(notes.iter().chain(warnings).cloned().collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    (effects.iter().map(describe).collect(), notes)
}

/// Composes the default message with `body` before MAIL FROM: it is kept, not sent.
fn compose_before_mail(app: &mut App, body: &str) -> String {
    act(app, Action::Data);
    app.form.as_mut().unwrap().focus = 3;
    clear_field(app);
    typed(app, body);
    assert_eq!(act(app, Action::Form(FormAction::Submit)), ["lint"]);
    assert!(app.form.is_none());
    assert!(
        status_text(app).contains("Message ready"),
        "{}",
        status_text(app)
    );
    app.held.clone().expect("the message is held for MAIL FROM")
}

#[test]
fn mail_and_rcpt_forms_show_the_dsn_parameters_and_send_them() {
    let (mut app, _) = ext_app(dsn_settings(), &["DSN"], true);
    act(&mut app, Action::MailFrom);
    assert_eq!(field(&app, 1), "RET=HDRS ENVID=id+2B1");
    assert_eq!(app.form.as_ref().unwrap().fields[1].label, "Parameters");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        ["MAIL FROM:<policy-fail@example.com> RET=HDRS ENVID=id+2B1"]
    );
    act(&mut app, Action::RcptTo);
    assert_eq!(
        field(&app, 1),
        "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;xxxxx@example.com"
    );
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        ["RCPT TO:<xxxxx@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;xxxxx@example.com"]
    );
    // Next sends the same, without a form.
    let (mut app, _) = ext_app(dsn_settings(), &["DSN"], true);
    app.prefill.auth = crate::cli::AuthChoice::None;
    assert_eq!(
        act(&mut app, Action::Next),
        ["MAIL FROM:<policy-fail@example.com> RET=HDRS ENVID=id+2B1"]
    );
}

#[test]
fn a_message_composed_before_mail_from_gives_size_and_body() {
    let (mut app, _) = ext_app(ExtSettings::default(), &[], true);
    // Nothing composed: MAIL FROM cannot know the size.
    act(&mut app, Action::MailFrom);
    assert_eq!(field(&app, 1), "");
    act(&mut app, Action::Form(FormAction::Cancel));
    let held = compose_before_mail(&mut app, "caf\u{e9} au lait");
    act(&mut app, Action::MailFrom);
    let want = format!("SIZE={} BODY=8BITMIME", held.len());
    assert_eq!(field(&app, 1), want);
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        [format!("MAIL FROM:<policy-fail@example.com> {want}")]
    );
    // An ASCII message needs no BODY=.
    let (mut app, _) = ext_app(ExtSettings::default(), &[], true);
    let held = compose_before_mail(&mut app, "plain");
    act(&mut app, Action::MailFrom);
    assert_eq!(field(&app, 1), format!("SIZE={}", held.len()));
    // After RCPT, Next sends DATA and then the held message, not the default one.
    let (mut app, mut s) = ext_app(ExtSettings::default(), &[], true);
    let held = compose_before_mail(&mut app, "the held one");
    accept_envelope(&mut app, &mut s);
    app.prefill.auth = crate::cli::AuthChoice::None;
    assert_eq!(act(&mut app, Action::Next), ["DATA"]);
    s.send(&Command::Data)
        .reply(Verb::Data, 354, &["End data with <CR><LF>.<CR><LF>"])
        .publish();
    feed(&mut app, s.events());
    let effects = update(&mut app, Msg::Action(Action::Next));
    match effects.as_slice() {
        [Effect::Send(Request::Message(MessageSource::Text(t)))] => assert_eq!(*t, held),
        other => panic!("{other:?}"),
    }
    assert!(app.held.is_none());
}

#[test]
fn an_untouched_field_follows_the_sender_and_an_edited_one_goes_as_typed() {
    let (mut app, _) = ext_app(ExtSettings::default(), &["SMTPUTF8"], true);
    act(&mut app, Action::MailFrom);
    assert_eq!(field(&app, 1), "");
    clear_field(&mut app);
    typed(&mut app, "j\u{f6}rg@example.com");
    let (sent, notes) = act_noted(&mut app, Action::Form(FormAction::Submit));
    assert_eq!(sent, ["MAIL FROM:<j\u{f6}rg@example.com> SMTPUTF8"]);
    assert!(
        notes.iter().any(|n| n.contains("SMTPUTF8 added")),
        "{notes:?}"
    );
    // Edited: sent as typed, and the transcript says so.
    act(&mut app, Action::MailFrom);
    assert_eq!(
        field(&app, 1),
        "SMTPUTF8",
        "prefilled for the sender now given"
    );
    act(&mut app, Action::Form(FormAction::NextField));
    clear_field(&mut app);
    typed(&mut app, "X-DEBUG=1");
    let (sent, notes) = act_noted(&mut app, Action::Form(FormAction::Submit));
    assert_eq!(sent, ["MAIL FROM:<j\u{f6}rg@example.com> X-DEBUG=1"]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("as edited in the form: X-DEBUG=1")
                && n.contains("settings gave: SMTPUTF8")),
        "{notes:?}"
    );
    // A pasted CR would end the command early: refused in the field.
    act(&mut app, Action::RcptTo);
    act(&mut app, Action::Form(FormAction::NextField));
    update(&mut app, Msg::Paste("NOTIFY=NEVER\rQUIT".into()));
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    assert!(
        form_error(&app).contains("carriage return"),
        "{}",
        form_error(&app)
    );
    assert_eq!(app.form.as_ref().unwrap().focus, 1);
}

#[test]
fn smtputf8_and_dsn_not_offered_are_clear_errors_unless_forced() {
    let (mut app, _) = ext_app(ExtSettings::default(), &[], true);
    app.prefill.from = Some("j\u{f6}rg@example.com".into());
    app.prefill.auth = crate::cli::AuthChoice::None;
    // Next stops at the form and says why.
    assert!(act(&mut app, Action::Next).is_empty());
    assert_eq!(form_kind(&app), Some(FormKind::Mail));
    assert!(
        form_error(&app).contains("SMTPUTF8") && form_error(&app).contains("did not offer"),
        "{}",
        form_error(&app)
    );
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    let forced = ExtSettings {
        forced: vec![Ext::Smtputf8],
        ..ExtSettings::default()
    };
    let (mut app, _) = ext_app(forced, &[], true);
    app.prefill.from = Some("j\u{f6}rg@example.com".into());
    app.prefill.auth = crate::cli::AuthChoice::None;
    let (sent, notes) = act_noted(&mut app, Action::Next);
    assert_eq!(sent, ["MAIL FROM:<j\u{f6}rg@example.com> SMTPUTF8"]);
    assert!(notes.iter().any(|w| w.starts_with("FORCED")), "{notes:?}");
    // DSN asked for, not offered.
    let (mut app, _) = ext_app(dsn_settings(), &[], true);
    act(&mut app, Action::MailFrom);
    assert!(form_error(&app).contains("DSN"), "{}", form_error(&app));
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
}

#[test]
fn requiretls_goes_only_inside_tls_typed_or_not() {
    let settings = ExtSettings {
        requiretls: true,
        ..ExtSettings::default()
    };
    let (mut app, _) = ext_app(settings.clone(), &["REQUIRETLS"], false);
    act(&mut app, Action::MailFrom);
    assert!(
        form_error(&app).contains("only inside TLS"),
        "{}",
        form_error(&app)
    );
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    // Typing it by hand does not get around the rule.
    let (mut app, _) = ext_app(ExtSettings::default(), &["REQUIRETLS"], false);
    act(&mut app, Action::MailFrom);
    act(&mut app, Action::Form(FormAction::NextField));
    typed(&mut app, "requiretls");
    assert!(act(&mut app, Action::Form(FormAction::Submit)).is_empty());
    assert!(form_error(&app).contains("only inside TLS"));
    // Inside TLS, to a server that offers it.
    let (mut app, _) = ext_app(settings, &["REQUIRETLS"], true);
    act(&mut app, Action::MailFrom);
    assert_eq!(field(&app, 1), "REQUIRETLS");
    assert_eq!(
        act(&mut app, Action::Form(FormAction::Submit)),
        ["MAIL FROM:<policy-fail@example.com> REQUIRETLS"]
    );
}

#[test]
fn b_sends_bdat_only_when_chunking_is_offered_or_forced() {
    let (mut app, mut s) = ext_app(ExtSettings::default(), &[], true);
    accept_envelope(&mut app, &mut s);
    assert!(act(&mut app, Action::Bdat).is_empty());
    assert!(app.form.is_none());
    assert!(
        status_text(&app).contains("did not offer CHUNKING"),
        "{}",
        status_text(&app)
    );
    // Forced: the composer opens, marked BDAT.
    app.config.ext.forced = vec![Ext::Chunking];
    act(&mut app, Action::Bdat);
    assert!(app.form.as_ref().is_some_and(|f| f.bdat));
    // Offered: the composed message goes in BDAT chunks, no DATA.
    let (mut app, mut s) = ext_app(ExtSettings::default(), &["CHUNKING"], true);
    accept_envelope(&mut app, &mut s);
    act(&mut app, Action::Bdat);
    assert_eq!(form_kind(&app), Some(FormKind::Compose));
    let effects = act(&mut app, Action::Form(FormAction::Submit));
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(effects[0], "lint");
    assert!(effects[1].starts_with("bdat "), "{effects:?}");
    // A message composed before MAIL FROM goes at once, the very bytes MAIL FROM declared.
    let (mut app, mut s) = ext_app(ExtSettings::default(), &["CHUNKING"], true);
    let held = compose_before_mail(&mut app, "chunked");
    accept_envelope(&mut app, &mut s);
    assert_eq!(
        act(&mut app, Action::Bdat),
        [format!("bdat {} bytes", held.len())]
    );
    assert!(app.held.is_none());
}

#[test]
fn next_under_bdat_and_pipeline_uses_the_engines_paths() {
    let settings = ExtSettings {
        bdat: true,
        pipeline: true,
        ..ExtSettings::default()
    };
    let (mut app, mut s) = ext_app(settings.clone(), &["CHUNKING", "PIPELINING"], true);
    app.prefill.auth = crate::cli::AuthChoice::None;
    let held = compose_before_mail(&mut app, "grouped");
    assert_eq!(
        act(&mut app, Action::Next),
        ["group policy-fail@example.com -> xxxxx@example.com with message true"]
    );
    busy_done(&mut app, &mut s);
    accept_envelope(&mut app, &mut s);
    assert_eq!(
        act(&mut app, Action::Next),
        [format!("bdat {} bytes", held.len())]
    );
    // Not offered: one command at a time, and DATA; the status says why.
    let (mut app, mut s) = ext_app(settings, &[], true);
    app.prefill.auth = crate::cli::AuthChoice::None;
    assert_eq!(
        act(&mut app, Action::Next),
        ["MAIL FROM:<policy-fail@example.com>"]
    );
    accept_envelope(&mut app, &mut s);
    assert_eq!(act(&mut app, Action::Next), ["DATA"]);
    assert!(
        status_text(&app).contains("CHUNKING"),
        "{}",
        status_text(&app)
    );
}

/// The state snapshot that ends a request.
fn busy_done(app: &mut App, s: &mut Script) {
    s.publish();
    feed(app, s.events());
}
