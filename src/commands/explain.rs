//! `smtpscope explain 'REPLY'`: the classifier's verdict on one pasted reply.
//!
//! For people who find `554 Access denied: …` in an application log and want to know which
//! phase failed and what to do, without reproducing the session.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::error::{CommandError, CommandResult};
use crate::engine::classify::{Catalog, Classification, Context};
use crate::engine::command::Verb;
use crate::engine::escape::escape_str;
use crate::engine::model::AuthContext;
use crate::engine::reply::{Reply, ReplyParser};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The reply as the server sent it, e.g. "535 Authentication Credentials Invalid".
    /// Several lines may be given separated by newlines or a literal \r\n.
    pub reply: String,
    /// The command it answered: connect, ehlo, starttls, auth, auth-response, mail, rcpt, data,
    /// data-end (the final "."), rset, noop, quit
    #[arg(long, value_name = "COMMAND")]
    pub after: Option<String>,
    /// Say that AUTH had succeeded earlier in the session
    #[arg(long)]
    pub authenticated: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Explained<'a> {
    code: u16,
    enhanced: Option<String>,
    text: String,
    after: Option<&'static str>,
    #[serde(flatten)]
    class: &'a Classification,
}

fn parse_after(name: &str) -> Option<Verb> {
    let n = name.to_ascii_uppercase().replace('_', "-");
    Some(match n.as_str() {
        "CONNECT" | "GREETING" => Verb::Connect,
        "EHLO" => Verb::Ehlo,
        "HELO" => Verb::Helo,
        "STARTTLS" => Verb::StartTls,
        "AUTH" => Verb::Auth,
        "AUTH-RESPONSE" => Verb::AuthResponse,
        "MAIL" | "MAIL-FROM" => Verb::Mail,
        "RCPT" | "RCPT-TO" => Verb::Rcpt,
        "DATA" => Verb::Data,
        "DATA-END" | "DOT" | "." => Verb::DataEnd,
        "RSET" => Verb::Rset,
        "NOOP" => Verb::Noop,
        "QUIT" => Verb::Quit,
        _ => return None,
    })
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

/// Runs `smtpscope explain`.
pub fn run(args: &ExplainArgs) -> CommandResult {
    let after = match args.after.as_deref().map(|a| (a, parse_after(a))) {
        Some((a, None)) => {
            return Err(CommandError::usage(format!(
                "unknown command {a:?} for --after"
            )));
        }
        Some((_, v)) => v,
        None => None,
    };
    let reply = parse_pasted(&args.reply).map_err(CommandError::usage)?;
    // Without --after the text alone decides (any catalog entry may match).
    let ctx = Context {
        after,
        auth: if args.authenticated {
            AuthContext::Accepted
        } else {
            AuthContext::NeverTried
        },
        ses: crate::engine::ses::mentions_ses(&reply.text()),
        ..Context::default()
    };
    let class = Catalog::builtin().classify(&reply, &ctx);
    if args.json {
        let e = Explained {
            code: reply.code,
            enhanced: reply.enhanced.map(|e| e.to_string()),
            text: reply.text(),
            after: after.map(Verb::name),
            class: &class,
        };
        crate::outln!(
            "{}",
            crate::engine::json::to_string_pretty(&e).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let d = &class.diagnosis;
    crate::outln!("{} {}", reply.code, escape_str(&reply.text()));
    crate::outln!();
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
    Ok(ExitCode::SUCCESS)
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
}
