//! The formats [`super::extract`] recognises, one matcher each.
//!
//! A matcher looks at line `i` (and may read on for a multi-line reply); it returns how many
//! lines it used, or `None` when the line is not its format.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{
    Extraction, Format, Found, Line, MAX_REPLY_LINES, Parsed, command_of_words, parse_reply_text,
};
use crate::engine::command::Verb;

#[expect(
    clippy::expect_used,
    reason = "the patterns are literals of this file, and the tests compile every one"
)]
pub(super) fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| re($pattern));
    };
}

/// What the scan has seen so far that later lines depend on.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// The verb of the client's last line in a transcript (never its arguments).
    last_client: Option<Verb>,
    /// A client line has been seen in this transcript.
    client_seen: bool,
    /// Between a 354 and the client's final `.`.
    in_data: bool,
    last_server_code: Option<u16>,
    /// `Remote-MTA:` of the current delivery-report block.
    remote_mta: Option<String>,
    /// `host name [ip]` on the line before an Exim error.
    exim_host: Option<String>,
}

/// How a reply was found, apart from the reply itself.
#[derive(Debug, Clone, Default)]
struct Hit {
    after: Option<Verb>,
    evidence: Option<String>,
    server: Option<String>,
    recipient: Option<String>,
    note: Option<String>,
}

impl Hit {
    fn after(verb: Option<Verb>, evidence: impl Into<String>) -> Hit {
        Hit {
            after: verb,
            evidence: verb.map(|_| evidence.into()),
            ..Hit::default()
        }
    }

    fn server(mut self, server: Option<String>) -> Hit {
        self.server = server;
        self
    }

    fn note(mut self, note: &str) -> Hit {
        self.note = Some(note.to_string());
        self
    }
}

pub(super) const INCOMPLETE_BARE: &str = "not a complete reply: the last line must be \"CODE text\" (a space after the code, not a dash)";
const CUT_OFF: &str = "The paste ends before the reply's last line; this is what was there.";
const DSN_NOTE: &str = "A delivery report quotes the receiving server's reply; it does not say which command the reply answered.";
const SES_NOTE: &str = "SES had accepted the message; this is the receiving server's reply, as SES reported it. The notification does not say which command it answered.";
const SEND_FAILED_NOTE: &str = "JavaMail raises SMTPSendFailedException when MAIL FROM, DATA or the message itself is refused; the exception does not say which.";
const DATA_ERROR_NOTE: &str = "smtplib raises SMTPDataError when DATA or the message after it is refused; this takes it as the message (the final \".\").";

