//! The simulator's command-line parser: one client line (without its CRLF) in, one
//! [`ClientCommand`] or the SES-style error reply out.
//!
//! [`parse_command`] is pure and total: any byte string gives an answer and never a panic,
//! so a fuzz target can call it directly. Reply texts are SES's where known and otherwise
//! `SubEthaSMTP`'s, the library SES's front end matches word for word.

use std::fmt;

/// The command verbs the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandVerb {
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
}

impl CommandVerb {
    fn from_word(word: &[u8]) -> Option<CommandVerb> {
        let upper: Vec<u8> = word.to_ascii_uppercase();
        Some(match upper.as_slice() {
            b"EHLO" => CommandVerb::Ehlo,
            b"HELO" => CommandVerb::Helo,
            b"STARTTLS" => CommandVerb::StartTls,
            b"AUTH" => CommandVerb::Auth,
            b"MAIL" => CommandVerb::Mail,
            b"RCPT" => CommandVerb::Rcpt,
            b"DATA" => CommandVerb::Data,
            b"RSET" => CommandVerb::Rset,
            b"NOOP" => CommandVerb::Noop,
            b"QUIT" => CommandVerb::Quit,
            b"VRFY" => CommandVerb::Vrfy,
            b"EXPN" => CommandVerb::Expn,
            _ => return None,
        })
    }
}

/// A parsed client command.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCommand {
    Ehlo(String),
    Helo(String),
    StartTls,
    /// `mechanism` is upper-cased; `initial_response` is base64 (a secret: never shown).
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
    /// `address` is empty for the null sender `<>`.
    Mail {
        address: String,
        params: Vec<String>,
    },
    Rcpt {
        address: String,
        params: Vec<String>,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
}

impl fmt::Debug for ClientCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCommand::Ehlo(h) => write!(f, "Ehlo({h:?})"),
            ClientCommand::Helo(h) => write!(f, "Helo({h:?})"),
            ClientCommand::Auth {
                mechanism,
                initial_response,
            } => write!(
                f,
                "Auth {{ mechanism: {mechanism:?}, initial_response: {} }}",
                if initial_response.is_some() {
                    "<redacted>"
                } else {
                    "None"
                }
            ),
            ClientCommand::Mail { address, params } => {
                write!(f, "Mail {{ address: {address:?}, params: {params:?} }}")
            }
            ClientCommand::Rcpt { address, params } => {
                write!(f, "Rcpt {{ address: {address:?}, params: {params:?} }}")
            }
            other => f.write_str(match other {
                ClientCommand::StartTls => "StartTls",
                ClientCommand::Data => "Data",
                ClientCommand::Rset => "Rset",
                ClientCommand::Noop => "Noop",
                ClientCommand::Quit => "Quit",
                ClientCommand::Vrfy => "Vrfy",
                _ => "Expn",
            }),
        }
    }
}

impl ClientCommand {
    pub fn verb(&self) -> CommandVerb {
        match self {
            ClientCommand::Ehlo(_) => CommandVerb::Ehlo,
            ClientCommand::Helo(_) => CommandVerb::Helo,
            ClientCommand::StartTls => CommandVerb::StartTls,
            ClientCommand::Auth { .. } => CommandVerb::Auth,
            ClientCommand::Mail { .. } => CommandVerb::Mail,
            ClientCommand::Rcpt { .. } => CommandVerb::Rcpt,
            ClientCommand::Data => CommandVerb::Data,
            ClientCommand::Rset => CommandVerb::Rset,
            ClientCommand::Noop => CommandVerb::Noop,
            ClientCommand::Quit => CommandVerb::Quit,
            ClientCommand::Vrfy => CommandVerb::Vrfy,
            ClientCommand::Expn => CommandVerb::Expn,
        }
    }
}

/// A line that is not a usable command: the reply to send, and the verb when one was
/// recognised (the session checks TLS and AUTH for that verb before answering with `reply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reply}")]
pub struct ParseError {
    pub verb: Option<CommandVerb>,
    pub reply: &'static str,
}

