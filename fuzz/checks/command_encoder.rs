//! Command validation and encoding on arbitrary text: whatever is accepted is exactly one
//! line with no CR, LF or NUL before its CRLF, and clean text is never refused as raw input.

use smtpscope::engine::command::{Command, Verb};

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let commands = [
        Command::Raw(text.clone()),
        Command::Ehlo(text.clone()),
        Command::Mail {
            from: text.clone(),
            params: vec![],
        },
        Command::Rcpt {
            to: text.clone(),
            params: vec![],
        },
        Command::Mail {
            from: "a@example.com".into(),
            params: vec![text.clone()],
        },
    ];
    let dirty = text.contains(['\r', '\n', '\0']);
    for cmd in &commands {
        match cmd.encode() {
            Ok(bytes) => {
                assert!(!dirty, "accepted a line break or NUL: {cmd:?}");
                let head = bytes.strip_suffix(b"\r\n").expect("ends in CRLF");
                assert!(!head.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)));
                assert_eq!(head, cmd.line().as_bytes());
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                if matches!(cmd, Command::Raw(_)) {
                    assert!(dirty, "refused clean raw text: {e}");
                }
            }
        }
    }
    assert_eq!(Command::Raw(text.clone()).verb(), Verb::of_line(&text));
}