/// Looks at line `i`; returns how many lines it used.
pub(super) fn scan_line(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> usize {
    let text = lines[i].text;
    if text.trim().is_empty() {
        scan.remote_mta = None;
        return 1;
    }
    let t = text.trim();
    if t.starts_with('{')
        && let Ok(value) = serde_json::from_str::<Value>(t)
    {
        ses_json(&value, lines[i].no, out, 0);
        return 1;
    }
    type Matcher = fn(&[Line], usize, &mut Scan, &mut Extraction) -> Option<usize>;
    const MATCHERS: [Matcher; 10] = [
        postfix, exim, sendmail, nodemailer, phpmailer, python, javamail, dotnet, exim_host,
        transcript,
    ];
    MATCHERS
        .iter()
        .find_map(|m| m(lines, i, scan, out))
        .unwrap_or(1)
}

/// Emits the reply whose text starts `reply_text` on line `i`, reading continuation lines
/// that follow when the reply is not complete on that line. Returns the lines used.
fn emit(
    lines: &[Line],
    i: usize,
    reply_text: &str,
    format: Format,
    hit: Hit,
    out: &mut Extraction,
) -> usize {
    let Some(parsed) = parse_reply_text(reply_text) else {
        return 1;
    };
    let (parsed, used) = gather(lines, i, parsed);
    emit_parsed(lines[i].no, parsed, format, hit, out);
    used
}

/// Reads continuation lines (`CODE-…` up to `CODE …`, with or without a transcript prefix).
fn gather(lines: &[Line], i: usize, mut parsed: Parsed) -> (Parsed, usize) {
    let mut used = 1;
    while !parsed.complete && i + used < lines.len() && parsed.texts.len() < MAX_REPLY_LINES {
        let next = lines[i + used].text;
        let body = TR_SERVER
            .captures(next)
            .and_then(|c| c.get(2))
            .map_or(next, |m| m.as_str());
        match parse_reply_text(body) {
            Some(more) if more.code == parsed.code => {
                parsed.texts.extend(more.texts);
                parsed.texts.truncate(MAX_REPLY_LINES);
                parsed.complete = more.complete || parsed.texts.len() >= MAX_REPLY_LINES;
                used += 1;
            }
            // A bounce message may wrap a long reply line: one indented line without the code,
            // with the reply going on right after it, belongs to the line before.
            _ if next.starts_with([' ', '\t'])
                && !next.trim().is_empty()
                && i + used + 1 < lines.len()
                && parse_reply_text(lines[i + used + 1].text)
                    .is_some_and(|more| more.code == parsed.code) =>
            {
                if let Some(last) = parsed.texts.last_mut() {
                    last.push(' ');
                    last.push_str(next.trim());
                }
                used += 1;
            }
            _ => break,
        }
    }
    (parsed, used)
}

fn emit_parsed(line: usize, parsed: Parsed, format: Format, hit: Hit, out: &mut Extraction) {
    emit_found(line, parsed, format, hit, false, out);
}

fn emit_found(
    line: usize,
    parsed: Parsed,
    format: Format,
    hit: Hit,
    transcript: bool,
    out: &mut Extraction,
) {
    let mut hit = hit;
    if !parsed.complete {
        if matches!(format, Format::Bare | Format::Transcript) {
            out.skip(format, line, INCOMPLETE_BARE);
            return;
        }
        hit.note.get_or_insert_with(|| CUT_OFF.to_string());
    }
    out.push(Found {
        format,
        line,
        reply: parsed.reply(),
        after: hit.after,
        evidence: hit.evidence,
        server: hit.server,
        recipient: hit.recipient,
        note: hit.note,
        transcript,
    });
}

/// The words of a log that named an AUTH step, without anything after the mechanism (an
/// initial response would be a credential).
fn safe_words(words: &str, verb: Option<Verb>) -> String {
    let words = words.trim();
    if matches!(verb, Some(Verb::Auth | Verb::AuthResponse)) {
        return words
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(40)
            .collect();
    }
    words.chars().take(200).collect()
}

/// Drops the quote and comma that end a string a program printed (`…invalid",`).
fn unquote_tail<'a>(line: &str, reply: &'a str) -> &'a str {
    if line.contains('"') || line.contains('\'') {
        reply
            .trim_end()
            .trim_end_matches([',', ';'])
            .trim_end_matches(['"', '\''])
    } else {
        reply
    }
}

// --- Postfix -----------------------------------------------------------------------------

// https://www.postfix.org/postconf.5.html: delivery status lines end "(host x[ip] said: …
// (in reply to … command))".
regex!(
    PF_SAID,
    r"(?:\(|: )(host (\S+) said|SASL authentication failed; server (\S+) said|host (\S+) refused to talk to me): (.*)$"
);
regex!(PF_IN_REPLY, r"\s*\(in reply to (.+?)\)\s*$");
regex!(
    PF_REJECT,
    r"\breject: (RCPT|MAIL|DATA|END-OF-MESSAGE|CONNECT|EHLO|HELO|VRFY|ETRN|AUTH) from (\S+?): ([2-5]\d\d[ -].*?)(?:; from=<.*)?$"
);

// A Postfix bounce message: "<rcpt>: host x[ip] said: 550 …" wrapped onto indented lines.
regex!(
    PF_BOUNCE_START,
    r"^\s*<[^<>\s]{1,320}>:\s*(host\b|SASL\b|$)"
);

fn postfix(lines: &[Line], i: usize, _: &mut Scan, out: &mut Extraction) -> Option<usize> {
    if PF_BOUNCE_START.is_match(lines[i].text) {
        let mut joined = lines[i].text.trim().to_string();
        let mut used = 1;
        while i + used < lines.len() && used < 20 {
            let next = lines[i + used].text;
            if next.trim().is_empty() || !next.starts_with([' ', '\t']) {
                break;
            }
            joined.push(' ');
            joined.push_str(next.trim());
            used += 1;
        }
        let one = [Line {
            no: lines[i].no,
            text: &joined,
        }];
        if postfix_line(&one, 0, out).is_some() {
            return Some(used);
        }
    }
    postfix_line(lines, i, out)
}

