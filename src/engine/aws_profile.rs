//! AWS credentials the way the AWS CLI finds them: the shared `credentials` and `config` files
//! (INI, read with the `rust-ini` crate) and the `AWS_*` environment variables.
//!
//! Only a long-term access key pair (an IAM user's `AKIA…` key and its secret) can become SES
//! SMTP credentials: the SMTP password is an HMAC of the secret key, and SES checks it against
//! the IAM user's stored key. Temporary credentials (STS keys, SSO, assumed roles, helper
//! programs) are recognised and refused with the reason, before anything is sent.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ini::{Ini, ParseOption};
use thiserror::Error;
use zeroize::Zeroizing;

use super::limited::{self, ReadError};

/// The shared files are small; a larger one is not an AWS credentials file.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A long-term access key pair, and the region the profile names (if any). Its `Debug` hides
/// the secret.
#[derive(Clone)]
pub struct LongTermKey {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub region: Option<String>,
    /// Where the key came from, e.g. "profile ses-sender" or "the `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` environment variables".
    pub origin: String,
}

impl fmt::Debug for LongTermKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongTermKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("origin", &self.origin)
            .finish()
    }
}

/// What kind of temporary credentials a profile holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Temporary {
    /// An `ASIA…` access key ID: issued by STS, it expires.
    StsKey,
    /// `aws_session_token` (or `AWS_SESSION_TOKEN`) beside the key.
    SessionToken,
    /// `sso_*` settings: IAM Identity Center signs in and hands out short-lived keys.
    Sso,
    /// `role_arn`: the CLI assumes a role and gets short-lived keys.
    AssumedRole,
    /// `credential_process`: a program hands out keys at run time.
    CredentialProcess,
    /// `web_identity_token_file`: keys for a web identity (e.g. a Kubernetes service account).
    WebIdentity,
}

impl Temporary {
    fn what(&self) -> &'static str {
        match self {
            Temporary::StsKey => "a temporary access key (its ID starts with ASIA)",
            Temporary::SessionToken => "a session token, so its keys are temporary",
            Temporary::Sso => "IAM Identity Center (SSO) settings, which give temporary keys",
            Temporary::AssumedRole => "an assumed role (role_arn), which gives temporary keys",
            Temporary::CredentialProcess => {
                "a credential_process, a program that hands out keys at run time"
            }
            Temporary::WebIdentity => "a web identity token, which gives temporary keys",
        }
    }
}

/// Why no long-term key could be found.
#[derive(Debug, Error)]
pub enum ProfileError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{file}, line {line}: not an INI file the AWS CLI would read")]
    Syntax { file: String, line: usize },
    #[error(
        "no profile {name:?} in {credentials} or {config} (profiles found: {found})",
        found = if .found.is_empty() { "none".to_string() } else { .found.join(", ") }
    )]
    NotFound {
        name: String,
        credentials: String,
        config: String,
        found: Vec<String>,
    },
    #[error(
        "{origin} has {}.\n\
         SES SMTP needs an IAM user's long-term access key (AKIA...): the SMTP password is \
         computed from that key's secret, and SES checks it against the key it stores for the \
         user. Temporary keys expire and are not stored that way, so SES would refuse them at \
         AUTH with 535. Nothing was sent.\n\
         Create an access key for an IAM user allowed ses:SendRawEmail and put it in a profile \
         (aws configure --profile NAME), or use --user and SMTPSCOPE_PASSWORD with SMTP \
         credentials from the SES console.",
        .kind.what()
    )]
    Temporary { origin: String, kind: Temporary },
    #[error(
        "{origin} has no access key: it needs aws_access_key_id and aws_secret_access_key \
         (an IAM user's long-term key pair)"
    )]
    NoKey { origin: String },
    #[error(
        "{origin}: aws_access_key_id \"{id}\" is not an access key ID (20 capitals and digits, starting AKIA)"
    )]
    BadKeyId { origin: String, id: String },
}

/// Where the shared files are, from `HOME` and the `AWS_*_FILE` variables.
#[derive(Debug, Clone)]
pub struct SharedFiles {
    pub credentials: PathBuf,
    pub config: PathBuf,
}

impl SharedFiles {
    /// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, else `~/.aws/credentials` and
    /// `~/.aws/config`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> SharedFiles {
        let home = env("HOME")
            .or_else(|| env("USERPROFILE"))
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        let aws = home.join(".aws");
        SharedFiles {
            credentials: env("AWS_SHARED_CREDENTIALS_FILE")
                .map_or_else(|| aws.join("credentials"), PathBuf::from),
            config: env("AWS_CONFIG_FILE").map_or_else(|| aws.join("config"), PathBuf::from),
        }
    }
}

/// The settings of one section, keys lower-cased.
type Section = HashMap<String, Zeroizing<String>>;

