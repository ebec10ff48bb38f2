//! Forms: opening them prefilled, editing, and turning a valid submit into a request.

use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::command::{Command, check_address, check_arg};
use crate::engine::driver::Request;
use crate::engine::message::Draft;
use crate::engine::session::MessageSource;

use super::{Effect, command, send};
use crate::tui::action::FormAction;
use crate::tui::app::{App, Level};
use crate::tui::form::{Field, Form, FormKind};

pub(super) fn set_form_error(app: &mut App, error: String) {
    if let Some(form) = &mut app.form {
        form.error = Some(error);
    }
}

pub(super) fn mail(app: &mut App, from: String) -> Vec<Effect> {
    if let Err(e) = check_address("MAIL FROM address", &from) {
        return open_mail(app, Some(e.to_string()));
    }
    match super::ext::next_group(app, &from) {
        Some(Ok(effects)) => return effects,
        Some(Err(e)) => return open_mail(app, Some(e)),
        None => {}
    }
    match super::ext::mail_request(app, from, None) {
        Ok(request) => send(app, request),
        Err(e) => open_mail(app, Some(e)),
    }
}

pub(super) fn rcpt(app: &mut App, to: String) -> Vec<Effect> {
    let checked = check_address("RCPT TO address", &to).map_err(|e| e.to_string());
    let checked = checked.and_then(|()| {
        if to.is_empty() {
            Err("RCPT TO address is empty".to_string())
        } else {
            Ok(())
        }
    });
    if let Err(e) = checked {
        return open_rcpt(app, Some(e));
    }
    match super::ext::rcpt_request(app, to, None) {
        Ok(request) => send(app, request),
        Err(e) => open_rcpt(app, Some(e)),
    }
}

const NO_TLS_WARNING: &str = "No TLS on this connection: the password would cross the network readable by anyone on the path. s starts TLS; sending anyway is allowed (e.g. to see the server's 530).";

pub(super) fn open_auth(app: &mut App, mechanism: Mechanism) -> Vec<Effect> {
    let user = app.prefill.user.clone().unwrap_or_default();
    // A password is never offered as a token, nor a token as a password.
    let same_kind = app.prefill.auth.is_oauth() == mechanism.is_oauth();
    let password = app
        .prefill
        .password
        .clone()
        .filter(|_| same_kind)
        .unwrap_or_default();
    let label = if mechanism.is_oauth() {
        "Access token"
    } else {
        "Password"
    };
    let mut form = Form::new(
        FormKind::Auth(mechanism),
        vec![Field::new("User", &user), Field::secret(label, &password)],
    )
    .focus_first_empty();
    if app.auth_in_clear() {
        form.warning = Some(NO_TLS_WARNING.into());
    } else if !app.session.connected() {
        form.warning = Some("Not connected: the engine will refuse to send (c connects)".into());
    }
    app.form = Some(form);
    Vec::new()
}

/// The Parameters field of MAIL FROM and RCPT TO: what the extension settings give, and
/// remembered as such so an untouched field is worked out again for the address sent.
fn params_field(form: &mut Form, suggested: Result<String, String>) {
    let (value, error) = match suggested {
        Ok(v) => (v, None),
        Err(e) => (String::new(), Some(e)),
    };
    form.fields.push(Field::new("Parameters", &value));
    form.suggested = Some(value);
    if form.error.is_none() {
        form.error = error;
    }
}

pub(super) fn open_mail(app: &mut App, error: Option<String>) -> Vec<Effect> {
    let from = app.prefill.from.clone().unwrap_or_default();
    let mut form = Form::new(FormKind::Mail, vec![Field::new("Sender", &from)]);
    form.error = error;
    params_field(&mut form, super::ext::mail_suggestion(app, &from));
    app.form = Some(form);
    Vec::new()
}

pub(super) fn open_rcpt(app: &mut App, error: Option<String>) -> Vec<Effect> {
    let to = app
        .prefill
        .to
        .get(app.session.rcpts_attempted())
        .or(app.prefill.to.first())
        .cloned()
        .unwrap_or_default();
    let mut form = Form::new(FormKind::Rcpt, vec![Field::new("Recipient", &to)]);
    form.error = error;
    params_field(&mut form, super::ext::rcpt_suggestion(app, &to));
    app.form = Some(form);
    Vec::new()
}

/// The Parameters field (1) when the user changed it, with what it was prefilled with.
fn edited_params(form: &Form) -> Option<(&str, &str)> {
    let suggested = form.suggested.as_deref().unwrap_or("");
    let typed = form.value(1);
    (typed.trim() != suggested.trim()).then_some((typed, suggested))
}