fn postfix_line(lines: &[Line], i: usize, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = PF_REJECT.captures(line) {
        let words = &c[1];
        let verb = command_of_words(words);
        let hit = Hit::after(verb, format!("reject: {words} from"));
        return Some(emit(lines, i, &c[3], Format::Postfix, hit, out));
    }
    let c = PF_SAID.captures(line)?;
    let mut rest = c[5].trim_end();
    if c.get(0).is_some_and(|m| m.as_str().starts_with('(')) {
        rest = rest.strip_suffix(')').unwrap_or(rest);
    }
    let (verb, evidence, server) = if let Some(host) = c.get(3) {
        (
            Some(Verb::Auth),
            "SASL authentication failed".to_string(),
            host.as_str(),
        )
    } else if let Some(host) = c.get(4) {
        (
            Some(Verb::Connect),
            "refused to talk to me (the greeting)".to_string(),
            host.as_str(),
        )
    } else {
        let host = c.get(2).map_or("", |m| m.as_str());
        match PF_IN_REPLY.captures(rest) {
            Some(r) => {
                let words = r[1].trim_end_matches(" command").to_string();
                let verb = command_of_words(&words);
                let evidence = format!("in reply to {}", safe_words(&r[1], verb));
                rest = &rest[..r.get(0).map_or(rest.len(), |m| m.start())];
                (verb, evidence, host)
            }
            None => (None, String::new(), host),
        }
    };
    let hit = Hit::after(verb, evidence).server(Some(server.to_string()));
    Some(emit(lines, i, rest, Format::Postfix, hit, out))
}

// --- Exim --------------------------------------------------------------------------------

regex!(
    EX_INLINE,
    r"SMTP error from remote (?:mail server|mailer) after (.+?):(?: host (\S+ \[[^\]]+\]):)? ([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    EX_TRAILING,
    r"SMTP error from remote (?:mail server|mailer) after (.+?):?\s*$"
);
regex!(EX_H, r"\bH=(\S+(?: \[[^\]]+\])?)");
regex!(EX_RCPT, r"<([^<>\s]{1,320})>");
regex!(
    EX_HOST_LINE,
    r"^\s*host\s+(\S+\s+\[[0-9A-Fa-f:.]+\](?::\d+)?)(?::\s+([2-5]\d\d(?:[ -].*)?))?\s*$"
);

fn exim_hit(words: &str, line: &str, scan: &mut Scan) -> Hit {
    let verb = command_of_words(words);
    let mut hit = Hit::after(verb, format!("after {}", safe_words(words, verb)));
    hit.server = EX_H
        .captures(line)
        .map(|c| c[1].to_string())
        .or(scan.exim_host.take());
    if verb == Some(Verb::Rcpt) {
        hit.recipient = EX_RCPT.captures(words).map(|c| c[1].to_string());
    }
    hit
}

fn exim(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = EX_INLINE.captures(line) {
        let mut hit = exim_hit(&c[1], line, scan);
        if let Some(host) = c.get(2) {
            hit.server = Some(host.as_str().to_string());
        }
        let reply = unquote_tail(line, c.get(3).map_or("", |m| m.as_str()));
        return Some(emit(lines, i, reply, Format::Exim, hit, out));
    }
    let c = EX_TRAILING.captures(line)?;
    // A bounce message puts the reply on the next lines, indented, sometimes after
    // "host name [ip]: ".
    let j = (i + 1..lines.len().min(i + 4)).find(|&j| !lines[j].text.trim().is_empty())?;
    let next = lines[j].text;
    let (reply, host) = match EX_HOST_LINE.captures(next) {
        Some(h) => (
            h.get(2)?.as_str(),
            Some(h[1].split_whitespace().collect::<Vec<_>>().join(" ")),
        ),
        None => (next, None),
    };
    parse_reply_text(reply)?;
    let mut hit = exim_hit(&c[1], line, scan);
    if host.is_some() {
        hit.server = host;
    }
    Some(j - i + emit(lines, j, reply, Format::Exim, hit, out))
}

/// `host name [ip]` alone (remembered for the error that follows) or `host name [ip]: CODE …`.
fn exim_host(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let c = EX_HOST_LINE.captures(lines[i].text)?;
    let host = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
    match c.get(2) {
        None => {
            scan.exim_host = Some(host);
            Some(1)
        }
        Some(reply) => {
            let hit = Hit::default().server(Some(host));
            Some(emit(lines, i, reply.as_str(), Format::Exim, hit, out))
        }
    }
}

// --- Sendmail ----------------------------------------------------------------------------

// RFC 3464 delivery status notification fields.
regex!(SM_DIAG, r"(?i)^\s*Diagnostic-Code:\s*smtp\s*;\s*(.*)$");
regex!(SM_REMOTE_MTA, r"(?i)^\s*Remote-MTA:\s*dns\s*;\s*(\S+)");
// Sendmail's syslog: "…, relay=mx. [192.0.2.1], dsn=4.0.0, stat=Deferred: 421 …".
regex!(
    SM_STAT,
    r"\bstat=(?:Deferred: |Service unavailable: )?([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    SM_REJECT,
    r"\bruleset=check_(rcpt|mail|relay|data|eoh|eom)\b.*\breject=([2-5]\d\d(?:[ -].*)?)$"
);
regex!(SM_RELAY, r"\brelay=([^,]+)");

