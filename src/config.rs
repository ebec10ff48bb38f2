//! The user's configuration file (TOML): named targets for `--target NAME`, so a server's
//! host, port, TLS, credentials and envelope are written once.
//!
//! It lives in the platform's configuration folder (`smtpscope/config.toml` under
//! `$XDG_CONFIG_HOME` or `~/.config` on Linux; see [`default_path`]), or wherever
//! `SMTPSCOPE_CONFIG` or `--config FILE` says. `assets/config.example.toml` is a commented
//! example. Unknown keys are refused, and every error names the file, the line and the key.
//!
//! Parsing shares the exporter's error type and its line and key finding
//! ([`crate::commands::exporter::config`]), and its password helper runner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::cli::{AuthChoice, TargetArgs};
use crate::commands::exporter::config::{ConfigError, key_at, line_of};
use crate::engine::command::{check_address, check_arg};
use crate::engine::limited::{self, limit};
use crate::engine::transport::TlsMode;
use crate::tui::keymap::{ACTION_NAMES, Binding, parse_key, with_overrides};
use crate::tui::theme::Palette;
use ratatui::style::Color;

/// The environment variable naming the configuration file (tests, several setups).
pub const CONFIG_ENV: &str = "SMTPSCOPE_CONFIG";

/// The configuration file's default place: `SMTPSCOPE_CONFIG`, else `config.toml` in the
/// platform's configuration folder for smtpscope.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "smtpscope").map(|d| d.config_dir().join("config.toml"))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// The target used when `--target` is not given (the debugger and `run`).
    default_target: Option<Spanned<String>>,
    #[serde(default)]
    targets: BTreeMap<String, Spanned<TargetSettings>>,
    /// The debugger's colours.
    theme: Option<ThemeSection>,
    /// The debugger's keys: action name = key.
    #[serde(default)]
    keys: BTreeMap<String, Spanned<String>>,
}

/// `[theme]`: a palette by name, and single roles changed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThemeSection {
    name: Option<Spanned<String>>,
    #[serde(default)]
    colors: BTreeMap<String, Spanned<String>>,
}

/// How to log in, in the file (`auth = "login"`).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum AuthKey {
    Plain,
    Login,
    None,
}

impl From<AuthKey> for AuthChoice {
    fn from(a: AuthKey) -> AuthChoice {
        match a {
            AuthKey::Plain => AuthChoice::Plain,
            AuthKey::Login => AuthChoice::Login,
            AuthKey::None => AuthChoice::None,
        }
    }
}

/// The keys of one `[targets.NAME]` table. It holds no secret: passwords come from an
/// environment variable, a file, a command or an AWS profile.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    pub host: Option<String>,
    pub region: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub ca_file: Option<PathBuf>,
    pub insecure: Option<bool>,
    pub sni: Option<String>,
    pub ehlo: Option<String>,
    /// Used when `--timeout` is left at its default.
    pub timeout_secs: Option<u64>,
    pub auth: Option<AuthKey>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<Vec<String>>,
    /// An AWS profile: the user is its access key ID, the password is derived.
    pub profile: Option<String>,
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
}

/// Where a target's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    File(PathBuf),
    Command(Vec<String>),
    Profile(String),
}

/// The loaded configuration.
#[derive(Debug, Clone)]
pub struct UserConfig {
    pub file: PathBuf,
    pub default_target: Option<String>,
    pub targets: BTreeMap<String, TargetSettings>,
    /// The debugger's colours and keys.
    pub ui: crate::tui::UiSettings,
}

impl UserConfig {
    /// Reads and checks `path` (at most 1 MiB).
    pub fn load(path: &Path) -> Result<UserConfig, ConfigError> {
        let text = limited::read_to_string(path, "the configuration file", limit::SIM_CONFIG)?;
        UserConfig::parse(&text, path)
    }

