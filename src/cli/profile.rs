//! `--profile`, `--config` and `--target`: where the target and the login come from when they
//! are not spelled out as flags.
//!
//! Applied before a front end starts ([`ProfileArgs::apply`]): a configured target fills the
//! target, credential and envelope options the command line left out, then an AWS profile (or
//! the `AWS_*` environment variables) gives the SES SMTP user and derives its password for the
//! target's region. Nothing here prints a secret: the derived password is described as
//! "derived from profile X for region Y".

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use zeroize::Zeroizing;

use super::{AuthChoice, CliError, CredentialArgs, EnvelopeArgs, TargetArgs};
use crate::config::{Secret, UserConfig};
use crate::engine::aws_profile::{self, SharedFiles};
use crate::engine::escape::escape_str;

/// A password found for the user (not typed on the command line), and where it came from.
#[derive(Clone)]
pub struct Provided {
    pub password: Zeroizing<String>,
    /// E.g. "derived from profile ses for region ap-northeast-1".
    pub origin: String,
}

impl fmt::Debug for Provided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provided")
            .field("password", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// The options that name a profile or a configured target.
#[expect(
    clippy::doc_markdown,
    reason = "the field comments are --help text, shown verbatim"
)]
#[derive(Debug, Clone, Args, Default)]
pub struct ProfileArgs {
    /// AWS profile (from ~/.aws/credentials and ~/.aws/config) whose IAM user access key logs
    /// in to SES: the user is its key ID, the password is derived for the region (never
    /// shown). Without it, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE are used
    /// for SES targets when no --user is given
    #[arg(long, value_name = "NAME", help_heading = "Credentials")]
    pub profile: Option<String>,
    /// Configuration file with named targets [default: smtpscope/config.toml in your
    /// configuration folder, or SMTPSCOPE_CONFIG]
    #[arg(long = "config", value_name = "FILE", help_heading = "Target")]
    pub config_file: Option<PathBuf>,
    /// A target named in the configuration file ([targets.NAME]); flags override its values
    #[arg(long = "target", value_name = "NAME", help_heading = "Target")]
    pub target_name: Option<String>,
}

/// What [`ProfileArgs::apply`] found.
#[derive(Debug, Default)]
pub struct Applied {
    /// Lines to show at start, e.g. where the password came from.
    pub notes: Vec<String>,
    /// The configuration file, when one was read.
    pub config: Option<UserConfig>,
    /// The configured target in use.
    pub target: Option<String>,
}

/// The environment, as the lookups here read it.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl ProfileArgs {
    /// Fills `target`, `credentials` and `envelope` from the configured target and the AWS
    /// profile. `read_default_config`: read the default configuration file when it exists
    /// even without `--target` (the debugger, for its target list and default target).
    pub async fn apply(
        &self,
        target: &mut TargetArgs,
        credentials: &mut CredentialArgs,
        envelope: &mut EnvelopeArgs,
        read_default_config: bool,
    ) -> Result<Applied, CliError> {
        let mut applied = Applied {
            config: self.load_config(read_default_config)?,
            ..Applied::default()
        };
        let mut profile = self.profile.clone();
        let mut target_note = None;
        let nothing_given = target.host.is_none() && target.region.is_none();
        let chosen = match (&self.target_name, &applied.config) {
            (Some(name), _) => Some(name.clone()),
            // The default target only when the command line says nothing of where to go.
            (None, Some(c)) if nothing_given => c.default_target.clone(),
            _ => None,
        };
        if let Some(name) = chosen {
            let Some(config) = &applied.config else {
                return Err(CliError::Usage(format!(
                    "--target {}: no configuration file; write one at {} or give --config FILE",
                    escape_str(&name),
                    crate::config::default_path().map_or_else(
                        || "(no configuration folder)".into(),
                        |p| p.display().to_string()
                    )
                )));
            };
            let settings = config
                .target(&name)
                .map_err(|e| CliError::Usage(e.to_string()))?
                .clone();
            settings.fill(target);
            if envelope.from.is_none() {
                envelope.from.clone_from(&settings.from);
            }
            if envelope.to.is_empty() {
                envelope.to = settings.to.clone().unwrap_or_default();
            }
            if credentials.auth == AuthChoice::Plain
                && let Some(a) = settings.auth
            {
                credentials.auth = a.into();
            }
            let flags_give_login = credentials.user.is_some() || typed_password(credentials);
            match settings.secret() {
                Some(Secret::Profile(p)) if !flags_give_login => {
                    profile = profile.or(Some(p));
                }
                Some(secret) if !flags_give_login || credentials.user == settings.user => {
                    if credentials.user.is_none() {
                        credentials.user.clone_from(&settings.user);
                    }
                    if !typed_password(credentials) {
                        credentials.provided = Some(read_secret(&name, &secret).await?);
                    }
                }
                _ => {
                    if credentials.user.is_none() {
                        credentials.user.clone_from(&settings.user);
                    }
                }
            }
            target_note = Some(format!(
                "target {} from {}",
                escape_str(&name),
                crate::engine::limited::shown(&config.file)
            ));
            applied.target = Some(name);
        }
        // Where the password came from first: the notes row shows the first note.
        if let Some(note) = apply_aws(profile.as_deref(), target, credentials, &env)? {
            applied.notes.push(note);
        }
        applied.notes.extend(target_note);
        Ok(applied)
    }

    /// The configuration file: `--config` (must exist), else the default one (must exist when
    /// `--target` names a target in it; read when it exists if `read_default`).
    fn load_config(&self, read_default: bool) -> Result<Option<UserConfig>, CliError> {
        let (path, must_exist) = match &self.config_file {
            Some(p) => (Some(p.clone()), true),
            None if self.target_name.is_some() || read_default => {
                (crate::config::default_path(), false)
            }
            None => (None, false),
        };
        let Some(path) = path else { return Ok(None) };
        if !must_exist && !path.exists() {
            return Ok(None);
        }
        UserConfig::load(&path)
            .map(Some)
            .map_err(|e| CliError::Usage(e.to_string()))
    }
}