pub(crate) const BAD_SYNTAX: &str = "500 Error: bad syntax";
pub(crate) const NOT_IMPLEMENTED: &str = "500 Error: command not implemented";
pub(crate) const EHLO_SYNTAX: &str = "501 Syntax: EHLO hostname";
pub(crate) const HELO_SYNTAX: &str = "501 Syntax: HELO <hostname>";
pub(crate) const STARTTLS_SYNTAX: &str = "501 Syntax error (no parameters allowed)";
pub(crate) const AUTH_SYNTAX: &str = "501 Syntax: AUTH mechanism [initial-response]";
pub(crate) const BAD_MAIL_FROM: &str = "501 Invalid MAIL FROM address provided";
pub(crate) const BAD_RCPT_TO: &str = "501 Invalid RCPT TO address provided";

fn fail(verb: Option<CommandVerb>, reply: &'static str) -> ParseError {
    ParseError { verb, reply }
}

/// Parses one command line (CRLF already removed).
pub fn parse_command(line: &[u8]) -> Result<ClientCommand, ParseError> {
    let line = trim_end(line);
    let (word, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], trim_start(&line[i + 1..])),
        None => (line, &line[line.len()..]),
    };
    if word.is_empty() || !word.iter().all(u8::is_ascii_alphabetic) {
        return Err(fail(None, BAD_SYNTAX));
    }
    let Some(verb) = CommandVerb::from_word(word) else {
        return Err(fail(None, NOT_IMPLEMENTED));
    };
    let some = Some(verb);
    match verb {
        CommandVerb::Ehlo | CommandVerb::Helo => {
            let syntax = if verb == CommandVerb::Ehlo {
                EHLO_SYNTAX
            } else {
                HELO_SYNTAX
            };
            let name = rest
                .split(|&b| b == b' ' || b == b'\t')
                .find(|w| !w.is_empty())
                .ok_or(fail(some, syntax))?;
            if name.iter().any(|&b| b < 0x20 || b == 0x7f) {
                return Err(fail(some, syntax));
            }
            let name = String::from_utf8_lossy(name).into_owned();
            Ok(if verb == CommandVerb::Ehlo {
                ClientCommand::Ehlo(name)
            } else {
                ClientCommand::Helo(name)
            })
        }
        CommandVerb::StartTls => {
            if rest.is_empty() {
                Ok(ClientCommand::StartTls)
            } else {
                Err(fail(some, STARTTLS_SYNTAX))
            }
        }
        CommandVerb::Auth => {
            let text = std::str::from_utf8(rest).map_err(|_| fail(some, AUTH_SYNTAX))?;
            let mut words = text.split_ascii_whitespace();
            let mechanism = words.next().ok_or(fail(some, AUTH_SYNTAX))?;
            let initial_response = words.next().map(str::to_string);
            if words.next().is_some() || !mechanism.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(fail(some, AUTH_SYNTAX));
            }
            Ok(ClientCommand::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial_response,
            })
        }
        CommandVerb::Mail => {
            let (address, params) =
                parse_path(rest, b"FROM:", true).ok_or(fail(some, BAD_MAIL_FROM))?;
            Ok(ClientCommand::Mail { address, params })
        }
        CommandVerb::Rcpt => {
            let (address, params) =
                parse_path(rest, b"TO:", false).ok_or(fail(some, BAD_RCPT_TO))?;
            Ok(ClientCommand::Rcpt { address, params })
        }
        CommandVerb::Data => Ok(ClientCommand::Data),
        CommandVerb::Rset => Ok(ClientCommand::Rset),
        CommandVerb::Noop => Ok(ClientCommand::Noop),
        CommandVerb::Quit => Ok(ClientCommand::Quit),
        CommandVerb::Vrfy => Ok(ClientCommand::Vrfy),
        CommandVerb::Expn => Ok(ClientCommand::Expn),
    }
}

