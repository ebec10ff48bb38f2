//! The SMTP extensions in the debugger, under the same rules as `run`: MAIL FROM's and RCPT
//! TO's parameters come from [`crate::engine::ext::envelope`] (the function `run` uses), so an
//! extension goes only to a server that offers it or when `--force-ext` says so, and
//! REQUIRETLS never outside TLS. The forms show those parameters in an editable field; BDAT
//! and PIPELINING go through the engine's own paths ([`Request::Bdat`], [`Request::Group`]).

use crate::engine::command::{Command, check_arg};
use crate::engine::driver::Request;
use crate::engine::escape::escape_str;
use crate::engine::ext::{
    self, Envelope, EnvelopeInput, Ext, ExtError, ExtSettings, MessageFacts, Use,
};
use crate::engine::session::MessageSource;

use super::{Effect, send};
use crate::tui::app::{App, Level};

/// What MAIL FROM can declare about the message: the one composed before it, if any.
fn facts(app: &App) -> MessageFacts {
    app.held
        .as_deref()
        .map(|t| MessageFacts::of_bytes(t.as_bytes()))
        .unwrap_or_default()
}

/// The envelope's parameters under `settings`, as `run` works them out now.
fn envelope_with(
    app: &App,
    settings: &ExtSettings,
    from: &str,
    to: &[String],
    message: &MessageFacts,
) -> Result<Envelope, ExtError> {
    ext::envelope(&EnvelopeInput {
        settings,
        caps: app.session.capabilities(),
        tls: app.session.tls().is_some(),
        from,
        to,
        message,
    })
}

/// The envelope's parameters for `from` and `to`, for the message composed so far.
fn envelope(app: &App, from: &str, to: &[String]) -> Result<Envelope, ExtError> {
    envelope_with(app, &app.config.ext, from, to, &facts(app))
}

/// RCPT TO's parameters for one recipient (DSN's NOTIFY= and ORCPT=; SMTPUTF8's check).
/// REQUIRETLS is MAIL FROM's alone, so it is not checked again here.
fn rcpt_envelope(app: &App, to: &str) -> Result<Vec<String>, ExtError> {
    let mut settings = app.config.ext.clone();
    settings.requiretls = false;
    let env = envelope_with(
        app,
        &settings,
        "",
        &[to.to_string()],
        &MessageFacts::default(),
    )?;
    Ok(env.rcpt_params.into_iter().next().unwrap_or_default())
}

/// What the MAIL FROM form's Parameters field starts with, or why no MAIL FROM can go.
pub(super) fn mail_suggestion(app: &App, from: &str) -> Result<String, String> {
    envelope(app, from, &app.prefill.to)
        .map(|e| e.mail_params.join(" "))
        .map_err(|e| e.to_string())
}

/// What the RCPT TO form's Parameters field starts with, or why that RCPT cannot go.
pub(super) fn rcpt_suggestion(app: &App, to: &str) -> Result<String, String> {
    rcpt_envelope(app, to)
        .map(|p| p.join(" "))
        .map_err(|e| e.to_string())
}

/// Parameters typed in a form: split at spaces, each refused if it holds CR, LF or NUL, and
/// REQUIRETLS refused outside TLS (RFC 8689 §2), typed or not.
fn typed_params(app: &App, what: &str, typed: &str) -> Result<Vec<String>, String> {
    check_arg(what, typed).map_err(|e| e.to_string())?;
    let params: Vec<String> = typed.split_whitespace().map(String::from).collect();
    if app.session.tls().is_none()
        && params
            .iter()
            .any(|p| p.eq_ignore_ascii_case(Ext::Requiretls.keyword()))
    {
        return Err("REQUIRETLS can be sent only inside TLS (RFC 8689 §2): a message that asks for TLS on every hop must not cross this first one in clear; s starts TLS".into());
    }
    Ok(params)
}

fn edited_note(command: &str, typed: &[String], suggested: &str) -> String {
    let given = if suggested.is_empty() {
        "none".to_string()
    } else {
        escape_str(suggested)
    };
    format!(
        "{command}'s parameters as edited in the form: {} (the extension settings gave: {given}); sent as typed",
        if typed.is_empty() {
            "none".to_string()
        } else {
            escape_str(&typed.join(" "))
        }
    )
}