fn sendmail(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = SM_REMOTE_MTA.captures(line) {
        scan.remote_mta = Some(c[1].trim_end_matches('.').to_string());
        return Some(1);
    }
    if let Some(c) = SM_DIAG.captures(line) {
        // A header field may be folded onto indented lines.
        let mut text = c[1].trim().to_string();
        let mut used = 1;
        while i + used < lines.len() && used < MAX_REPLY_LINES {
            let next = lines[i + used].text;
            if next.trim().is_empty() || !next.starts_with([' ', '\t']) {
                break;
            }
            text.push(' ');
            text.push_str(next.trim());
            used += 1;
        }
        let hit = Hit {
            server: scan.remote_mta.clone(),
            note: Some(DSN_NOTE.to_string()),
            ..Hit::default()
        };
        match parse_reply_text(&text) {
            Some(parsed) => emit_parsed(lines[i].no, parsed, Format::Dsn, hit, out),
            None => out.skip(
                Format::Dsn,
                lines[i].no,
                "a Diagnostic-Code without an SMTP reply code",
            ),
        }
        return Some(used);
    }
    if let Some(c) = SM_REJECT.captures(line) {
        let (verb, name) = match &c[1] {
            "rcpt" => (Verb::Rcpt, "check_rcpt"),
            "mail" => (Verb::Mail, "check_mail"),
            "relay" => (Verb::Connect, "check_relay"),
            "data" => (Verb::Data, "check_data"),
            "eoh" => (Verb::DataEnd, "check_eoh"),
            _ => (Verb::DataEnd, "check_eom"),
        };
        let hit = Hit::after(Some(verb), format!("ruleset={name}"));
        return Some(emit(lines, i, &c[2], Format::Sendmail, hit, out));
    }
    let c = SM_STAT.captures(line)?;
    let server = SM_RELAY.captures(line).map(|r| r[1].trim().to_string());
    let hit = Hit::default().server(server);
    Some(emit(lines, i, &c[1], Format::Sendmail, hit, out))
}

// --- Nodemailer --------------------------------------------------------------------------

// Messages of nodemailer's lib/smtp-connection (`_formatError(message, code, response)`).
regex!(
    NM,
    r"(?i)\b(Invalid login|Message failed|Can[’']t send mail - all recipients were rejected|Mail command failed|Data command failed)\s*[:\-]\s*([2-5]\d\d(?:[ -].*)?)$"
);

fn nodemailer(lines: &[Line], i: usize, _: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    let c = NM.captures(line)?;
    let words = &c[1];
    let verb = match words.to_ascii_lowercase().as_str() {
        "invalid login" => Verb::Auth,
        "message failed" => Verb::DataEnd,
        "mail command failed" => Verb::Mail,
        "data command failed" => Verb::Data,
        _ => Verb::Rcpt,
    };
    let hit = Hit::after(Some(verb), words.to_string());
    let reply = unquote_tail(line, c.get(2).map_or("", |m| m.as_str()));
    Some(emit(lines, i, reply, Format::Nodemailer, hit, out))
}

// --- PHPMailer ---------------------------------------------------------------------------

// PHPMailer's SMTP class: "SMTP ERROR: $command command failed: $reply" and its debug lines.
regex!(
    PM_FAILED,
    r"(?i)SMTP ERROR:\s*([A-Z][A-Z ]*?) command failed:\s*([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    PM_OLD_FAILED,
    r"SMTP -> ERROR: ([A-Z]+) not accepted from server:\s*([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    PM_SERVER,
    r"(?:SERVER -> CLIENT|SMTP -> FROM SERVER):\s*([2-5]\d\d(?:[ -].*)?)$"
);
regex!(PM_CLIENT, r"CLIENT -> SERVER:\s?(.*)$");
// PHPMailer's ErrorInfo: "SMTP server error: MAIL FROM command failed Detail: … SMTP code: 530
// Additional SMTP info: 5.5.1".
regex!(
    PM_ERROR_INFO,
    r"SMTP server error: ([A-Za-z ]+?) command failed Detail: (.*?) SMTP code: ([2-5]\d\d)(?: Additional SMTP info: ([245]\.\d{1,3}\.\d{1,3}))?"
);