/// Reads one shared file: its sections by profile name (`[profile x]` in the config file is
/// `x`; `[sso-session …]` and `[services …]` sections are left out). A missing file is empty.
fn read_shared(path: &Path, is_config: bool) -> Result<HashMap<String, Section>, ProfileError> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let text = limited::read_secret_file(path, "an AWS shared file", MAX_FILE_BYTES)?;
    let opt = ParseOption {
        // Values are taken as written, as the AWS CLI does: secrets hold '/' and '+'.
        enabled_quote: false,
        enabled_escape: false,
        // Nested settings (`s3 =` then indented lines) are one value, not stray keys.
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let ini = Ini::load_from_str_opt(&text, opt).map_err(|e| ProfileError::Syntax {
        file: limited::shown(path),
        line: e.line,
    })?;
    let mut out = HashMap::new();
    for (name, props) in &ini {
        let Some(name) = name.map(str::trim) else {
            continue;
        };
        let profile = if is_config {
            if name == "default" {
                Some("default")
            } else {
                name.strip_prefix("profile ").map(str::trim)
            }
        } else {
            Some(name)
        };
        let Some(profile) = profile else { continue };
        let section: &mut Section = out.entry(profile.to_string()).or_default();
        for (k, v) in props {
            section.insert(
                k.trim().to_ascii_lowercase(),
                Zeroizing::new(v.trim().to_string()),
            );
        }
    }
    Ok(out)
}

/// The long-term key of profile `name`. The credentials file's keys win over the config
/// file's, as for the AWS CLI; the region comes from the config file (or the credentials file).
pub fn load_profile(files: &SharedFiles, name: &str) -> Result<LongTermKey, ProfileError> {
    let credentials = read_shared(&files.credentials, false)?;
    let config = read_shared(&files.config, true)?;
    let origin = format!("profile {name}");
    let mut merged: Section = config.get(name).cloned().unwrap_or_default();
    match credentials.get(name) {
        Some(c) => merged.extend(c.iter().map(|(k, v)| (k.clone(), v.clone()))),
        None if !config.contains_key(name) => {
            let mut found: Vec<String> = credentials.keys().chain(config.keys()).cloned().collect();
            found.sort();
            found.dedup();
            return Err(ProfileError::NotFound {
                name: name.to_string(),
                credentials: limited::shown(&files.credentials),
                config: limited::shown(&files.config),
                found,
            });
        }
        None => {}
    }
    let get = |k: &str| merged.get(k).map(|v| v.as_str()).filter(|v| !v.is_empty());
    let temporary = |kind| ProfileError::Temporary {
        origin: origin.clone(),
        kind,
    };
    let id = get("aws_access_key_id");
    let secret = get("aws_secret_access_key");
    if get("aws_session_token").is_some() || get("aws_security_token").is_some() {
        return Err(temporary(Temporary::SessionToken));
    }
    if let Some(id) = id
        && super::ses::is_temporary_access_key_id(id)
    {
        return Err(temporary(Temporary::StsKey));
    }
    if id.is_none() || secret.is_none() {
        // Without a static key, say which temporary mechanism the profile uses, if any.
        if merged.keys().any(|k| k.starts_with("sso_")) {
            return Err(temporary(Temporary::Sso));
        }
        if get("role_arn").is_some() || get("source_profile").is_some() {
            return Err(temporary(Temporary::AssumedRole));
        }
        if get("credential_process").is_some() {
            return Err(temporary(Temporary::CredentialProcess));
        }
        if get("web_identity_token_file").is_some() {
            return Err(temporary(Temporary::WebIdentity));
        }
        return Err(ProfileError::NoKey { origin });
    }
    // A static key beside role_arn: the AWS CLI would assume the role, not use the key.
    if get("role_arn").is_some() {
        return Err(temporary(Temporary::AssumedRole));
    }
    let (Some(id), Some(secret)) = (id, secret) else {
        return Err(ProfileError::NoKey { origin });
    };
    key(origin, id, secret, get("region"))
}

