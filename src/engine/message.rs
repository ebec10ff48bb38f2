//! The message sent after DATA: line-ending normalisation, dot-stuffing, the final `.`, and the
//! default test message.
//!
//! [`DotStuffer`] works on chunks so a 40 MB file streams through a small buffer instead of
//! being loaded whole.

use chrono::Utc;

/// RFC 5321 §4.5.3.1.6: a text line may hold at most 998 octets before CRLF.
pub(crate) const MAX_LINE_OCTETS: usize = 998;

/// What the encoder noticed while streaming, for the transcript summary and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageStats {
    /// Bytes of message content read (before stuffing).
    pub bytes: u64,
    /// Bytes written to the wire, final `.` included.
    pub wire_bytes: u64,
    pub lines: u64,
    /// Lines that began with `.` and were stuffed.
    pub stuffed_lines: u64,
    /// Lines that ended in a bare LF or bare CR and were turned into CRLF.
    pub fixed_line_endings: u64,
    /// 1-based numbers of the first few lines longer than 998 octets.
    pub long_lines: Vec<u64>,
    /// Header lines (before the first empty line) that contain non-ASCII bytes.
    pub non_ascii_header_lines: Vec<u64>,
}

impl MessageStats {
    /// Human warnings about the content, given what the server advertised.
    pub(crate) fn warnings(&self, eight_bit_ok: bool) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(first) = self.long_lines.first() {
            out.push(format!(
                "{} line(s) longer than {MAX_LINE_OCTETS} octets (first: line {first}); RFC 5321 allows at most 998, servers may reject or fold them",
                self.long_lines.len()
            ));
        }
        if let (false, Some(first)) = (eight_bit_ok, self.non_ascii_header_lines.first()) {
            out.push(format!(
                "non-ASCII bytes in the headers (first: line {first}) but the server offers neither SMTPUTF8 nor 8BITMIME; encode them (RFC 2047)"
            ));
        }
        if self.fixed_line_endings > 0 {
            out.push(format!(
                "{} bare LF/CR line ending(s) were converted to CRLF",
                self.fixed_line_endings
            ));
        }
        out
    }
}

const MAX_RECORDED: usize = 8;

/// Streams message bytes into their DATA wire form.
#[derive(Debug)]
pub struct DotStuffer {
    at_line_start: bool,
    pending_cr: bool,
    line_len: usize,
    line_no: u64,
    in_headers: bool,
    line_has_non_ascii: bool,
    stats: MessageStats,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self {
            at_line_start: true,
            pending_cr: false,
            line_len: 0,
            line_no: 1,
            in_headers: true,
            line_has_non_ascii: false,
            stats: MessageStats::default(),
        }
    }
}

impl DotStuffer {
    /// Encodes one chunk, appending wire bytes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let before = out.len();
        self.stats.bytes += chunk.len() as u64;
        for &b in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.end_line(out);
                    continue;
                }
                // A bare CR: treat it as a line end.
                self.stats.fixed_line_endings += 1;
                self.end_line(out);
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    self.stats.fixed_line_endings += 1;
                    self.end_line(out);
                }
                _ => {
                    if self.at_line_start {
                        self.at_line_start = false;
                        if b == b'.' {
                            out.push(b'.');
                            self.stats.stuffed_lines += 1;
                        }
                    }
                    if !b.is_ascii() {
                        self.line_has_non_ascii = true;
                    }
                    self.line_len += 1;
                    out.push(b);
                }
            }
        }
        self.stats.wire_bytes += (out.len() - before) as u64;
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        if self.line_len > MAX_LINE_OCTETS && self.stats.long_lines.len() < MAX_RECORDED {
            self.stats.long_lines.push(self.line_no);
        }
        if self.in_headers {
            if self.line_len == 0 {
                self.in_headers = false;
            } else if self.line_has_non_ascii
                && self.stats.non_ascii_header_lines.len() < MAX_RECORDED
            {
                self.stats.non_ascii_header_lines.push(self.line_no);
            }
        }
        self.stats.lines += 1;
        self.line_no += 1;
        self.line_len = 0;
        self.line_has_non_ascii = false;
        self.at_line_start = true;
    }

    /// What has been seen so far (for a message cut short).
    pub(crate) fn stats(&self) -> &MessageStats {
        &self.stats
    }

    /// Ends the message: completes a last unterminated line and writes `.` CRLF.
    pub fn finish(mut self, out: &mut Vec<u8>) -> MessageStats {
        let before = out.len();
        if self.pending_cr {
            self.pending_cr = false;
            self.end_line(out);
        } else if !self.at_line_start {
            self.end_line(out);
        }
        out.extend_from_slice(b".\r\n");
        self.stats.wire_bytes += (out.len() - before) as u64;
        self.stats
    }
}

/// Encodes a whole message at once (tests, small TUI-composed messages).
pub fn encode_message(content: &[u8]) -> (Vec<u8>, MessageStats) {
    let mut out = Vec::with_capacity(content.len() + 8);
    let mut stuffer = DotStuffer::default();
    stuffer.push(content, &mut out);
    let stats = stuffer.finish(&mut out);
    (out, stats)
}

