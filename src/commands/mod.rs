//! The subcommands' front ends: each parses its own flags and returns its exit code or the
//! error that stopped it ([`error::CommandResult`]).

pub mod aws;
pub mod demo;
pub mod error;
pub mod explain;
pub mod exporter;
pub mod ext_args;
pub mod message_args;
pub mod oauth;
pub mod password;
pub mod policy;
pub mod probe;
pub mod run;
pub mod sim;
pub mod tls_args;
pub mod tls_scan;

/// `println!` for command output that does not panic when standard output is a closed pipe
/// (`smtpscope explain … | head`): the rest of the output has no reader and is dropped.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The most of one error message shown; a parser quoting a huge input stops here.
const MAX_ERROR_CHARS: usize = 2000;

/// Writes `context: error` as the user sees it. Every error of the front ends is printed
/// through here, and escaped here: many quote their input (a file name, a parser's
/// "unknown variant `…`" with the file's bytes), and none may drive the terminal. Line breaks
/// of multi-line messages are kept; everything else unsafe is shown as `\x1b`, `\u{202e}`.
pub(crate) fn write_error(
    out: &mut dyn std::io::Write,
    context: &str,
    error: &dyn std::fmt::Display,
) {
    let text = error.to_string();
    let mut shown: String = text.chars().take(MAX_ERROR_CHARS).collect();
    if shown.len() < text.len() {
        shown.push_str(" […]");
    }
    let shown = crate::engine::escape::escape_lines(&shown);
    let _ = writeln!(out, "{context}: {shown}");
}

/// [`write_error`] to standard error.
pub fn report(context: &str, error: &dyn std::fmt::Display) {
    write_error(&mut std::io::stderr().lock(), context, error);
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_are_escaped_and_bounded() {
        let mut out = Vec::new();
        let error = "line 1: unknown variant `\u{1b}]0;pwned\u{7}\u{9b}31m`\nsecond line\u{202e}";
        super::write_error(&mut out, "smtpscope replay", &error);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "smtpscope replay: line 1: unknown variant `\\x1b]0;pwned\\x07\\x9b31m`\nsecond line\\u{202e}\n"
        );
        let mut out = Vec::new();
        super::write_error(&mut out, "x", &"a".repeat(10_000));
        assert!(out.len() < 2100, "{}", out.len());
    }
}