/// Whether a password was given by flag (not from the environment).
fn typed_password(c: &CredentialArgs) -> bool {
    c.password_file.is_some() || c.password_stdin || c.password.is_some()
}

/// Reads a configured target's password from its environment variable, file or command.
async fn read_secret(target: &str, secret: &Secret) -> Result<Provided, CliError> {
    let target = escape_str(target);
    let (password, origin) = match secret {
        Secret::Env(var) => (
            std::env::var(var).map(Zeroizing::new).map_err(|_| {
                CliError::Usage(format!(
                    "target {target}: its password_env {} is not set",
                    escape_str(var)
                ))
            })?,
            format!(
                "the environment variable {} (target {target})",
                escape_str(var)
            ),
        ),
        Secret::File(path) => {
            let text = crate::engine::limited::read_secret_file(
                path,
                "the password file",
                crate::engine::limited::limit::PASSWORD,
            )?;
            (
                Zeroizing::new(text.lines().next().unwrap_or("").to_string()),
                format!("the password file of target {target}"),
            )
        }
        Secret::Command(argv) => (
            crate::commands::exporter::config::run_command(argv)
                .await
                .map_err(|e| CliError::Usage(format!("target {target}: {}", escape_str(&e))))?,
            format!("the password command of target {target}"),
        ),
        Secret::Profile(name) => {
            // Profiles are applied by `apply_aws`; a caller that gets here asked for a password
            // that only a profile can give.
            return Err(CliError::Usage(format!(
                "target {target}: profile {} gives its own user and password",
                escape_str(name)
            )));
        }
    };
    Ok(Provided { password, origin })
}

