//! SMTP commands: validation and wire encoding.
//!
//! Every user-supplied argument is checked for CR, LF and NUL before it can reach the wire, so
//! a field can never smuggle a second command into the session.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A user-supplied value that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("{field} contains a carriage return (CR); it would end the SMTP command early")]
    Cr { field: String },
    #[error("{field} contains a line feed (LF); it would end the SMTP command early")]
    Lf { field: String },
    #[error("{field} contains a NUL byte, which SMTP does not allow")]
    Nul { field: String },
    #[error("{field} is empty")]
    Empty { field: String },
    #[error("{field} is not a valid address: {reason}")]
    BadAddress { field: String, reason: String },
    /// Which character and where is not said: for a secret that would be a hint.
    #[error("{field} contains a line break (CR or LF) or a NUL byte, which AUTH cannot carry")]
    SecretControl { field: String },
    /// The AUTH mechanism and the kind of secret given do not go together.
    #[error("AUTH {mechanism} not sent: {why}")]
    WrongSecret {
        mechanism: &'static str,
        why: &'static str,
    },
}

/// Refuses CR, LF and NUL in a value that becomes part of a command line.
pub fn check_arg(field: &str, value: &str) -> Result<(), InputError> {
    let field = field.to_string();
    if value.contains('\r') {
        Err(InputError::Cr { field })
    } else if value.contains('\n') {
        Err(InputError::Lf { field })
    } else if value.contains('\0') {
        Err(InputError::Nul { field })
    } else {
        Ok(())
    }
}

/// Checks an envelope address: no CR/LF/NUL, no angle brackets or spaces inside, and
/// `local@domain` unless it is the null sender `""`.
pub(crate) fn check_address(field: &str, address: &str) -> Result<(), InputError> {
    check_arg(field, address)?;
    let bad = |reason: &str| InputError::BadAddress {
        field: field.to_string(),
        reason: reason.into(),
    };
    if address.is_empty() {
        return Ok(()); // the null reverse-path <>
    }
    if address.contains(['<', '>']) {
        return Err(bad("leave out the angle brackets; smtpscope adds them"));
    }
    if address.chars().any(char::is_whitespace) {
        return Err(bad("it contains white space"));
    }
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(bad("expected local-part@domain")),
    }
}

/// Which command a line was, without its arguments: the key the classifier and the timeline use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    /// Not a command: the greeting after connect (or after the implicit-TLS handshake).
    Connect,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    /// A continuation line of an AUTH exchange (user name, password, PLAIN blob).
    AuthResponse,
    Mail,
    Rcpt,
    Data,
    /// The message body and its final `.`; also BDAT's LAST chunk, which ends the message.
    DataEnd,
    /// A BDAT chunk that is not the last (RFC 3030).
    Bdat,
    Rset,
    Noop,
    Quit,
    /// Anything typed by hand that is not one of the verbs above.
    Other,
}

impl Verb {
    /// The name used in catalogs and JSON (`MAIL`, `DATA-END`, …).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Connect => "CONNECT",
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::AuthResponse => "AUTH-RESPONSE",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::DataEnd => "DATA-END",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::Other => "OTHER",
        }
    }

    /// Recognises the verb of a raw line typed by the user.
    pub fn of_line(line: &str) -> Verb {
        let word = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match word.as_str() {
            "EHLO" => Verb::Ehlo,
            "HELO" => Verb::Helo,
            "STARTTLS" => Verb::StartTls,
            "AUTH" => Verb::Auth,
            "MAIL" => Verb::Mail,
            "RCPT" => Verb::Rcpt,
            "DATA" => Verb::Data,
            "BDAT" => Verb::Bdat,
            "RSET" => Verb::Rset,
            "NOOP" => Verb::Noop,
            "QUIT" => Verb::Quit,
            _ => Verb::Other,
        }
    }
}

/// A command the session can send. AUTH is not here: its lines carry secrets and are built
/// by [`crate::engine::auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    StartTls,
    /// `MAIL FROM:<address> [params]`
    Mail {
        from: String,
        params: Vec<String>,
    },
    /// `RCPT TO:<address> [params]`
    Rcpt {
        to: String,
        params: Vec<String>,
    },
    Data,
    Rset,
    Noop,
    Quit,
    /// Any line typed by the user, sent as is (plus CRLF).
    Raw(String),
}

impl Command {
    pub fn verb(&self) -> Verb {
        match self {
            Command::Ehlo(_) => Verb::Ehlo,
            Command::Helo(_) => Verb::Helo,
            Command::StartTls => Verb::StartTls,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Rset => Verb::Rset,
            Command::Noop => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::Raw(line) => Verb::of_line(line),
        }
    }