/// Reverses dot-stuffing of a received DATA body (without the final `.` line).
pub fn unstuff_lines(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut at_start = true;
    let mut i = 0;
    while i < body.len() {
        if at_start && body[i] == b'.' {
            i += 1;
            at_start = false;
            continue;
        }
        at_start = body[i] == b'\n';
        out.push(body[i]);
        i += 1;
    }
    out
}

/// The fields of a composed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl Draft {
    /// A test message that SES and strict receivers accept.
    pub(crate) fn default_for(from: &str, to: &[String]) -> Draft {
        Draft {
            from: from.to_string(),
            to: to.to_vec(),
            subject: "smtpscope test message".into(),
            body: "This is a test message sent by smtpscope, an SMTP session debugger.\n\nIf you can read it, the whole session worked: connection, TLS, authentication,\nenvelope and authorization.\n".into(),
        }
    }

    /// Renders the draft as an RFC 5322 message with Date and Message-ID, CRLF line endings.
    pub(crate) fn render(&self) -> String {
        let now = Utc::now();
        let id = message_id(&self.from, now);
        let mut headers = vec![
            format!("Date: {}", now.to_rfc2822()),
            format!("Message-ID: <{id}>"),
            format!("From: {}", self.from),
            format!("To: {}", self.to.join(", ")),
            format!("Subject: {}", self.subject),
            "MIME-Version: 1.0".to_string(),
            "Content-Type: text/plain; charset=utf-8".to_string(),
            "Content-Transfer-Encoding: 8bit".to_string(),
            "X-Mailer: smtpscope".to_string(),
        ];
        headers.push(String::new());
        let mut text = headers.join("\r\n");
        text.push_str("\r\n");
        for line in self.body.lines() {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text
    }
}

/// A Message-ID (without its angle brackets) that is unique per message: the time, a random
/// number, and the sender's domain (or `smtpscope.invalid`).
pub(crate) fn message_id(from: &str, now: chrono::DateTime<Utc>) -> String {
    let domain = from
        .rsplit_once('@')
        .map_or("smtpscope.invalid", |(_, d)| d);
    format!(
        "{}.{:08x}@{domain}",
        now.format("%Y%m%d%H%M%S"),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_and_final_dot() {
        let (wire, stats) = encode_message(b"Subject: x\r\n\r\n.\r\n..two\r\nend");
        assert_eq!(wire, b"Subject: x\r\n\r\n..\r\n...two\r\nend\r\n.\r\n");
        assert_eq!(stats.stuffed_lines, 2);
        assert_eq!(stats.lines, 5);
    }

    #[test]
    fn a_lone_dot_line_does_not_end_the_message() {
        let (wire, _) = encode_message(b"a\n.\nb\n");
        // The only line that is exactly "." is the terminator.
        let lines: Vec<&[u8]> = wire.split(|&b| b == b'\n').collect();
        let lone = lines.iter().filter(|l| **l == b".\r").count();
        assert_eq!(lone, 1);
        assert!(wire.ends_with(b"\r\n.\r\n"));
    }

    #[test]
    fn normalises_bare_lf_and_cr() {
        let (wire, stats) = encode_message(b"a\nb\rc\r\nd");
        assert_eq!(wire, b"a\r\nb\r\nc\r\nd\r\n.\r\n");
        assert_eq!(stats.fixed_line_endings, 2);
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let input: &[u8] = b"From: a@b\r\n\r\n.dot\r\nx\ry\nz\r\n..\r\n";
        let (whole, _) = encode_message(input);
        for cut in 0..=input.len() {
            let mut out = Vec::new();
            let mut s = DotStuffer::default();
            s.push(&input[..cut], &mut out);
            s.push(&input[cut..], &mut out);
            s.finish(&mut out);
            assert_eq!(out, whole, "cut at {cut}");
        }
    }

    #[test]
    fn empty_message_still_terminates() {
        assert_eq!(encode_message(b"").0, b".\r\n");
        assert_eq!(encode_message(b"x\r\n").0, b"x\r\n.\r\n");
    }

    #[test]
    fn warns_on_long_lines_and_non_ascii_headers() {
        let mut input = b"Subject: caf\xc3\xa9\r\n\r\n".to_vec();
        input.extend(vec![b'a'; 1000]);
        let (_, stats) = encode_message(&input);
        assert_eq!(stats.long_lines, vec![3]);
        assert_eq!(stats.non_ascii_header_lines, vec![1]);
        let w = stats.warnings(false);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(stats.warnings(true).len(), 1);
    }

    #[test]
    fn unstuffing_reverses_stuffing() {
        let body = b"a\r\n.b\r\n.\r\nc\r\n";
        let (wire, _) = encode_message(body);
        let without_dot = &wire[..wire.len() - 3];
        assert_eq!(unstuff_lines(without_dot), body);
    }

    #[test]
    fn default_draft_has_required_headers() {
        let d = Draft::default_for("me@example.com", &["you@example.net".into()]);
        let text = d.render();
        for h in [
            "Date: ",
            "Message-ID: <",
            "From: me@example.com",
            "To: you@example.net",
            "Subject: ",
        ] {
            assert!(text.contains(h), "missing {h}");
        }
        assert!(text.contains("@example.com>"));
        assert!(!text.contains("\n\n"), "CRLF only");
    }
}
