//! The transcript: every event of a session, in order, with time, direction and TLS state.
//!
//! Entries hold facts (what was sent, what came back, when); the classification travels with
//! each reply so a saved transcript can be read without the catalog, and [`reclassify`]
//! refreshes it with a newer one. Lines that carried credentials are stored already redacted:
//! the secret never enters the transcript, so no rendering can leak it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Redacted;
use super::classify::{Catalog, Classification, Phase};
use super::command::Verb;
use super::escape::escape_str;
use super::message::MessageStats;
use super::model::SessionModel;
use super::reply::{EnhancedCode, Reply, ReplyLine};
use super::transport::{CertInfo, TlsInfo};

/// One event of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    /// Whether the event happened inside TLS.
    pub tls: bool,
    /// Milliseconds since the command this entry answers was sent (replies only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_ms: Option<u64>,
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EntryKind {
    Connecting {
        host: String,
        port: u16,
        mode: String,
    },
    Connected {
        peer: String,
    },
    TlsStarted {
        info: TlsInfo,
    },
    /// A command line as sent. For AUTH lines `line` is the redacted form.
    Sent {
        line: String,
        verb: Verb,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redacted: Option<Redacted>,
    },
    /// The message body and its final dot, summarised rather than copied line by line.
    Message {
        stats: MessageStats,
        /// The message as it went on the wire (dot-stuffed, CRLF), its first bytes only.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        view: Option<MessageView>,
    },
    Reply(Box<ReplyEntry>),
    Info {
        text: String,
    },
    Warning {
        text: String,
        /// The credential lint's finding this warning reports (`secret-key-as-password`…),
        /// so front ends can explain it and repeat it next to the server's 535.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        lint: Option<String>,
    },
    Error {
        phase: Phase,
        /// What kind of failure, so the session model can judge it without reading `text`.
        #[serde(default)]
        kind: ErrorKind,
        text: String,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        chain: Vec<CertInfo>,
    },
    Closed {
        reason: String,
    },
}

/// The beginning of a message as sent, for the message view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The wire bytes (after dot-stuffing, before the final "."), decoded as UTF-8 where
    /// they are, for display. Escape before showing.
    pub text: String,
    /// Bytes sent after the part kept here.
    pub omitted: u64,
}

/// The most bytes of a message kept for the message view.
pub const MESSAGE_VIEW_MAX: usize = 64 * 1024;

/// The message of a `Message` entry as sent, one escaped line per line, framed so it cannot
/// be mistaken for the session's own lines; empty for other entries or when not kept.
pub fn render_message_view(entry: &Entry) -> Vec<String> {
    let EntryKind::Message {
        view: Some(view), ..
    } = &entry.kind
    else {
        return Vec::new();
    };
    let mut out = vec!["=== message as sent (after dot-stuffing):".to_string()];
    let text = view.text.strip_suffix("\r\n").unwrap_or(&view.text);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.push(format!("  | {}", escape_str(line)));
    }
    if view.omitted > 0 {
        out.push(format!("  | ... {} more byte(s) not shown", view.omitted));
    }
    out.push("=== end of message (then \".\")".to_string());
    out
}

/// What went wrong, for errors that are not replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// No TCP connection (refused, unreachable, name not found, connect timeout).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// No complete reply within the reply timeout.
    Timeout,
    /// The server closed the connection.
    Closed,
    /// A network error while reading or writing.
    Io,
    /// A reply that is not SMTP (bad code, bad separator, too long).
    Protocol,
    /// A well-formed reply the command cannot be answered with (250 to DATA, 354 to MAIL…).
    Unexpected,
    /// A value that could not be sent (CR, LF, NUL): nothing reached the server.
    Input,
    /// A problem on this side (the message file, no connection).
    Local,
    /// From a transcript saved before errors had kinds.
    #[default]
    Other,
}

/// A reply with its classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyEntry {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    /// The reply's text (all lines, newline-joined).
    pub text: String,
    pub lines: Vec<ReplyLine>,
    /// The command this reply answers; `None` when the server spoke unasked.
    pub after: Option<Verb>,
    #[serde(flatten)]
    pub class: Classification,
}

impl ReplyEntry {
    pub(crate) fn new(reply: Reply, after: Option<Verb>, class: Classification) -> ReplyEntry {
        ReplyEntry {
            code: reply.code,
            enhanced: reply.enhanced,
            text: reply.text(),
            lines: reply.lines,
            after,
            class,
        }
    }

    pub(crate) fn reply(&self) -> Reply {
        Reply {
            code: self.code,
            enhanced: self.enhanced,
            lines: self.lines.clone(),
        }
    }
}