pub(super) fn open_compose(app: &mut App) -> Vec<Effect> {
    let draft = app.message_draft();
    let form = Form::new(
        FormKind::Compose,
        vec![
            Field::new("From", &draft.from),
            Field::new("To", &draft.to.join(", ")),
            Field::new("Subject", &draft.subject),
            Field::multiline("Body", &draft.body),
        ],
    )
    .focus_first_empty();
    // Optional parts, after the body: the focus starts among the fields above.
    let mut form = form;
    form.fields.push(Field::multiline("Headers", ""));
    form.fields.push(Field::new("Attach", ""));
    form.fields.push(Field::multiline("HTML", ""));
    app.form = Some(form);
    Vec::new()
}

pub(super) fn on_form(app: &mut App, action: FormAction) -> Vec<Effect> {
    let Some(form) = &mut app.form else {
        return Vec::new();
    };
    let compose = form.kind == FormKind::Compose;
    match action {
        FormAction::Cancel => {
            app.form = None;
            return Vec::new();
        }
        FormAction::Submit => return submit(app),
        FormAction::NextField => form.next_field(),
        FormAction::PreviousField => form.previous_field(),
        FormAction::Enter => {
            let multiline = form.focused().is_some_and(|f| f.multiline);
            if multiline {
                if let Some(f) = form.focused() {
                    f.insert('\n');
                }
            } else if compose {
                form.next_field();
            } else {
                return submit(app);
            }
        }
        FormAction::Up => {
            if !form.focused().is_some_and(|f| f.multiline && f.up()) {
                form.previous_field();
            }
        }
        FormAction::Down => {
            if !form.focused().is_some_and(|f| f.multiline && f.down()) {
                form.next_field();
            }
        }
        edit => {
            if let Some(f) = form.focused() {
                match edit {
                    FormAction::Insert(c) => f.insert(c),
                    FormAction::Backspace => f.backspace(),
                    FormAction::KillLine => f.kill_line(),
                    FormAction::KillWord => f.kill_word(),
                    FormAction::Delete => f.delete(),
                    FormAction::Left => f.left(),
                    FormAction::Right => f.right(),
                    FormAction::Home => f.home(),
                    FormAction::End => f.end(),
                    _ => {}
                }
            }
            form.error = None;
        }
    }
    Vec::new()
}

/// Validates the open form; sends on success, keeps it open with the reason otherwise.
fn submit(app: &mut App) -> Vec<Effect> {
    let Some(form) = app.form.take() else {
        return Vec::new();
    };
    let result = match form.kind {
        FormKind::Auth(mechanism) => submit_auth(app, &form, mechanism),
        FormKind::Mail => {
            let from = form.value(0).trim().to_string();
            check_address("MAIL FROM address", &from)
                .map_err(|e| (0, e.to_string()))
                .and_then(|()| {
                    let request = super::ext::mail_request(app, from.clone(), edited_params(&form))
                        .map_err(|e| (1, e))?;
                    app.prefill.from = Some(from);
                    Ok(send(app, request))
                })
        }
        FormKind::Rcpt => {
            let to = form.value(0).trim().to_string();
            match check_address("RCPT TO address", &to) {
                Err(e) => Err((0, e.to_string())),
                Ok(()) if to.is_empty() => Err((0, "RCPT TO address is empty".into())),
                Ok(()) => super::ext::rcpt_request(app, to.clone(), edited_params(&form))
                    .map_err(|e| (1, e))
                    .map(|request| {
                        if app.prefill.to.is_empty() {
                            app.prefill.to.push(to);
                        }
                        send(app, request)
                    }),
            }
        }
        FormKind::Compose => submit_compose(app, &form),
        FormKind::MessageLine => {
            let line = form.value(0).to_string();
            match check_arg("message line", &line) {
                Err(e) => Err((0, e.to_string())),
                Ok(()) if line == "." => Ok(send(app, Request::MessageLine(line))),
                Ok(()) => {
                    // No reply comes to a message line: the form stays for the next one.
                    super::open_message_line(app);
                    Ok(vec![Effect::Send(Request::MessageLine(line))])
                }
            }
        }
        FormKind::Raw => {
            let line = form.value(0).to_string();
            match check_arg("raw command", &line) {
                Err(e) => Err((0, e.to_string())),
                Ok(()) if line.trim().is_empty() => Err((0, "the line is empty".into())),
                Ok(()) => Ok(command(app, Command::Raw(line))),
            }
        }
    };
    match result {
        Ok(effects) => effects,
        Err((field, error)) => {
            let mut form = form;
            form.focus = field;
            form.error = Some(error);
            app.form = Some(form);
            Vec::new()
        }
    }
}

type Submitted = Result<Vec<Effect>, (usize, String)>;