/// The long-term key from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, if both are set.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Result<LongTermKey, ProfileError>> {
    let id = env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
    let secret = Zeroizing::new(env("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?);
    let origin =
        "the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables".to_string();
    if env("AWS_SESSION_TOKEN").is_some_and(|t| !t.is_empty()) {
        return Some(Err(ProfileError::Temporary {
            origin,
            kind: Temporary::SessionToken,
        }));
    }
    if super::ses::is_temporary_access_key_id(&id) {
        return Some(Err(ProfileError::Temporary {
            origin,
            kind: Temporary::StsKey,
        }));
    }
    Some(key(origin, &id, &secret, None))
}

fn key(
    origin: String,
    id: &str,
    secret: &str,
    region: Option<&str>,
) -> Result<LongTermKey, ProfileError> {
    if !super::ses::is_access_key_id(id) {
        return Err(ProfileError::BadKeyId {
            origin,
            id: super::escape::escape_str(id),
        });
    }
    Ok(LongTermKey {
        access_key_id: id.to_string(),
        secret_access_key: Zeroizing::new(secret.to_string()),
        region: region.map(str::to_string),
        origin,
    })
}

/// The region from `AWS_REGION`, else `AWS_DEFAULT_REGION`.
pub fn region_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("AWS_REGION")
        .filter(|r| !r.is_empty())
        .or_else(|| env("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn files(credentials: &str, config: &str) -> (tempfile::TempDir, SharedFiles) {
        let dir = tempfile::tempdir().unwrap();
        let f = SharedFiles {
            credentials: dir.path().join("credentials"),
            config: dir.path().join("config"),
        };
        std::fs::write(&f.credentials, credentials).unwrap();
        std::fs::write(&f.config, config).unwrap();
        (dir, f)
    }

    #[test]
    fn a_long_term_key_and_the_config_files_region() {
        let (_d, f) = files(
            &format!(
                "[default]\naws_access_key_id = AKIAEXAMPLEOTHER0001\naws_secret_access_key = x\n\n[ses]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"
            ),
            "[default]\nregion = us-east-1\n\n[profile ses]\nregion = ap-northeast-1\ns3 =\n  max_concurrent_requests = 10\n",
        );
        let k = load_profile(&f, "ses").unwrap();
        assert_eq!(k.access_key_id, ID);
        assert_eq!(k.secret_access_key.as_str(), SECRET);
        assert_eq!(k.region.as_deref(), Some("ap-northeast-1"));
        assert!(!format!("{k:?}").contains("EXAMPLEKEY"));
        let d = load_profile(&f, "default").unwrap();
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn keys_in_the_config_file_work_too() {
        let (_d, f) = files(
            "",
            &format!(
                "[profile only-config]\naws_access_key_id={ID}\naws_secret_access_key={SECRET}\nregion=eu-west-1\n"
            ),
        );
        assert_eq!(load_profile(&f, "only-config").unwrap().access_key_id, ID);
        // `[only-config]` without "profile " in the config file is not that profile.
        let (_d, f) = files("", &format!("[only-config]\naws_access_key_id={ID}\n"));
        assert!(matches!(
            load_profile(&f, "only-config"),
            Err(ProfileError::NotFound { .. })
        ));
    }

    #[test]
    fn temporary_credentials_are_named() {
        let cases = [
            (
                "[p]\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\naws_secret_access_key = s\n",
                "",
                Temporary::StsKey,
            ),
            (
                &*format!(
                    "[p]\naws_access_key_id = {ID}\naws_secret_access_key = s\naws_session_token = t\n"
                ),
                "",
                Temporary::SessionToken,
            ),
            (
                "",
                "[profile p]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
                Temporary::Sso,
            ),
            (
                "",
                "[profile p]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n",
                Temporary::AssumedRole,
            ),
            (
                "",
                "[profile p]\ncredential_process = /usr/bin/helper --json\n",
                Temporary::CredentialProcess,
            ),
        ];
        for (credentials, config, kind) in cases {
            let (_d, f) = files(credentials, config);
            match load_profile(&f, "p") {
                Err(ProfileError::Temporary { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
        let e = ProfileError::Temporary {
            origin: "profile p".into(),
            kind: Temporary::Sso,
        }
        .to_string();
        assert!(
            e.contains("long-term") && e.contains("Nothing was sent"),
            "{e}"
        );
    }

    #[test]
    fn missing_profiles_and_keys_are_explained() {
        let (_d, f) = files("[a]\nregion = x\n", "[profile b]\nregion = y\n");
        let e = load_profile(&f, "c").unwrap_err().to_string();
        assert!(e.contains("no profile \"c\"") && e.contains("a, b"), "{e}");
        let e = load_profile(&f, "a").unwrap_err().to_string();
        assert!(e.contains("no access key"), "{e}");
        let (_d, f) = files(
            "[a]\naws_access_key_id = nope\naws_secret_access_key = s\n",
            "",
        );
        assert!(matches!(
            load_profile(&f, "a"),
            Err(ProfileError::BadKeyId { .. })
        ));
    }

    #[test]
    fn environment_keys() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let ok = env(&[("AWS_ACCESS_KEY_ID", ID), ("AWS_SECRET_ACCESS_KEY", SECRET)]);
        assert_eq!(from_env(&ok).unwrap().unwrap().access_key_id, ID);
        let token = env(&[
            ("AWS_ACCESS_KEY_ID", ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", "t"),
        ]);
        assert!(matches!(
            from_env(&token),
            Some(Err(ProfileError::Temporary { .. }))
        ));
        assert!(from_env(&env(&[("AWS_ACCESS_KEY_ID", ID)])).is_none());
        let regions = env(&[("AWS_DEFAULT_REGION", "eu-west-1")]);
        assert_eq!(region_from_env(&regions).as_deref(), Some("eu-west-1"));
        let both = env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "us-west-2"),
        ]);
        assert_eq!(region_from_env(&both).as_deref(), Some("us-west-2"));
        let files = SharedFiles::from_env(&env(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", "/etc/aws-config"),
        ]));
        assert_eq!(files.credentials, Path::new("/home/u/.aws/credentials"));
        assert_eq!(files.config, Path::new("/etc/aws-config"));
    }
}
