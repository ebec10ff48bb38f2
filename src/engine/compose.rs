//! Composing a message from parts (headers, subject, text and HTML bodies, attachments), the
//! way swaks does from its flags. The MIME structure is built by the `mail-builder` crate:
//! multipart boundaries, transfer encodings and RFC 2047 encoded-words are easy to get subtly
//! wrong by hand, and a debugger must send what it says it sends.
//!
//! A header given by the user replaces a generated one of the same name (From, To, Subject,
//! Date, Message-ID, X-Mailer). The MIME headers (MIME-Version, Content-Type,
//! Content-Transfer-Encoding) are the builder's: one given by the user is sent as well, so the
//! message carries it twice, which is how the lint's duplicate-header finding can be shown.

use chrono::Utc;
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use thiserror::Error;

/// A file to attach, already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name shown to the recipient.
    pub name: String,
    /// The MIME type, guessed from the file name.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The parts of a message to compose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composition {
    pub from: String,
    pub to: Vec<String>,
    pub subject: Option<String>,
    /// Extra headers, in order, as (name, value).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Why a message could not be composed.
#[derive(Debug, Error)]
pub enum ComposeError {
    #[error("the message could not be built: {0}")]
    Build(#[from] std::io::Error),
    #[error("the built message is not text: {0}")]
    NotText(#[from] std::string::FromUtf8Error),
}

/// The text body used when none is given.
pub const DEFAULT_BODY: &str = "This is a test message sent by smtpscope, an SMTP session debugger.\n\nIf you can read it, the whole session worked: connection, TLS, authentication,\nenvelope and authorization.\n";
/// The subject used when none is given.
pub const DEFAULT_SUBJECT: &str = "smtpscope test message";

/// Names a user header replaces instead of adding.
const GENERATED: [&str; 6] = ["Date", "Message-ID", "From", "To", "Subject", "X-Mailer"];

impl Composition {
    /// Whether the user set a header of this name.
    fn user_sets(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Builds the message with a fresh Date and Message-ID (so each of several messages has
    /// its own), CRLF line endings.
    pub fn render(&self) -> Result<String, ComposeError> {
        let now = Utc::now();
        let id = super::message::message_id(&self.from, now);
        let mut b = MessageBuilder::new();
        if !self.user_sets("Date") {
            b = b.header("Date", Raw::new(now.to_rfc2822()));
        }
        if !self.user_sets("Message-ID") {
            b = b.header("Message-ID", Raw::new(format!("<{id}>")));
        }
        if !self.user_sets("From") {
            b = b.from(self.from.as_str());
        }
        if !self.user_sets("To") && !self.to.is_empty() {
            b = b.to(self.to.iter().map(String::as_str).collect::<Vec<_>>());
        }
        if !self.user_sets("Subject") {
            b = b.subject(self.subject.as_deref().unwrap_or(DEFAULT_SUBJECT));
        }
        if !self.user_sets("X-Mailer") {
            b = b.header("X-Mailer", Raw::new("smtpscope"));
        }
        for (name, value) in &self.headers {
            b = b.header(name.as_str(), Raw::new(value.as_str()));
        }
        match (&self.body, &self.html) {
            (None, Some(_)) => {}
            (body, _) => b = b.text_body(body.as_deref().unwrap_or(DEFAULT_BODY)),
        }
        if let Some(html) = &self.html {
            b = b.html_body(html.as_str());
        }
        for a in &self.attachments {
            b = b.attachment(a.content_type.as_str(), a.name.as_str(), a.bytes.as_slice());
        }
        let _ = GENERATED;
        Ok(String::from_utf8(b.write_to_vec()?)?)
    }
}

/// `Name: value` into its parts; the name is printable ASCII without spaces or colons
/// (RFC 5322 §2.2). The error says what was expected.
pub fn parse_header(h: &str) -> Result<(String, String), String> {
    let bad = || {
        format!(
            "{h:?} is not 'Name: value' (a name of letters, digits and dashes, a colon, then the value)"
        )
    };
    let (name, value) = h.split_once(':').ok_or_else(bad)?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(bad());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Why files could not be attached.
#[derive(Debug, Error)]
pub enum AttachError {
    #[error(transparent)]
    Read(#[from] super::limited::ReadError),
    #[error("the attachments add up to more than {} MiB", .0 >> 20)]
    Total(u64),
    #[error(transparent)]
    Name(#[from] super::command::InputError),
}

/// Reads files to attach, each and all together bounded ([`limit::ATTACHMENT`],
/// [`limit::ATTACHMENTS`]), typed by their names.
///
/// [`limit::ATTACHMENT`]: super::limited::limit::ATTACHMENT
/// [`limit::ATTACHMENTS`]: super::limited::limit::ATTACHMENTS
pub fn read_attachments(paths: &[std::path::PathBuf]) -> Result<Vec<Attachment>, AttachError> {
    use super::limited::{self, limit};
    const WHAT: &str = "an attachment";
    let mut out = Vec::new();
    let mut total = 0u64;
    for path in paths {
        let file = limited::open(path, WHAT, limit::ATTACHMENT)?;
        let mut bytes = Vec::new();
        limited::read_capped(
            file,
            &mut bytes,
            WHAT,
            &limited::shown(path),
            limit::ATTACHMENT,
        )?;
        total += bytes.len() as u64;
        if total > limit::ATTACHMENTS {
            return Err(AttachError::Total(limit::ATTACHMENTS));
        }
        let name = path
            .file_name()
            .map_or_else(|| "attachment".into(), |n| n.to_string_lossy().into_owned());
        super::command::check_arg("an attachment's file name", &name)?;
        out.push(Attachment {
            content_type: guess_type(&name),
            name,
            bytes,
        });
    }
    Ok(out)
}

/// The MIME type of a file, from its name (`application/octet-stream` when unknown).
pub fn guess_type(name: &str) -> String {
    mime_guess::from_path(name)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::lint::{LintInput, lint};
    use super::*;

    fn base() -> Composition {
        Composition {
            from: "me@example.com".into(),
            to: vec!["you@example.net".into()],
            ..Composition::default()
        }
    }

    fn headers(text: &str) -> &str {
        text.split("\r\n\r\n").next().unwrap()
    }

    #[test]
    fn default_message_lints_clean_and_has_fresh_ids() {
        let a = base().render().unwrap();
        let b = base().render().unwrap();
        let id = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_string()
        };
        assert_ne!(id(&a), id(&b));
        assert!(a.contains("@example.com>"), "{a}");
        assert!(a.contains("Subject: smtpscope test message"));
        assert!(a.contains("If you can read it"));
        assert!(!a.replace("\r\n", "").contains('\n'), "CRLF only");
        let found = lint(&LintInput {
            message: a.as_bytes(),
            mail_from: Some("me@example.com"),
            ses_region: Some("us-east-1"),
            ..LintInput::default()
        });
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn user_headers_replace_generated_ones_but_mime_ones_double() {
        let c = Composition {
            headers: vec![
                ("Subject".into(), "mine".into()),
                ("X-SES-CONFIGURATION-SET".into(), "tracking".into()),
                ("Content-Type".into(), "text/html".into()),
            ],
            subject: Some("theirs".into()),
            ..base()
        };
        let text = c.render().unwrap();
        let h = headers(&text);
        assert!(h.contains("Subject: mine") && !h.contains("theirs"), "{h}");
        assert!(h.contains("X-SES-CONFIGURATION-SET: tracking"));
        let found = lint(&LintInput {
            message: text.as_bytes(),
            ..LintInput::default()
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "duplicate-header");
        assert!(found[0].text.starts_with("Content-Type appears 2 times"));
    }

    #[test]
    fn html_and_attachments_make_multipart() {
        let c = Composition {
            subject: Some("caf\u{e9}".into()),
            body: Some("plain".into()),
            html: Some("<p>html</p>".into()),
            attachments: vec![Attachment {
                name: "report.pdf".into(),
                content_type: guess_type("report.pdf"),
                bytes: b"%PDF-1.4 example".to_vec(),
            }],
            ..base()
        };
        let text = c.render().unwrap();
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("text/html"));
        assert!(text.contains("application/pdf"));
        assert!(text.contains("filename=\"report.pdf\""));
        // The non-ASCII subject is encoded, so the headers stay ASCII.
        assert!(headers(&text).is_ascii());
        assert_eq!(guess_type("x.unknown-ext"), "application/octet-stream");
        assert_eq!(guess_type("a.png"), "image/png");
    }
}
