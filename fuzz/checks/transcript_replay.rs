//! Saved transcripts (JSON Lines) are files a user may be handed: parse them, reclassify,
//! render. Checks: no panic; every rendered line is safe to print (no control or bidi
//! characters); an entry survives a JSON round trip.

use smtpscope::engine::classify::Catalog;
use smtpscope::engine::escape::is_clean;
use smtpscope::engine::transcript::{Entry, TextOptions, parse_jsonl, reclassify, render_text};

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut entries) = parse_jsonl(text) else {
        return;
    };
    reclassify(&mut entries, Catalog::builtin());
    for entry in &entries {
        for reveal_user in [false, true] {
            let opts = TextOptions {
                reveal_user,
                diagnoses: true,
            };
            for line in render_text(entry, opts) {
                assert!(is_clean(&line), "unsafe rendered line: {line:?}");
            }
        }
        let json = entry.to_json();
        let back: Entry = serde_json::from_str(&json).expect("own JSON parses");
        assert_eq!(back.to_json(), json, "JSON round trip changed the entry");
    }
}
