//! The header: what this session is and its target; then the server's view, read from the
//! session model: the connection, TLS, who the server takes the client for (authentication),
//! the mail transaction and, for SES, whether the IAM policy has been evaluated yet
//! (authorization). A closed connection keeps its history ("was TLS 1.3"). And the notes.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::fmt::Write as _;

use crate::engine::command::Verb;
use crate::engine::escape::escape_str;
use crate::engine::iam::Authorization;
use crate::engine::model::{AuthRejection, IamCheck, Link};
use crate::engine::provider::Providers;
use crate::engine::transcript::EntryKind;
use crate::engine::transport::{TlsMode, Verification};
use crate::tui::app::App;

const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

/// A user name shown partly, unless the user asked to see it (`u`).
pub(crate) fn masked_user(user: &str, reveal: bool) -> String {
    let n = user.chars().count();
    if reveal {
        escape_str(user)
    } else if n >= 12 {
        let head: String = user.chars().take(4).collect();
        let tail: String = user.chars().skip(n - 4).collect();
        format!("{}…{}", escape_str(&head), escape_str(&tail))
    } else {
        "(hidden; u shows it)".into()
    }
}

fn connection(app: &App) -> (String, Style) {
    let t = app.theme;
    if app.busy {
        let secs = f64::from(app.busy_ticks) * app.tick_ms as f64 / 1000.0;
        let spin = SPINNER[app.busy_ticks as usize % SPINNER.len()];
        return (format!("{spin} waiting {secs:.1}s"), t.warning());
    }
    match app.session.conn.as_ref().map(|c| &c.link) {
        Some(Link::Open) => ("● connected".into(), t.ok()),
        Some(Link::Connecting) => ("◌ connecting".into(), t.warning()),
        Some(Link::Closed { reason }) => (format!("○ closed: {}", escape_str(reason)), t.dim()),
        None => ("○ not connected".into(), t.dim()),
    }
}

fn tls(app: &App, wide: bool) -> (String, Style) {
    let t = app.theme;
    let conn = app.session.conn.as_ref();
    // A closed connection keeps its history: "was TLS 1.3 verified".
    let was = if app.session.connected() { "" } else { "was " };
    match conn.and_then(|c| c.tls.as_ref()) {
        Some(info) => {
            let verdict = match &info.verification {
                Verification::Verified => "verified",
                Verification::Insecure { .. } => "INSECURE: not verified",
            };
            let style = match info.verification {
                Verification::Verified if was.is_empty() => t.tls(),
                Verification::Verified => t.dim(),
                Verification::Insecure { .. } => t.error(),
            };
            let cipher = if wide {
                format!(" {}", escape_str(&info.cipher))
            } else {
                String::new()
            };
            (
                format!("{was}{}{cipher} {verdict}", escape_str(&info.version)),
                style,
            )
        }
        None if app.config.tls_mode == TlsMode::None => ("no TLS (plain text)".into(), t.warning()),
        None if app.session.connected() => ("no TLS yet (plain text)".into(), t.warning()),
        None if conn.is_some() => ("was plain text (no TLS)".into(), t.dim()),
        None => ("no TLS".into(), t.dim()),
    }
}

/// Who the server takes the client for, from the session model.
fn login(app: &App) -> (String, Style) {
    let t = app.theme;
    let s = &app.session;
    let Some(conn) = &s.conn else {
        return ("not authenticated".into(), t.dim());
    };
    let was = if s.connected() { "" } else { "was " };
    if let Some(user) = &conn.authenticated_as {
        let style = if was.is_empty() { t.ok() } else { t.dim() };
        return (
            format!(
                "{was}authenticated as {}",
                masked_user(user, app.reveal_user)
            ),
            style,
        );
    }
    match conn.auth_attempt.as_ref().map(|a| a.rejected) {
        Some(None) if s.connected() => ("AUTH in progress".into(), t.warning()),
        Some(Some(AuthRejection::BadCredentials)) => ("credentials rejected".into(), t.error()),
        Some(Some(why)) => (why.describe().into(), t.warning()),
        _ if s.credentials_checked => ("not authenticated on this connection".into(), t.dim()),
        _ => ("not authenticated (AUTH not sent)".into(), t.dim()),
    }
}

/// The mail transaction as the server holds it.
fn transaction(app: &App) -> Option<(String, Style)> {
    let t = app.theme;
    let c = app.session.conn.as_ref()?;
    let tx = &c.transaction;
    let from = tx.mail_from.as_ref()?;
    let mut text = format!("MAIL FROM <{}>", escape_str(from));
    let n = tx.rcpts_accepted.len();
    let _ = match n {
        0 => write!(text, " · no recipient accepted"),
        1 => write!(
            text,
            " · RCPT <{}> accepted",
            escape_str(&tx.rcpts_accepted[0])
        ),
        n => write!(text, " · {n} recipients accepted"),
    };
    if !tx.rcpts_refused.is_empty() {
        let _ = write!(text, " ({} refused)", tx.rcpts_refused.len());
    }
    if app.session.data_open() {
        text.push_str(" · DATA open");
    }
    Some((text, t.meta()))
}