fn phpmailer(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = PM_FAILED
        .captures(line)
        .or_else(|| PM_OLD_FAILED.captures(line))
    {
        let words = c[1].trim();
        let verb = command_of_words(words);
        let evidence = if line.contains("not accepted from server") {
            format!("{} not accepted from server", safe_words(words, verb))
        } else {
            format!("{} command failed", safe_words(words, verb))
        };
        let hit = Hit::after(verb, evidence);
        return Some(emit(lines, i, &c[2], Format::Phpmailer, hit, out));
    }
    if let Some(c) = PM_ERROR_INFO.captures(line) {
        let words = c[1].trim();
        let verb = command_of_words(words);
        let hit = Hit::after(verb, format!("{} command failed", safe_words(words, verb)));
        let enhanced = c
            .get(4)
            .map_or(String::new(), |m| format!("{} ", m.as_str()));
        let text = format!("{} {enhanced}{}", &c[3], c[2].trim());
        return Some(emit(lines, i, &text, Format::Phpmailer, hit, out));
    }
    if let Some(c) = PM_CLIENT.captures(line) {
        client_line(scan, c.get(1).map_or("", |m| m.as_str()));
        return Some(1);
    }
    let c = PM_SERVER.captures(line)?;
    Some(server_line(lines, i, &c[1], Format::Phpmailer, scan, out))
}

// --- Transcripts -------------------------------------------------------------------------

// Sendmail's session transcript (>>> / <<<), swaks (-> / <-), MailKit and nodemailer's
// logger (C: / S:), Exim's debug output (SMTP>> / SMTP<<), after an optional pid, bracketed
// time stamps and a `NAME:` tag.
regex!(
    TR_SERVER,
    r"^\s*(?:\d+\s+)?(?:\[[^\]]*\]\s*)*(?:[\w\[\]]+:\s+)?(<<<|<-|<|S: |SMTP<<)\s*([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    TR_CLIENT,
    r"^\s*(?:\d+\s+)?(?:\[[^\]]*\]\s*)*(?:[\w\[\]]+:\s+)?(>>>|->|>|C: |SMTP>>)\s?(.*)$"
);

fn transcript(lines: &[Line], i: usize, scan: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = TR_SERVER.captures(line) {
        return Some(server_line(lines, i, &c[2], Format::Transcript, scan, out));
    }
    if let Some(c) = TR_CLIENT.captures(line) {
        client_line(scan, c.get(2).map_or("", |m| m.as_str()));
        return Some(1);
    }
    if super::CODE_START.is_match(line) {
        return Some(emit(lines, i, line, Format::Bare, Hit::default(), out));
    }
    None
}

/// A client line of a transcript: only its verb is kept.
fn client_line(scan: &mut Scan, text: &str) {
    let t = text.trim();
    scan.client_seen = true;
    if scan.in_data {
        if t == "." {
            scan.in_data = false;
            scan.last_client = Some(Verb::DataEnd);
        }
        return;
    }
    scan.last_client = match Verb::of_line(t) {
        Verb::Other if scan.last_server_code == Some(334) => Some(Verb::AuthResponse),
        Verb::Other => None,
        verb => Some(verb),
    };
}

/// A server line of a transcript: the reply answers the client's last line.
fn server_line(
    lines: &[Line],
    i: usize,
    reply: &str,
    format: Format,
    scan: &mut Scan,
    out: &mut Extraction,
) -> usize {
    let hit = match scan.last_client.take() {
        Some(Verb::AuthResponse) => Hit::after(
            Some(Verb::AuthResponse),
            "the client's line before it answered the server's 334 (an AUTH step; not shown)",
        ),
        Some(verb) => Hit::after(
            Some(verb),
            format!("the client's line before it was {}", verb.name()),
        ),
        // The greeting (220, or 421/554 refusing the connection) comes before any client line.
        None if !scan.client_seen && matches!(reply.get(..3), Some("220" | "421" | "554")) => {
            Hit::after(
                Some(Verb::Connect),
                "the server spoke first, before any client line (the greeting)",
            )
        }
        None => Hit::default(),
    };
    let code = reply.get(..3).and_then(|c| c.parse().ok());
    let used = match parse_reply_text(reply) {
        Some(parsed) => {
            let (parsed, used) = gather(lines, i, parsed);
            emit_found(lines[i].no, parsed, format, hit, true, out);
            used
        }
        None => 1,
    };
    scan.client_seen = true;
    scan.last_server_code = code;
    if code == Some(354) {
        scan.in_data = true;
    }
    used
}

// --- Python smtplib ----------------------------------------------------------------------