/// `FROM:<addr> PARAMS` / `TO:<addr> PARAMS`. Like SES, the angle brackets may be left out
/// (`MAIL FROM: a@example.com` is accepted) and a space may follow the colon.
fn parse_path(rest: &[u8], keyword: &[u8], null_ok: bool) -> Option<(String, Vec<String>)> {
    if rest.len() < keyword.len() || !rest[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let text = std::str::from_utf8(&rest[keyword.len()..]).ok()?;
    let text = text.trim_start_matches([' ', '\t']);
    let (address, tail) = if let Some(inner) = text.strip_prefix('<') {
        let close = inner.find('>')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        match text.find([' ', '\t']) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        }
    };
    // Parameters must be separated from the path by white space.
    if !tail.is_empty() && !tail.starts_with([' ', '\t']) {
        return None;
    }
    let bracketed = text.starts_with('<');
    if address.is_empty() {
        if !(null_ok && bracketed) {
            return None;
        }
    } else if !is_valid_address(address) {
        return None;
    }
    let params: Vec<String> = tail.split_ascii_whitespace().map(str::to_string).collect();
    if !params.iter().all(|p| is_valid_param(p)) {
        return None;
    }
    Some((address.to_string(), params))
}

/// `KEYWORD[=VALUE]` (RFC 5321 esmtp-param).
fn is_valid_param(param: &str) -> bool {
    let (key, value) = match param.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (param, None),
    };
    let key_ok = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let value_ok = value.is_none_or(|v| {
        !v.is_empty() && v.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
    });
    key_ok && value_ok
}

/// An RFC 5321 mailbox in plain ASCII: `local@domain`, where local is a dot-atom or a quoted
/// string and domain is a host name or an address literal. (SMTPUTF8 is not offered.)
pub(crate) fn is_valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    is_valid_local_part(local) && is_valid_domain(domain)
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

fn is_valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 {
        return false;
    }
    if let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        let mut escaped = false;
        for b in inner.bytes() {
            if !(0x20..=0x7e).contains(&b) {
                return false;
            }
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => return false,
                _ => {}
            }
        }
        return !escaped;
    }
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