    /// Parses and checks `text`, read from `file`.
    pub fn parse(text: &str, file: &Path) -> Result<UserConfig, ConfigError> {
        let shown = limited::shown(file);
        let at = |offset: usize, key: String, message: String| ConfigError::At {
            file: shown.clone(),
            line: line_of(text, offset),
            key,
            message,
        };
        let raw: FileConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, key_at(text, offset), e.message().trim().to_string())
        })?;
        // Relative paths (ca_file, password_file) are relative to the configuration file.
        let base = file.parent().unwrap_or(Path::new("."));
        let mut targets = BTreeMap::new();
        for (name, spanned) in raw.targets {
            let offset = spanned.span().start;
            let mut s = spanned.into_inner();
            for p in [&mut s.ca_file, &mut s.password_file].into_iter().flatten() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
            check(&name, &s)
                .map_err(|(key, message)| at(offset, format!("targets.{name}{key}"), message))?;
            targets.insert(name, s);
        }
        let default_target = match raw.default_target {
            Some(d) if !targets.contains_key(d.get_ref()) => {
                return Err(at(
                    d.span().start,
                    "default_target".into(),
                    format!(
                        "no [targets.{}] table in this file (targets: {})",
                        d.get_ref(),
                        names(&targets)
                    ),
                ));
            }
            d => d.map(Spanned::into_inner),
        };
        let ui = crate::tui::UiSettings {
            palette: raw.theme.map(|t| palette(&t, &at)).transpose()?,
            keymap: if raw.keys.is_empty() {
                None
            } else {
                Some(keymap(&raw.keys, &at)?)
            },
        };
        Ok(UserConfig {
            file: file.to_path_buf(),
            default_target,
            targets,
            ui,
        })
    }

    /// The target called `name`, or an error listing the ones there are.
    pub fn target(&self, name: &str) -> Result<&TargetSettings, ConfigError> {
        self.targets.get(name).ok_or_else(|| ConfigError::File {
            file: limited::shown(&self.file),
            message: format!(
                "no target {:?} (targets: {})",
                crate::engine::escape::escape_str(name),
                names(&self.targets)
            ),
        })
    }
}

/// The `[theme]` palette: the named one (dark by default) with its roles changed.
fn palette(
    t: &ThemeSection,
    at: &dyn Fn(usize, String, String) -> ConfigError,
) -> Result<Palette, ConfigError> {
    let mut p = match &t.name {
        None => Palette::DARK,
        Some(n) => Palette::named(n.get_ref()).ok_or_else(|| {
            at(
                n.span().start,
                "theme.name".into(),
                format!("{:?} is not a theme: dark or light", n.get_ref()),
            )
        })?,
    };
    for (role, value) in &t.colors {
        let key = format!("theme.colors.{role}");
        let slot = p.role_mut(role).ok_or_else(|| {
            at(
                value.span().start,
                key.clone(),
                format!(
                    "no such colour role; the roles are {}",
                    Palette::ROLES.join(", ")
                ),
            )
        })?;
        *slot = value.get_ref().parse::<Color>().map_err(|_| {
            at(
                value.span().start,
                key.clone(),
                format!(
                    "{:?} is not a colour: a name (red, light-blue, dark-gray, …), #rrggbb or 0 to 255",
                    value.get_ref()
                ),
            )
        })?;
    }
    Ok(p)
}

/// The `[keys]` bindings: each named action on its new key.
fn keymap(
    keys: &BTreeMap<String, Spanned<String>>,
    at: &dyn Fn(usize, String, String) -> ConfigError,
) -> Result<Vec<Binding>, ConfigError> {
    let mut overrides = Vec::new();
    let mut first = 0;
    for (name, value) in keys {
        let offset = value.span().start;
        first = if overrides.is_empty() { offset } else { first };
        let key = format!("keys.{name}");
        let action = ACTION_NAMES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                let names: Vec<&str> = ACTION_NAMES.iter().map(|(n, _)| *n).collect();
                at(
                    offset,
                    key.clone(),
                    format!("no such action; the actions are {}", names.join(", ")),
                )
            })?;
        let (code, label) = parse_key(value.get_ref()).map_err(|e| at(offset, key.clone(), e))?;
        overrides.push((action, code, label));
    }
    with_overrides(&overrides).map_err(|e| at(first, "keys".into(), e))
}

