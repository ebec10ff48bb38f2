//! Making untrusted bytes safe to print.
//!
//! A server (or a file) can send ANSI escape sequences, backspaces or bidi overrides that would
//! rewrite the user's terminal. Every byte that reaches a screen goes through here first:
//! printable text stays as it is, everything else becomes a visible escape such as `\x1b`.

use std::fmt::Write as _;
/// Escapes bytes for display: printable UTF-8 is kept, control characters and invalid UTF-8
/// become `\xNN` (or `\t`, `\r`, `\n`).
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        escape_into(chunk.valid(), &mut out);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escapes a string for display, as [`escape_bytes`] does.
pub(crate) fn escape_str(text: &str) -> String {
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
                    let _ = write!(out, "\\x{n:02x}");
                } else {
                    let _ = write!(out, "\\u{{{n:04x}}}");
                }
            }
            c => out.push(c),
        }
    }
}

/// Escapes each line of a multi-line text, keeping its line breaks (for messages such as
/// errors, whose own layout is safe but which may quote input).
pub(crate) fn escape_lines(text: &str) -> String {
    text.split('\n')
        .map(escape_str)
        .collect::<Vec<_>>()
        .join("\n")
}

/// True for a character that must not reach a terminal (or a `cat` of a file) raw, by its
/// Unicode general category rather than a list of code points, so new format characters are
/// covered when the tables are:
/// - Cc: C0 controls, DEL and the C1 controls (U+009B is a one-byte CSI on some terminals);
/// - Cf: format characters: bidi overrides and isolates, zero-width and invisible operators
///   (U+2060–2064), tag characters, the soft hyphen, U+061C, U+180E, U+FFF9–FFFB, the BOM;
/// - Zl, Zp: U+2028 and U+2029, line breaks to some viewers and not to others;
/// - Co: private use, whose glyph is whatever a font decides (terminal icon fonts live here);
/// - Cn: unassigned, which a later Unicode version may make a format character.
pub(crate) fn is_unsafe(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(
        c.general_category(),
        G::Control
            | G::Format
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Surrogate
            | G::Unassigned
    )
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
        assert_eq!(escape_str("e\u{301} \u{1f600}"), "e\u{301} \u{1f600}");
        assert!(!is_clean("x\u{1b}"));
    }

    #[test]
    fn unicode_controls_are_escaped_by_category() {
        // The characters the issue found raw, each from a category, not from a list.
        for c in [
            '\u{61c}',
            '\u{2028}',
            '\u{2029}',
            '\u{e0000}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
            '\u{2060}',
            '\u{2061}',
            '\u{2064}',
            '\u{fff9}',
            '\u{fffb}',
            '\u{180e}',
            '\u{ad}',
            '\u{9b}',
            '\u{85}',
            '\u{7f}',
            '\u{202e}',
            '\u{e000}',
            '\u{f0000}',
            '\u{10ffff}',
        ] {
            let shown = escape_str(&format!("a{c}b"));
            assert!(is_clean(&shown), "{c:?} -> {shown:?}");
            assert!(!shown.contains(c), "{c:?} passed raw");
            assert!(!is_clean(&format!("a{c}b")), "{c:?} counted as clean");
        }
        assert_eq!(escape_str("\u{2028}"), "\\u{2028}");
    }
}