fn is_valid_domain(domain: &str) -> bool {
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return match literal.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => literal.parse::<std::net::Ipv4Addr>().is_ok(),
        };
    }
    !domain.is_empty()
        && domain.len() <= 255
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> ClientCommand {
        parse_command(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn err(line: &[u8]) -> ParseError {
        match parse_command(line) {
            Ok(c) => panic!("{line:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            ok("ehlo client.example"),
            ClientCommand::Ehlo("client.example".into())
        );
        assert_eq!(ok("HeLo x"), ClientCommand::Helo("x".into()));
        assert_eq!(ok("starttls"), ClientCommand::StartTls);
        assert_eq!(ok("QUIT"), ClientCommand::Quit);
        assert_eq!(ok("noop anything at all"), ClientCommand::Noop);
        assert_eq!(ok("RSET  "), ClientCommand::Rset);
        assert_eq!(ok("DATA"), ClientCommand::Data);
        assert_eq!(ok("VRFY postmaster"), ClientCommand::Vrfy);
        assert_eq!(ok("EXPN list"), ClientCommand::Expn);
    }

    #[test]
    fn envelope_addresses_as_ses_accepts_them() {
        assert_eq!(
            ok("MAIL FROM:<a@example.com>"),
            ClientCommand::Mail {
                address: "a@example.com".into(),
                params: vec![]
            }
        );
        // The article's form: a space after the colon and no angle brackets.
        assert_eq!(
            ok("MAIL FROM: policy-fail@example.com"),
            ClientCommand::Mail {
                address: "policy-fail@example.com".into(),
                params: vec![]
            }
        );
        assert_eq!(
            ok("mail from:<> BODY=8BITMIME"),
            ClientCommand::Mail {
                address: String::new(),
                params: vec!["BODY=8BITMIME".into()]
            }
        );
        assert_eq!(
            ok("RCPT TO:<\"john doe\"@[192.0.2.1]>"),
            ClientCommand::Rcpt {
                address: "\"john doe\"@[192.0.2.1]".into(),
                params: vec![]
            }
        );
        assert_eq!(
            ok("RCPT TO: xxxxx@example.com"),
            ClientCommand::Rcpt {
                address: "xxxxx@example.com".into(),
                params: vec![]
            }
        );
    }

    #[test]
    fn bad_envelopes_get_the_ses_501s() {
        for line in [
            "MAIL FROM: SES (<user1@example. com>)",
            "MAIL FROM:<user1@example. com>",
            "MAIL FROM:",
            "MAIL",
            "MAIL TO:<a@example.com>",
            "MAIL FROM:<a@example.com>junk",
            "MAIL FROM:<a@example.com> =x",
            "MAIL FROM:<a@exa_mple.com>",
            "MAIL FROM:<@relay.example:a@example.com>",
            "MAIL FROM:<a..b@example.com>",
            "MAIL FROM:<caf\u{e9}@example.com>",
        ] {
            let e = err(line.as_bytes());
            assert_eq!(e.reply, BAD_MAIL_FROM, "{line}");
            assert_eq!(e.verb, Some(CommandVerb::Mail));
        }
        for line in [
            "RCPT TO: User2",
            "RCPT TO:<re>ceiver@example.com>",
            "RCPT TO:<>",
            "RCPT TO:",
            "RCPT FROM:<a@example.com>",
        ] {
            assert_eq!(err(line.as_bytes()).reply, BAD_RCPT_TO, "{line}");
        }
        assert_eq!(err(b"MAIL FROM:<a\0@example.com>").reply, BAD_MAIL_FROM);
        assert_eq!(err(b"MAIL FROM:<a@example.com\xff>").reply, BAD_MAIL_FROM);
    }

    #[test]
    fn syntax_errors_of_the_other_verbs() {
        assert_eq!(err(b"EHLO").reply, EHLO_SYNTAX);
        assert_eq!(err(b"EHLO   ").reply, EHLO_SYNTAX);
        assert_eq!(err(b"HELO").reply, HELO_SYNTAX);
        assert_eq!(err(b"EHLO a\x01b").reply, EHLO_SYNTAX);
        assert_eq!(err(b"STARTTLS now").reply, STARTTLS_SYNTAX);
        assert_eq!(err(b"AUTH").reply, AUTH_SYNTAX);
        assert_eq!(err(b"AUTH PLAIN a b").reply, AUTH_SYNTAX);
        assert_eq!(
            ok("auth plain AGFAYgBj"),
            ClientCommand::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("AGFAYgBj".into())
            }
        );
    }

    #[test]
    fn garbage_is_bad_syntax_or_not_implemented() {
        assert_eq!(err(b"").reply, BAD_SYNTAX);
        assert_eq!(err(b"   ").reply, BAD_SYNTAX);
        assert_eq!(err(b" EHLO x").reply, BAD_SYNTAX);
        assert_eq!(err(b"\0\0\0").reply, BAD_SYNTAX);
        assert_eq!(err(b"\x16\x03\x01\x02\x00\x01").reply, BAD_SYNTAX);
        assert_eq!(err(b"GET / HTTP/1.1").reply, NOT_IMPLEMENTED);
        assert_eq!(err(b"BDAT 100 LAST").reply, NOT_IMPLEMENTED);
        assert_eq!(err(b"HELP").reply, NOT_IMPLEMENTED);
        assert_eq!(err(b"EHLO1 x").reply, BAD_SYNTAX);
        assert_eq!(err(b"\xff\xfe").verb, None);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic fuzz: every 1- and 2-byte line, plus mutated real commands.
        for a in 0..=255u8 {
            let _ = parse_command(&[a]);
            for b in 0..=255u8 {
                let _ = parse_command(&[a, b]);
            }
        }
        let seeds: [&[u8]; 4] = [
            b"MAIL FROM:<a@example.com> SIZE=10",
            b"RCPT TO:<\"q\\\"x\"@[IPv6:::1]>",
            b"AUTH LOGIN dXNlcg==",
            b"EHLO [127.0.0.1]",
        ];
        for seed in seeds {
            for i in 0..seed.len() {
                for b in [0u8, b' ', b'<', b'>', b'"', b'\\', b'@', 0xff, b':', b'='] {
                    let mut m = seed.to_vec();
                    m[i] = b;
                    let _ = parse_command(&m);
                    m.truncate(i);
                    let _ = parse_command(&m);
                }
            }
        }
    }

    #[test]
    fn debug_hides_the_auth_blob() {
        let shown = format!("{:?}", ok("AUTH PLAIN AHVzZXIAc2VjcmV0"));
        assert!(!shown.contains("AHVzZXIAc2VjcmV0"), "{shown}");
    }
}
