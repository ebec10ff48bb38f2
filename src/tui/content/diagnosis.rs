//! The diagnosis panel's text: for the selected reply (by default the latest), its phase,
//! verdict, meaning, what to do next and the parts parsed out of it (user ARN, action, …).

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::engine::command::Verb;
use crate::engine::escape::{escape_bytes, escape_str};
use crate::engine::message::MessageStats;
use crate::engine::transcript::MessageView;
use crate::engine::transcript::{Entry, EntryKind, ReplyEntry};
use crate::tui::app::{App, Follow};
use crate::tui::theme::Theme;

fn field(t: Theme, key: &str, value: &str, style: Style) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key}: "), t.title()),
        Span::styled(escape_str(value), style),
    ])
}

/// Details shown on their own line; the rest are summarised on one.
const PRIMARY: [&str; 4] = ["User ARN", "Action", "Resource", "Identities"];

/// How a reply's command reads in the panel's title.
fn after_name(verb: Verb) -> &'static str {
    match verb {
        Verb::Connect => "connect (greeting)",
        Verb::AuthResponse => "AUTH (response)",
        Verb::DataEnd => "the final \".\"",
        v => v.name(),
    }
}

/// Where the IAM policy behind a `554 Access denied` is: the simulator's decision, as data
/// (the policy, statement and condition that decided, the IP it was evaluated with), or for
/// any other server a pointer to where the user must look, since smtpscope cannot see it.
fn iam_notes(app: &App, entry: &Entry, r: &ReplyEntry) -> Vec<String> {
    let access_denied = r
        .class
        .diagnosis
        .id
        .as_deref()
        .is_some_and(|id| id.starts_with("ses-access-denied"));
    if !access_denied {
        return Vec::new();
    }
    if app.sim_iam.is_some() {
        let Some(a) = app.sim_decision_for(entry) else {
            return Vec::new();
        };
        let mut notes = a.explanation();
        if let Some(first) = notes.first_mut() {
            *first = format!("The simulator's IAM check: {first}");
        }
        return notes;
    }
    vec![
        "smtpscope cannot see IAM policies: in IAM, read the policies of the User ARN above \
         (and of its groups) for a Deny, for the Resource, and for Conditions such as \
         aws:SourceIp (SES compares it with the public address your connection comes from, \
         not a private one), ses:FromAddress and ses:Recipients; a permissions boundary or \
         an SCP can deny too."
            .into(),
    ]
}

/// The credential lint's warnings recorded just before the AUTH that `idx` answers, oldest
/// first: a refused AUTH repeats them, since they are the likely cause.
fn lint_before_auth(app: &App, idx: usize) -> Vec<String> {
    let mut found_auth = false;
    let mut out = Vec::new();
    let before = app.store.entries().get(..idx).unwrap_or_default();
    for entry in before.iter().rev().take(64) {
        match &entry.kind {
            EntryKind::Sent {
                verb: Verb::Auth, ..
            } => found_auth = true,
            EntryKind::Warning {
                text,
                lint: Some(_),
            } if found_auth => out.push(text.clone()),
            EntryKind::Warning { .. } | EntryKind::Info { .. } => {}
            _ if found_auth => break,
            _ => {}
        }
    }
    out.reverse();
    out
}