// smtplib's exceptions print as `SMTPAuthenticationError: (535, b'…')`,
// `SMTPSenderRefused: (553, b'…', 'from@x')` and
// `SMTPRecipientsRefused: {'a@b': (550, b'…')}`.
regex!(
    PY_EXCEPTION,
    r#"\b(SMTPAuthenticationError|SMTPDataError|SMTPSenderRefused|SMTPConnectError|SMTPHeloError|SMTPResponseException)\b\s*[:(]\s*\(?\s*([2-5]\d\d)\s*,\s*[bu]?(['"])"#
);
regex!(PY_RECIPIENTS, r"\bSMTPRecipientsRefused\b");
regex!(
    PY_RECIPIENT,
    r#"u?(['"])([^'"\s]{1,320})['"]\s*:\s*\(\s*([2-5]\d\d)\s*,\s*[bu]?(['"])"#
);
regex!(PY_TUPLE, r#"\(\s*([2-5]\d\d)\s*,\s*b(['"])"#);

/// Reads a Python string literal's body from `text` (just after the opening quote) up to the
/// closing `quote`; returns the decoded text and whether the literal was closed.
fn py_literal(text: &str, quote: char) -> (String, bool) {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c == quote => return (out, true),
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => {}
                Some('t') => out.push('\t'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) if b.is_ascii() => out.push(char::from(b)),
                        _ => {
                            out.push_str("\\x");
                            out.push_str(&hex);
                        }
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
        if out.len() > 64 * 1024 {
            break;
        }
    }
    (out, false)
}

fn py_parsed(code: &str, rest: &str, quote: &str) -> (Parsed, bool) {
    let quote = quote.chars().next().unwrap_or('\'');
    let (body, closed) = py_literal(rest, quote);
    let texts: Vec<String> = body
        .split('\n')
        .take(MAX_REPLY_LINES)
        .map(|l| l.trim_end().to_string())
        .collect();
    let parsed = Parsed {
        code: code.parse().unwrap_or(0),
        texts,
        complete: true,
    };
    (parsed, closed)
}

fn python(lines: &[Line], i: usize, _: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    let no = lines[i].no;
    if PY_RECIPIENTS.is_match(line) {
        let mut any = false;
        for c in PY_RECIPIENT.captures_iter(line) {
            let rest = &line[c.get(0).map_or(line.len(), |m| m.end())..];
            let (parsed, closed) = py_parsed(&c[3], rest, &c[4]);
            let mut hit = Hit::after(Some(Verb::Rcpt), "SMTPRecipientsRefused");
            hit.recipient = Some(c[2].to_string());
            if !closed {
                hit.note = Some(CUT_OFF.to_string());
            }
            emit_parsed(no, parsed, Format::PythonSmtplib, hit, out);
            any = true;
        }
        if any {
            return Some(1);
        }
    }
    let (c, hit) = if let Some(c) = PY_EXCEPTION.captures(line) {
        let name = c[1].to_string();
        let hit = match name.as_str() {
            "SMTPAuthenticationError" => Hit::after(Some(Verb::Auth), name),
            "SMTPDataError" => Hit::after(Some(Verb::DataEnd), name).note(DATA_ERROR_NOTE),
            "SMTPSenderRefused" => Hit::after(Some(Verb::Mail), name),
            "SMTPConnectError" => Hit::after(Some(Verb::Connect), name),
            "SMTPHeloError" => Hit::after(Some(Verb::Ehlo), name),
            _ => Hit::default(),
        };
        (c, hit)
    } else {
        (PY_TUPLE.captures(line)?, Hit::default())
    };
    let (code, quote) = if c.len() == 4 {
        (&c[2], &c[3])
    } else {
        (&c[1], &c[2])
    };
    let rest = &line[c.get(0).map_or(line.len(), |m| m.end())..];
    let (parsed, closed) = py_parsed(code, rest, quote);
    let mut hit = hit;
    if !closed {
        hit.note = Some(CUT_OFF.to_string());
    }
    emit_parsed(no, parsed, Format::PythonSmtplib, hit, out);
    Some(1)
}

// --- JavaMail ----------------------------------------------------------------------------

regex!(
    JM_AUTH,
    r"\b(?:javax|jakarta)\.mail\.AuthenticationFailedException:\s*([2-5]\d\d(?:[ -].*)?)$"
);
regex!(
    JM_SMTP,
    r"\b(?:com\.sun\.mail|org\.eclipse\.angus\.mail)\.smtp\.(SMTP(?:Send|Sender|Address)FailedException):\s*([2-5]\d\d(?:[ -].*)?)$"
);

