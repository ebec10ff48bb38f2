//! The bounded reader of saved transcripts (`smtpscope replay FILE`) on arbitrary bytes, with
//! small limits picked by the first two bytes so the bounds themselves are exercised.
//! Checks: no panic; what it accepts fits the limits and renders safely; every error message
//! is escaped (it may quote the file) and short.

use smtpscope::engine::classify::Catalog;
use smtpscope::engine::escape::is_clean;
use smtpscope::engine::saved::{Limits, read_from};
use smtpscope::engine::transcript::{TextOptions, reclassify, render_text};

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let (limits, input) = match data {
        [line, total, rest @ ..] => (
            Limits {
                line: 16 + u64::from(*line) * 64,
                total: 64 + u64::from(*total) * 1024,
            },
            rest,
        ),
        _ => (Limits::default(), data),
    };
    match read_from(input, "fuzz\u{1b}.jsonl", limits) {
        Ok(mut entries) => {
            assert!(!entries.is_empty());
            assert!(
                input.len() as u64 <= limits.total,
                "accepted more than the limit"
            );
            reclassify(&mut entries, Catalog::builtin());
            for e in &entries {
                for line in render_text(
                    e,
                    TextOptions {
                        reveal_user: true,
                        diagnoses: true,
                    },
                ) {
                    assert!(is_clean(&line), "unsafe rendered line: {line:?}");
                }
                assert!(is_clean(&e.to_json().replace(['\n'], "")));
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(is_clean(&message), "unescaped error: {message:?}");
            assert!(
                message.chars().count() < 4000,
                "error too long: {}",
                message.len()
            );
        }
    }
}