fn credentials_rejected(app: &App) -> bool {
    app.session
        .conn
        .as_ref()
        .and_then(|c| c.auth_attempt.as_ref())
        .and_then(|a| a.rejected)
        == Some(AuthRejection::BadCredentials)
}

/// The in-process simulator's decision behind the latest reply to the final ".".
fn sim_decision(app: &App) -> Option<&Authorization> {
    let last = app
        .store
        .entries()
        .iter()
        .rev()
        .find(|e| matches!(&e.kind, EntryKind::Reply(r) if r.after == Some(Verb::DataEnd)))?;
    app.sim_decision_for(last)
}

/// Whether the IAM policy has been evaluated yet (SES only).
fn iam(app: &App) -> Option<(String, Style)> {
    let t = app.theme;
    let check = app.session.iam_check()?;
    Some(match check {
        IamCheck::NotEvaluated if credentials_rejected(app) => (
            "IAM policy: never reached — SES evaluates it only for an authenticated user, \
             after the final \".\""
                .into(),
            t.dim(),
        ),
        IamCheck::NotEvaluated => (
            "IAM policy: not evaluated yet — SES checks it only after the final \".\"".into(),
            t.dim(),
        ),
        IamCheck::Allowed => ("IAM policy: allowed ses:SendRawEmail".into(), t.ok()),
        IamCheck::Denied { action } => match sim_decision(app) {
            Some(a) => (
                format!("IAM policy: {}", escape_str(&a.summary())),
                t.error(),
            ),
            None => (
                format!("IAM policy: denied {}", escape_str(action)),
                t.error(),
            ),
        },
        IamCheck::OtherRefusal { code } => (
            format!("IAM policy: not what refused the message ({code}: see the diagnosis)"),
            t.warning(),
        ),
    })
}

/// The first header line: what this session is, and the target.
pub(crate) fn title_line(app: &App) -> Line<'static> {
    let t = app.theme;
    let title = match (&app.title, &app.read_only) {
        (_, Some(file)) => Some(format!("replay of {} (read-only)", escape_str(file))),
        (Some(title), None) => Some(escape_str(title)),
        (None, None) => None,
    };
    let mut first = vec![Span::styled(" smtpscope ", t.title())];
    if let Some(title) = title {
        first.push(Span::styled(format!("▸ {title} "), t.title()));
    }
    first.push(Span::raw(format!(
        "│ {} · {} ",
        escape_str(&app.host_port()),
        app.tls_mode_name()
    )));
    // Who the server is, once its host name, greeting or EHLO reply says so.
    if let Some(p) = app.session.provider() {
        first.push(Span::styled(
            format!("· {} ", Providers::builtin().name_of(&p.id)),
            t.meta(),
        ));
    }
    Line::from(first)
}

/// The server's view: the connection, TLS, authentication, the transaction and the IAM check.
pub(crate) fn server_view(app: &App, width: u16) -> Line<'static> {
    let t = app.theme;
    let wide = width >= 110;
    let (conn, conn_style) = connection(app);
    let (tls, tls_style) = tls(app, wide);
    let (login, login_style) = login(app);
    let mut spans = vec![Span::raw(" "), Span::styled(conn, conn_style)];
    if let Some(alert) = &app.alert {
        spans.push(Span::styled(format!(" ⚠ {}", escape_str(alert)), t.error()));
    }
    if let Some(f) = &app.session.failure {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!("[{}]", f.phase), t.phase(f.phase)));
    }
    spans.extend([
        Span::styled(" │ Server's view: ", t.title()),
        Span::styled(tls, tls_style),
        Span::raw(" · "),
        Span::styled(login, login_style),
    ]);
    for (text, style) in [transaction(app), iam(app)].into_iter().flatten() {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

/// The header's lines (wrapped on screen, never cut).
pub(crate) fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    vec![title_line(app), server_view(app, width)]
}

/// The notes row (demo scenarios): the teaching line, the first note, whole (wrapped). The
/// others are in the diagnosis panel before the first reply, and in the help.
pub(crate) fn notes(app: &App) -> Option<Line<'static>> {
    let t = app.theme;
    let first = app.notes.first()?;
    Some(Line::from(vec![
        Span::styled(" ℹ ", t.title()),
        Span::styled(escape_str(first), t.meta()),
    ]))
}
