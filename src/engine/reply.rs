//! Incremental SMTP reply parser.
//!
//! Bytes go in as they arrive from the socket; whole replies come out. Every line keeps its raw
//! bytes (without the line ending) so front ends can show exactly what the server sent, even
//! when it is not UTF-8. Memory is bounded: an unterminated line longer than [`Limits::max_line`]
//! a reply with more than [`Limits::max_lines`] lines, or one whose lines add up to more than
//! [`Limits::max_reply_bytes`], is a protocol error, not a buffer that grows without end.

use std::fmt;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bounds that keep a hostile server from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted line, line ending excluded.
    pub max_line: usize,
    /// Most lines in one multiline reply.
    pub max_lines: usize,
    /// Most bytes in one reply, all lines together. Without it, `max_lines` lines of
    /// `max_line` bytes each (256 MiB by default) would all be held at once.
    pub max_reply_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // RFC 5321 allows 512 octets per reply line; real servers exceed that, so be generous
        // but finite.
        // A 4,096-line EHLO of ordinary keywords is about 100 KiB; 1 MiB leaves room for
        // chatty servers while keeping a hostile one from holding the client's memory.
        Self {
            max_line: 64 * 1024,
            max_lines: 4096,
            max_reply_bytes: 1024 * 1024,
        }
    }
}

/// An RFC 3463 enhanced status code such as `5.7.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `c.s.d` at the start of `text`, returning the code and the rest of the text.
    pub(crate) fn parse_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        let end = text.find(' ').unwrap_or(text.len());
        let token = &text[..end];
        let mut parts = token.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() || !matches!(class, 2 | 4 | 5) {
            return None;
        }
        // RFC 3463: subject is 1-3 digits, detail 1-3 digits.
        let ok = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !ok(subject) || !ok(detail) {
            return None;
        }
        let code = EnhancedCode {
            class,
            subject: subject.parse().ok()?,
            detail: detail.parse().ok()?,
        };
        Some((code, text[end..].trim_start()))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One line of a reply, as received. In JSON it is a plain string when it is clean UTF-8,
/// otherwise an object holding the exact bytes in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "LineRepr", try_from = "LineRepr")]
pub struct ReplyLine {
    /// The bytes of the line without CRLF (or bare LF).
    pub raw: Vec<u8>,
    /// True when the line ended in a bare LF rather than CRLF.
    pub bare_lf: bool,
}

impl ReplyLine {
    /// The text after the code and separator, decoded lossily.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(self.raw.get(4..).unwrap_or_default()).into_owned()
    }

    /// Whether the raw bytes are valid UTF-8.
    #[cfg(test)]
    pub(crate) fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.raw).is_ok()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LineRepr {
    Text(String),
    Raw { base64: String, bare_lf: bool },
}

impl From<ReplyLine> for LineRepr {
    fn from(line: ReplyLine) -> LineRepr {
        match String::from_utf8(line.raw) {
            Ok(text) if !line.bare_lf => LineRepr::Text(text),
            Ok(text) => LineRepr::Raw {
                base64: B64.encode(text.as_bytes()),
                bare_lf: true,
            },
            Err(e) => LineRepr::Raw {
                base64: B64.encode(e.as_bytes()),
                bare_lf: line.bare_lf,
            },
        }
    }
}

impl TryFrom<LineRepr> for ReplyLine {
    type Error = base64::DecodeError;
    fn try_from(repr: LineRepr) -> Result<ReplyLine, Self::Error> {
        Ok(match repr {
            LineRepr::Text(text) => ReplyLine {
                raw: text.into_bytes(),
                bare_lf: false,
            },
            LineRepr::Raw { base64, bare_lf } => ReplyLine {
                raw: B64.decode(base64)?,
                bare_lf,
            },
        })
    }
}

/// A complete SMTP reply: one code, one or more lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    pub lines: Vec<ReplyLine>,
}

/// The RFC 5321 class of a reply code's first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyClass {
    /// 2yz
    Positive,
    /// 3yz
    Intermediate,
    /// 4yz
    Transient,
    /// 5yz
    Permanent,
}