impl Entry {
    pub fn reply(&self) -> Option<&ReplyEntry> {
        match &self.kind {
            EntryKind::Reply(r) => Some(r),
            _ => None,
        }
    }

    /// One JSON object, for `--json` and saved `.jsonl` files, with every control and format
    /// character escaped (see [`super::json`]).
    pub fn to_json(&self) -> String {
        super::json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"type\":\"error\",\"text\":\"cannot encode entry: {e}\"}}")
        })
    }
}

/// How to render text.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// Show the decoded user name of AUTH lines (never the password).
    pub reveal_user: bool,
    /// Print diagnoses under failing replies.
    pub diagnoses: bool,
}

/// The direction marker in the style of swaks: `->`/`<-` in clear, `~>`/`<~` inside TLS.
pub(crate) fn marker(entry: &Entry) -> &'static str {
    match (&entry.kind, entry.tls) {
        (EntryKind::Sent { .. } | EntryKind::Message { .. }, false) => " ->",
        (EntryKind::Sent { .. } | EntryKind::Message { .. }, true) => " ~>",
        (EntryKind::Reply(_), false) => "<- ",
        (EntryKind::Reply(_), true) => "<~ ",
        (EntryKind::Warning { .. }, _) => "!!!",
        (EntryKind::Error { .. }, _) => "***",
        _ => "===",
    }
}

/// Renders one entry as text lines. Every text field is escaped, not only server replies:
/// certificate names come from the server, and a saved transcript being replayed may have
/// been written by anyone.
pub fn render_text(entry: &Entry, opts: TextOptions) -> Vec<String> {
    let m = marker(entry);
    match &entry.kind {
        EntryKind::Connecting { host, port, mode } => {
            vec![format!(
                "{m} Trying {}:{port} (TLS mode: {})...",
                escape_str(host),
                escape_str(mode)
            )]
        }
        EntryKind::Connected { peer } => vec![format!("{m} Connected to {}", escape_str(peer))],
        EntryKind::TlsStarted { info } => {
            let mut out = vec![format!("{m} TLS started: {}", escape_str(&info.summary()))];
            if let Some(leaf) = info.chain.first() {
                out.push(format!(
                    "{m}   certificate names: {}; valid until {}",
                    escape_str(&leaf.sans.join(", ")),
                    escape_str(&leaf.not_after)
                ));
            }
            for line in super::tls::certinfo::summary_lines(info) {
                out.push(format!("{m}   {}", escape_str(&line)));
            }
            out
        }
        EntryKind::Sent { line, redacted, .. } => {
            let shown = match redacted {
                Some(r) if opts.reveal_user => r.render(true),
                _ => line.clone(),
            };
            vec![format!("{m} {}", escape_str(&shown))]
        }
        EntryKind::Message { stats, .. } => vec![format!(
            "{m} <message: {} bytes, {} lines, {} dot-stuffed; then \".\">",
            stats.bytes, stats.lines, stats.stuffed_lines
        )],
        EntryKind::Reply(r) => {
            let mut out: Vec<String> = r
                .lines
                .iter()
                .map(|l| format!("{m} {}", super::escape::escape_bytes(&l.raw)))
                .collect();
            let latency = entry
                .latency_ms
                .map(|ms| format!(" {ms}ms"))
                .unwrap_or_default();
            let unsolicited = if r.after.is_none() {
                " unsolicited"
            } else {
                ""
            };
            let tag = format!(
                "    [{} · {}{latency}{unsolicited}]",
                r.class.phase,
                r.class.verdict.name()
            );
            if let Some(last) = out.last_mut() {
                last.push_str(&tag);
            }
            if opts.diagnoses && r.class.verdict.is_failure() {
                out.extend(render_diagnosis(r));
            }
            out
        }
        EntryKind::Info { text } => vec![format!("{m} {}", escape_str(text))],
        EntryKind::Warning { text, .. } => vec![format!("{m} warning: {}", escape_str(text))],
        EntryKind::Error { phase, text, .. } => {
            vec![format!("{m} {phase} error: {}", escape_str(text))]
        }
        EntryKind::Closed { reason } => {
            vec![format!("{m} Connection closed: {}", escape_str(reason))]
        }
    }
}

