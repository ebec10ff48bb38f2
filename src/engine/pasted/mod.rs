//! Finding SMTP replies in text people paste: a bare reply, or a whole log.
//!
//! Replies are rarely seen bare. They turn up inside a Postfix or Exim log line, a bounce
//! message, an exception from nodemailer, `PHPMailer`, Python's smtplib, `JavaMail` or .NET, an
//! SMTP transcript, or an Amazon SES bounce notification. [`extract`] finds every reply in
//! such a text and, where the log's own words say so ("in reply to end of DATA command",
//! "after RCPT TO", "Password command failed", …), which command it answered.
//!
//! Pure and bounded: no I/O, at most [`MAX_REPLIES`] replies, at most [`MAX_REPLY_LINES`]
//! lines per reply, regexes compiled once. The caller bounds the input's size. Client lines
//! of a transcript (which can carry credentials) are read only for their verb and are never
//! copied into what is returned.

mod formats;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::command::Verb;
use super::reply::Reply;

/// The most replies one paste yields; the rest of the input is not searched.
pub const MAX_REPLIES: usize = 1000;
/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 100;

/// The kind of text a reply was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A reply on its own (what `explain` has always taken).
    Bare,
    /// A client/server transcript with `>>>`/`<<<`, `C:`/`S:`, `->`/`<-` or `SMTP>>`/`SMTP<<`.
    Transcript,
    Postfix,
    Exim,
    /// Sendmail's log lines (`stat=`, `reject=`).
    Sendmail,
    /// A delivery status notification (RFC 3464: `Remote-MTA:`, `Diagnostic-Code:`), as
    /// Sendmail, Postfix and Exim attach to bounces.
    Dsn,
    Nodemailer,
    Phpmailer,
    PythonSmtplib,
    Javamail,
    Dotnet,
    /// An Amazon SES bounce or delivery-delay notification (JSON, possibly inside SNS).
    SesNotification,
}

impl Format {
    pub const ALL: [Format; 12] = [
        Format::Bare,
        Format::Transcript,
        Format::Postfix,
        Format::Exim,
        Format::Sendmail,
        Format::Dsn,
        Format::Nodemailer,
        Format::Phpmailer,
        Format::PythonSmtplib,
        Format::Javamail,
        Format::Dotnet,
        Format::SesNotification,
    ];

    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bare => "bare",
            Format::Transcript => "transcript",
            Format::Postfix => "postfix",
            Format::Exim => "exim",
            Format::Sendmail => "sendmail",
            Format::Dsn => "dsn",
            Format::Nodemailer => "nodemailer",
            Format::Phpmailer => "phpmailer",
            Format::PythonSmtplib => "python-smtplib",
            Format::Javamail => "javamail",
            Format::Dotnet => "dotnet",
            Format::SesNotification => "ses-notification",
        }
    }

    /// How the format is named to a reader.
    pub fn title(self) -> &'static str {
        match self {
            Format::Bare => "a reply on its own",
            Format::Transcript => "an SMTP transcript",
            Format::Postfix => "a Postfix log",
            Format::Exim => "an Exim log or bounce",
            Format::Sendmail => "a Sendmail log",
            Format::Dsn => "a delivery status report (DSN)",
            Format::Nodemailer => "a Nodemailer error",
            Format::Phpmailer => "PHPMailer output",
            Format::PythonSmtplib => "a Python smtplib error",
            Format::Javamail => "a JavaMail exception",
            Format::Dotnet => "a .NET SmtpException",
            Format::SesNotification => "an Amazon SES bounce notification",
        }
    }
}

/// One reply found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub format: Format,
    /// The line (from 1) the reply starts on.
    pub line: usize,
    pub reply: Reply,
    /// The command the reply answered, when the log says.
    pub after: Option<Verb>,
    /// The log's own words that named the command (never a client line's arguments).
    pub evidence: Option<String>,
    /// The server the log names (`host[ip]`, a Remote-MTA, …).
    pub server: Option<String>,
    /// The recipient the log ties the reply to.
    pub recipient: Option<String>,
    /// What had to be assumed or is missing, in plain words.
    pub note: Option<String>,
    /// Read from a transcript's server line (its command inferred from the client's line
    /// before), rather than from a tool's own report.
    transcript: bool,
}

