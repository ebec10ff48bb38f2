//! The reply parser on arbitrary bytes, fed whole and in arbitrary chunk splits.
//!
//! Checks: no panic; the buffer stays within the limits after every push; every reply is
//! well formed and within the limits; splitting the input never changes the outcome (up to
//! the first error, after which a session drops the connection); escaped lines print clean;
//! replies survive a JSON round trip.

use smtpscope::engine::escape::{escape_bytes, is_clean};
use smtpscope::engine::reply::{Limits, Reply, ReplyError, ReplyParser};

type Outcome = Result<Reply, ReplyError>;

fn check(r: &Reply, limits: Limits) {
    assert!((200..=599).contains(&r.code), "code {}", r.code);
    assert!(!r.lines.is_empty() && r.lines.len() <= limits.max_lines);
    assert!(r.lines.iter().map(|l| l.raw.len()).sum::<usize>() <= limits.max_reply_bytes);
    let digits = r.code.to_string();
    let last = r.lines.len() - 1;
    for (i, line) in r.lines.iter().enumerate() {
        assert!(line.raw.len() <= limits.max_line);
        assert!(line.raw.starts_with(digits.as_bytes()));
        let sep = line.raw.get(3).copied();
        if i == last {
            assert!(matches!(sep, None | Some(b' ')));
        } else {
            assert_eq!(sep, Some(b'-'));
        }
        assert!(is_clean(&escape_bytes(&line.raw)), "escaped line not clean");
    }
    if let Some(e) = r.enhanced {
        assert_eq!(u16::from(e.class), r.code / 100);
    }
    let _ = (
        r.text(),
        r.message(),
        r.class(),
        r.raw_len(),
        r.has_bare_lf(),
    );
    let json = serde_json::to_string(r).expect("serialize");
    let back: Reply = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(&back, r);
}

fn parse(limits: Limits, body: &[u8], sizes: &[usize]) -> Vec<Outcome> {
    let mut p = ReplyParser::new(limits);
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        p.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
        loop {
            match p.next_reply() {
                Ok(Some(r)) => {
                    check(&r, limits);
                    out.push(Ok(r));
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = e.to_string();
                    out.push(Err(e));
                }
            }
        }
        // A partial line (CR included) plus the lines of one unfinished reply, no more.
        assert!(
            p.buffered() <= limits.max_line + 1 + limits.max_reply_bytes,
            "buffered {} with {limits:?}",
            p.buffered()
        );
    }
    let _ = p.take_leftover();
    assert_eq!(p.buffered(), 0);
    out
}

/// The outcomes up to and including the first error.
fn until_error(v: &[Outcome]) -> &[Outcome] {
    let end = v.iter().position(Result::is_err).map_or(v.len(), |i| i + 1);
    &v[..end]
}

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let (head, body) = data.split_at(4);
    // Small limits so the fuzzer reaches every limit quickly.
    let limits = Limits {
        max_line: 1 + usize::from(head[0]) * 4,
        max_lines: 1 + usize::from(head[1] % 64),
        max_reply_bytes: 1 + usize::from(head[2]) * 16,
    };
    let seed = usize::from(head[3]);
    let sizes: Vec<usize> = (0..16).map(|i| 1 + (seed * 31 + i * 7) % 17).collect();
    let whole = parse(limits, body, &[body.len().max(1)]);
    let chunked = parse(limits, body, &sizes);
    let bytewise = parse(limits, body, &[1]);
    assert_eq!(
        until_error(&whole),
        until_error(&chunked),
        "chunked differs"
    );
    assert_eq!(
        until_error(&whole),
        until_error(&bytewise),
        "byte by byte differs"
    );
}