fn javamail(lines: &[Line], i: usize, _: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    if let Some(c) = JM_AUTH.captures(line) {
        let hit = Hit::after(Some(Verb::Auth), "AuthenticationFailedException");
        return Some(emit(lines, i, &c[1], Format::Javamail, hit, out));
    }
    let c = JM_SMTP.captures(line)?;
    let name = c[1].to_string();
    let hit = match name.as_str() {
        "SMTPSenderFailedException" => Hit::after(Some(Verb::Mail), name),
        "SMTPAddressFailedException" => Hit::after(Some(Verb::Rcpt), name),
        _ => Hit::default().note(SEND_FAILED_NOTE),
    };
    Some(emit(lines, i, &c[2], Format::Javamail, hit, out))
}

// --- .NET --------------------------------------------------------------------------------

/// System.Net.Mail's messages for the status codes it names (`SmtpException`'s
/// `GetMessageForStatus` and its string resources). The `SmtpException` text carries the
/// message, not the code, so the code is read back from it. "Mailbox unavailable." names both
/// `MailboxBusy` (450) and `MailboxUnavailable` (550): the enhanced code's class decides.
const DOTNET_MESSAGES: &[(&str, u16, &str)] = &[
    (
        "The SMTP server requires a secure connection or the client was not authenticated.",
        530,
        "MustIssueStartTlsFirst",
    ),
    ("Mailbox unavailable.", 550, "MailboxUnavailable"),
    ("Transaction failed.", 554, "TransactionFailed"),
    ("Mailbox name not allowed.", 553, "MailboxNameNotAllowed"),
    (
        "Exceeded storage allocation.",
        552,
        "ExceededStorageAllocation",
    ),
    (
        "User not local; please try a different path.",
        551,
        "UserNotLocalTryAlternatePath",
    ),
    ("Insufficient system storage.", 452, "InsufficientStorage"),
    ("Error in processing.", 451, "LocalErrorInProcessing"),
    (
        "Client does not have permission to submit mail to this server.",
        454,
        "ClientNotPermitted",
    ),
    (
        "Syntax error, command unrecognized.",
        500,
        "CommandUnrecognized",
    ),
    (
        "Syntax error in parameters or arguments.",
        501,
        "SyntaxError",
    ),
    ("Command not implemented.", 502, "CommandNotImplemented"),
    ("Bad sequence of commands.", 503, "BadCommandSequence"),
    (
        "Command parameter not implemented.",
        504,
        "CommandParameterNotImplemented",
    ),
];

regex!(DN_RESPONSE, r"The server response was:\s*(.*)$");
regex!(DN_FRAME_TAIL, r"\s+at [\w.<>`]+\(.*$");
regex!(
    DN_COMMAND,
    r"System\.Net\.Mail\.(Mail|Recipient|Data|DataStop|Auth|StartTls|EHello|Hello)Command\."
);

fn dotnet(lines: &[Line], i: usize, _: &mut Scan, out: &mut Extraction) -> Option<usize> {
    let line = lines[i].text;
    // The message may be wrapped over a few lines (a web error page, a narrow console).
    let mut joined = line.trim().to_string();
    let mut used = 1;
    if !DOTNET_MESSAGES
        .iter()
        .any(|(m, _, _)| joined.contains(&m[..20.min(m.len())]))
        && !joined.contains("SmtpException")
    {
        return None;
    }
    while !DN_RESPONSE.is_match(&joined) && used < 4 && i + used < lines.len() {
        joined.push(' ');
        joined.push_str(lines[i + used].text.trim());
        used += 1;
    }
    let c = DN_RESPONSE.captures(&joined)?;
    let head = &joined[..c.get(0).map_or(0, |m| m.start())];
    let mut response = c[1].trim().to_string();
    if let Some(m) = DN_FRAME_TAIL.find(&response) {
        response.truncate(m.start());
    }
    let response = response
        .trim_end_matches([']', '"', '\''])
        .trim()
        .to_string();
    let known = DOTNET_MESSAGES.iter().find(|(m, _, _)| head.contains(m));
    // The stack trace that follows names the command class that saw the reply (up to the
    // next exception).
    let frame = lines[i + used..lines.len().min(i + used + 20)]
        .iter()
        .take_while(|l| !l.text.contains("Exception:"))
        .find_map(|l| DN_COMMAND.captures(l.text).map(|c| c[1].to_string()));
    let hit = match frame.as_deref() {
        Some(class) => {
            let verb = match class {
                "Mail" => Verb::Mail,
                "Recipient" => Verb::Rcpt,
                "Data" => Verb::Data,
                "DataStop" => Verb::DataEnd,
                "Auth" => Verb::Auth,
                "StartTls" => Verb::StartTls,
                "EHello" => Verb::Ehlo,
                _ => Verb::Helo,
            };
            Hit::after(
                Some(verb),
                format!("System.Net.Mail.{class}Command in the stack trace"),
            )
        }
        None => Hit::default(),
    };
    if super::reply_code(&response).is_some() {
        let parsed = parse_reply_text(&response)?;
        emit_parsed(lines[i].no, parsed, Format::Dotnet, hit, out);
        return Some(used);
    }
    let Some((message, code, name)) = known else {
        out.skip(
            Format::Dotnet,
            lines[i].no,
            "a .NET SmtpException whose message names no reply code",
        );
        return Some(used);
    };
    let enhanced_class = response.chars().next().and_then(|c| c.to_digit(10));
    let code = match (*code, enhanced_class) {
        (550, Some(4)) => 450,
        (code, _) => code,
    };
    let note = format!(
        "The .NET message has no reply code; {code} is the code .NET describes as \"{message}\" (SmtpStatusCode.{}).",
        if code == 450 { "MailboxBusy" } else { name }
    );
    let parsed = parse_reply_text(&format!("{code} {response}"))?;
    let mut hit = hit;
    hit.note = Some(note);
    emit_parsed(lines[i].no, parsed, Format::Dotnet, hit, out);
    Some(used)
}

