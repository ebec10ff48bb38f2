//! Session scripts: one step per line, run exactly as written by `smtpscope run --script`,
//! and written by the debugger from the session it just ran, so a path found by hand can be
//! replayed in CI.
//!
//! ```text
//! # AUTH before STARTTLS, then the right order
//! EHLO
//! AUTH PLAIN
//! STARTTLS
//! EHLO
//! AUTH PLAIN
//! MAIL
//! RCPT
//! DATA
//! QUIT
//! ```

use thiserror::Error;

use super::auth::{Mechanism, Redacted};
use super::command::{InputError, Verb, check_address, check_arg};
use super::transcript::{Entry, EntryKind};

/// The longest WAIT, in seconds.
pub(crate) const MAX_WAIT_SECS: u64 = 600;

/// The largest script read, in bytes, and the most steps it may hold.
pub(crate) const MAX_SCRIPT_BYTES: usize = 64 * 1024;
pub(crate) const MAX_SCRIPT_STEPS: usize = 1000;

/// One step of a script. Values not written in the step come from the usual flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptStep {
    Ehlo,
    Helo,
    StartTls,
    Auth(Mechanism),
    /// `MAIL` (the `--from` address) or `MAIL address`.
    Mail(Option<String>),
    /// `RCPT` (the next `--to` address of this transaction) or `RCPT address`.
    Rcpt(Option<String>),
    /// DATA, then the message once the server answers 354.
    Data,
    Rset,
    Noop,
    Quit,
    /// Any command line, sent as typed.
    Raw(String),
    /// Drop the connection (without QUIT) and connect again.
    Reconnect,
    /// Wait this many seconds, recording whatever the server says meanwhile (an idle
    /// timeout, say).
    Wait(u64),
}

impl ScriptStep {
    /// The line this step is written as.
    pub fn line(&self) -> String {
        match self {
            ScriptStep::Ehlo => "EHLO".into(),
            ScriptStep::Helo => "HELO".into(),
            ScriptStep::StartTls => "STARTTLS".into(),
            ScriptStep::Auth(m) => format!("AUTH {}", m.name()),
            ScriptStep::Mail(None) => "MAIL".into(),
            ScriptStep::Mail(Some(a)) => format!("MAIL {a}"),
            ScriptStep::Rcpt(None) => "RCPT".into(),
            ScriptStep::Rcpt(Some(a)) => format!("RCPT {a}"),
            ScriptStep::Data => "DATA".into(),
            ScriptStep::Rset => "RSET".into(),
            ScriptStep::Noop => "NOOP".into(),
            ScriptStep::Quit => "QUIT".into(),
            ScriptStep::Raw(l) => format!("RAW {l}"),
            ScriptStep::Reconnect => "RECONNECT".into(),
            ScriptStep::Wait(s) => format!("WAIT {s}"),
        }
    }
}

/// A parsed script: each step with its line number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub steps: Vec<(usize, ScriptStep)>,
}

/// Why a script cannot run. Nothing is sent when parsing fails.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("the script is larger than {MAX_SCRIPT_BYTES} bytes")]
    TooLarge,
    #[error("the script has more than {MAX_SCRIPT_STEPS} steps")]
    TooManySteps,
    #[error("the script is not UTF-8 text")]
    NotText,
    #[error(
        "line {line}: unknown step \"{word}\"; steps are EHLO, HELO, STARTTLS, AUTH PLAIN, AUTH LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT, RAW <line>, RECONNECT, WAIT <seconds>"
    )]
    Unknown { line: usize, word: String },
    #[error("line {line}: {what}")]
    Invalid { line: usize, what: String },
    #[error("line {line}: {source}")]
    Input { line: usize, source: InputError },
}

impl Script {
    /// Parses a script; blank lines and `#` comments are skipped, words are case-insensitive.
    pub fn parse(bytes: &[u8]) -> Result<Script, ScriptError> {
        if bytes.len() > MAX_SCRIPT_BYTES {
            return Err(ScriptError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ScriptError::NotText)?;
        let mut steps = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let content = raw.strip_suffix('\r').unwrap_or(raw);
            // A bare CR or a NUL inside the line: refused with the same words as an argument.
            if let Err(source) = check_arg("the step", content)
                && content.contains(['\r', '\0'])
            {
                return Err(ScriptError::Input { line, source });
            }
            let trimmed = content.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if steps.len() >= MAX_SCRIPT_STEPS {
                return Err(ScriptError::TooManySteps);
            }
            steps.push((line, parse_step(line, trimmed)?));
        }
        Ok(Script { steps })
    }