    /// Validates the arguments; an error here means nothing was sent.
    pub(crate) fn validate(&self) -> Result<(), InputError> {
        match self {
            Command::Ehlo(name) | Command::Helo(name) => {
                check_arg("EHLO name", name)?;
                if name.trim().is_empty() {
                    return Err(InputError::Empty {
                        field: "EHLO name".into(),
                    });
                }
                Ok(())
            }
            Command::Mail { from, params } => {
                check_address("MAIL FROM address", from)?;
                params
                    .iter()
                    .try_for_each(|p| check_arg("MAIL FROM parameter", p))
            }
            Command::Rcpt { to, params } => {
                check_address("RCPT TO address", to)?;
                if to.is_empty() {
                    return Err(InputError::Empty {
                        field: "RCPT TO address".into(),
                    });
                }
                params
                    .iter()
                    .try_for_each(|p| check_arg("RCPT TO parameter", p))
            }
            Command::Raw(line) => check_arg("raw command", line),
            _ => Ok(()),
        }
    }

    /// The line as sent, without CRLF.
    pub fn line(&self) -> String {
        let with_params = |head: String, params: &[String]| {
            if params.is_empty() {
                head
            } else {
                format!("{head} {}", params.join(" "))
            }
        };
        match self {
            Command::Ehlo(name) => format!("EHLO {name}"),
            Command::Helo(name) => format!("HELO {name}"),
            Command::StartTls => "STARTTLS".into(),
            Command::Mail { from, params } => with_params(format!("MAIL FROM:<{from}>"), params),
            Command::Rcpt { to, params } => with_params(format!("RCPT TO:<{to}>"), params),
            Command::Data => "DATA".into(),
            Command::Rset => "RSET".into(),
            Command::Noop => "NOOP".into(),
            Command::Quit => "QUIT".into(),
            Command::Raw(line) => line.clone(),
        }
    }

    /// Validated wire bytes, CRLF included.
    pub fn encode(&self) -> Result<Vec<u8>, InputError> {
        self.validate()?;
        let mut bytes = self.line().into_bytes();
        bytes.extend_from_slice(b"\r\n");
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_envelope_commands() {
        let mail = Command::Mail {
            from: "a@example.com".into(),
            params: vec!["BODY=8BITMIME".into()],
        };
        assert_eq!(
            mail.encode().unwrap(),
            b"MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
        );
        let rcpt = Command::Rcpt {
            to: "b@example.com".into(),
            params: vec![],
        };
        assert_eq!(rcpt.encode().unwrap(), b"RCPT TO:<b@example.com>\r\n");
        assert_eq!(
            Command::Mail {
                from: String::new(),
                params: vec![]
            }
            .line(),
            "MAIL FROM:<>"
        );
        assert_eq!(
            Command::Ehlo("client.example".into()).encode().unwrap(),
            b"EHLO client.example\r\n"
        );
        assert_eq!(Command::Quit.encode().unwrap(), b"QUIT\r\n");
    }

    #[test]
    fn refuses_injection_in_every_argument() {
        let cases = [
            Command::Ehlo("x\r\nMAIL FROM:<a@b>".into()),
            Command::Helo("x\n".into()),
            Command::Mail {
                from: "a@b\r\nRCPT TO:<c@d>".into(),
                params: vec![],
            },
            Command::Mail {
                from: "a@b".into(),
                params: vec!["X=1\rY".into()],
            },
            Command::Rcpt {
                to: "c@d\0".into(),
                params: vec![],
            },
            Command::Raw("NOOP\r\nQUIT".into()),
        ];
        for c in cases {
            assert!(c.encode().is_err(), "{c:?} must be refused");
        }
        assert_eq!(
            check_arg("f", "a\rb"),
            Err(InputError::Cr { field: "f".into() })
        );
        assert_eq!(
            check_arg("f", "a\nb"),
            Err(InputError::Lf { field: "f".into() })
        );
        assert_eq!(
            check_arg("f", "a\0b"),
            Err(InputError::Nul { field: "f".into() })
        );
    }

    #[test]
    fn address_checks() {
        assert!(check_address("a", "user@example.com").is_ok());
        assert!(check_address("a", "").is_ok());
        assert!(check_address("a", "<user@example.com>").is_err());
        assert!(check_address("a", "user example@x").is_err());
        assert!(check_address("a", "user").is_err());
        assert!(check_address("a", "@x").is_err());
        assert!(
            Command::Rcpt {
                to: String::new(),
                params: vec![]
            }
            .validate()
            .is_err()
        );
        assert!(Command::Ehlo(" ".into()).validate().is_err());
    }

    #[test]
    fn verbs_of_raw_lines() {
        assert_eq!(Verb::of_line("mail from:<a@b>"), Verb::Mail);
        assert_eq!(Verb::of_line("VRFY x"), Verb::Other);
        assert_eq!(Verb::of_line(""), Verb::Other);
        assert_eq!(Command::Raw("starttls".into()).verb(), Verb::StartTls);
    }
}
