//! Amazon SES SMTP knowledge: endpoint names, SMTP password derivation and a credential lint.
//!
//! Everything here is pure and local: deriving or checking a password never sends anything
//! anywhere. Secrets (the secret access key and intermediate HMAC keys) are held in
//! `Zeroizing` buffers, and no message produced here ever quotes a password or a secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Regions with an SES SMTP endpoint, per the evidence in ses-smtp.md §1.3 (AWS's conversion
/// script, its newer code-library copy, and the General Reference table as copied by Review
/// Board). A hint only: hosts are built from any region string, and sources disagree on
/// `eu-south-1`.
pub const KNOWN_SMTP_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "sa-east-1",
    "us-gov-west-1",
    "us-gov-east-1",
];

/// Other AWS region names. They are only tried when working out which region a password was
/// derived for (a local computation), so a password made for a region missing from
/// [`KNOWN_SMTP_REGIONS`] is still recognised.
const OTHER_AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-3",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
];

/// The SMTP password algorithm's fixed inputs (ses-smtp.md §3).
const SIGV4_DATE: &str = "11111111";
const SIGV4_SERVICE: &str = "ses";
const SIGV4_TERMINAL: &str = "aws4_request";
const SIGV4_MESSAGE: &str = "SendRawEmail";
const VERSION_SIGV4: u8 = 0x04;
const VERSION_LEGACY_V2: u8 = 0x02;

/// Length of every derived SMTP password: base64 of 33 bytes.
pub(crate) const SMTP_PASSWORD_LEN: usize = 44;
/// Length of an AWS secret access key.
pub(crate) const SECRET_ACCESS_KEY_LEN: usize = 40;

type HmacSha256 = Hmac<Sha256>;

/// The standard SMTP endpoint host for `region`, e.g. `email-smtp.us-east-1.amazonaws.com`.
pub(crate) fn smtp_endpoint(region: &str) -> String {
    format!("email-smtp.{region}.amazonaws.com")
}

/// The FIPS SMTP endpoint host for `region` (documented for a few US regions only).
#[cfg(test)]
pub(crate) fn fips_smtp_endpoint(region: &str) -> String {
    format!("email-smtp-fips.{region}.amazonaws.com")
}

/// True when `region` has the shape of an AWS region name (`us-east-1`, `us-gov-west-1`):
/// lower-case letters, digits and dashes, at least two parts, ending in a number.
pub(crate) fn is_valid_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The region named by an SES SMTP host name, if it is one: the standard
/// (`email-smtp.R.amazonaws.com`), FIPS (`email-smtp-fips.R.amazonaws.com`), dual-stack
/// (`email-smtp.R.api.aws`) and VPC endpoint (`….email-smtp.R.vpce.amazonaws.com`) forms.
/// Case-insensitive; a trailing dot is accepted.
pub(crate) fn region_from_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let candidate = if let Some(rest) = host.strip_prefix("email-smtp.") {
        rest.strip_suffix(".amazonaws.com")
            .or_else(|| rest.strip_suffix(".api.aws"))
    } else if let Some(rest) = host.strip_prefix("email-smtp-fips.") {
        rest.strip_suffix(".amazonaws.com")
    } else if let Some(pos) = host.find(".email-smtp.") {
        host[pos + ".email-smtp.".len()..].strip_suffix(".vpce.amazonaws.com")
    } else {
        None
    }?;
    is_valid_region_name(candidate).then(|| candidate.to_string())
}

/// HMAC-SHA256 into a zeroizing buffer; the intermediate output is wiped too.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    #[expect(
        clippy::expect_used,
        reason = "HMAC takes keys of any length: this cannot fail"
    )]
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    let mut out = mac.finalize().into_bytes();
    let mut key_out = Zeroizing::new([0u8; 32]);
    key_out.copy_from_slice(&out);
    out.as_mut_slice().zeroize();
    key_out
}

/// The five keys of the SigV4-style chain: kDate, kRegion, kService, kTerminal, kMessage.
fn sigv4_chain(secret_access_key: &str, region: &str) -> [Zeroizing<[u8; 32]>; 5] {
    let mut first_key = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    first_key.extend_from_slice(b"AWS4");
    first_key.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&first_key, SIGV4_DATE.as_bytes());
    let k_region = hmac_sha256(&*k_date, region.as_bytes());
    let k_service = hmac_sha256(&*k_region, SIGV4_SERVICE.as_bytes());
    let k_terminal = hmac_sha256(&*k_service, SIGV4_TERMINAL.as_bytes());
    let k_message = hmac_sha256(&*k_terminal, SIGV4_MESSAGE.as_bytes());
    [k_date, k_region, k_service, k_terminal, k_message]
}

