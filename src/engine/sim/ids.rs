//! Identifiers shaped like SES's: the greeting's build and session IDs, and message IDs.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};

/// The greeting's build tag, `d-` and nine upper-case letters or digits (SES:
/// `SimpleEmailService-d-VCSHDP1YZ`).
pub(crate) fn build_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let tag: String = (0..9)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("d-{tag}")
}

/// The greeting's per-connection session ID: 20 letters and digits.
pub(crate) fn session_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}

/// An SES message ID: 16 hex (`0100` then the time in milliseconds as 12 hex digits), then
/// 8-4-4-4-12 random hex, then `-000000`.
pub(crate) fn message_id(at: DateTime<Utc>) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    let r: u128 = rand::rng().random();
    let hex = format!("{r:032x}");
    format!(
        "0100{millis:012x}-{}-{}-{}-{}-{}-000000",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The time encoded in a message ID made by [`message_id`] (or by SES).
#[cfg(test)]
pub(crate) fn message_id_time(id: &str) -> Option<DateTime<Utc>> {
    let millis = i64::from_str_radix(id.get(4..16)?, 16).ok()?;
    DateTime::from_timestamp_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_have_the_ses_layout_and_time() {
        let at = DateTime::parse_from_rfc3339("2023-03-23T09:09:25.534Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = message_id(at);
        let parts: Vec<&str> = id.split('-').collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(lens, vec![16, 8, 4, 4, 4, 12, 6], "{id}");
        assert!(
            parts
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(parts[6], "000000");
        assert!(id.starts_with("0100"));
        assert_eq!(message_id_time(&id), Some(at));
        // A real one from the reference notes: 2023-03-23 09:09:25Z.
        let real = message_id_time("010001870dbae81e-x").unwrap();
        assert_eq!(
            real.format("%Y-%m-%d %H:%M:%S").to_string(),
            "2023-03-23 09:09:25"
        );
        assert_ne!(message_id(at), message_id(at));
    }

    #[test]
    fn greeting_ids_have_the_ses_shape() {
        let b = build_id();
        assert_eq!(b.len(), 11);
        assert!(b.starts_with("d-"));
        assert!(
            b[2..]
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        let s = session_id();
        assert_eq!(s.len(), 20);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