    /// Whether any step needs this value from the flags.
    pub(crate) fn needs_credentials(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, s)| matches!(s, ScriptStep::Auth(_)))
    }

    pub(crate) fn needs_from(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, s)| matches!(s, ScriptStep::Mail(None)))
    }

    pub(crate) fn needs_message(&self) -> bool {
        self.steps.iter().any(|(_, s)| *s == ScriptStep::Data)
    }

    /// Checks that every bare `RCPT` has a `--to` address left in its transaction (a
    /// transaction starts at MAIL and ends at DATA, RSET or RECONNECT).
    pub(crate) fn check_recipients(&self, to: usize) -> Result<(), ScriptError> {
        let mut used = 0;
        for (line, step) in &self.steps {
            match step {
                ScriptStep::Mail(_)
                | ScriptStep::Data
                | ScriptStep::Rset
                | ScriptStep::Reconnect => used = 0,
                ScriptStep::Rcpt(None) => {
                    if used >= to {
                        return Err(ScriptError::Invalid {
                            line: *line,
                            what: format!(
                                "RCPT needs a --to address, and {to} given ha{} been used in this transaction (or write RCPT address)",
                                if to == 1 { "s" } else { "ve" }
                            ),
                        });
                    }
                    used += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse_step(line: usize, text: &str) -> Result<ScriptStep, ScriptError> {
    let (word, rest) = match text.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (text, ""),
    };
    let upper = word.to_ascii_uppercase();
    let no_argument = |step: ScriptStep| {
        if rest.is_empty() {
            Ok(step)
        } else {
            Err(ScriptError::Invalid {
                line,
                what: format!("{upper} takes no argument here (use RAW to send a line as typed)"),
            })
        }
    };
    let address = |field: &str| -> Result<Option<String>, ScriptError> {
        if rest.is_empty() {
            return Ok(None);
        }
        let a = rest.trim_start_matches('<').trim_end_matches('>');
        check_address(field, a).map_err(|source| ScriptError::Input { line, source })?;
        Ok(Some(a.to_string()))
    };
    match upper.as_str() {
        "EHLO" => no_argument(ScriptStep::Ehlo),
        "HELO" => no_argument(ScriptStep::Helo),
        "STARTTLS" => no_argument(ScriptStep::StartTls),
        "AUTH" => match Mechanism::parse(rest) {
            Some(m) => Ok(ScriptStep::Auth(m)),
            None => Err(ScriptError::Invalid {
                line,
                what: "AUTH takes PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER (the credentials come from the usual flags; an access token from --token-file, --token-command or SMTPSCOPE_OAUTH_TOKEN)"
                    .into(),
            }),
        },
        "MAIL" => Ok(ScriptStep::Mail(address("MAIL's address")?)),
        "RCPT" => Ok(ScriptStep::Rcpt(address("RCPT's address")?)),
        "DATA" => no_argument(ScriptStep::Data),
        "RSET" => no_argument(ScriptStep::Rset),
        "NOOP" => no_argument(ScriptStep::Noop),
        "QUIT" => no_argument(ScriptStep::Quit),
        "RECONNECT" => no_argument(ScriptStep::Reconnect),
        "WAIT" => match rest.parse::<u64>() {
            Ok(s) if (1..=MAX_WAIT_SECS).contains(&s) => Ok(ScriptStep::Wait(s)),
            _ => Err(ScriptError::Invalid {
                line,
                what: format!("WAIT takes whole seconds, 1 to {MAX_WAIT_SECS}"),
            }),
        },
        "RAW" if rest.is_empty() => Err(ScriptError::Invalid {
            line,
            what: "RAW needs the command line to send".into(),
        }),
        "RAW" => Ok(ScriptStep::Raw(rest.to_string())),
        _ => Err(ScriptError::Unknown {
            line,
            word: super::escape::escape_str(word),
        }),
    }
}

/// The script that replays a recorded session: what was sent, in order. Credentials are
/// never written; an AUTH line typed by hand becomes a comment, since its secret is not kept.
pub(crate) fn from_entries(entries: &[Entry]) -> String {
    let mut out = String::from(
        "# smtpscope session script: run it with `smtpscope run --script FILE` and the same\n# target, credential and envelope flags.\n",
    );
    let mut connected_once = false;
    for e in entries {
        let step = match &e.kind {
            EntryKind::Connecting { .. } if connected_once => Some(ScriptStep::Reconnect),
            EntryKind::Connecting { .. } => {
                connected_once = true;
                None
            }
            EntryKind::Sent {
                line,
                verb,
                redacted,
            } => match (verb, redacted) {
                (Verb::Ehlo, _) => Some(ScriptStep::Ehlo),
                (Verb::Helo, _) => Some(ScriptStep::Helo),
                (Verb::StartTls, _) => Some(ScriptStep::StartTls),
                (Verb::Auth, Some(Redacted::Typed { .. })) => {
                    out.push_str("# AUTH typed by hand: its credentials are not kept\n");
                    None
                }
                (Verb::Auth, Some(Redacted::OAuthToken { mechanism, .. })) => {
                    Some(ScriptStep::Auth(*mechanism))
                }
                (Verb::Auth, _) if line.to_ascii_uppercase().contains("LOGIN") => {
                    Some(ScriptStep::Auth(Mechanism::Login))
                }
                // (No `if let` guard: it is newer than the crate's rust-version.)
                (Verb::Auth, _) => Some(ScriptStep::Auth(
                    line.split_whitespace()
                        .nth(1)
                        .and_then(Mechanism::parse)
                        .filter(|m| m.is_oauth())
                        .unwrap_or(Mechanism::Plain),
                )),
                (Verb::AuthResponse, _) => None,
                (Verb::Mail, _) => Some(ScriptStep::Mail(path(line))),
                (Verb::Rcpt, _) => Some(ScriptStep::Rcpt(path(line))),
                (Verb::Data, _) => Some(ScriptStep::Data),
                (Verb::Rset, _) => Some(ScriptStep::Rset),
                (Verb::Noop, _) => Some(ScriptStep::Noop),
                (Verb::Quit, _) => Some(ScriptStep::Quit),
                (Verb::Connect | Verb::DataEnd | Verb::Bdat | Verb::Other, _) => {
                    Some(ScriptStep::Raw(line.clone()))
                }
            },
            _ => None,
        };
        if let Some(s) = step {
            out.push_str(&s.line());
            out.push('\n');
        }
    }
    out
}

/// The address of a `MAIL FROM:<…>` / `RCPT TO:<…>` line; `None` (use the flags) when empty.
fn path(line: &str) -> Option<String> {
    let start = line.find('<')? + 1;
    let end = start + line[start..].find('>')?;
    Some(line[start..end].to_string()).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step_case_insensitively_with_comments() {
        let s = Script::parse(
            b"# a comment\n\nehlo\nStartTLS\r\nauth plain\nAUTH LOGIN\nmail\nMAIL <a@b.example>\nrcpt c@d.example\nRCPT\ndata\nrset\nnoop\nraw VRFY postmaster\nreconnect\nHELO\nwait 3\nquit\n",
        )
        .unwrap();
        let steps: Vec<_> = s.steps.iter().map(|(_, s)| s.line()).collect();
        assert_eq!(
            steps,
            [
                "EHLO",
                "STARTTLS",
                "AUTH PLAIN",
                "AUTH LOGIN",
                "MAIL",
                "MAIL a@b.example",
                "RCPT c@d.example",
                "RCPT",
                "DATA",
                "RSET",
                "NOOP",
                "RAW VRFY postmaster",
                "RECONNECT",
                "HELO",
                "WAIT 3",
                "QUIT"
            ]
        );
        assert_eq!(s.steps[0].0, 3, "line numbers count comments and blanks");
        assert!(s.needs_credentials() && s.needs_from() && s.needs_message());
    }

    #[test]
    fn unknown_steps_and_bad_arguments_name_their_line() {
        let e = Script::parse(b"EHLO\nFROB\n").unwrap_err();
        assert!(
            matches!(&e, ScriptError::Unknown { line: 2, word } if word == "FROB"),
            "{e}"
        );
        assert!(e.to_string().starts_with("line 2: unknown step \"FROB\""));
        assert!(matches!(
            Script::parse(b"AUTH CRAM-MD5").unwrap_err(),
            ScriptError::Invalid { line: 1, .. }
        ));
        assert!(matches!(
            Script::parse(b"EHLO\nRAW NOOP\rRSET\n").unwrap_err(),
            ScriptError::Input { line: 2, .. }
        ));
        assert!(matches!(
            Script::parse(b"RAW NOOP\0x").unwrap_err(),
            ScriptError::Input { line: 1, .. }
        ));
        assert!(matches!(
            Script::parse(b"MAIL a b@c").unwrap_err(),
            ScriptError::Input { line: 1, .. }
        ));
        assert!(matches!(
            Script::parse(b"STARTTLS now").unwrap_err(),
            ScriptError::Invalid { line: 1, .. }
        ));
        for bad in [&b"WAIT"[..], b"WAIT 0", b"WAIT 601", b"WAIT x"] {
            assert!(matches!(
                Script::parse(bad).unwrap_err(),
                ScriptError::Invalid { line: 1, .. }
            ));
        }
        assert_eq!(
            Script::parse(&vec![b'#'; MAX_SCRIPT_BYTES + 1]).unwrap_err(),
            ScriptError::TooLarge
        );
        assert_eq!(Script::parse(b"\xff").unwrap_err(), ScriptError::NotText);
        let escaped = Script::parse(b"\x1b[2J").unwrap_err().to_string();
        assert!(!escaped.contains('\x1b'), "{escaped:?}");
    }

    #[test]
    fn bare_rcpt_needs_a_to_address_per_transaction() {
        let s = Script::parse(b"MAIL\nRCPT\nRCPT\nDATA\nMAIL\nRCPT\n").unwrap();
        assert!(s.check_recipients(2).is_ok());
        let e = s.check_recipients(1).unwrap_err();
        assert!(matches!(e, ScriptError::Invalid { line: 3, .. }), "{e}");
        let explicit = Script::parse(b"MAIL\nRCPT a@b.example\nRCPT c@d.example\n").unwrap();
        assert!(explicit.check_recipients(0).is_ok());
    }
}