/// base64(version byte || mac), built in a zeroizing buffer.
fn encode_password(version: u8, mac: &[u8; 32]) -> String {
    let mut raw = Zeroizing::new(Vec::with_capacity(33));
    raw.push(version);
    raw.extend_from_slice(mac);
    STANDARD.encode(&*raw)
}

/// The SES SMTP password for `secret_access_key` in `region` (AWS's documented SigV4-style
/// algorithm, version byte 0x04). The region is part of the chain, so the password works in
/// that region only.
pub fn derive_smtp_password(secret_access_key: &str, region: &str) -> String {
    let chain = sigv4_chain(secret_access_key, region);
    encode_password(VERSION_SIGV4, &chain[4])
}

/// The pre-2019 (Signature Version 2) SMTP password: base64(0x02 || HMAC(secret,
/// "`SendRawEmail`")). Not region-bound; SES now rejects these.
pub fn derive_legacy_v2_password(secret_access_key: &str) -> String {
    let mac = hmac_sha256(secret_access_key.as_bytes(), SIGV4_MESSAGE.as_bytes());
    encode_password(VERSION_LEGACY_V2, &mac)
}

/// What a password string looks like, judged from its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordShape {
    /// 44 base64 characters decoding to 0x04 + 32 bytes (starts with `B`): current SES password.
    SigV4,
    /// 44 base64 characters decoding to 0x02 + 32 bytes (starts with `A`): pre-2019 password.
    LegacyV2,
    /// 40 characters of the secret-key alphabet: most likely the raw secret access key.
    LooksLikeSecretKey,
    /// Anything else: truncated, mis-copied, URL-encoded, or not an SES password at all.
    Malformed,
}

/// Classify `password` by shape. No trimming: whitespace makes a password malformed.
pub fn password_shape(password: &str) -> PasswordShape {
    if password.len() == SMTP_PASSWORD_LEN {
        let Ok(decoded) = STANDARD.decode(password.as_bytes()) else {
            return PasswordShape::Malformed;
        };
        let decoded = Zeroizing::new(decoded);
        return match (decoded.len(), decoded.first()) {
            (33, Some(&VERSION_SIGV4)) => PasswordShape::SigV4,
            (33, Some(&VERSION_LEGACY_V2)) => PasswordShape::LegacyV2,
            _ => PasswordShape::Malformed,
        };
    }
    let secret_alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    if password.len() == SECRET_ACCESS_KEY_LEN && password.bytes().all(secret_alphabet) {
        return PasswordShape::LooksLikeSecretKey;
    }
    PasswordShape::Malformed
}

/// True for an AWS access key ID: `AKIA` (long-term) or `ASIA` (temporary) followed by 16
/// characters of `[A-Z0-9]`, 20 in all.
/// Whether a host name, greeting or reply text says it comes from Amazon SES itself (not a
/// relay that quotes SES, such as Postfix's "SASL login name rejected: … Access denied").
pub(crate) fn mentions_ses(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let ses = ["email-smtp.", "simpleemailservice", "amazonses", "ses:send"]
        .iter()
        .any(|k| t.contains(k));
    ses && !t.contains("sasl login name rejected")
}

pub(crate) fn is_access_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// True for a temporary (STS) access key ID, which cannot be turned into SMTP credentials.
pub(crate) fn is_temporary_access_key_id(s: &str) -> bool {
    is_access_key_id(s) && s.starts_with("ASIA")
}

/// The region, among the known ones plus `extra_regions`, for which `password` is the `SigV4`
/// SMTP password of `secret_access_key`. `extra_regions` are tried first.
pub(crate) fn region_of_password(
    secret_access_key: &str,
    password: &str,
    extra_regions: &[&str],
) -> Option<String> {
    extra_regions
        .iter()
        .chain(KNOWN_SMTP_REGIONS)
        .chain(OTHER_AWS_REGIONS)
        .find(|region| derive_smtp_password(secret_access_key, region) == password)
        .map(std::string::ToString::to_string)
}

