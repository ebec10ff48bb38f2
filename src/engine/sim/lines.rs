//! Framing of the client's byte stream, with bounded buffers: command lines end at CRLF only,
//! and a DATA body ends at `<CRLF>.<CRLF>` only. Bodies being received draw on a shared
//! [`DataBudget`], so many large messages at once cannot exhaust memory.
//!
//! Like `SubEthaSMTP` (whose replies SES's front end shares), a bare CR or LF inside a command
//! line does not end it; the line is refused when its CRLF arrives. In a body, a bare LF is
//! plain data, so `\n.\n` or `\n.\r\n` can never end the message early (no SMTP smuggling).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes reserved from the budget at a time.
const RESERVE_STEP: usize = 1024 * 1024;

/// Memory for message bodies being received, shared by all connections.
#[derive(Debug)]
pub struct DataBudget {
    used: AtomicUsize,
    limit: usize,
}

impl DataBudget {
    pub(crate) fn new(limit: usize) -> DataBudget {
        DataBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    fn try_reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes reserved right now.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// The longest command line accepted, CRLF excluded (RFC 5321 §4.5.3.1.6: 1000 with CRLF).
pub(crate) const MAX_LINE: usize = 998;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Framed {
    /// A complete line, without its CRLF.
    Line(Vec<u8>),
    /// A line that held a bare CR or LF; `position` is where the first one was.
    BareCrLf { position: usize },
    /// The line grew past [`MAX_LINE`] before its CRLF.
    TooLong,
}

/// Collects one command line at a time; never holds more than [`MAX_LINE`] + 2 bytes.
#[derive(Debug, Default)]
pub(crate) struct LineFramer {
    buf: Vec<u8>,
    cr: bool,
    tainted: Option<usize>,
}

impl LineFramer {
    /// Consumes bytes from `input` until a line completes (or is refused). Returns how many
    /// bytes were consumed and the line, if one completed.
    pub(crate) fn push(&mut self, input: &[u8]) -> (usize, Option<Framed>) {
        for (i, &b) in input.iter().enumerate() {
            if self.cr {
                match b {
                    b'\n' => {
                        let framed = match self.tainted {
                            Some(position) => Framed::BareCrLf { position },
                            None => Framed::Line(std::mem::take(&mut self.buf)),
                        };
                        self.clear();
                        return (i + 1, Some(framed));
                    }
                    b'\r' => {
                        self.taint();
                        self.buf.push(b'\r');
                    }
                    _ => {
                        self.taint();
                        self.buf.push(b'\r');
                        self.buf.push(b);
                        self.cr = false;
                    }
                }
            } else {
                match b {
                    b'\r' => self.cr = true,
                    b'\n' => {
                        self.taint();
                        self.buf.push(b);
                    }
                    _ => self.buf.push(b),
                }
            }
            if self.buf.len() > MAX_LINE {
                self.clear();
                return (i + 1, Some(Framed::TooLong));
            }
        }
        (input.len(), None)
    }

    fn taint(&mut self) {
        if self.tainted.is_none() {
            self.tainted = Some(self.buf.len());
        }
    }

    /// Drops a partial line (after STARTTLS, bytes sent before the handshake must not count).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.cr = false;
        self.tainted = None;
    }

    /// True when no partial line is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty() && !self.cr
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataState {
    /// Just after a CRLF (or the DATA command's CRLF).
    LineStart,
    Middle,
    /// A CR that may start a CRLF.
    MiddleCr,
    /// A `.` at the start of a line.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
}

/// Reads a DATA body: un-stuffs leading dots, stops at `<CRLF>.<CRLF>`, keeps at most
/// `limit` bytes and counts the rest. Memory comes from the budget in steps; when the budget
/// is exhausted the reader keeps counting but stops keeping (see [`DataReader::starved`]).
#[derive(Debug)]
pub(crate) struct DataReader {
    state: DataState,
    body: Vec<u8>,
    size: usize,
    limit: usize,
    budget: Option<Arc<DataBudget>>,
    reserved: usize,
    starved: bool,
}

impl DataReader {
    pub(crate) fn new(limit: usize, budget: Option<Arc<DataBudget>>) -> DataReader {
        DataReader {
            state: DataState::LineStart,
            body: Vec::new(),
            size: 0,
            limit,
            budget,
            reserved: 0,
            starved: false,
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.starved {
            return;
        }
        let room = self.limit.saturating_sub(self.body.len());
        let keep = &bytes[..bytes.len().min(room)];
        let needed = self.body.len() + keep.len();
        if let Some(budget) = &self.budget
            && needed > self.reserved
        {
            let step = (needed - self.reserved).max(RESERVE_STEP);
            if budget.try_reserve(step) {
                self.reserved += step;
            } else {
                self.starved = true;
                return;
            }
        }
        self.body.extend_from_slice(keep);
    }

    /// True when the shared budget ran out while this body was being received: the body is
    /// incomplete and must not be accepted.
    pub(crate) fn starved(&self) -> bool {
        self.starved
    }

    /// Consumes bytes until the end of the body. Returns how many bytes were consumed and
    /// whether the final `.` line was seen.
    pub(crate) fn push(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            if self.state == DataState::Middle {
                // Fast path: copy up to the next CR in one go.
                let rest = &input[i..];
                let n = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
                self.emit(&rest[..n]);
                i += n;
                if i == input.len() {
                    break;
                }
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (DataState::LineStart, b'.') => DataState::Dot,
                (DataState::LineStart | DataState::Middle, b'\r') => DataState::MiddleCr,
                (DataState::LineStart | DataState::Middle, _) => {
                    self.emit(&[b]);
                    DataState::Middle
                }
                (DataState::MiddleCr, b'\n') => {
                    self.emit(b"\r\n");
                    DataState::LineStart
                }
                (DataState::Dot, b'\r') => DataState::DotCr,
                (DataState::Dot, _) => {
                    // A stuffed dot: drop it, keep the rest of the line.
                    self.emit(&[b]);
                    DataState::Middle
                }
                (DataState::DotCr, b'\n') => {
                    self.state = DataState::LineStart;
                    return (i, true);
                }
                // A CR not followed by LF is data, after a dot as anywhere else in a line.
                (DataState::MiddleCr | DataState::DotCr, b'\r') => {
                    self.emit(b"\r");
                    DataState::MiddleCr
                }
                (DataState::MiddleCr | DataState::DotCr, _) => {
                    self.emit(&[b'\r', b]);
                    DataState::Middle
                }
            };
        }
        (i, false)
    }

    /// True between lines of the body (no partial line pending).
    pub(crate) fn at_line_start(&self) -> bool {
        self.state == DataState::LineStart
    }

    /// Bytes of the body seen so far (including any beyond the limit).
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// True when the body grew past the limit (only its first `limit` bytes were kept).
    #[cfg(test)]
    pub(crate) fn overflowed(&self) -> bool {
        self.size > self.limit
    }

    /// The body kept so far. The budget is released when the reader is dropped, so the
    /// caller should drop the body soon too (the mailbox has its own bound).
    pub(crate) fn into_body(mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }
}

impl Drop for DataReader {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.reserved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(input: &[u8]) -> Vec<Framed> {
        let mut f = LineFramer::default();
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let (n, framed) = f.push(rest);
            rest = &rest[n..];
            out.extend(framed);
        }
        out
    }

    #[test]
    fn lines_end_at_crlf_only() {
        assert_eq!(
            frame_all(b"EHLO a\r\nNOOP\r\n"),
            vec![
                Framed::Line(b"EHLO a".to_vec()),
                Framed::Line(b"NOOP".to_vec())
            ]
        );
        assert_eq!(frame_all(b"NOOP\n"), vec![]);
        assert_eq!(
            frame_all(b"NOOP\nQUIT\r\n"),
            vec![Framed::BareCrLf { position: 4 }]
        );
        assert_eq!(
            frame_all(b"NO\rOP\r\n"),
            vec![Framed::BareCrLf { position: 2 }]
        );
        assert_eq!(
            frame_all(b"NOOP\r\r\n"),
            vec![Framed::BareCrLf { position: 4 }]
        );
        assert_eq!(frame_all(b"\r\n"), vec![Framed::Line(vec![])]);
    }

    #[test]
    fn split_input_gives_the_same_lines() {
        let input = b"EHLO a\r\nMAIL FROM:<a@b.c>\r\n";
        let mut f = LineFramer::default();
        let mut lines = Vec::new();
        for byte in input.chunks(1) {
            let (n, framed) = f.push(byte);
            assert_eq!(n, 1);
            lines.extend(framed);
        }
        assert_eq!(lines, frame_all(input));
        assert!(f.is_empty());
    }

    #[test]
    fn overlong_lines_are_refused_with_a_bounded_buffer() {
        let mut long = vec![b'A'; MAX_LINE];
        long.extend_from_slice(b"\r\n");
        assert_eq!(frame_all(&long), vec![Framed::Line(vec![b'A'; MAX_LINE])]);
        let mut f = LineFramer::default();
        let huge = vec![b'x'; 1_000_000];
        let (n, framed) = f.push(&huge);
        assert_eq!(framed, Some(Framed::TooLong));
        assert_eq!(n, MAX_LINE + 1);
        assert!(f.buf.capacity() < 4 * MAX_LINE);
    }

    fn read_body(input: &[u8], limit: usize) -> (Vec<u8>, usize, bool) {
        let mut r = DataReader::new(limit, None);
        let (n, done) = r.push(input);
        (r.into_body(), n, done)
    }

    #[test]
    fn body_ends_at_crlf_dot_crlf_and_is_unstuffed() {
        let (body, n, done) = read_body(b"Subject: x\r\n\r\n..hidden\r\n.\r\nNOOP\r\n", 1000);
        assert!(done);
        assert_eq!(body, b"Subject: x\r\n\r\n.hidden\r\n");
        assert_eq!(n, 27);
        let (body, _, done) = read_body(b".\r\n", 1000);
        assert!(done);
        assert!(body.is_empty());
    }

    #[test]
    fn bare_lf_never_ends_a_body() {
        for input in [
            &b"a\n.\nb"[..],
            b"a\n.\r\nb",
            b"a\r\n.\nb",
            b"a\r.\r\nb",
            b"a\r\n.\rb",
        ] {
            let (_, _, done) = read_body(input, 1000);
            assert!(!done, "{input:?}");
        }
        let (body, _, done) = read_body(b"a\n.\nb\r\n.\r\n", 1000);
        assert!(done);
        assert_eq!(body, b"a\n.\nb\r\n");
    }

    #[test]
    fn body_split_anywhere_gives_the_same_result() {
        let input = b"L1\r\n..L2\r\n\r\n.\r\n";
        let whole = read_body(input, 1000).0;
        for cut in 0..input.len() {
            let mut r = DataReader::new(1000, None);
            let (n1, d1) = r.push(&input[..cut]);
            assert_eq!(n1, cut);
            assert!(!d1);
            let (_, d2) = r.push(&input[cut..]);
            assert!(d2, "cut at {cut}");
            assert_eq!(r.into_body(), whole);
        }
    }

    #[test]
    fn a_shared_budget_bounds_bodies_in_flight() {
        let budget = Arc::new(DataBudget::new(3 * RESERVE_STEP));
        let chunk = vec![b'x'; RESERVE_STEP + 10];
        let mut a = DataReader::new(10 * RESERVE_STEP, Some(budget.clone()));
        a.push(&chunk);
        assert_eq!(budget.in_use(), 2 * RESERVE_STEP);
        let mut b = DataReader::new(10 * RESERVE_STEP, Some(budget.clone()));
        b.push(&chunk);
        assert!(b.starved(), "over budget");
        assert!(!a.starved());
        let (_, done) = b.push(b"\r\n.\r\n");
        assert!(done);
        assert_eq!(b.size(), RESERVE_STEP + 12);
        drop(b);
        drop(a);
        assert_eq!(budget.in_use(), 0);
        let mut c = DataReader::new(10 * RESERVE_STEP, Some(budget.clone()));
        c.push(&chunk);
        assert!(!c.starved());
    }

    #[test]
    fn oversized_bodies_are_counted_not_kept() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\n.\r\n");
        let mut r = DataReader::new(100, None);
        let (_, done) = r.push(&input);
        assert!(done);
        assert!(r.overflowed());
        assert_eq!(r.size(), 5002);
        assert_eq!(r.into_body().len(), 100);
    }
}