/// The diagnosis block printed under a failing reply.
pub(crate) fn render_diagnosis(r: &ReplyEntry) -> Vec<String> {
    let d = &r.class.diagnosis;
    let mut out = vec![
        format!("    ! {}: {}", r.class.phase, escape_str(&d.title)),
        format!("      {}", escape_str(&d.meaning)),
    ];
    for (k, v) in &d.details {
        out.push(format!("      {}: {}", escape_str(k), escape_str(v)));
    }
    for n in &d.notes {
        out.push(format!("      note: {}", escape_str(n)));
    }
    if !d.remedy.is_empty() {
        out.push(format!("      next: {}", escape_str(&d.remedy)));
    }
    out
}

/// Classifies every reply again with `catalog`, in the context the session model had when
/// the reply arrived.
pub fn reclassify(entries: &mut [Entry], catalog: &Catalog) {
    let mut model = SessionModel::default();
    for e in entries.iter_mut() {
        if let EntryKind::Reply(r) = &mut e.kind {
            let mut ctx = model.context();
            ctx.after = r.after;
            ctx.tls = Some(e.tls);
            r.class = catalog.classify(&r.reply(), &ctx);
        }
        model.apply(e);
    }
}

/// Parses a JSON Lines transcript, naming the line of the first bad entry.
///
/// The closing `{"type":"summary",…}` line of `smtpscope run --json` is not an entry and is
/// skipped, so a script's output can be replayed as it is.
pub fn parse_jsonl(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter(|(_, l)| !is_summary_line(l))
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

fn is_summary_line(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["type"] == "summary")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::escape::is_clean;

    #[test]
    fn run_json_output_parses_with_its_summary_line_skipped() {
        let text = "{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"tls\":false,\"type\":\"info\",\"text\":\"hi\"}\n\
                    {\"type\":\"summary\",\"verdict\":\"x\",\"exit_code\":9}\n";
        let entries = parse_jsonl(text).unwrap();
        assert_eq!(entries.len(), 1);
        assert!(parse_jsonl("{\"type\":\"bogus\"}").is_err());
    }

    /// One entry of every kind, each text field holding ESC, a C1 CSI and a bidi override.
    const HOSTILE: &str = r#"{"seq":1,"time":"2026-01-01T00:00:00Z","tls":false,"type":"connecting","host":"h\u001b[2J","port":25,"mode":"starttls\u009b"}
{"seq":2,"time":"2026-01-01T00:00:00Z","tls":false,"type":"connected","peer":"1.2.3.4\u202e:25"}
{"seq":3,"time":"2026-01-01T00:00:00Z","tls":true,"type":"tls-started","info":{"version":"TLS 1.3\u001b]0;t\u0007","cipher":"X","server_name":"s","chain":[{"subject":"CN=\u001b[31mevil","issuer":"CN=x","not_before":"a","not_after":"b\u001b[0m","sans":["a\u001b[1m","b"],"serial":"01","self_signed":false}],"verification":{"outcome":"verified"}}}
{"seq":4,"time":"2026-01-01T00:00:00Z","tls":true,"type":"sent","line":"NOOP \u001b[A","verb":"noop"}
{"seq":5,"time":"2026-01-01T00:00:00Z","tls":true,"type":"reply","code":550,"enhanced":null,"text":"x","lines":["550 \u001b[2Jx"],"after":"mail","phase":"envelope","verdict":"permanent","diagnosis":{"title":"t\u001b[1m","meaning":"m\u0008","remedy":"r\u009b","details":[["k\u001b[5m","v\u001b[6m"]],"notes":["n\u001b[7m"]}}
{"seq":6,"time":"2026-01-01T00:00:00Z","tls":true,"type":"info","text":"i\u001b[8m"}
{"seq":7,"time":"2026-01-01T00:00:00Z","tls":true,"type":"warning","text":"w\u001b[9m"}
{"seq":8,"time":"2026-01-01T00:00:00Z","tls":true,"type":"error","phase":"tls","text":"e\u001b[10m"}
{"seq":9,"time":"2026-01-01T00:00:00Z","tls":true,"type":"closed","reason":"c\u001b[11m"}"#;

    #[test]
    fn every_field_of_every_entry_renders_escaped() {
        let entries = parse_jsonl(HOSTILE).expect("valid JSON Lines");
        assert_eq!(entries.len(), 9);
        for e in &entries {
            for reveal_user in [false, true] {
                let opts = TextOptions {
                    reveal_user,
                    diagnoses: true,
                };
                let lines = render_text(e, opts);
                assert!(!lines.is_empty());
                for line in lines {
                    assert!(is_clean(&line), "{line:?}");
                }
            }
        }
        let shown = render_text(&entries[0], TextOptions::default()).join("\n");
        assert!(shown.contains("h\\x1b[2J"), "{shown}");
    }
}