/// A command whose Parameters field the user changed, sent as typed with a note that says so.
/// `edited` is (typed, what the field was prefilled with).
fn edited_request(
    app: &App,
    name: &str,
    (typed, suggested): (&str, &str),
    command: impl FnOnce(Vec<String>) -> Command,
) -> Result<Request, String> {
    let params = typed_params(app, &format!("{name} parameters"), typed)?;
    Ok(Request::Annotated {
        notes: vec![edited_note(name, &params, suggested)],
        warnings: Vec::new(),
        command: command(params),
    })
}

/// MAIL FROM with its parameters. `edited` is the Parameters field when the user changed
/// it (with what it was prefilled with); otherwise the parameters are worked out for `from`.
pub(super) fn mail_request(
    app: &App,
    from: String,
    edited: Option<(&str, &str)>,
) -> Result<Request, String> {
    if let Some(edited) = edited {
        return edited_request(app, "MAIL FROM", edited, |params| Command::Mail {
            from,
            params,
        });
    }
    let env = envelope(app, &from, &app.prefill.to).map_err(|e| e.to_string())?;
    Ok(Request::Annotated {
        command: Command::Mail {
            from,
            params: env.mail_params,
        },
        notes: env.notes,
        warnings: env.warnings,
    })
}

/// RCPT TO with its parameters, as [`mail_request`] does it.
pub(super) fn rcpt_request(
    app: &App,
    to: String,
    edited: Option<(&str, &str)>,
) -> Result<Request, String> {
    if let Some(edited) = edited {
        return edited_request(app, "RCPT TO", edited, |params| Command::Rcpt {
            to,
            params,
        });
    }
    let params = rcpt_envelope(app, &to).map_err(|e| e.to_string())?;
    Ok(Request::Command(Command::Rcpt { to, params }))
}

/// Whether BDAT may go now: CHUNKING offered, or forced.
pub(super) fn chunking(app: &App) -> Use {
    app.config
        .ext
        .usable(Ext::Chunking, app.session.capabilities())
}

const NO_CHUNKING: &str = "The server did not offer CHUNKING in its EHLO reply, so BDAT is not sent (RFC 3030 §2); d sends the message with DATA, or start with --force-ext chunking to try BDAT anyway";

/// `b`: the message in BDAT chunks. A message composed before MAIL FROM goes at once;
/// otherwise the composer opens and sends with BDAT.
pub(super) fn bdat_key(app: &mut App) -> Vec<Effect> {
    if !chunking(app).yes() {
        app.set_status(Level::Warning, NO_CHUNKING);
        return Vec::new();
    }
    if app.session.open_transaction().is_some()
        && let Some(text) = app.held.take()
    {
        return send(app, Request::Bdat(MessageSource::Text(text)));
    }
    let effects = super::forms::open_compose(app);
    if let Some(form) = &mut app.form {
        form.bdat = true;
    }
    effects
}

/// Next at DATA under `--bdat`: BDAT when CHUNKING allows it; `None` means DATA (said why).
pub(super) fn next_bdat(app: &mut App) -> Option<Vec<Effect>> {
    if !app.config.ext.bdat {
        return None;
    }
    if !chunking(app).yes() {
        app.set_status(
            Level::Info,
            "--bdat: the server does not offer CHUNKING, so the message goes with DATA instead (RFC 3030 §2)",
        );
        return None;
    }
    let text = app
        .held
        .take()
        .unwrap_or_else(|| app.message_draft().render());
    Some(send(app, Request::Bdat(MessageSource::Text(text))))
}

/// Next at MAIL under `--pipeline`: MAIL, the RCPTs and DATA as one group when the server
/// offers PIPELINING (or it is forced) and the recipients are known; `None` otherwise.
pub(super) fn next_group(app: &mut App, from: &str) -> Option<Result<Vec<Effect>, String>> {
    if !app.config.ext.pipeline || app.prefill.to.is_empty() {
        return None;
    }
    let offered = app
        .config
        .ext
        .usable(Ext::Pipelining, app.session.capabilities());
    if !offered.yes() {
        app.set_status(
            Level::Info,
            "--pipeline: the server does not offer PIPELINING, so each command waits for its reply (RFC 2920)",
        );
        return None;
    }
    if let Err(e) = envelope(app, from, &app.prefill.to) {
        return Some(Err(e.to_string()));
    }
    let request = Request::Group {
        from: from.to_string(),
        to: app.prefill.to.clone(),
        message: app.held.clone().map(MessageSource::Text),
    };
    Some(Ok(send(app, request)))
}