fn reply_lines(t: Theme, r: &ReplyEntry, lint: &[String], iam: Vec<String>) -> Vec<Line<'static>> {
    let d = &r.class.diagnosis;
    let mut out = vec![Line::from(vec![
        Span::styled(format!("[{}] ", r.class.phase), t.phase(r.class.phase)),
        Span::styled(escape_str(&d.title), t.reply(r.code)),
    ])];
    // The parts a learner acts on get a line each; the ones derived from them share one.
    let mut also = Vec::new();
    let has_resource = d.details.iter().any(|(k, _)| k == "Resource");
    for (k, v) in &d.details {
        // The region is news only when no resource ARN already names it.
        if PRIMARY.contains(&k.as_str()) || (k == "Region" && !has_resource) {
            out.push(field(t, k, v, Style::new()));
        } else {
            also.push(format!("{k} {}", escape_str(v)));
        }
    }
    if !also.is_empty() {
        out.push(Line::from(vec![
            Span::styled("Parsed: ", t.title()),
            Span::raw(also.join(" · ")),
        ]));
    }
    for n in d.notes.iter().chain(&iam) {
        out.push(field(t, "Note", n, t.meta()));
    }
    for w in lint {
        out.push(field(
            t,
            "Note",
            &format!("before AUTH, the credential check warned: {w}"),
            t.warning(),
        ));
    }
    out.push(field(t, "Meaning", &d.meaning, Style::new()));
    if !d.remedy.is_empty() {
        out.push(field(t, "Next", &d.remedy, t.ok()));
    }
    if r.class.verdict.is_failure() {
        let text: Vec<String> = r.lines.iter().map(|l| escape_bytes(&l.raw)).collect();
        out.push(Line::from(vec![
            Span::styled("Server said: ", t.title()),
            Span::styled(text.join(" | "), t.reply(r.code)),
        ]));
    }
    out
}

fn welcome(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let mut out = Vec::new();
    for n in &app.notes {
        out.push(field(t, "Scenario", n, t.meta()));
    }
    if app.read_only.is_some() {
        out.push(Line::raw(
            "This saved session has no reply to explain. q leaves.",
        ));
        return out;
    }
    out.push(Line::from(vec![
        Span::styled("⏎ Enter", t.title()),
        Span::raw(" walks the standard flow one step at a time: connect → EHLO → STARTTLS → EHLO → AUTH → MAIL → RCPT → DATA → \".\" → QUIT. Each reply is explained here."),
    ]));
    out.push(Line::raw(
        "The buttons below send single commands, in any order. ? lists every key.",
    ));
    out
}

/// How the panel's title says why this entry is explained.
fn which(app: &App) -> &'static str {
    match app.follow {
        Follow::Latest => "",
        Follow::Decisive => " ✗",
        Follow::User => " (selected)",
    }
}

/// A warning's own diagnosis: smtpscope's remark, not the server's; for the credential lint,
/// what SES does with such credentials.
fn warning(app: &App, text: &str, lint: bool) -> (String, Vec<Line<'static>>) {
    let t = app.theme;
    let which = which(app);
    let mut lines = vec![Line::from(Span::styled(escape_str(text), t.warning()))];
    if lint {
        lines.push(field(
            t,
            "Phase",
            "authentication (checked before AUTH)",
            t.meta(),
        ));
        lines.push(field(
            t,
            "Meaning",
            "smtpscope checked the credentials before sending them. SES compares them byte for byte: a mistake like this one is answered 535 Authentication Credentials Invalid, and the 535 will repeat this warning.",
            Style::new(),
        ));
        lines.push(field(
            t,
            "Next",
            "fix what the warning names (the SMTP password is derived from the secret key, per region), then AUTH again.",
            t.ok(),
        ));
        (format!(" Diagnosis{which}: credential check "), lines)
    } else {
        lines.push(field(
            t,
            "Meaning",
            "smtpscope's own remark about this session, not a reply from the server.",
            Style::new(),
        ));
        (format!(" Diagnosis{which}: warning "), lines)
    }
}

