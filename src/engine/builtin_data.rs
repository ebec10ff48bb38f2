//! The TOML data files of `assets/` as the binary embeds them: build.rs converts each to JSON,
//! which a run parses in a third of the time (every run reads the catalogs, the fallback rules,
//! the providers and the lint's rules). The TOML stays the source: tests and files a user
//! passes are read as TOML, and the test below checks that each JSON says what its TOML says.

use serde::de::DeserializeOwned;
use thiserror::Error;

/// One data file of `assets/`, as the binary holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Builtin {
    /// Its path under `assets/`, which errors name.
    pub name: &'static str,
    /// The JSON that build.rs made of it.
    pub json: &'static str,
    /// The file itself, which the tests read too.
    #[cfg(test)]
    pub toml: &'static str,
}

/// The [`Builtin`] for `assets/<name>` (a `.toml` file that build.rs converts).
macro_rules! builtin {
    ($name:literal) => {
        $crate::engine::builtin_data::Builtin {
            name: $name,
            json: include_str!(concat!(env!("OUT_DIR"), "/", $name, ".json")),
            #[cfg(test)]
            toml: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
        }
    };
}
pub(crate) use builtin;

/// The codes' meanings and the fallback rules (read by the catalog and by `phase_rules`).
pub(crate) const RFC_CODES: Builtin = builtin!("rfc-codes.toml");
/// How providers are recognised.
pub(crate) const PROVIDERS: Builtin = builtin!("providers.toml");
/// The message lint's rules and limits.
pub(crate) const LINT_RULES: Builtin = builtin!("lint-rules.toml");

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
    use super::{LINT_RULES, PROVIDERS, RFC_CODES};
    use crate::engine::classify::catalog::REPLY_FILES;

    #[test]
    fn every_embedded_json_says_what_its_toml_says() {
        let mut checked = 0;
        for file in [RFC_CODES, PROVIDERS, LINT_RULES].iter().chain(REPLY_FILES) {
            let name = file.name;
            let from_toml: serde_json::Value =
                toml::from_str(file.toml).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_json: serde_json::Value = serde_json::from_str(file.json).unwrap();
            assert_eq!(
                from_toml, from_json,
                "{name}: the JSON differs from the TOML"
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} files checked");
    }
}