/// The AWS side: an explicit profile (flag or target), else for SES targets without `--user`,
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else `AWS_PROFILE`. Returns the note to show.
fn apply_aws(
    explicit: Option<&str>,
    target: &mut TargetArgs,
    credentials: &mut CredentialArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, CliError> {
    if credentials.auth == AuthChoice::None && explicit.is_none() {
        return Ok(None);
    }
    if let Some(name) = explicit {
        if credentials.user.is_some() {
            return Err(CliError::Usage(format!(
                "--profile {} gives the SMTP user (its access key ID): leave out --user (and SMTPSCOPE_USER), or leave out --profile",
                escape_str(name)
            )));
        }
        if typed_password(credentials) {
            return Err(CliError::Usage(format!(
                "--profile {} gives the SMTP password (derived from its secret key): leave out --password-file and --password-stdin",
                escape_str(name)
            )));
        }
    } else {
        let login_given = credentials.user.is_some()
            || typed_password(credentials)
            || credentials.provided.is_some();
        // AWS keys in the environment are for AWS: a non-SES server never gets them.
        let ses_target = target.host.is_none() || target.ses_region().is_some();
        if login_given || !ses_target {
            return Ok(None);
        }
    }
    let files = SharedFiles::from_env(env);
    let aws_err = |e: aws_profile::ProfileError| CliError::Usage(e.to_string());
    let key = if let Some(name) = explicit {
        check_profile_name(name)?;
        aws_profile::load_profile(&files, name).map_err(aws_err)?
    } else if let Some(found) = aws_profile::from_env(env) {
        found.map_err(aws_err)?
    } else if let Some(name) = env("AWS_PROFILE").filter(|p| !p.is_empty()) {
        check_profile_name(&name)?;
        aws_profile::load_profile(&files, &name).map_err(aws_err)?
    } else {
        return Ok(None);
    };
    if target.region.is_none() {
        let host_region = target
            .host
            .as_deref()
            .and_then(crate::engine::ses::region_from_host);
        if host_region.is_none() {
            target.region = aws_profile::region_from_env(env).or_else(|| key.region.clone());
        }
    }
    let Some(region) = target.ses_region() else {
        return Err(CliError::Usage(format!(
            "the SES SMTP password is derived for one region, and {} names none: give --region REGION (e.g. --region ap-northeast-1), or set region in the profile or AWS_REGION",
            key.origin
        )));
    };
    if !crate::engine::ses::is_valid_region_name(&region) {
        return Err(CliError::Usage(format!(
            "region {:?} (from {}) is not a region name (e.g. us-east-1)",
            escape_str(&region),
            key.origin
        )));
    }
    let password = Zeroizing::new(crate::engine::ses::derive_smtp_password(
        &key.secret_access_key,
        &region,
    ));
    let origin = format!("derived from {} for region {region}", key.origin);
    credentials.user = Some(key.access_key_id.clone());
    credentials.provided = Some(Provided {
        password,
        origin: origin.clone(),
    });
    Ok(Some(format!(
        "SMTP user {} and password {origin} (the password is not shown)",
        key.access_key_id
    )))
}

fn check_profile_name(name: &str) -> Result<(), CliError> {
    crate::engine::command::check_arg("--profile", name).map_err(|e| CliError::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn home() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            format!("[p]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[profile p]\nregion = us-east-1\n",
        )
        .unwrap();
        dir
    }

    fn env_of(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_profile_gives_the_user_and_the_derived_password() {
        let h = home();
        let env = env_of(vec![("HOME", h.path().display().to_string())]);
        let mut t = TargetArgs::default();
        let mut c = CredentialArgs::default();
        let note = apply_aws(Some("p"), &mut t, &mut c, &env).unwrap().unwrap();
        assert_eq!(c.user.as_deref(), Some(ID));
        assert_eq!(t.region.as_deref(), Some("us-east-1"));
        // AWS's published test vector for this example key in us-east-1.
        let p = c.provided.as_ref().unwrap();
        assert_eq!(
            p.password.as_str(),
            "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
        );
        assert_eq!(p.origin, "derived from profile p for region us-east-1");
        assert!(
            !note.contains("BLBM") && !format!("{c:?}").contains("BLBM"),
            "{note}"
        );
        // --region wins over the profile's region.
        let mut t = TargetArgs {
            region: Some("ap-northeast-1".into()),
            ..Default::default()
        };
        let mut c = CredentialArgs::default();
        apply_aws(Some("p"), &mut t, &mut c, &env).unwrap();
        assert!(
            c.provided
                .unwrap()
                .origin
                .ends_with("region ap-northeast-1")
        );
    }

    #[test]
    fn the_environment_is_used_only_for_ses_targets_without_a_user() {
        let h = home();
        let env = env_of(vec![
            ("HOME", h.path().display().to_string()),
            ("AWS_PROFILE", "p".into()),
        ]);
        let mut other = TargetArgs {
            host: Some("smtp.example.com".into()),
            ..Default::default()
        };
        let mut c = CredentialArgs::default();
        assert!(apply_aws(None, &mut other, &mut c, &env).unwrap().is_none());
        assert!(c.user.is_none() && other.region.is_none());
        let mut c = CredentialArgs {
            user: Some("alice".into()),
            ..Default::default()
        };
        assert!(
            apply_aws(None, &mut TargetArgs::default(), &mut c, &env)
                .unwrap()
                .is_none()
        );
        let mut c = CredentialArgs::default();
        assert!(
            apply_aws(None, &mut TargetArgs::default(), &mut c, &env)
                .unwrap()
                .is_some()
        );
        assert_eq!(c.user.as_deref(), Some(ID));
        // The environment's keys come before AWS_PROFILE, and AWS_REGION before its region.
        let env = env_of(vec![
            ("HOME", h.path().display().to_string()),
            ("AWS_PROFILE", "p".into()),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEENVKEY001".into()),
            ("AWS_SECRET_ACCESS_KEY", "EXAMPLEenvsecret".into()),
            ("AWS_REGION", "eu-west-1".into()),
        ]);
        let mut t = TargetArgs::default();
        let mut c = CredentialArgs::default();
        apply_aws(None, &mut t, &mut c, &env).unwrap();
        assert_eq!(c.user.as_deref(), Some("AKIAEXAMPLEENVKEY001"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn conflicts_and_missing_regions_are_usage_errors() {
        let h = home();
        std::fs::write(h.path().join(".aws/config"), "[profile p]\noutput = json\n").unwrap();
        let env = env_of(vec![("HOME", h.path().display().to_string())]);
        let mut c = CredentialArgs::default();
        let e = apply_aws(Some("p"), &mut TargetArgs::default(), &mut c, &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("derived for one region") && e.contains("--region"),
            "{e}"
        );
        let mut c = CredentialArgs {
            user: Some("alice".into()),
            ..Default::default()
        };
        let e = apply_aws(Some("p"), &mut TargetArgs::default(), &mut c, &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("leave out --user"), "{e}");
    }
}