// --- JSON: SES notifications and nodemailer error objects --------------------------------

regex!(SMTP_PREFIX, r"(?i)^\s*smtp\s*;\s*");

/// Walks a JSON value for SES bounce or delivery-delay notifications (also inside an SNS
/// envelope's `Message` string or an `EventBridge` `detail`) and nodemailer error objects.
pub(super) fn ses_json(value: &Value, line: usize, out: &mut Extraction, depth: usize) {
    if depth > 6 || out.capped {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, list) in [
                ("bounce", "bouncedRecipients"),
                ("deliveryDelay", "delayedRecipients"),
            ] {
                if let Some(Value::Object(event)) = map.get(key)
                    && let Some(Value::Array(recipients)) = event.get(list)
                {
                    for r in recipients.iter().take(super::MAX_REPLIES) {
                        ses_recipient(r, event, line, out);
                    }
                }
            }
            if let (Some(Value::String(response)), Some(Value::Number(_))) =
                (map.get("response"), map.get("responseCode"))
            {
                let command = map.get("command").and_then(Value::as_str).unwrap_or("");
                let verb = match command {
                    "CONN" => Some(Verb::Connect),
                    c => command_of_words(c),
                };
                let hit = Hit::after(verb, format!("command: {}", safe_words(command, verb)));
                if let Some(parsed) = parse_reply_text(response) {
                    emit_parsed(line, parsed, Format::Nodemailer, hit, out);
                }
            }
            for (key, inner) in map {
                if key == "bounce" || key == "deliveryDelay" {
                    continue;
                }
                walk(inner, line, out, depth);
            }
        }
        Value::Array(items) => {
            for item in items.iter().take(super::MAX_REPLIES) {
                walk(item, line, out, depth);
            }
        }
        _ => {}
    }
}

fn walk(value: &Value, line: usize, out: &mut Extraction, depth: usize) {
    match value {
        // SNS delivers the SES notification as a JSON string in `Message`.
        Value::String(s) if s.trim_start().starts_with('{') => {
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                ses_json(&inner, line, out, depth + 1);
            }
        }
        Value::Object(_) | Value::Array(_) => ses_json(value, line, out, depth + 1),
        _ => {}
    }
}

fn ses_recipient(
    recipient: &Value,
    event: &serde_json::Map<String, Value>,
    line: usize,
    out: &mut Extraction,
) {
    let Some(code) = recipient.get("diagnosticCode").and_then(Value::as_str) else {
        out.skip(
            Format::SesNotification,
            line,
            "an SES notification recipient without a diagnosticCode (no SMTP reply)",
        );
        return;
    };
    let text = SMTP_PREFIX.replace(code, "");
    let Some(parsed) = parse_reply_text(&text) else {
        out.skip(
            Format::SesNotification,
            line,
            "an SES notification whose diagnosticCode holds no SMTP reply code",
        );
        return;
    };
    let hit = Hit {
        recipient: recipient
            .get("emailAddress")
            .and_then(Value::as_str)
            .map(str::to_string),
        server: event
            .get("remoteMtaIp")
            .and_then(Value::as_str)
            .map(str::to_string),
        note: Some(SES_NOTE.to_string()),
        ..Hit::default()
    };
    emit_parsed(line, parsed, Format::SesNotification, hit, out);
}
