//! The TOML data files of `assets/` as the binary embeds them: build.rs converts each to JSON,
//! which a run parses in a third of the time (every run reads the catalogs, the fallback rules,
//! the providers and the lint's rules). The TOML stays the source: tests and files a user
//! passes are read as TOML, and the test below checks that each JSON says what its TOML says.

use serde::de::DeserializeOwned;
use thiserror::Error;

/// The JSON that build.rs made of `assets/<name>` (a `.toml` name).
macro_rules! builtin_json {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/", $name, ".json"))
    };
}
pub(crate) use builtin_json;

/// How a data text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// As in `assets/`.
    Toml,
    /// As build.rs converted it.
    Json,
}

#[derive(Debug, Error)]
pub enum ParseError {
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    #[error("the embedded JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Reads a data text into its raw (unchecked) form.
pub(crate) fn parse<T: DeserializeOwned>(format: Format, text: &str) -> Result<T, ParseError> {
    Ok(match format {
        Format::Toml => toml::from_str(text)?,
        Format::Json => serde_json::from_str(text)?,
    })
}

#[cfg(test)]
mod tests {
    /// Every converted file, with its TOML source.
    const FILES: &[(&str, &str, &str)] = &[
        (
            "rfc-codes.toml",
            include_str!("../../assets/rfc-codes.toml"),
            builtin_json!("rfc-codes.toml"),
        ),
        (
            "providers.toml",
            include_str!("../../assets/providers.toml"),
            builtin_json!("providers.toml"),
        ),
        (
            "lint-rules.toml",
            include_str!("../../assets/lint-rules.toml"),
            builtin_json!("lint-rules.toml"),
        ),
    ];

    #[test]
    fn every_embedded_json_says_what_its_toml_says() {
        let replies = crate::engine::classify::catalog::REPLY_FILES_TOML
            .iter()
            .zip(crate::engine::classify::catalog::REPLY_FILES)
            .map(|((name, toml), (json_name, json))| {
                assert_eq!(name, json_name);
                (*name, *toml, *json)
            });
        let mut checked = 0;
        for (name, toml, json) in FILES.iter().copied().chain(replies) {
            let from_toml: serde_json::Value =
                toml::from_str(toml).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_json: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                from_toml, from_json,
                "{name}: the JSON differs from the TOML"
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} files checked");
    }
}
