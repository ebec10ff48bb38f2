//! DATA encoding on arbitrary bytes in arbitrary chunk splits.
//!
//! Checks: chunking never changes the output or the statistics; the wire form has CRLF line
//! endings only, no body line that is exactly ".", and ends in the terminator; unstuffing
//! the wire form gives back the input with its line endings normalised to CRLF.

use smtpscope::engine::message::{DotStuffer, MessageStats, encode_message, unstuff_lines};

/// The input with CRLF, lone CR and lone LF all turned into CRLF, and a last line ended.
fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn encode_in_chunks(input: &[u8], seed: usize) -> (Vec<u8>, MessageStats) {
    let mut stuffer = DotStuffer::default();
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = (1 + (seed * 13 + i * 5) % 11).min(rest.len());
        stuffer.push(&rest[..n], &mut out);
        rest = &rest[n..];
        i += 1;
    }
    let stats = stuffer.finish(&mut out);
    (out, stats)
}

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let (wire, stats) = encode_message(input);
    let (chunked, chunked_stats) = encode_in_chunks(input, usize::from(seed));
    assert_eq!(wire, chunked, "chunking changed the wire bytes");
    assert_eq!(stats, chunked_stats, "chunking changed the statistics");

    assert!(wire.ends_with(b".\r\n"));
    let body = &wire[..wire.len() - 3];
    assert!(body.is_empty() || body.ends_with(b"\r\n"));
    for (i, &b) in wire.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
        if b == b'\n' {
            assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i}");
        }
    }
    let normal = normalise(input);
    let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
    assert!(
        lines.iter().all(|l| *l != b".\r\n"),
        "a body line would end DATA"
    );
    assert_eq!(
        unstuff_lines(body),
        normal,
        "unstuffing does not give the input back"
    );

    assert_eq!(stats.bytes, input.len() as u64);
    assert_eq!(stats.wire_bytes, wire.len() as u64);
    let normal_lines: Vec<&[u8]> = normal.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(stats.lines, normal_lines.len() as u64);
    let dotted = normal_lines
        .iter()
        .filter(|l| l.first() == Some(&b'.'))
        .count();
    assert_eq!(stats.stuffed_lines, dotted as u64);
    let long = normal_lines.iter().filter(|l| l.len() - 2 > 998).count();
    assert_eq!(stats.long_lines.len(), long.min(8));
}
