//! `run`'s flags for composing the message (swaks-like) and for sending several: new flags
//! in their own struct, flattened into `run`'s.

use std::path::PathBuf;

use clap::Args;

use crate::cli::{CliError, EnvelopeArgs};
use crate::engine::command::check_arg;
use crate::engine::compose::{Composition, read_attachments};
use crate::engine::limited::{self, limit};
use crate::engine::runner::{Batch, MAX_COUNT, Rate};

/// The message's parts, and how many to send.
#[derive(Debug, Clone, Args, Default)]
pub struct MessageArgs {
    /// Add a header, 'Name: value' (repeatable). It replaces a generated header of the same
    /// name (From, To, Subject, Date, Message-ID, X-Mailer); a MIME header (Content-Type…)
    /// is sent as well as the generated one, which the lint reports as a duplicate
    #[arg(
        long,
        value_name = "'NAME: VALUE'",
        help_heading = "Message",
        conflicts_with = "data"
    )]
    pub header: Vec<String>,
    /// The Subject [default: smtpscope test message]
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Message",
        conflicts_with = "data"
    )]
    pub subject: Option<String>,
    /// The text body: TEXT, or @FILE [default: a short test text]
    #[arg(
        long,
        value_name = "TEXT|@FILE",
        help_heading = "Message",
        conflicts_with = "data"
    )]
    pub body: Option<String>,
    /// An HTML body (with the text body, as multipart/alternative): @FILE or TEXT
    #[arg(
        long,
        value_name = "@FILE",
        help_heading = "Message",
        conflicts_with = "data"
    )]
    pub html: Option<String>,
    /// Attach a file (repeatable); its MIME type comes from its name
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Message",
        conflicts_with = "data"
    )]
    pub attach: Vec<PathBuf>,
    /// Print the message as it was sent (after dot-stuffing) in the text output
    #[arg(long, help_heading = "Output")]
    pub show_message: bool,
    /// Send N messages (one session unless --reconnect-every)
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Flow")]
    pub count: u32,
    /// Pace the messages: N/s, N/m or N/h (e.g. 2/s)
    #[arg(long, value_name = "R/s", help_heading = "Flow")]
    pub rate: Option<String>,
    /// Open a new session (QUIT, connect, log in again) every K messages
    #[arg(long, value_name = "K", help_heading = "Flow")]
    pub reconnect_every: Option<u32>,
}

impl MessageArgs {
    /// Whether any part of the message was given (else the default message is sent).
    pub fn composes(&self) -> bool {
        !self.header.is_empty()
            || self.subject.is_some()
            || self.body.is_some()
            || self.html.is_some()
            || !self.attach.is_empty()
    }

    /// The batch, or a usage error.
    pub fn batch(&self) -> Result<Batch, CliError> {
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(CliError::Usage(format!(
                "--count must be between 1 and {MAX_COUNT}"
            )));
        }
        if self.reconnect_every == Some(0) {
            return Err(CliError::Usage(
                "--reconnect-every must be at least 1".into(),
            ));
        }
        let rate = match &self.rate {
            Some(r) => {
                check_arg("--rate", r).map_err(|e| CliError::Usage(e.to_string()))?;
                Some(Rate::parse(r).map_err(|e| CliError::Usage(format!("--rate: {e}")))?)
            }
            None => None,
        };
        Ok(Batch {
            count: self.count,
            rate,
            reconnect_every: self.reconnect_every,
        })
    }

    /// The composition from the flags, files read now (bounded), or a usage error.
    pub fn composition(&self, envelope: &EnvelopeArgs) -> Result<Composition, CliError> {
        let usage = |e: crate::engine::command::InputError| CliError::Usage(e.to_string());
        let mut headers = Vec::new();
        for h in &self.header {
            check_arg("--header", h).map_err(usage)?;
            headers.push(parse_header(h)?);
        }
        if let Some(s) = &self.subject {
            check_arg("--subject", s).map_err(usage)?;
        }
        let body = match &self.body {
            Some(b) => Some(text_or_file("--body", b)?),
            None => None,
        };
        let html = match &self.html {
            Some(h) => Some(text_or_file("--html", h)?),
            None => None,
        };
        let attachments = read_attachments(&self.attach)
            .map_err(|e| CliError::Usage(format!("--attach: {e}")))?;
        Ok(Composition {
            from: envelope.from.clone().unwrap_or_default(),
            to: envelope.to.clone(),
            subject: self.subject.clone(),
            headers,
            body,
            html,
            attachments,
        })
    }
}

/// `--header 'Name: value'` into its parts.
fn parse_header(h: &str) -> Result<(String, String), CliError> {
    crate::engine::compose::parse_header(h).map_err(|e| CliError::Usage(format!("--header {e}")))
}

/// TEXT, or the contents of @FILE (bounded, UTF-8).
fn text_or_file(flag: &str, value: &str) -> Result<String, CliError> {
    if let Some(path) = value.strip_prefix('@') {
        return Ok(limited::read_to_string(
            std::path::Path::new(path),
            "a message part (--body/--html @FILE)",
            limit::BODY,
        )?);
    }
    check_arg(flag, value).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            parse_header("X-SES-CONFIGURATION-SET: tracking").unwrap(),
            ("X-SES-CONFIGURATION-SET".into(), "tracking".into())
        );
        for bad in ["no colon", ": empty name", "Bad Name: x"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
        let args = MessageArgs {
            header: vec!["X-A: b\r\nBcc: evil@example.com".into()],
            ..Default::default()
        };
        assert!(args.composition(&EnvelopeArgs::default()).is_err());
    }

    #[test]
    fn batch_bounds() {
        let ok = MessageArgs {
            count: 10,
            rate: Some("2/s".into()),
            reconnect_every: Some(3),
            ..Default::default()
        };
        assert_eq!(ok.batch().unwrap().per_connection(), 3);
        for bad in [
            MessageArgs {
                count: 0,
                ..Default::default()
            },
            MessageArgs {
                count: MAX_COUNT + 1,
                ..Default::default()
            },
            MessageArgs {
                count: 2,
                reconnect_every: Some(0),
                ..Default::default()
            },
            MessageArgs {
                count: 2,
                rate: Some("fast".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.batch().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn attachments_are_read_with_their_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello").unwrap();
        let args = MessageArgs {
            attach: vec![path],
            body: Some("see attached".into()),
            count: 1,
            ..Default::default()
        };
        let c = args.composition(&EnvelopeArgs::default()).unwrap();
        assert_eq!(c.attachments[0].content_type, "text/plain");
        assert_eq!(c.attachments[0].bytes, b"hello");
        assert!(args.composes());
        let missing = MessageArgs {
            attach: vec![dir.path().join("nope.bin")],
            ..Default::default()
        };
        assert!(missing.composition(&EnvelopeArgs::default()).is_err());
    }
}