fn submit_auth(app: &mut App, form: &Form, mechanism: Mechanism) -> Submitted {
    let user = form.value(0).to_string();
    if user.is_empty() {
        return Err((0, "the user name is empty".into()));
    }
    let password = form
        .fields
        .get(1)
        .map(Field::secret_value)
        .unwrap_or_default();
    if password.is_empty() {
        let what = if mechanism.is_oauth() {
            "the access token is empty"
        } else {
            "the password is empty"
        };
        return Err((1, what.into()));
    }
    let credentials = if mechanism.is_oauth() {
        Credentials::with_token(&user, password.clone())
    } else {
        Credentials::new(&user, password.clone())
    }
    .map_err(|e| (0, e.to_string()))?;
    app.prefill.user = Some(user);
    app.prefill.password = Some(password);
    Ok(send(
        app,
        Request::Auth {
            mechanism,
            credentials,
            initial_response: true,
        },
    ))
}

fn submit_compose(app: &mut App, form: &Form) -> Submitted {
    let from = form.value(0).trim().to_string();
    if from.is_empty() {
        return Err((0, "From is empty".into()));
    }
    check_address("From", &from).map_err(|e| (0, e.to_string()))?;
    let to: Vec<String> = form
        .value(1)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if to.is_empty() {
        return Err((1, "To is empty".into()));
    }
    for t in &to {
        check_address("To", t).map_err(|e| (1, e.to_string()))?;
    }
    let subject = form.value(2).to_string();
    // A CR or LF in the subject would start a new header.
    check_arg("Subject", &subject).map_err(|e| (2, e.to_string()))?;
    let draft = Draft {
        from,
        to,
        subject,
        body: form.value(3).to_string(),
    };
    let text = compose_text(&draft, form.value(4), form.value(5), form.value(6))?;
    app.draft = Some(draft);
    // Linted by the session, so the warnings are transcript entries before the DATA.
    let mut effects = vec![Effect::Send(Request::Lint(MessageSource::Text(
        text.clone(),
    )))];
    if app.session.open_transaction().is_none() && !app.session.data_open() {
        // Composed before MAIL FROM: kept, so MAIL FROM can declare its size and 8-bit body.
        let send_how = if form.bdat {
            "b sends it with BDAT"
        } else {
            "Next sends it after DATA's 354 (b: with BDAT)"
        };
        app.set_status(
            Level::Info,
            format!(
                "Message ready ({} bytes), not sent yet: MAIL FROM will declare it (SIZE=, BODY=8BITMIME when the server offers them); after RCPT TO, {send_how}",
                text.len()
            ),
        );
        app.held = Some(text);
        return Ok(effects);
    }
    app.held = None;
    if form.bdat {
        effects.extend(send(app, Request::Bdat(MessageSource::Text(text))));
        return Ok(effects);
    }
    if app.session.data_open() {
        effects.extend(super::send_message(app, text));
        return Ok(effects);
    }
    app.pending_message = Some(text);
    app.set_status(
        Level::Info,
        "DATA sent; the message follows when the server answers 354",
    );
    effects.extend(command(app, Command::Data));
    Ok(effects)
}

/// The message text: the plain draft, or (with extra headers, attachments or an HTML part) one
/// built by the MIME builder, as `run --header/--attach/--html` builds it. Errors name the
/// field (4: Headers, 5: Attach, 6: HTML).
fn compose_text(
    draft: &Draft,
    headers: &str,
    attach: &str,
    html: &str,
) -> Result<String, (usize, String)> {
    let headers = headers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| crate::engine::compose::parse_header(l).map_err(|e| (4, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let paths: Vec<std::path::PathBuf> = attach
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .collect();
    // The HTML part: typed in the field, or "@FILE" read now (bounded, as --html @FILE).
    let html = match html.trim() {
        "" => None,
        one_line if one_line.starts_with('@') && !one_line.contains('\n') => Some(
            crate::engine::limited::read_to_string(
                std::path::Path::new(&one_line[1..]),
                "a message part (the HTML field's @FILE)",
                crate::engine::limited::limit::BODY,
            )
            .map_err(|e| (6, e.to_string()))?,
        ),
        _ => Some(html.to_string()),
    };
    if headers.is_empty() && paths.is_empty() && html.is_none() {
        return Ok(draft.render());
    }
    let attachments =
        crate::engine::compose::read_attachments(&paths).map_err(|e| (5, e.to_string()))?;
    crate::engine::compose::Composition {
        from: draft.from.clone(),
        to: draft.to.clone(),
        subject: Some(draft.subject.clone()),
        headers,
        body: Some(draft.body.clone()),
        html,
        attachments,
    }
    .render()
    .map_err(|e| (5, e.to_string()))
}