/// One finding of [`lint_credentials`]. `code` is stable (for tests and filters); `message`
/// is plain, actionable, and never quotes the password or the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialWarning {
    pub code: &'static str,
    pub message: String,
}

impl CredentialWarning {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        CredentialWarning {
            code,
            message: message.into(),
        }
    }
}

/// Check SMTP credentials for the mistakes that cause `535 Authentication Credentials Invalid`
/// with SES (ses-smtp.md §5). `endpoint_region` is the region of the SES endpoint in use, or
/// `None` when the server is not SES, in which case only the whitespace checks run.
/// `secret_access_key`, when the user supplied it locally, enables the region check.
pub fn lint_credentials(
    user: &str,
    password: &str,
    endpoint_region: Option<&str>,
    secret_access_key: Option<&str>,
) -> Vec<CredentialWarning> {
    let mut warnings = Vec::new();
    if password != password.trim() {
        warnings.push(CredentialWarning::new(
            "password-whitespace",
            "The password has leading or trailing whitespace (space, tab or newline). It is \
             compared byte for byte; remove it (copy-paste and config files often add it).",
        ));
    }
    if user != user.trim() {
        warnings.push(CredentialWarning::new(
            "username-whitespace",
            "The username has leading or trailing whitespace (space, tab or newline); remove it.",
        ));
    }
    let Some(region) = endpoint_region else {
        return warnings;
    };
    lint_ses(
        user,
        password,
        Some(region),
        secret_access_key,
        &mut warnings,
    );
    warnings
}

/// [`lint_credentials`] for a server that said it is SES (its greeting or EHLO) at an address
/// that does not name the region (an IP address, a VPC endpoint): every check but the one that
/// needs the region.
pub fn lint_credentials_region_unknown(user: &str, password: &str) -> Vec<CredentialWarning> {
    let mut warnings = lint_credentials(user, password, None, None);
    lint_ses(user, password, None, None, &mut warnings);
    warnings
}

fn lint_ses(
    user: &str,
    password: &str,
    region: Option<&str>,
    secret_access_key: Option<&str>,
    warnings: &mut Vec<CredentialWarning>,
) {
    let region = region.map_or_else(|| "REGION".to_string(), str::to_ascii_lowercase);
    let user = user.trim();
    let password = password.trim();
    let shape = password_shape(password);

    lint_username(user, password, warnings);

    match shape {
        PasswordShape::LooksLikeSecretKey => warnings.push(CredentialWarning::new(
            "secret-key-as-password",
            format!(
                "The password is 40 characters long, like an AWS secret access key. SES expects \
                 the SMTP password derived from it (44 characters, starting with B); derive it \
                 with `smtpscope password --region {region}`."
            ),
        )),
        PasswordShape::LegacyV2 => warnings.push(CredentialWarning::new(
            "legacy-v2-password",
            format!(
                "The password is a pre-2019 (Signature Version 2) SMTP password, which SES \
                 rejects. Create new SMTP credentials in the SES console, or derive a current \
                 one with `smtpscope password --region {region}`."
            ),
        )),
        PasswordShape::Malformed => warnings.push(malformed_password_warning(password)),
        PasswordShape::SigV4 => {
            if let Some(secret) = secret_access_key {
                lint_password_region(secret, password, &region, warnings);
            }
        }
    }
}

fn lint_username(user: &str, password: &str, warnings: &mut Vec<CredentialWarning>) {
    if is_temporary_access_key_id(user) {
        warnings.push(CredentialWarning::new(
            "temporary-access-key",
            "The username is a temporary access key ID (ASIA…, from STS or an instance role). \
             SMTP passwords derived from temporary credentials do not work; use a long-term \
             IAM user access key (AKIA…).",
        ));
    } else if is_access_key_id(user) {
        // A long-term access key ID: what SES expects.
    } else if user.is_empty() {
        warnings.push(CredentialWarning::new(
            "username-empty",
            "The username is empty; SES expects the IAM access key ID (AKIA…, 20 characters).",
        ));
    } else if is_access_key_id(&user.to_ascii_uppercase()) {
        warnings.push(CredentialWarning::new(
            "username-case",
            "The username looks like an access key ID but is not all upper case; access key IDs \
             are case-sensitive (AKIA… in capitals).",
        ));
    } else if is_access_key_id(password)
        && matches!(
            password_shape(user),
            PasswordShape::SigV4 | PasswordShape::LegacyV2
        )
    {
        warnings.push(CredentialWarning::new(
            "credentials-swapped",
            "The username and password look swapped: the password field holds an access key ID \
             and the username field holds an SMTP password.",
        ));
    } else {
        warnings.push(CredentialWarning::new(
            "username-not-access-key",
            format!(
                "The username ({} characters) is not an access key ID. SES SMTP usernames are \
                 the IAM user's access key ID (AKIA…, 20 characters), not the IAM user name \
                 or an email address.",
                user.chars().count()
            ),
        ));
    }
}

