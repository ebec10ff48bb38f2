//! `smtpscope explain 'REPLY'`: the classifier's verdict on each reply in a pasted text.
//!
//! For people who find `554 Access denied: …` in an application log and want to know which
//! phase failed and what to do, without reproducing the session. The text may be the reply
//! alone or a whole log (as the argument, or on standard input): every reply in it is
//! explained, with the command it answered when the log says.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::error::{CommandError, CommandResult};
use crate::engine::classify::{Catalog, Classification, Context};
use crate::engine::command::Verb;
use crate::engine::escape::escape_str;
use crate::engine::limited::{self, limit};
use crate::engine::model::AuthContext;
use crate::engine::pasted::{self, Extraction, Found};
use crate::engine::provider::{Providers, Signal};
use crate::engine::reply::{Reply, ReplyParser};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The reply as the server sent it, e.g. "535 Authentication Credentials Invalid", or a
    /// pasted log that contains replies (Postfix, Exim, Sendmail, Nodemailer, `PHPMailer`,
    /// Python smtplib, `JavaMail`, .NET, an SES bounce notification, a transcript). Several
    /// lines may be separated by newlines or a literal \r\n. Give "-" or nothing to read
    /// standard input.
    pub reply: Option<String>,
    /// The command it answered: connect, ehlo, starttls, auth, auth-response, mail, rcpt, data,
    /// data-end (the final "."), rset, noop, quit. Overrides what the log says.
    #[arg(long, value_name = "COMMAND")]
    pub after: Option<String>,
    /// Say that AUTH had succeeded earlier in the session
    #[arg(long)]
    pub authenticated: bool,
    /// The server's provider or software (ses, microsoft365, exchange, gmail, sendgrid, mailgun,
    /// postmark, sparkpost, zoho, yahoo, icloud, postfix, exim, sendmail, qmail, opensmtpd,
    /// hmailserver): its replies are tried first. Without it, a server host name the log
    /// gives (e.g. Postfix's "host email-smtp.…[ip] said") decides when it is a known one.
    #[arg(long, value_name = "ID")]
    pub provider: Option<String>,
    /// Print JSON: one object per reply, one per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Explained<'a> {
    /// The kind of text the reply was found in.
    format: &'static str,
    /// The line of the input the reply starts on (from 1).
    line: usize,
    code: u16,
    enhanced: Option<String>,
    text: String,
    /// The command used for the verdict.
    after: Option<&'static str>,
    /// Where `after` came from: "option" (--after), "log", or "unknown".
    after_from: &'static str,
    /// The command the log names, even when --after overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    inferred_after: Option<&'static str>,
    /// The log's own words the command was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(flatten)]
    class: &'a Classification,
}

/// `--after`: the names the catalogs use, in any case, plus a few a person would type.
fn parse_after(name: &str) -> Option<Verb> {
    let n = name.to_ascii_uppercase().replace('_', "-");
    let canonical = match n.as_str() {
        "GREETING" => "CONNECT",
        "MAIL-FROM" => "MAIL",
        "RCPT-TO" => "RCPT",
        "DOT" | "." => "DATA-END",
        // TLS-HANDSHAKE is a catalog-internal name, not a command one answers.
        "TLS-HANDSHAKE" => return None,
        other => other,
    };
    crate::engine::classify::verb_named(canonical)
}

