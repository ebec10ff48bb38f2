//! The header: target, TLS mode and state, login, the deciding phase, connection state (a
//! closed one keeps its history); and the notes row. All of it reads the session model.

use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::escape::escape_str;
use crate::engine::model::{AuthRejection, Link};
use crate::engine::transport::{TlsMode, Verification};
use crate::tui::app::App;
use crate::tui::layout::Areas;

const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

/// A user name shown partly, unless the user asked to see it (`u`).
pub fn masked_user(user: &str, reveal: bool) -> String {
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
        let secs = app.busy_ticks as f64 * app.tick_ms as f64 / 1000.0;
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

pub fn render(frame: &mut Frame, areas: &Areas, app: &App) {
    let t = app.theme;
    let wide = areas.header.width >= 110;
    let title = match (&app.title, &app.read_only) {
        (_, Some(file)) => Some(format!("replay of {} (read-only)", escape_str(file))),
        (Some(title), None) => Some(escape_str(title)),
        (None, None) => None,
    };
    // The title (what this session is) first: the target may be long and get cut.
    let mut first = vec![Span::styled(" smtpscope ", t.title())];
    if let Some(title) = title {
        first.push(Span::styled(format!("▸ {title} "), t.title()));
    }
    first.push(Span::raw(format!(
        "│ {} · {} ",
        escape_str(&app.host_port()),
        app.tls_mode_name()
    )));
    let (conn, conn_style) = connection(app);
    let (tls, tls_style) = tls(app, wide);
    let (login, login_style) = login(app);
    let mut second = vec![Span::raw(" "), Span::styled(conn, conn_style)];
    if let Some(alert) = &app.alert {
        second.push(Span::styled(format!(" ⚠ {}", escape_str(alert)), t.error()));
    }
    second.extend([
        Span::raw(" │ "),
        Span::styled(tls, tls_style),
        Span::raw(" │ "),
        Span::styled(login, login_style),
    ]);
    if let Some(f) = &app.session.failure {
        second.push(Span::raw(" │ "));
        second.push(Span::styled(format!("[{}]", f.phase), t.phase(f.phase)));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]).style(t.header()),
        areas.header,
    );
    if let Some(rect) = areas.notes {
        let text: Vec<String> = app.notes.iter().map(|n| escape_str(n)).collect();
        let line = Line::from(vec![
            Span::styled(" ℹ ", t.title()),
            Span::styled(text.join(" · "), t.meta()),
        ]);
        frame.render_widget(Paragraph::new(line), rect);
    }
}