impl Reply {
    /// Builds a reply from text lines, for tests and the simulator.
    pub fn from_lines(code: u16, texts: &[&str]) -> Reply {
        let n = texts.len();
        let lines = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let sep = if i + 1 == n { ' ' } else { '-' };
                ReplyLine {
                    raw: format!("{code}{sep}{t}").into_bytes(),
                    bare_lf: false,
                }
            })
            .collect::<Vec<_>>();
        let enhanced = lines
            .last()
            .and_then(|l| EnhancedCode::parse_prefix(&l.text()).map(|e| e.0));
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    pub fn class(&self) -> ReplyClass {
        match self.code / 100 {
            2 => ReplyClass::Positive,
            3 => ReplyClass::Intermediate,
            4 => ReplyClass::Transient,
            _ => ReplyClass::Permanent,
        }
    }

    /// All lines' texts joined with newlines, decoded lossily.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(ReplyLine::text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last line's text, which carries the meaning in most replies.
    pub fn last_text(&self) -> String {
        self.lines.last().map(ReplyLine::text).unwrap_or_default()
    }

    /// Text of the last line with a leading enhanced code removed.
    pub fn message(&self) -> String {
        let t = self.last_text();
        match EnhancedCode::parse_prefix(&t) {
            Some((_, rest)) => rest.to_string(),
            None => t,
        }
    }

    /// Total raw size of the reply, for summaries.
    pub fn raw_len(&self) -> usize {
        self.lines.iter().map(|l| l.raw.len() + 2).sum()
    }

    /// True when any line used a bare LF ending.
    pub fn has_bare_lf(&self) -> bool {
        self.lines.iter().any(|l| l.bare_lf)
    }
}

/// Why the byte stream could not be read as SMTP replies.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    #[error("reply line longer than {limit} bytes without a line ending")]
    LineTooLong { limit: usize },
    #[error("reply has more than {limit} lines")]
    TooManyLines { limit: usize },
    #[error("reply larger than {limit} bytes in total")]
    ReplyTooLarge { limit: usize },
    /// `line` holds the raw bytes; the message shows an escaped preview of them.
    #[error(
        "not an SMTP reply line (expected a 3-digit code 200-599): {}",
        preview(line)
    )]
    BadCode { line: Vec<u8> },
    #[error("multiline reply changed its code from {expected} to {found}")]
    MismatchedCode { expected: u16, found: u16 },
    #[error(
        "bad separator after the code (expected ' ' or '-'): {}",
        preview(line)
    )]
    BadSeparator { line: Vec<u8> },
}

/// Incremental parser: feed bytes with [`ReplyParser::push`], take replies with
/// [`ReplyParser::next_reply`].
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: Limits,
    buf: Vec<u8>,
    /// Continuation lines of the reply being assembled.
    pending: Vec<ReplyLine>,
    /// Raw bytes held in `pending`.
    pending_bytes: usize,
    pending_code: Option<u16>,
}