fn names<T>(map: &BTreeMap<String, T>) -> String {
    if map.is_empty() {
        "none".into()
    } else {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

impl TargetSettings {
    /// Where the password comes from, if the target says.
    pub fn secret(&self) -> Option<Secret> {
        if let Some(p) = &self.profile {
            Some(Secret::Profile(p.clone()))
        } else if let Some(v) = &self.password_env {
            Some(Secret::Env(v.clone()))
        } else if let Some(p) = &self.password_file {
            Some(Secret::File(p.clone()))
        } else {
            self.password_command.clone().map(Secret::Command)
        }
    }

    /// The target options as `run` takes them, for the same checks.
    fn as_target_args(&self) -> TargetArgs {
        TargetArgs {
            region: self.region.clone(),
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            ca_file: self.ca_file.clone(),
            insecure: self.insecure.unwrap_or(false),
            sni: self.sni.clone(),
            ehlo: self.ehlo.clone(),
            timeout: self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            tls_pins: crate::commands::tls_args::TlsArgs::default(),
        }
    }

    /// Fills what the command line left out: flags win, key by key.
    pub fn fill(&self, t: &mut TargetArgs) {
        fill(&mut t.region, self.region.as_ref());
        fill(&mut t.host, self.host.as_ref());
        fill(&mut t.port, self.port.as_ref());
        fill(&mut t.tls, self.tls.as_ref());
        fill(&mut t.ca_file, self.ca_file.as_ref());
        fill(&mut t.sni, self.sni.as_ref());
        fill(&mut t.ehlo, self.ehlo.as_ref());
        t.insecure |= self.insecure.unwrap_or(false);
        if t.timeout == DEFAULT_TIMEOUT_SECS
            && let Some(secs) = self.timeout_secs
        {
            t.timeout = secs;
        }
    }
}

/// `--timeout`'s default, which a target's `timeout_secs` replaces.
const DEFAULT_TIMEOUT_SECS: u64 = 30;

fn fill<T: Clone>(flag: &mut Option<T>, value: Option<&T>) {
    if flag.is_none() {
        *flag = value.cloned();
    }
}

/// Checks one target: (key suffix, message) on error.
fn check(name: &str, s: &TargetSettings) -> Result<(), (String, String)> {
    let err = |key: &str, message: String| (key.to_string(), message);
    check_arg("target name", name).map_err(|e| err("", e.to_string()))?;
    let mut t = s.as_target_args();
    // The CA file is read when the target is used, so a target whose CA is not there yet
    // (e.g. the simulator's, written when it starts) does not break the others.
    t.ca_file = None;
    if t.resolved_host().is_none() {
        return Err(err(
            "",
            "says nowhere to connect: give host = \"...\" or region = \"...\"".into(),
        ));
    }
    t.session_config().map_err(|e| err("", e.to_string()))?;
    t.ehlo_name().map_err(|e| err(".ehlo", e.to_string()))?;
    let sources = [
        s.profile.is_some(),
        s.password_env.is_some(),
        s.password_file.is_some(),
        s.password_command.is_some(),
    ];
    if sources.iter().filter(|b| **b).count() > 1 {
        return Err(err(
            "",
            "give one of profile, password_env, password_file and password_command".into(),
        ));
    }
    if s.profile.is_some() && s.user.is_some() {
        return Err(err(
            ".user",
            "a profile gives the user (its access key ID): leave out user".into(),
        ));
    }
    if let Some(c) = &s.password_command
        && c.first().is_none_or(String::is_empty)
    {
        return Err(err(
            ".password_command",
            "give the program and its arguments, e.g. [\"pass\", \"show\", \"smtp/office\"]".into(),
        ));
    }
    for (key, value) in [
        (".user", &s.user),
        (".password_env", &s.password_env),
        (".profile", &s.profile),
    ] {
        if let Some(v) = value {
            check_arg(&key[1..], v).map_err(|e| err(key, e.to_string()))?;
        }
    }
    if let Some(f) = &s.from {
        check_address("from", f).map_err(|e| err(".from", e.to_string()))?;
    }
    for t in s.to.iter().flatten() {
        check_address("to", t).map_err(|e| err(".to", e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UserConfig, ConfigError> {
        UserConfig::parse(text, Path::new("/etc/smtpscope/config.toml"))
    }

    #[test]
    fn targets_parse_and_fill_what_flags_left_out() {
        let c = parse(
            r#"
default_target = "office"

[targets.ses-tokyo]
region = "ap-northeast-1"
profile = "ses"
from = "me@example.com"
to = ["you@example.com"]

[targets.office]
host = "smtp.example.com"
port = 465
user = "alice"
password_file = "office.pass"
auth = "login"
timeout_secs = 12
"#,
        )
        .unwrap();
        assert_eq!(c.default_target.as_deref(), Some("office"));
        let office = c.target("office").unwrap();
        // Relative to the configuration file.
        assert_eq!(
            office.secret(),
            Some(Secret::File("/etc/smtpscope/office.pass".into()))
        );
        let mut flags = TargetArgs {
            port: Some(2465),
            timeout: 30,
            ..Default::default()
        };
        office.fill(&mut flags);
        assert_eq!(flags.host.as_deref(), Some("smtp.example.com"));
        assert_eq!((flags.port, flags.timeout), (Some(2465), 12));
        assert_eq!(
            c.target("ses-tokyo").unwrap().secret(),
            Some(Secret::Profile("ses".into()))
        );
        let e = c.target("nope").unwrap_err().to_string();
        assert!(e.contains("office, ses-tokyo"), "{e}");
    }

    #[test]
    fn theme_and_keys() {
        let c = parse(
            "[theme]\nname = \"light\"\ncolors.sent = \"dark-gray\"\n[keys]\nconnect = \"F5\"\nhelp = \"h\"\n",
        )
        .unwrap();
        let p = c.ui.palette.unwrap();
        assert_eq!(p.sent, Color::DarkGray);
        assert_eq!(p.reply_2xx, Palette::LIGHT.reply_2xx);
        let keys = c.ui.keymap.unwrap();
        assert!(keys.iter().any(|b| b.key == "F5"));
        for (text, says) in [
            ("[theme]\nname = \"pink\"\n", "line 2, key theme.name"),
            (
                "[theme]\ncolors.sent = \"blurple\"\n",
                "line 2, key theme.colors.sent",
            ),
            ("[theme]\ncolors.nope = \"red\"\n", "key theme.colors.nope"),
            ("[keys]\nconect = \"c\"\n", "line 2, key keys.conect"),
            ("[keys]\nconnect = \"Ctrl-x\"\n", "key keys.connect"),
            ("[keys]\nconnect = \"q\"\n", "key q would do both"),
            ("[theme]\nnaem = \"dark\"\n", "unknown field"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_shipped_example_parses() {
        let c = UserConfig::parse(
            include_str!("../assets/config.example.toml"),
            Path::new("assets/config.example.toml"),
        )
        .unwrap();
        assert_eq!(c.default_target.as_deref(), Some("ses-tokyo"));
        assert_eq!(c.targets.len(), 3);
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let e = parse("[targets.a]\nhost = \"h\"\nprot = 25\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/smtpscope/config.toml, line 3, key targets.a.prot:")
                && e.contains("unknown field"),
            "{e}"
        );
        let e = parse("[targets.a]\nhost = \"h\"\nport = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3, key targets.a.port"), "{e}");
        let e = parse("\n[targets.a]\nport = 25\n").unwrap_err().to_string();
        assert!(
            e.contains("line 2, key targets.a:") && e.contains("nowhere"),
            "{e}"
        );
        let e = parse("[targets.a]\nregion = \"us-east-1\"\nprofile = \"p\"\nuser = \"u\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key targets.a.user"), "{e}");
        let e = parse("default_target = \"b\"\n[targets.a]\nhost = \"h\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1, key default_target") && e.contains("targets: a"),
            "{e}"
        );
        let e = parse("[targets.a]\nhost = \"h\"\nto = [\"x@y\\r\\nRCPT TO:<z@w>\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key targets.a.to"), "{e}");
        let e = parse("[targets.a]\nhost = \"h\"\npassword = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field") && !e.contains("hunter2"), "{e}");
    }
}