fn malformed_password_warning(password: &str) -> CredentialWarning {
    let len = password.chars().count();
    let message = if password.is_empty() {
        "The password is empty; SES expects the 44-character SMTP password.".to_string()
    } else if password.contains("%2F")
        || password.contains("%2B")
        || password.contains("%2f")
        || password.contains("%2b")
    {
        format!(
            "The password ({len} characters) contains URL escapes (%2F, %2B). URL-encode the \
             password only inside a URL or DSN; everywhere else give the 44 raw characters."
        )
    } else {
        format!(
            "The password is {len} characters long and is not an SES SMTP password (44 base64 \
             characters starting with B). It may be truncated or mis-copied; copy it again or \
             re-derive it from the secret access key."
        )
    };
    CredentialWarning::new("malformed-password", message)
}

fn lint_password_region(
    secret: &str,
    password: &str,
    region: &str,
    warnings: &mut Vec<CredentialWarning>,
) {
    if derive_smtp_password(secret, region) == password {
        return;
    }
    match region_of_password(secret, password, &[]) {
        Some(other) => warnings.push(CredentialWarning::new(
            "password-wrong-region",
            format!(
                "The password was derived for {other}, but the endpoint is in {region}. SMTP \
                 passwords work in one region only: connect to {} or derive the password for \
                 {region} with `smtpscope password --region {region}`.",
                smtp_endpoint(&other)
            ),
        )),
        None => warnings.push(CredentialWarning::new(
            "password-other-key",
            format!(
                "The password was not derived from the given secret access key for {region} or \
                 any known region: it belongs to another access key (rotated or deleted?), or \
                 the secret given is not the one behind this username."
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EXAMPLE_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const US_EAST_1_PASSWORD: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";
    const EU_WEST_1_PASSWORD: &str = "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn codes(w: &[CredentialWarning]) -> Vec<&'static str> {
        w.iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_server_that_says_ses_gets_the_checks_without_a_region() {
        let w = lint_credentials_region_unknown(EXAMPLE_KEY_ID, EXAMPLE_SECRET);
        let codes: Vec<&str> = w.iter().map(|w| w.code).collect();
        assert!(codes.contains(&"secret-key-as-password"), "{codes:?}");
        assert!(
            w.iter().any(|w| w.message.contains("--region REGION")),
            "{w:?}"
        );
        // A well-formed SMTP password for an access key ID: nothing to say.
        assert!(lint_credentials_region_unknown(EXAMPLE_KEY_ID, US_EAST_1_PASSWORD).is_empty());
    }

    #[test]
    fn intermediate_keys_match_reference_for_us_east_1() {
        let chain = sigv4_chain(EXAMPLE_SECRET, "us-east-1");
        let expected = [
            "5e88ec44617a177b45690a3e5fcf20c17099739a24aef34200b96801db651ecc",
            "c95c7aa304a661ec5d63ccbc0777908509ea72b822e93ee199375cddf812cecf",
            "d1f402dbfb2b8c87077bb6317e9826e0fd295adf7ab615598398b6ed0f3cb2a4",
            "c8b82257b805c29d363837fe9832fe15a41a1f1ec65823dac54486d4774f5315",
            "b04cffd8525042dfabc1b0fab53561c06390ec466e14f65c6efadf154b1962fd",
        ];
        for (key, want) in chain.iter().zip(expected) {
            assert_eq!(hex(&**key), want);
        }
    }

    #[test]
    fn endpoints_and_region_parsing() {
        assert_eq!(
            smtp_endpoint("eu-west-3"),
            "email-smtp.eu-west-3.amazonaws.com"
        );
        assert_eq!(
            region_from_host("email-smtp.us-west-2.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_from_host("EMAIL-SMTP-FIPS.us-gov-west-1.amazonaws.com.").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            region_from_host("email-smtp.eu-central-1.api.aws").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            region_from_host("vpce-0abc-xyz.email-smtp.ap-northeast-1.vpce.amazonaws.com")
                .as_deref(),
            Some("ap-northeast-1")
        );
        assert_eq!(
            region_from_host(&fips_smtp_endpoint("us-east-1")).as_deref(),
            Some("us-east-1")
        );
        assert_eq!(region_from_host("email-smtp.amazonaws.com"), None);
        assert_eq!(region_from_host("smtp.gmail.com"), None);
        assert_eq!(
            region_from_host("email-smtp.not_a_region.amazonaws.com"),
            None
        );
        assert_eq!(
            region_from_host("inbound-smtp.us-east-1.amazonaws.com"),
            None
        );
    }

    #[test]
    fn region_name_shape() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-3",
            "any-made-up-9",
        ] {
            assert!(is_valid_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1\n",
            "us--1",
            "1-east-1",
            "us_east-1",
        ] {
            assert!(!is_valid_region_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(password_shape(US_EAST_1_PASSWORD), PasswordShape::SigV4);
        assert_eq!(
            password_shape(&derive_legacy_v2_password(EXAMPLE_SECRET)),
            PasswordShape::LegacyV2
        );
        assert_eq!(
            password_shape(EXAMPLE_SECRET),
            PasswordShape::LooksLikeSecretKey
        );
        assert_eq!(
            password_shape(&US_EAST_1_PASSWORD[..43]),
            PasswordShape::Malformed
        );
        assert_eq!(
            password_shape(&format!("{US_EAST_1_PASSWORD} ")),
            PasswordShape::Malformed
        );
        assert_eq!(password_shape(""), PasswordShape::Malformed);
        // 44 valid base64 characters with a version byte other than 2 or 4.
        assert_eq!(
            password_shape(&STANDARD.encode([0x07u8; 33])),
            PasswordShape::Malformed
        );
        // 40 characters outside the secret-key alphabet.
        assert_eq!(password_shape(&"!".repeat(40)), PasswordShape::Malformed);
    }

    #[test]
    fn access_key_ids() {
        assert!(is_access_key_id(EXAMPLE_KEY_ID));
        assert!(!is_temporary_access_key_id(EXAMPLE_KEY_ID));
        assert!(is_access_key_id("ASIAIOSFODNN7EXAMPLE"));
        assert!(is_temporary_access_key_id("ASIAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("akiaiosfodnn7example"));
        assert!(!is_access_key_id("AKIAIOSFODNN7EXAMPL"));
        assert!(!is_access_key_id("AIDAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("AKIAIOSFODNN7EXAMPL-"));
    }

    #[test]
    fn correct_credentials_give_no_warning() {
        let w = lint_credentials(
            EXAMPLE_KEY_ID,
            US_EAST_1_PASSWORD,
            Some("us-east-1"),
            Some(EXAMPLE_SECRET),
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(
            lint_credentials(EXAMPLE_KEY_ID, US_EAST_1_PASSWORD, Some("us-east-1"), None)
                .is_empty()
        );
    }

    #[test]
    fn secret_key_as_password() {
        let w = lint_credentials(EXAMPLE_KEY_ID, EXAMPLE_SECRET, Some("us-east-1"), None);
        assert_eq!(codes(&w), ["secret-key-as-password"]);
        assert!(w[0].message.contains("--region us-east-1"));
    }

    #[test]
    fn legacy_password() {
        let legacy = derive_legacy_v2_password(EXAMPLE_SECRET);
        let w = lint_credentials(EXAMPLE_KEY_ID, &legacy, Some("eu-west-1"), None);
        assert_eq!(codes(&w), ["legacy-v2-password"]);
    }

    #[test]
    fn truncated_and_url_encoded_passwords() {
        let w = lint_credentials(
            EXAMPLE_KEY_ID,
            &US_EAST_1_PASSWORD[..30],
            Some("us-east-1"),
            None,
        );
        assert_eq!(codes(&w), ["malformed-password"]);
        assert!(w[0].message.contains("30 characters"));
        let encoded = US_EAST_1_PASSWORD.replace('/', "%2F").replace('+', "%2B");
        let w = lint_credentials(EXAMPLE_KEY_ID, &encoded, Some("us-east-1"), None);
        assert_eq!(codes(&w), ["malformed-password"]);
        assert!(w[0].message.contains("URL escapes"));
        let w = lint_credentials(EXAMPLE_KEY_ID, "", Some("us-east-1"), None);
        assert_eq!(codes(&w), ["malformed-password"]);
    }

    #[test]
    fn whitespace_is_checked_even_off_ses() {
        let padded = format!("{US_EAST_1_PASSWORD}\n");
        let w = lint_credentials(EXAMPLE_KEY_ID, &padded, None, None);
        assert_eq!(codes(&w), ["password-whitespace"]);
        // On SES the trimmed password is judged on its own merits: no malformed warning.
        let w = lint_credentials(
            &format!(" {EXAMPLE_KEY_ID}"),
            &padded,
            Some("us-east-1"),
            None,
        );
        assert_eq!(codes(&w), ["password-whitespace", "username-whitespace"]);
        // Off SES nothing else is judged.
        assert!(lint_credentials("alice", "hunter2", None, None).is_empty());
    }

    #[test]
    fn wrong_region_is_named() {
        let w = lint_credentials(
            EXAMPLE_KEY_ID,
            EU_WEST_1_PASSWORD,
            Some("us-east-1"),
            Some(EXAMPLE_SECRET),
        );
        assert_eq!(codes(&w), ["password-wrong-region"]);
        assert!(
            w[0].message.contains("derived for eu-west-1"),
            "{}",
            w[0].message
        );
        assert!(w[0].message.contains("email-smtp.eu-west-1.amazonaws.com"));
        // A region outside the SMTP hint list is still recognised.
        let jakarta = derive_smtp_password(EXAMPLE_SECRET, "ap-southeast-3");
        let w = lint_credentials(
            EXAMPLE_KEY_ID,
            &jakarta,
            Some("us-east-1"),
            Some(EXAMPLE_SECRET),
        );
        assert!(w[0].message.contains("derived for ap-southeast-3"));
        // The endpoint region itself need not be in any list.
        let custom = derive_smtp_password(EXAMPLE_SECRET, "xx-test-9");
        assert!(
            lint_credentials(
                EXAMPLE_KEY_ID,
                &custom,
                Some("xx-test-9"),
                Some(EXAMPLE_SECRET)
            )
            .is_empty()
        );
    }

    #[test]
    fn password_from_another_key() {
        let other = derive_smtp_password("AnotherSecretKeyAnotherSecretKeyAnother1", "us-east-1");
        let w = lint_credentials(
            EXAMPLE_KEY_ID,
            &other,
            Some("us-east-1"),
            Some(EXAMPLE_SECRET),
        );
        assert_eq!(codes(&w), ["password-other-key"]);
    }

    #[test]
    fn username_checks() {
        let lint_user = |u: &str| {
            codes(&lint_credentials(
                u,
                US_EAST_1_PASSWORD,
                Some("us-east-1"),
                None,
            ))
        };
        assert_eq!(
            lint_user("ses-smtp-user.20230808-123456"),
            ["username-not-access-key"]
        );
        assert_eq!(lint_user("alice@example.com"), ["username-not-access-key"]);
        assert_eq!(lint_user("ASIAIOSFODNN7EXAMPLE"), ["temporary-access-key"]);
        assert_eq!(lint_user("akiaiosfodnn7example"), ["username-case"]);
        assert_eq!(lint_user(""), ["username-empty"]);
        let swapped = lint_credentials(US_EAST_1_PASSWORD, EXAMPLE_KEY_ID, Some("us-east-1"), None);
        assert_eq!(
            codes(&swapped),
            ["credentials-swapped", "malformed-password"]
        );
    }

    #[test]
    fn warnings_never_quote_secrets() {
        let legacy = derive_legacy_v2_password(EXAMPLE_SECRET);
        let passwords = [
            EXAMPLE_SECRET.to_string(),
            legacy,
            US_EAST_1_PASSWORD[..30].to_string(),
            EU_WEST_1_PASSWORD.to_string(),
            format!(" {US_EAST_1_PASSWORD}"),
        ];
        for pw in &passwords {
            for w in lint_credentials("someone", pw, Some("us-east-1"), Some(EXAMPLE_SECRET)) {
                assert!(
                    !w.message.contains(pw.trim()),
                    "{} quotes the password",
                    w.code
                );
                assert!(
                    !w.message.contains(EXAMPLE_SECRET),
                    "{} quotes the secret",
                    w.code
                );
            }
        }
    }
}