impl ReplyParser {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends received bytes. Call [`next_reply`](Self::next_reply) until it returns
    /// `Ok(None)` after every push; that is what keeps the buffer bounded.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a complete line or reply.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.pending_bytes
    }

    /// True when part of a reply (a partial line or continuation lines) is waiting.
    pub fn is_mid_reply(&self) -> bool {
        !self.buf.is_empty() || !self.pending.is_empty()
    }

    /// Takes whatever is buffered, e.g. bytes a server sent after `220 Ready to start TLS`
    /// that must not be read as part of the TLS session.
    pub fn take_leftover(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.pending.drain(..) {
            out.extend_from_slice(&line.raw);
            out.extend_from_slice(if line.bare_lf { b"\n" } else { b"\r\n" });
        }
        out.append(&mut self.buf);
        self.reset_pending();
        out
    }

    /// Forgets a partly assembled reply (after it is taken or found malformed).
    fn reset_pending(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
        self.pending_code = None;
    }

    /// Returns the next complete reply, `Ok(None)` when more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
                // A line of exactly max_line bytes may sit here with its CR while the LF is
                // still in flight; refusing it would make the limit depend on segmentation.
                let room = self.limits.max_line + usize::from(self.buf.last() == Some(&b'\r'));
                if self.buf.len() > room {
                    self.buf.clear();
                    self.reset_pending();
                    return Err(ReplyError::LineTooLong {
                        limit: self.limits.max_line,
                    });
                }
                return Ok(None);
            };
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            let bare_lf = line.last() != Some(&b'\r');
            if !bare_lf {
                line.pop();
            }
            if line.len() > self.limits.max_line {
                self.reset_pending();
                return Err(ReplyError::LineTooLong {
                    limit: self.limits.max_line,
                });
            }
            if let Some(reply) = self.accept_line(ReplyLine { raw: line, bare_lf })? {
                return Ok(Some(reply));
            }
        }
    }

    fn accept_line(&mut self, line: ReplyLine) -> Result<Option<Reply>, ReplyError> {
        let raw = &line.raw;
        let Some(code) = parse_code(raw) else {
            let line = raw.clone();
            self.reset_pending();
            return Err(ReplyError::BadCode { line });
        };
        let last = match raw.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => {
                let line = raw.clone();
                self.reset_pending();
                return Err(ReplyError::BadSeparator { line });
            }
        };
        if let Some(expected) = self.pending_code.filter(|&expected| expected != code) {
            self.reset_pending();
            return Err(ReplyError::MismatchedCode {
                expected,
                found: code,
            });
        }
        if self.pending.len() + 1 > self.limits.max_lines {
            self.reset_pending();
            return Err(ReplyError::TooManyLines {
                limit: self.limits.max_lines,
            });
        }
        if self.pending_bytes + raw.len() > self.limits.max_reply_bytes {
            self.reset_pending();
            return Err(ReplyError::ReplyTooLarge {
                limit: self.limits.max_reply_bytes,
            });
        }
        self.pending_bytes += raw.len();
        self.pending.push(line);
        if !last {
            self.pending_code = Some(code);
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.pending);
        self.reset_pending();
        let enhanced = lines
            .last()
            .and_then(|l| EnhancedCode::parse_prefix(&l.text()).map(|(e, _)| e))
            .filter(|e| u16::from(e.class) == code / 100);
        Ok(Some(Reply {
            code,
            enhanced,
            lines,
        }))
    }
}

/// The start of a bad line, escaped, for an error message: a hostile line can be 64 KiB.
/// The error keeps the whole line so the session can mask secrets in it before this cut.
fn preview(raw: &[u8]) -> String {
    const SHOWN: usize = 200;
    let mut text = crate::engine::escape::escape_bytes(&raw[..raw.len().min(SHOWN)]);
    if raw.len() > SHOWN {
        let _ = write!(text, "... ({} bytes)", raw.len());
    }
    text
}

