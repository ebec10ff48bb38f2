//! Reading a saved transcript (`.jsonl`, from the debugger's `w` or `run --json`) with bounds
//! on the whole input and on each line, so a crafted or endless file ends in an error, not in
//! exhausted memory. Errors quote the file only escaped and shortened.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use thiserror::Error;

use super::escape::escape_str;
use super::limited::{self, ReadError, Size, limit};
use super::transcript::Entry;

/// The most of a parser's message quoted in an error.
const MAX_QUOTED: usize = 300;

/// How much a transcript may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole input, in bytes.
    pub total: u64,
    /// One line (one entry), in bytes.
    pub line: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            total: limit::TRANSCRIPT,
            line: limit::TRANSCRIPT_LINE,
        }
    }
}

/// A transcript that could not be read. Every field is escaped.
#[derive(Debug, Error)]
pub enum SavedError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{name}, line {line}: longer than the limit of {limit} for one entry")]
    LineTooLong {
        name: String,
        line: usize,
        limit: Size,
    },
    #[error("{name}, line {line}: {message}")]
    Bad {
        name: String,
        line: usize,
        message: String,
    },
    #[error("{name}: no transcript entries")]
    Empty { name: String },
}

/// Reads a saved transcript file (a regular file or a FIFO, not a device).
pub(crate) fn read_file(path: &Path) -> Result<Vec<Entry>, SavedError> {
    const WHAT: &str = "the saved transcript";
    let file = limited::open(path, WHAT, limit::TRANSCRIPT)?;
    read_from(
        BufReader::new(file),
        &limited::shown(path),
        Limits::default(),
    )
}

/// Reads JSON Lines entries from `reader`. The closing `{"type":"summary",…}` line of
/// `run --json` is skipped; blank lines are ignored.
pub fn read_from<R: BufRead>(
    mut reader: R,
    name: &str,
    limits: Limits,
) -> Result<Vec<Entry>, SavedError> {
    let name = escape_str(name);
    let mut entries = Vec::new();
    let mut line = Vec::new();
    let mut total = 0u64;
    let mut number = 0usize;
    loop {
        line.clear();
        let got = (&mut reader)
            .take(limits.line.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(|source| ReadError::Io {
                what: "the saved transcript",
                name: name.clone(),
                source,
            })?;
        if got == 0 {
            break;
        }
        number += 1;
        total = total.saturating_add(got as u64);
        if total > limits.total {
            return Err(ReadError::TooLarge {
                what: "the saved transcript",
                name,
                limit: Size(limits.total),
            }
            .into());
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        if body.len() as u64 > limits.line {
            return Err(SavedError::LineTooLong {
                name,
                line: number,
                limit: Size(limits.line),
            });
        }
        let bad = |message: String| SavedError::Bad {
            name: name.clone(),
            line: number,
            message: quote(&message),
        };
        let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8 text".into()))?;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(text) {
            Ok(entry) => entries.push(entry),
            Err(_) if is_summary(text) => {}
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    if entries.is_empty() {
        return Err(SavedError::Empty { name });
    }
    Ok(entries)
}

fn is_summary(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["type"] == "summary")
}

/// A parser's message, escaped and cut short: it may quote the file's bytes.
fn quote(message: &str) -> String {
    let mut cut: String = message.chars().take(MAX_QUOTED).collect();
    if cut.len() < message.len() {
        cut.push('…');
    }
    escape_str(&cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str =
        r#"{"seq":1,"time":"2026-01-01T00:00:00Z","tls":false,"type":"info","text":"hi"}"#;

    fn read(text: &[u8], limits: Limits) -> Result<Vec<Entry>, SavedError> {
        read_from(text, "t.jsonl", limits)
    }

    #[test]
    fn entries_and_the_summary_line() {
        let text = format!("{ENTRY}\n\n{{\"type\":\"summary\",\"exit_code\":0}}\n{ENTRY}");
        assert_eq!(read(text.as_bytes(), Limits::default()).unwrap().len(), 2);
        let err = read(b"\n\n", Limits::default()).unwrap_err();
        assert_eq!(err.to_string(), "t.jsonl: no transcript entries");
    }

    #[test]
    fn hostile_bytes_are_quoted_escaped() {
        let text = r#"{"seq":1,"time":"2026-01-01T00:00:00Z","tls":false,"type":"\u001b]0;owned\u0007\u009b2J"}"#;
        let err = read(text.as_bytes(), Limits::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.jsonl, line 1: unknown variant"), "{err}");
        assert!(err.contains("\\x1b]0;owned\\x07\\x9b2J"), "{err}");
        assert!(crate::engine::escape::is_clean(&err), "{err}");
    }

    #[test]
    fn lines_and_totals_are_bounded() {
        let limits = Limits {
            total: 1000,
            line: 100,
        };
        let long = "x".repeat(101);
        let err = read(long.as_bytes(), limits).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.jsonl, line 1: longer than the limit of 100 bytes for one entry"
        );
        let err = read_from(
            std::io::BufReader::new(std::io::repeat(b'\n')),
            "zero",
            limits,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("larger than the limit of 1000 bytes"), "{err}");
        let err = read_from(std::io::BufReader::new(std::io::repeat(0)), "zero", limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer than the limit of 100 bytes"), "{err}");
    }
}
