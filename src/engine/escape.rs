//! Making untrusted bytes safe to print.
//!
//! A server (or a file) can send ANSI escape sequences, backspaces or bidi overrides that would
//! rewrite the user's terminal. Every byte that reaches a screen goes through here first:
//! printable text stays as it is, everything else becomes a visible escape such as `\x1b`.

/// Escapes bytes for display: printable UTF-8 is kept, control characters and invalid UTF-8
/// become `\xNN` (or `\t`, `\r`, `\n`).
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        escape_into(chunk.valid(), &mut out);
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escapes a string for display, as [`escape_bytes`] does.
pub fn escape_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\\' => out.push('\\'),
            c if is_unsafe(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:04x}}}"));
                }
            }
            c => out.push(c),
        }
    }
}

/// Control characters, plus the invisible formatting characters that can reorder or hide text
/// (bidi overrides, zero-width joiners, the BOM).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff)
}

/// True when the text would print unchanged.
pub fn is_clean(text: &str) -> bool {
    !text.chars().any(|c| c == '\t' || is_unsafe(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_and_control_bytes_are_escaped() {
        assert_eq!(
            escape_bytes(b"550 \x1b[31mred\x1b[0m"),
            "550 \\x1b[31mred\\x1b[0m"
        );
        assert_eq!(escape_bytes(b"a\x07b\x08c\x00"), "a\\x07b\\x08c\\x00");
        assert_eq!(escape_bytes("\u{9b}2J".as_bytes()), "\\x9b2J");
    }

    #[test]
    fn invalid_utf8_is_shown_as_hex() {
        assert_eq!(escape_bytes(b"ok \xff\xfe"), "ok \\xff\\xfe");
    }

    #[test]
    fn printable_unicode_is_kept_and_bidi_is_not() {
        assert_eq!(escape_str("送信 ok"), "送信 ok");
        assert_eq!(escape_str("a\u{202e}b"), "a\\u{202e}b");
        assert!(is_clean("plain text"));
        assert!(!is_clean("x\u{1b}"));
    }
}