fn parse_code(raw: &[u8]) -> Option<u16> {
    let digits = raw.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    Some(
        u16::from(digits[0] - b'0') * 100
            + u16::from(digits[1] - b'0') * 10
            + u16::from(digits[2] - b'0'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::default();
        p.push(input);
        let mut out = Vec::new();
        loop {
            match p.next_reply() {
                Ok(Some(r)) => out.push(Ok(r)),
                Ok(None) => break,
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    #[test]
    fn single_line() {
        let r = parse_all(b"220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-X\r\n");
        let r = r[0].as_ref().unwrap();
        assert_eq!(r.code, 220);
        assert_eq!(
            r.last_text(),
            "email-smtp.amazonaws.com ESMTP SimpleEmailService-d-X"
        );
        assert_eq!(r.enhanced, None);
    }

    #[test]
    fn multiline_ehlo() {
        let input = b"250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 Ok\r\n";
        let r = parse_all(input);
        assert_eq!(r.len(), 1);
        let r = r[0].as_ref().unwrap();
        assert_eq!(r.lines.len(), 5);
        assert_eq!(r.lines[3].text(), "AUTH PLAIN LOGIN");
        assert_eq!(
            r.text(),
            "email-smtp.amazonaws.com\n8BITMIME\nSTARTTLS\nAUTH PLAIN LOGIN\nOk"
        );
    }

    #[test]
    fn enhanced_code() {
        let r = parse_all(b"451 4.4.2 Timeout waiting for data from client.\r\n");
        let r = r[0].as_ref().unwrap();
        assert_eq!(
            r.enhanced,
            Some(EnhancedCode {
                class: 4,
                subject: 4,
                detail: 2
            })
        );
        assert_eq!(r.message(), "Timeout waiting for data from client.");
        // A class that disagrees with the code is not taken as an enhanced code.
        let r = parse_all(b"250 5.7.8 odd\r\n");
        assert_eq!(r[0].as_ref().unwrap().enhanced, None);
        // Not an enhanced code: too many parts, bad digits.
        assert!(EnhancedCode::parse_prefix("5.7.8.1 x").is_none());
        assert!(EnhancedCode::parse_prefix("5.7 x").is_none());
        assert!(EnhancedCode::parse_prefix("5.7.1234 x").is_none());
        assert_eq!(
            EnhancedCode::parse_prefix("5.7.8").unwrap().0.to_string(),
            "5.7.8"
        );
    }

    #[test]
    fn bad_continuation_code() {
        let r = parse_all(b"250-first\r\n251 second\r\n");
        assert_eq!(
            r,
            vec![Err(ReplyError::MismatchedCode {
                expected: 250,
                found: 251
            })]
        );
    }

    #[test]
    fn garbage_codes() {
        for input in [
            &b"99 short\r\n"[..],
            b"600 six hundred\r\n",
            b"abc letters\r\n",
            b"150 one\r\n",
            b"\r\n",
        ] {
            let r = parse_all(input);
            assert!(
                matches!(r[0], Err(ReplyError::BadCode { .. })),
                "{input:?}: {r:?}"
            );
        }
        let r = parse_all(b"250_x\r\n");
        assert!(matches!(r[0], Err(ReplyError::BadSeparator { .. })));
    }

    #[test]
    fn code_only_line_is_valid() {
        let r = parse_all(b"250\r\n");
        assert_eq!(r[0].as_ref().unwrap().code, 250);
    }

    #[test]
    fn bare_lf_is_tolerated_and_flagged() {
        let r = parse_all(b"250-a\n250 b\n");
        let r = r[0].as_ref().unwrap();
        assert!(r.has_bare_lf());
        assert_eq!(r.text(), "a\nb");
    }

    #[test]
    fn overlong_line_is_an_error_and_memory_stays_bounded() {
        let limits = Limits {
            max_line: 100,
            max_lines: 10,
            max_reply_bytes: 1000,
        };
        let mut p = ReplyParser::new(limits);
        p.push(&[b'2'; 50]);
        assert_eq!(p.next_reply(), Ok(None));
        p.push(&[b'x'; 60]);
        assert_eq!(p.next_reply(), Err(ReplyError::LineTooLong { limit: 100 }));
        assert_eq!(p.buffered(), 0);
        // A long line that does end is also refused.
        let mut p = ReplyParser::new(limits);
        let mut line = b"250 ".to_vec();
        line.extend([b'y'; 200]);
        line.extend(b"\r\n");
        p.push(&line);
        assert_eq!(p.next_reply(), Err(ReplyError::LineTooLong { limit: 100 }));
    }

    #[test]
    fn a_line_at_the_limit_is_accepted_however_it_is_split() {
        let limits = Limits {
            max_line: 10,
            max_lines: 10,
            max_reply_bytes: 1000,
        };
        let input = b"250 123456\r\n";
        for cut in 0..input.len() {
            let mut p = ReplyParser::new(limits);
            p.push(&input[..cut]);
            assert_eq!(p.next_reply(), Ok(None), "cut at {cut}");
            p.push(&input[cut..]);
            assert_eq!(p.next_reply().unwrap().unwrap().code, 250, "cut at {cut}");
        }
        // One byte more is refused, split or not.
        let mut p = ReplyParser::new(limits);
        p.push(b"250 1234567");
        assert_eq!(p.next_reply(), Err(ReplyError::LineTooLong { limit: 10 }));
        let mut p = ReplyParser::new(limits);
        p.push(b"250 1234567\r\n");
        assert_eq!(p.next_reply(), Err(ReplyError::LineTooLong { limit: 10 }));
    }

    #[test]
    fn too_many_lines() {
        let limits = Limits {
            max_line: 100,
            max_lines: 3,
            max_reply_bytes: 1000,
        };
        let mut p = ReplyParser::new(limits);
        p.push(b"250-a\r\n250-b\r\n250-c\r\n250-d\r\n250 e\r\n");
        assert_eq!(p.next_reply(), Err(ReplyError::TooManyLines { limit: 3 }));
    }

    #[test]
    fn too_many_bytes_in_one_reply() {
        let limits = Limits {
            max_line: 100,
            max_lines: 100,
            max_reply_bytes: 250,
        };
        let mut p = ReplyParser::new(limits);
        let line = format!("250-{}\r\n", "x".repeat(96));
        p.push(line.repeat(2).as_bytes());
        assert_eq!(p.next_reply(), Ok(None));
        assert_eq!(p.buffered(), 200);
        p.push(line.as_bytes());
        assert_eq!(
            p.next_reply(),
            Err(ReplyError::ReplyTooLarge { limit: 250 })
        );
        assert_eq!(p.buffered(), 0, "the partial reply is dropped");
        // Exactly at the limit is fine.
        let mut p = ReplyParser::new(Limits {
            max_reply_bytes: 200,
            ..limits
        });
        p.push(format!("250-{}\r\n250 {}\r\n", "x".repeat(96), "y".repeat(96)).as_bytes());
        assert_eq!(p.next_reply().unwrap().unwrap().lines.len(), 2);
    }

    #[test]
    fn errors_show_only_the_start_of_a_long_bad_line() {
        let mut p = ReplyParser::default();
        let mut line = b"xyz".to_vec();
        line.extend(std::iter::repeat_n(b'q', 60_000));
        line.extend(b"\r\n");
        p.push(&line);
        let err = p.next_reply().unwrap_err();
        assert!(matches!(&err, ReplyError::BadCode { line } if line.len() == 60_003));
        let shown = err.to_string();
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.ends_with("... (60003 bytes)"), "{shown}");
    }

    #[test]
    fn non_utf8_is_kept_raw_and_shown_lossily() {
        let r = parse_all(b"550 bad \xff\xfe bytes\r\n");
        let r = r[0].as_ref().unwrap();
        assert_eq!(r.lines[0].raw, b"550 bad \xff\xfe bytes");
        assert!(!r.lines[0].is_utf8());
        assert_eq!(r.last_text(), "bad \u{fffd}\u{fffd} bytes");
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let input: &[u8] = b"220 hi\r\n250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250 Ok\r\n535 Authentication Credentials Invalid\r\n";
        let whole = parse_all(input);
        for cut in 0..=input.len() {
            for second in cut..=input.len() {
                let mut p = ReplyParser::default();
                let mut out = Vec::new();
                for chunk in [&input[..cut], &input[cut..second], &input[second..]] {
                    p.push(chunk);
                    while let Some(r) = p.next_reply().unwrap() {
                        out.push(Ok(r));
                    }
                }
                assert_eq!(out, whole, "cut at {cut}/{second}");
            }
        }
        // And one byte at a time.
        let mut p = ReplyParser::default();
        let mut out = Vec::new();
        for b in input {
            p.push(std::slice::from_ref(b));
            while let Some(r) = p.next_reply().unwrap() {
                out.push(Ok(r));
            }
        }
        assert_eq!(out, whole);
    }

    #[test]
    fn lines_round_trip_through_json() {
        let lines = vec![
            ReplyLine {
                raw: b"250 ok".to_vec(),
                bare_lf: false,
            },
            ReplyLine {
                raw: b"250 \xff\x1b".to_vec(),
                bare_lf: false,
            },
            ReplyLine {
                raw: b"250 lf".to_vec(),
                bare_lf: true,
            },
        ];
        let json = serde_json::to_string(&lines).unwrap();
        assert!(json.starts_with("[\"250 ok\","), "{json}");
        let back: Vec<ReplyLine> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, lines);
    }

    #[test]
    fn leftover_after_reply_is_returned() {
        let mut p = ReplyParser::default();
        p.push(b"220 Ready to start TLS\r\n250 injected\r\npartial");
        assert_eq!(p.next_reply().unwrap().unwrap().code, 220);
        assert_eq!(p.take_leftover(), b"250 injected\r\npartial");
        assert!(!p.is_mid_reply());
    }
}