/// The message sent: its headers and body as composed (the first 64 KiB), scrollable with
/// `]` and `[`; or, for one the TUI did not compose, what is known of it.
fn message(
    app: &App,
    seq: u64,
    stats: &MessageStats,
    view: Option<&MessageView>,
) -> (String, Vec<Line<'static>>) {
    let t = app.theme;
    let title = format!(
        " Message sent: {} bytes, {} lines{} ",
        stats.bytes,
        stats.lines,
        which(app)
    );
    // The engine's copy is the message as it went on the wire (after dot-stuffing), so a
    // file is shown too; a transcript saved before it existed has only the composer's copy.
    let (text, omitted) = match (view, app.messages.iter().find(|(s, _)| *s == seq)) {
        (Some(v), _) => (v.text.as_str(), (v.omitted > 0).then_some(v.omitted)),
        (None, Some((_, copy))) => (copy.text.as_str(), copy.truncated.then_some(0)),
        (None, None) => {
            return (
                title,
                vec![Line::raw(
                    "The message was sent from a file, typed line by line, or in an earlier session: its text is not kept here.",
                )],
            );
        }
    };
    let mut out = Vec::new();
    if view.is_some() {
        out.push(Line::from(Span::styled(
            "As sent, after dot-stuffing (a line that began with \".\" went with one more):",
            t.dim(),
        )));
    }
    let mut in_body = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let style = if in_body { Style::new() } else { t.meta() };
        if line.is_empty() && !in_body {
            in_body = true;
            out.push(Line::from(Span::styled("── body ──", t.dim())));
            continue;
        }
        out.push(Line::from(Span::styled(escape_str(line), style)));
    }
    if let Some(more) = omitted {
        let rest = if more > 0 {
            format!(" ({more} more bytes)")
        } else {
            String::new()
        };
        out.push(Line::from(Span::styled(
            format!(
                "… only the first {} KiB are shown; the whole message was sent{rest}.",
                text.len().div_ceil(1024)
            ),
            t.warning(),
        )));
    }
    (title, out)
}

/// The panel's title and text for the explained entry.
pub(crate) fn content(app: &App) -> (String, Vec<Line<'static>>) {
    let t = app.theme;
    let idx = app.explained();
    let entry = idx.and_then(|i| app.store.get(i));
    match entry.map(|e| (e, &e.kind)) {
        Some((e, EntryKind::Reply(r))) => {
            let refused_auth = r.class.verdict.is_failure()
                && matches!(r.after, Some(Verb::Auth | Verb::AuthResponse));
            let lint = match idx {
                Some(i) if refused_auth => lint_before_auth(app, i),
                _ => Vec::new(),
            };
            let after = r.after.map_or("unasked".to_string(), |v| {
                format!("after {}", after_name(v))
            });
            let which = which(app);
            (
                format!(
                    " Diagnosis{which}: {} {after} · {} · {} ",
                    r.code,
                    r.class.phase,
                    r.class.verdict.name()
                ),
                {
                    let mut lines = reply_lines(t, r, &lint, iam_notes(app, e, r));
                    // The AWS check (`A`) goes right under the reply's title: it is the answer.
                    if r.class.verdict.is_failure() {
                        for (i, note) in crate::tui::aws::notes(app).iter().enumerate() {
                            lines.insert(1 + i, field(t, "AWS", note, Style::new()));
                        }
                    }
                    lines
                },
            )
        }
        Some((_, EntryKind::Warning { text, lint })) => warning(app, text, lint.is_some()),
        Some((e, EntryKind::Message { stats, view })) => message(app, e.seq, stats, view.as_ref()),
        Some((
            _,
            EntryKind::Error {
                phase, text, chain, ..
            },
        )) => {
            let mut lines = vec![
                Line::from(Span::styled(escape_str(text), t.error())),
                field(t, "Phase", phase.name(), t.phase(*phase)),
            ];
            if !chain.is_empty() {
                lines.push(Line::raw(format!(
                    "The server presented {} certificate(s): t shows them.",
                    chain.len()
                )));
            }
            lines.push(Line::raw(
                "The app stays up: c reconnects, w saves this transcript.",
            ));
            (format!(" Diagnosis: {phase} error "), lines)
        }
        _ => (" Diagnosis ".to_string(), welcome(app)),
    }
}

/// Rows the panel's text takes at this width (the panel keeps a column of margin each side).
pub(crate) fn content_rows(app: &App, width: u16) -> usize {
    super::wrapped_rows(content(app).1, width.saturating_sub(2))
}

/// The overflow marker in the panel's title: which keys scroll it, in the help's words.
pub(crate) fn overflow_hint(at_end: bool, scrolled: bool) -> &'static str {
    match (at_end, scrolled) {
        (true, _) => " [ scrolls back ",
        (false, true) => " more: ] · back: [ ",
        (false, false) => " more: ] ",
    }
}