/// Parses pasted text into a reply; accepts `\n`, CRLF or a literal `\r\n` between lines.
pub fn parse_pasted(text: &str) -> Result<Reply, String> {
    let normalised = text.replace("\\r\\n", "\n").replace("\r\n", "\n");
    let mut parser = ReplyParser::default();
    for line in normalised.lines().map(str::trim).filter(|l| !l.is_empty()) {
        parser.push(line.as_bytes());
        parser.push(b"\r\n");
    }
    match parser.next_reply() {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err("that is not a complete reply: the last line must be \"CODE text\" (space after the code)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// What `explain` says when it finds nothing: what it takes, with examples.
const NOTHING_FOUND: &str = "no SMTP reply found in the input.
It takes a reply on its own, such as
    535 Authentication Credentials Invalid
or a pasted log that holds one, such as a Postfix line
    … status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command))
Logs it reads: Postfix, Exim, Sendmail (and delivery reports), Nodemailer, PHPMailer, Python smtplib, JavaMail, .NET SmtpException, SES bounce notifications (JSON), and transcripts (>>> / <<<, C: / S:).";

/// The pasted text: the argument, or standard input when the argument is `-` or absent and
/// standard input is not a terminal.
fn input(args: &ExplainArgs) -> Result<String, CommandError> {
    match args.reply.as_deref() {
        Some(text) if text != "-" => {
            if text.len() as u64 > limit::PASTED {
                return Err(CommandError::usage(format!(
                    "the text is larger than the limit of {}",
                    limited::Size(limit::PASTED)
                )));
            }
            Ok(text.to_string())
        }
        arg => {
            let stdin = std::io::stdin();
            if arg.is_none() && stdin.is_terminal() {
                return Err(CommandError::usage(format!(
                    "give a reply or a log, as an argument or on standard input.\n{}",
                    NOTHING_FOUND.split_once('\n').map_or("", |(_, rest)| rest)
                )));
            }
            let bytes = limited::read_capped_within(
                stdin,
                "the pasted text",
                "standard input",
                limit::PASTED,
                limit::PASTED_WAIT,
            )
            .map_err(CommandError::usage)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// Runs `smtpscope explain`: success when at least one reply was explained, a usage error
/// (exit 2) for bad input (nothing recognisable, an unknown --after, an unreadable input).
pub fn run(args: &ExplainArgs) -> CommandResult {
    let explicit = match args.after.as_deref().map(|a| (a, parse_after(a))) {
        Some((a, None)) => {
            return Err(CommandError::usage(format!(
                "unknown command {a:?} for --after; use one of: connect, ehlo, helo, starttls, \
                 auth, auth-response, mail, rcpt, data, data-end (the final \".\"), rset, noop, quit"
            )));
        }
        Some((_, v)) => v,
        None => None,
    };
    let providers = Providers::builtin();
    let given = match args.provider.as_deref() {
        Some(p) if p.len() <= 40 && providers.get(&p.to_ascii_lowercase()).is_some() => {
            Some(p.to_ascii_lowercase())
        }
        // Not echoed: the argument may be long or hold control characters.
        Some(_) => {
            let known: Vec<&str> = providers.all().iter().map(|p| p.id.as_str()).collect();
            return Err(CommandError::usage(format!(
                "unknown provider for --provider; known: {}",
                known.join(", ")
            )));
        }
        None => None,
    };
    let text = input(args)?;
    let extraction = pasted::extract(&text);
    if extraction.found.is_empty() {
        return Err(CommandError::usage(nothing_found(&extraction)));
    }
    let total = extraction.found.len();
    for (n, found) in extraction.found.iter().enumerate() {
        let after = explicit.or(found.after);
        // The log's server host name, when it is a known provider's.
        let provider = given.clone().or_else(|| {
            let host = found.server.as_deref()?;
            let host = host.split(['[', ' ']).next().unwrap_or(host);
            providers.matching(Signal::Host, host).map(|p| p.id.clone())
        });
        let mentions = crate::engine::ses::mentions_ses(&found.reply.text())
            || found
                .server
                .as_deref()
                .is_some_and(crate::engine::ses::mentions_ses);
        let ses = crate::engine::provider::speaks_as_ses(mentions, provider.as_deref());
        let ctx = Context {
            after,
            auth: if args.authenticated {
                AuthContext::Accepted
            } else {
                AuthContext::NeverTried
            },
            ses,
            // A pasted reply says nothing about its connection.
            tls: None,
            provider: provider.clone(),
            ..Context::default()
        };
        let class = Catalog::builtin().classify(&found.reply, &ctx);
        if args.json {
            print_json(found, after, explicit, provider.as_deref(), &class);
        } else {
            if n > 0 {
                crate::outln!();
            }
            print_text(found, explicit, &class, n + 1, total);
        }
    }
    if extraction.capped {
        let note = format!(
            "stopped after {} replies; the rest of the input was not searched",
            pasted::MAX_REPLIES
        );
        if args.json {
            super::report("smtpscope explain", &note);
        } else {
            crate::outln!();
            crate::outln!("note:     {note}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn nothing_found(extraction: &Extraction) -> String {
    let mut text = String::new();
    for s in extraction.skipped.iter().take(5) {
        let _ = writeln!(text, "line {} ({}): {}", s.line, s.format.title(), s.why);
    }
    text.push_str(NOTHING_FOUND);
    text
}

fn after_source(found: &Found, explicit: Option<Verb>) -> &'static str {
    match (explicit, found.after) {
        (Some(_), _) => "option",
        (None, Some(_)) => "log",
        (None, None) => "unknown",
    }
}

/// `after` is the command the verdict was made for.
fn print_json(
    found: &Found,
    after: Option<Verb>,
    explicit: Option<Verb>,
    provider: Option<&str>,
    class: &Classification,
) {
    let reply = &found.reply;
    let e = Explained {
        format: found.format.name(),
        line: found.line,
        code: reply.code,
        enhanced: reply.enhanced.map(|e| e.to_string()),
        text: reply.text(),
        after: after.map(Verb::name),
        after_from: after_source(found, explicit),
        inferred_after: found.after.map(Verb::name),
        evidence: found.evidence.as_deref(),
        server: found.server.as_deref(),
        recipient: found.recipient.as_deref(),
        note: found.note.as_deref(),
        provider,
        class,
    };
    crate::outln!("{}", crate::engine::json::to_string(&e).unwrap_or_default());
}

fn print_text(
    found: &Found,
    explicit: Option<Verb>,
    class: &Classification,
    n: usize,
    total: usize,
) {
    let reply = &found.reply;
    let d = &class.diagnosis;
    if total > 1 {
        crate::outln!("── reply {n} of {total} ──");
    }
    crate::outln!("{} {}", reply.code, escape_str(&reply.text()));
    crate::outln!();
    crate::outln!("from:     {}, line {}", found.format.title(), found.line);
    if let Some(server) = &found.server {
        crate::outln!("server:   {}", escape_str(server));
    }
    if let Some(rcpt) = &found.recipient {
        crate::outln!("to:       {}", escape_str(rcpt));
    }
    let said = |verb: Verb| match &found.evidence {
        Some(words) => format!("{} (the log says \"{}\")", verb.name(), escape_str(words)),
        None => verb.name().to_string(),
    };
    match (explicit, found.after) {
        (Some(verb), Some(logged)) if logged != verb => crate::outln!(
            "after:    {} (from --after; the log says {})",
            verb.name(),
            said(logged)
        ),
        (Some(verb), _) => crate::outln!("after:    {} (from --after)", verb.name()),
        (None, Some(verb)) => crate::outln!("after:    {}", said(verb)),
        (None, None) => crate::outln!(
            "after:    unknown: the text does not say which command this answered (give --after COMMAND to tell)"
        ),
    }
    if let Some(note) = &found.note {
        crate::outln!("note:     {}", escape_str(note));
    }
    crate::outln!("phase:    {}", class.phase);
    crate::outln!("verdict:  {}", class.verdict.name());
    crate::outln!("title:    {}", d.title);
    crate::outln!("meaning:  {}", d.meaning);
    for (k, v) in &d.details {
        crate::outln!("{:<9} {}", format!("{k}:"), escape_str(v));
    }
    for n in &d.notes {
        crate::outln!("note:     {n}");
    }
    if !d.remedy.is_empty() {
        crate::outln!("next:     {}", d.remedy);
    }
    if let Some(src) = &d.source {
        crate::outln!("source:   {src} ({})", d.evidence.as_deref().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_replies() {
        assert_eq!(
            parse_pasted("535 Authentication Credentials Invalid")
                .unwrap()
                .code,
            535
        );
        let r = parse_pasted("250-a\\r\\n250 b").unwrap();
        assert_eq!(r.lines.len(), 2);
        assert!(parse_pasted("250-a").is_err());
        assert!(parse_pasted("hello").is_err());
    }

    #[test]
    fn the_source_of_after_is_named() {
        let found = pasted::extract(
            "x status=bounced (host h[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command))",
        )
        .found
        .remove(0);
        assert_eq!(after_source(&found, None), "log");
        assert_eq!(after_source(&found, Some(Verb::Mail)), "option");
        let bare = pasted::extract("550 no").found.remove(0);
        assert_eq!(after_source(&bare, None), "unknown");
    }
}
