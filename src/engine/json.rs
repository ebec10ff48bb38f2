//! JSON that is safe to `cat`: every control and format character inside a string is written
//! as `\uXXXX`, so a transcript or `--json` output shown raw cannot drive a terminal.
//!
//! `serde_json` escapes only U+0000–001F, `"` and `\`; U+009B (a one-byte CSI), U+202E (a bidi
//! override) and the rest of [`is_unsafe`] would be written as they are. Outside strings,
//! `serde_json` writes only ASCII punctuation, digits, letters and whitespace, so escaping the
//! finished text cannot touch the structure.

use serde::Serialize;
use std::fmt::Write as _;

use super::escape::is_unsafe;

/// One line of JSON, safe to print.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string(value).map(escape_json)
}

/// Rewrites the unsafe characters of serialized JSON as `\uXXXX` (UTF-16 pairs beyond the BMP).
/// The layout whitespace of pretty output (newlines, spaces) is left alone: inside strings
/// `serde_json` has already escaped those.
pub(crate) fn escape_json(json: String) -> String {
    let unsafe_char = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t');
    if !json.chars().any(unsafe_char) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_format_characters_become_escapes_and_parse_back() {
        let text = "a\u{9b}2J\u{202e}b\u{e0041}\u{2028}\u{7f}\u{1b}[0m é 送";
        let json = to_string(&serde_json::json!({ "text": text })).unwrap();
        assert!(
            json.is_ascii() || json.chars().all(|c| !is_unsafe(c)),
            "{json}"
        );
        for raw in [
            '\u{9b}',
            '\u{202e}',
            '\u{e0041}',
            '\u{2028}',
            '\u{7f}',
            '\u{1b}',
        ] {
            assert!(!json.contains(raw), "{raw:?} raw in {json}");
        }
        assert!(
            json.contains("\\u009b") && json.contains("\\udb40\\udc41"),
            "{json}"
        );
        assert!(
            json.contains("é 送"),
            "printable text stays as it is: {json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["text"], text);
    }
}