/// Something that looked like a reply but could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub format: Format,
    pub line: usize,
    pub why: &'static str,
}

/// What [`extract`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    pub found: Vec<Found>,
    pub skipped: Vec<Skipped>,
    /// True when [`MAX_REPLIES`] was reached and the rest of the input was not searched.
    pub capped: bool,
}

impl Extraction {
    fn push(&mut self, found: Found) {
        if self.found.len() >= MAX_REPLIES {
            self.capped = true;
            return;
        }
        // The same reply printed twice by one tool (PHPMailer's debug line and its error line,
        // a transcript line and the exception after it) is one reply.
        // A transcript's repeated replies ("250 Accepted" to MAIL, then to RCPT) stay apart.
        if let Some(prev) = self.found.last_mut()
            && prev.reply == found.reply
            && found.line.saturating_sub(prev.line) <= 3
            && !(prev.transcript && found.transcript)
        {
            // A tool's own words beat what a transcript's order suggests.
            if found.after.is_some() && (prev.after.is_none() || prev.transcript) {
                prev.after = found.after;
                prev.evidence = found.evidence;
                prev.transcript = found.transcript;
            }
            prev.server = prev.server.take().or(found.server);
            prev.recipient = prev.recipient.take().or(found.recipient);
            prev.note = prev.note.take().or(found.note);
            return;
        }
        self.found.push(found);
    }

    fn skip(&mut self, format: Format, line: usize, why: &'static str) {
        if self.skipped.len() < MAX_REPLIES {
            self.skipped.push(Skipped { format, line, why });
        }
    }
}

/// Finds every SMTP reply in `text`.
pub fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let whole = text.trim();
    if (whole.starts_with('{') || whole.starts_with('['))
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(whole)
    {
        let first = text.len() - text.trim_start().len();
        let line = 1 + text[..first].matches('\n').count();
        formats::ses_json(&value, line, &mut out, 0);
        if !out.found.is_empty() || !out.skipped.is_empty() {
            return out;
        }
    }
    let lines = logical_lines(text);
    let mut scan = formats::Scan::default();
    let mut i = 0;
    while i < lines.len() && !out.capped {
        let used = formats::scan_line(&lines, i, &mut scan, &mut out);
        i += used.max(1);
    }
    out
}

/// A line of the input with its number (from 1).
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: usize,
    text: &'a str,
}

/// The input's lines. A line that starts with a reply code and holds literal `\r\n`
/// separators (a reply pasted from a program's string) is split there.
fn logical_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.contains("\\r\\n") && CODE_START.is_match(line) {
            out.extend(
                line.split("\\r\\n")
                    .filter(|part| !part.trim().is_empty())
                    .map(|text| Line { no: i + 1, text }),
            );
        } else {
            out.push(Line {
                no: i + 1,
                text: line,
            });
        }
    }
    out
}

static CODE_START: LazyLock<Regex> = LazyLock::new(|| formats::re(r"^\s*[2-5]\d\d[ -]"));

/// A reply's text as a log quotes it: `CODE text`, possibly several lines, joined by real or
/// literal line breaks, by Postfix's `?`, or glued (`… Learn more at535 5.7.8 …`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    code: u16,
    texts: Vec<String>,
    /// The last line (`CODE text`, with a space) was seen.
    complete: bool,
}

impl Parsed {
    fn reply(&self) -> Reply {
        let texts: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        Reply::from_lines(self.code, &texts)
    }
}

