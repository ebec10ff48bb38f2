//! The simulator's TOML configuration parser on arbitrary text (policy files resolve only to
//! the built-in demo policies: the base folder does not exist). Checks: no panic; parsing is
//! a pure function of the text; an accepted config has sane limits, and its `Debug` never
//! shows a user's secret access key.

use std::path::Path;

use smtpscope::engine::sim::SimConfig;

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new("/nonexistent-smtpscope-fuzz");
    match SimConfig::from_toml_str(text, base) {
        Ok(cfg) => {
            let l = &cfg.limits;
            assert!(l.max_connections >= 1 && l.max_message_bytes >= 1);
            assert!(!l.idle_timeout.is_zero() && !l.line_timeout.is_zero());
            assert!(!l.session_timeout.is_zero());
            assert!(!cfg.tls_names.is_empty());
            let shown = format!("{cfg:?}");
            for secret in secrets(text) {
                assert!(!shown.contains(&secret), "Debug shows a secret");
            }
            let again = SimConfig::from_toml_str(text, base).expect("parses again");
            assert_eq!(format!("{again:?}"), shown);
        }
        Err(e) => {
            let again = SimConfig::from_toml_str(text, base).expect_err("fails again");
            assert_eq!(e, again);
        }
    }
}

/// The values of `secret_access_key = "…"` lines long enough to be told apart.
fn secrets(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("secret_access_key"))
        .filter_map(|rest| rest.split('"').nth(1))
        .filter(|s| s.len() >= 12)
        .map(str::to_string)
        .collect()
}