/// Parses `CODE[ -]text…` at the start of `text` (after leading spaces).
fn parse_reply_text(text: &str) -> Option<Parsed> {
    let text = text.trim_start();
    let code = reply_code(text)?;
    let normalised = text
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\r\n", "\n");
    let code_str = &text[..3];
    let mut parsed = Parsed {
        code,
        texts: Vec::new(),
        complete: false,
    };
    for physical in normalised.split('\n') {
        for piece in split_glued(physical, code_str) {
            let piece = piece.trim_start();
            if piece.trim().is_empty() {
                continue;
            }
            let (sep, rest) = match piece.strip_prefix(code_str) {
                Some("") => (' ', ""),
                Some(rest) if rest.starts_with(' ') || rest.starts_with('-') => {
                    (rest.as_bytes()[0] as char, &rest[1..])
                }
                _ if parsed.texts.is_empty() => return None,
                // A continuation without its code (smtplib joins lines this way).
                _ => ('-', piece),
            };
            parsed.texts.push(rest.trim_end().to_string());
            if sep == ' ' || parsed.texts.len() >= MAX_REPLY_LINES {
                parsed.complete = true;
                return Some(parsed);
            }
        }
    }
    Some(parsed)
}

/// The code at the start of `text` when it is `[2-5]xy` followed by a space, a dash or the
/// end.
fn reply_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    if b.len() > 3 && !matches!(b[3], b' ' | b'-') {
        return None;
    }
    text[..3].parse().ok()
}

/// Splits a line where a continuation was glued on: after a `CODE-` line, the next `CODE `
/// or `CODE-` that follows a non-digit (`…at535 5.7.8`, Postfix's `…go to?535 5.7.8`).
fn split_glued<'a>(line: &'a str, code: &str) -> Vec<&'a str> {
    let trimmed = line.trim_start();
    let dashed = format!("{code}-");
    if !trimmed.starts_with(&dashed) {
        return vec![line];
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let lead = line.len() - trimmed.len();
    let mut i = lead + 4;
    while let Some(pos) = line[i..].find(code) {
        let at = i + pos;
        let before = bytes[at - 1];
        let after = bytes.get(at + 3).copied();
        if !before.is_ascii_digit() && matches!(after, Some(b' ' | b'-')) {
            parts.push(&line[start..at]);
            start = at;
            if after == Some(b' ') {
                break;
            }
        }
        i = at + 3;
        if parts.len() >= MAX_REPLY_LINES {
            break;
        }
    }
    parts.push(&line[start..]);
    parts
}

/// The command named by a log's words: "end of DATA", "RCPT TO", "MAIL FROM:<a@b> SIZE=10",
/// "pipelined RCPT TO:<…>", "AUTH PLAIN", "Password", "initial connection", ….
pub fn command_of_words(words: &str) -> Option<Verb> {
    let w = words.trim().to_ascii_uppercase();
    let w = w.strip_prefix("PIPELINED ").unwrap_or(&w).trim_start();
    if w.starts_with("END OF DATA")
        || w.starts_with("END-OF-MESSAGE")
        || w.starts_with("DATA END")
        || w.starts_with("END OF MESSAGE")
        || w == "."
    {
        return Some(Verb::DataEnd);
    }
    if w.starts_with("INITIAL CONNECTION")
        || w.starts_with("INITIAL GREETING")
        || w.starts_with("CONNECT")
    {
        return Some(Verb::Connect);
    }
    let first: String = w.chars().take_while(char::is_ascii_alphanumeric).collect();
    Some(match first.as_str() {
        "EHLO" => Verb::Ehlo,
        "HELO" | "LHLO" => Verb::Helo,
        "STARTTLS" => Verb::StartTls,
        "AUTH" => Verb::Auth,
        "USERNAME" | "PASSWORD" => Verb::AuthResponse,
        "MAIL" => Verb::Mail,
        "RCPT" => Verb::Rcpt,
        "DATA" => Verb::Data,
        "RSET" => Verb::Rset,
        "NOOP" => Verb::Noop,
        "QUIT" => Verb::Quit,
        _ => return None,
    })
}
