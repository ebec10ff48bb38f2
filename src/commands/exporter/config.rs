//! The exporter's configuration file (TOML): named modules (how to probe) and named targets
//! (where, and as whom). A target's keys override its module's.
//!
//! ```toml
//! [exporter]
//! max_timeout_secs = 30
//!
//! [modules.ses_auth]
//! mode = "auth"
//!
//! [targets.ses-tokyo]
//! module = "ses_auth"
//! region = "ap-northeast-1"
//! user = "AKIA..."
//! password_env = "SES_TOKYO_SMTP_PASSWORD"
//! ```
//!
//! Secrets come from an environment variable, a file or a command, read at each probe. A
//! plaintext `password` key is refused unless the file is readable by its owner only. Errors
//! name the file, the line and the key, never the value of a password key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::cli::TargetArgs;
use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::command::check_address;
use crate::engine::limited::{self, ReadError, limit};
use crate::engine::metrics::ProbeMode;
use crate::engine::transport::TlsMode;

/// The longest a probe may take, whatever the scrape asks for.
pub const DEFAULT_MAX_TIMEOUT_SECS: u64 = 30;
/// A password command's output is read for at most this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration problem. Shown escaped by the caller ([`crate::commands::report`]).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{file}, line {line}, key {key}: {message}")]
    At {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

/// A secret could not be read at probe time.
#[derive(Debug, Error)]
pub enum SecretError {
    #[error("target {target}: {message}")]
    Missing { target: String, message: String },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    exporter: ExporterSection,
    #[serde(default)]
    modules: BTreeMap<String, Spanned<Settings>>,
    #[serde(default)]
    targets: BTreeMap<String, Spanned<Settings>>,
}

/// The `[exporter]` table.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExporterSection {
    /// Used when `--listen` is not given.
    pub listen: Option<String>,
    /// The longest probe, whatever `X-Prometheus-Scrape-Timeout-Seconds` says.
    pub max_timeout_secs: Option<u64>,
    /// HTTP connections served at once; more wait to be accepted.
    pub max_connections: Option<usize>,
    /// Probes running at once, all targets together.
    pub max_concurrent_probes: Option<usize>,
}

/// The keys a module or a target may set. Not `Debug`: it may hold a password.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Settings {
    module: Option<Spanned<String>>,
    mode: Option<ProbeMode>,
    host: Option<String>,
    region: Option<String>,
    port: Option<u16>,
    tls: Option<TlsMode>,
    ca_file: Option<PathBuf>,
    insecure: Option<bool>,
    sni: Option<String>,
    ehlo: Option<String>,
    timeout_secs: Option<u64>,
    auth: Option<AuthKey>,
    user: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    password_command: Option<Vec<String>>,
    password: Option<Spanned<String>>,
    from: Option<String>,
    to: Option<Vec<String>>,
    /// Show the user name in `smtp_probe_user_info` (off by default).
    label_user: Option<bool>,
    /// Let scrapes of this target run sessions at the same time (off by default).
    concurrent: Option<bool>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AuthKey {
    Plain,
    Login,
}

impl Settings {
    /// Relative file names taken as relative to `dir`.
    fn relative_to(mut self, dir: &Path) -> Settings {
        for p in [&mut self.ca_file, &mut self.password_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        self
    }

    /// `self` over `base`, key by key.
    fn over(self, base: &Settings) -> Settings {
        let b = base.clone();
        Settings {
            module: self.module,
            mode: self.mode.or(b.mode),
            host: self.host.or(b.host),
            region: self.region.or(b.region),
            port: self.port.or(b.port),
            tls: self.tls.or(b.tls),
            ca_file: self.ca_file.or(b.ca_file),
            insecure: self.insecure.or(b.insecure),
            sni: self.sni.or(b.sni),
            ehlo: self.ehlo.or(b.ehlo),
            timeout_secs: self.timeout_secs.or(b.timeout_secs),
            auth: self.auth.or(b.auth),
            user: self.user.or(b.user),
            password_env: self.password_env.or(b.password_env),
            password_file: self.password_file.or(b.password_file),
            password_command: self.password_command.or(b.password_command),
            password: self.password.or(b.password),
            from: self.from.or(b.from),
            to: self.to.or(b.to),
            label_user: self.label_user.or(b.label_user),
            concurrent: self.concurrent.or(b.concurrent),
        }
    }
}

/// Where a target's password comes from.
#[derive(Clone)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    Command(Vec<String>),
    Inline(Zeroizing<String>),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "Env({v})"),
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Command(c) => write!(f, "Command({})", c.first().map_or("", |s| s)),
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

/// One probe target, checked and ready to run (its secret is read at probe time).
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub mode: ProbeMode,
    /// The target options `run` takes, so the checks are the same.
    pub target: TargetArgs,
    pub user: Option<String>,
    pub mechanism: Mechanism,
    pub secret: Option<SecretSource>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub label_user: bool,
    pub concurrent: bool,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub exporter: ExporterSection,
    pub targets: BTreeMap<String, Target>,
    /// Modules by name, for `/probe?module=M&target=host:port`.
    modules: BTreeMap<String, Target>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = limited::read_to_string(path, "the exporter configuration", limit::SIM_CONFIG)?;
        let private = is_private(path);
        Config::parse(&text, path, private)
    }

    /// Parses `text` read from `file`; `private`: the file is readable by its owner only.
    pub fn parse(text: &str, file: &Path, private: bool) -> Result<Config, ConfigError> {
        let shown = limited::shown(file);
        let raw: FileConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let key = key_at(text, offset);
            let message = if key.ends_with("password") {
                "not a valid value (not shown: it may be a secret)".to_string()
            } else {
                e.message().trim().to_string()
            };
            ConfigError::At {
                file: shown.clone(),
                line: line_of(text, offset),
                key,
                message,
            }
        })?;
        let at = |offset: usize, key: String, message: String| ConfigError::At {
            file: shown.clone(),
            line: line_of(text, offset),
            key,
            message,
        };
        // Relative paths (ca_file, password_file) are relative to the configuration file.
        let base = file.parent().unwrap_or(Path::new("."));
        let mut modules = BTreeMap::new();
        for (name, spanned) in &raw.modules {
            let offset = spanned.span().start;
            let settings = spanned.get_ref().clone();
            if settings.module.is_some() {
                return Err(at(
                    offset,
                    format!("modules.{name}.module"),
                    "a module cannot name another module".into(),
                ));
            }
            modules.insert(name.clone(), settings);
        }
        let mut targets = BTreeMap::new();
        for (name, spanned) in &raw.targets {
            let offset = spanned.span().start;
            let own = spanned.get_ref().clone();
            let settings = match &own.module {
                Some(m) => {
                    let base = modules.get(m.get_ref()).ok_or_else(|| {
                        at(
                            m.span().start,
                            format!("targets.{name}.module"),
                            format!(
                                "no module {:?} in this file (modules: {})",
                                m.get_ref(),
                                names(&modules)
                            ),
                        )
                    })?;
                    own.over(base)
                }
                None => own,
            };
            let target = check(name, settings.relative_to(base), private, &shown, true).map_err(
                |(key, o, message)| {
                    at(o.unwrap_or(offset), format!("targets.{name}{key}"), message)
                },
            )?;
            targets.insert(name.clone(), target);
        }
        let mut checked_modules = BTreeMap::new();
        for (name, spanned) in &raw.modules {
            let offset = spanned.span().start;
            let target = check(
                name,
                spanned.get_ref().clone().relative_to(base),
                private,
                &shown,
                false,
            )
            .map_err(|(key, o, message)| {
                at(o.unwrap_or(offset), format!("modules.{name}{key}"), message)
            })?;
            checked_modules.insert(name.clone(), target);
        }
        if targets.is_empty() && checked_modules.is_empty() {
            return Err(ConfigError::File {
                file: shown,
                message: "no [targets.NAME] or [modules.NAME] table: nothing to probe".into(),
            });
        }
        Ok(Config {
            file: file.to_path_buf(),
            exporter: raw.exporter,
            targets,
            modules: checked_modules,
        })
    }

    /// A module applied to `host:port` (`/probe?module=M&target=H:P`).
    pub fn adhoc(&self, module: &str, host_port: &str) -> Result<Target, String> {
        let base = self
            .modules
            .get(module)
            .ok_or_else(|| format!("no module {module:?} in the configuration"))?;
        let (host, port) = split_host_port(host_port)
            .ok_or_else(|| format!("target {host_port:?} is not HOST:PORT"))?;
        let mut t = base.clone();
        t.name = host_port.to_string();
        t.target.host = Some(host);
        t.target.port = Some(port);
        t.target
            .session_config()
            .map_err(|e| format!("target {host_port:?}: {e}"))?;
        Ok(t)
    }

    /// The longest a probe may take.
    pub fn max_timeout(&self) -> Duration {
        Duration::from_secs(
            self.exporter
                .max_timeout_secs
                .unwrap_or(DEFAULT_MAX_TIMEOUT_SECS)
                .clamp(1, crate::cli::MAX_TIMEOUT_SECS),
        )
    }
}

fn names<T>(map: &BTreeMap<String, T>) -> String {
    if map.is_empty() {
        "none".into()
    } else {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

type CheckError = (String, Option<usize>, String);

/// Checks one module or target (`is_target`: it must say where to connect).
fn check(
    name: &str,
    s: Settings,
    private: bool,
    file: &str,
    is_target: bool,
) -> Result<Target, CheckError> {
    let err = |key: &str, message: String| (key.to_string(), None, message);
    crate::engine::command::check_arg("name", name).map_err(|e| err("", e.to_string()))?;
    let mode = s.mode.unwrap_or_default();
    let target = TargetArgs {
        region: s.region.clone(),
        host: s.host.clone(),
        port: s.port,
        tls: s.tls,
        ca_file: s.ca_file.clone(),
        insecure: s.insecure.unwrap_or(false),
        sni: s.sni.clone(),
        ehlo: s.ehlo.clone(),
        timeout: s.timeout_secs.unwrap_or(DEFAULT_MAX_TIMEOUT_SECS),
        tls_pins: crate::commands::tls_args::TlsArgs::default(),
    };
    if is_target {
        if target.resolved_host().is_none() {
            return Err(err(
                "",
                "says nowhere to connect: give host = \"...\" or region = \"...\"".into(),
            ));
        }
        target
            .session_config()
            .map_err(|e| err("", e.to_string()))?;
    }
    target
        .ehlo_name()
        .map_err(|e| err(".ehlo", e.to_string()))?;
    let sources = [
        s.password_env.is_some(),
        s.password_file.is_some(),
        s.password_command.is_some(),
        s.password.is_some(),
    ];
    if sources.iter().filter(|b| **b).count() > 1 {
        return Err(err(
            "",
            "give one of password_env, password_file, password_command and password".into(),
        ));
    }
    let secret = if let Some(p) = &s.password {
        if !private {
            return Err((
                ".password".into(),
                Some(p.span().start),
                format!(
                    "a plaintext password is refused because {file} can be read by others; run `chmod 600` on it, or better use password_env, password_file or password_command"
                ),
            ));
        }
        Some(SecretSource::Inline(Zeroizing::new(p.get_ref().clone())))
    } else if let Some(v) = &s.password_env {
        Some(SecretSource::Env(v.clone()))
    } else if let Some(p) = &s.password_file {
        Some(SecretSource::File(p.clone()))
    } else if let Some(c) = &s.password_command {
        if c.is_empty() || c[0].is_empty() {
            return Err(err(
                ".password_command",
                "give the program and its arguments, e.g. [\"pass\", \"show\", \"smtp/ses-tokyo\"]"
                    .into(),
            ));
        }
        Some(SecretSource::Command(c.clone()))
    } else {
        None
    };
    if let Some(u) = &s.user {
        crate::engine::command::check_arg("user", u).map_err(|e| err(".user", e.to_string()))?;
    }
    if is_target && mode.uses_auth() && (s.user.is_none() || secret.is_none()) {
        return Err(err(
            "",
            format!(
                "mode {} logs in: give user and one of password_env, password_file or password_command",
                mode.name()
            ),
        ));
    }
    if let Some(f) = &s.from {
        check_address("from", f).map_err(|e| err(".from", e.to_string()))?;
    }
    for t in s.to.iter().flatten() {
        check_address("to", t).map_err(|e| err(".to", e.to_string()))?;
    }
    if is_target
        && mode == ProbeMode::Send
        && (s.from.is_none() || s.to.as_ref().is_none_or(Vec::is_empty))
    {
        return Err(err(
            "",
            "mode send needs from = \"...\" and to = [\"...\"] (for SES, e.g. success@simulator.amazonses.com)".into(),
        ));
    }
    Ok(Target {
        name: name.to_string(),
        mode,
        target,
        user: s.user,
        mechanism: match s.auth {
            Some(AuthKey::Login) => Mechanism::Login,
            _ => Mechanism::Plain,
        },
        secret,
        from: s.from,
        to: s.to.unwrap_or_default(),
        label_user: s.label_user.unwrap_or(false),
        concurrent: s.concurrent.unwrap_or(false),
    })
}

impl Target {
    /// The credentials for this probe, with the secret read now (so a rotated secret is used
    /// at the next scrape). `None` when the mode does not log in.
    pub async fn credentials(&self) -> Result<Option<Credentials>, SecretError> {
        if !self.mode.uses_auth() {
            return Ok(None);
        }
        let missing = |message: String| SecretError::Missing {
            target: self.name.clone(),
            message,
        };
        let (Some(user), Some(source)) = (&self.user, &self.secret) else {
            return Err(missing("no user or password source configured".into()));
        };
        let password = match source {
            SecretSource::Inline(p) => p.clone(),
            SecretSource::Env(var) => std::env::var(var)
                .map(Zeroizing::new)
                .map_err(|_| missing(format!("the environment variable {var} is not set")))?,
            SecretSource::File(path) => {
                let text = limited::read_secret_file(path, "the password file", limit::PASSWORD)
                    .map_err(|e| missing(e.to_string()))?;
                Zeroizing::new(text.lines().next().unwrap_or("").to_string())
            }
            SecretSource::Command(argv) => run_command(argv).await.map_err(missing)?,
        };
        Credentials::new(user, password)
            .map(Some)
            .map_err(|e| missing(e.to_string()))
    }
}

/// Runs a password helper (no shell) and takes the first line of its output, bounded in size
/// and time. Its stderr is not captured: the exporter's log shows it.
pub(crate) async fn run_command(argv: &[String]) -> Result<Zeroizing<String>, String> {
    use tokio::io::AsyncReadExt as _;
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("the password command {:?} could not start: {e}", argv[0]))?;
    let mut out = child.stdout.take().ok_or("no output")?;
    let cap = usize::try_from(limit::PASSWORD).unwrap_or(usize::MAX);
    let mut buf = Zeroizing::new(Vec::with_capacity(cap + 1));
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = out.read(&mut chunk).await?;
            if n == 0 || buf.len() + n > cap {
                return Ok::<_, std::io::Error>(n == 0);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let complete = match tokio::time::timeout(COMMAND_TIMEOUT, read).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(format!("reading the password command's output: {e}")),
        Err(_) => {
            return Err(format!(
                "the password command {:?} did not finish within {} s",
                argv[0],
                COMMAND_TIMEOUT.as_secs()
            ));
        }
    };
    if !complete {
        return Err(format!(
            "the password command's output is larger than {} bytes",
            limit::PASSWORD
        ));
    }
    let status = tokio::time::timeout(COMMAND_TIMEOUT, child.wait())
        .await
        .map_err(|_| "the password command did not exit".to_string())?
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "the password command {:?} failed ({status})",
            argv[0]
        ));
    }
    let text =
        std::str::from_utf8(&buf).map_err(|_| "the password command's output is not UTF-8")?;
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or("").to_string(),
    ))
}

/// `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return None;
    }
    Some((host.to_string(), port))
}

/// Whether only the owner may read the file (mode 0600 or stricter).
fn is_private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode().trailing_zeros() >= 6)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The dotted key at `offset`: the table header above it and the key on its line.
pub(crate) fn key_at(text: &str, offset: usize) -> String {
    let end = offset.min(text.len());
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string());
    match (header, key) {
        (Some(h), Some(k)) => format!("{h}.{k}"),
        (None, Some(k)) => k,
        (Some(h), None) => h,
        (None, None) => "(top level)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The user is AWS's documented example access key ID, not a real key.
    const GOOD: &str = r#"
[exporter]
max_timeout_secs = 20

[modules.auth]
mode = "auth"
timeout_secs = 5

[targets.ses-tokyo]
module = "auth"
region = "ap-northeast-1"
user = "AKIAIOSFODNN7EXAMPLE"
password_env = "SES_TOKYO_SMTP_PASSWORD"

[targets.mx]
mode = "connect"
host = "127.0.0.1"
port = 2525
tls = "none"
"#;

    fn parse(text: &str, private: bool) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("exporter.toml"), private)
    }

    #[test]
    fn targets_take_their_module_keys() {
        let c = parse(GOOD, false).unwrap();
        let t = &c.targets["ses-tokyo"];
        assert_eq!(t.mode, ProbeMode::Auth);
        assert_eq!(t.target.timeout, 5);
        assert!(
            matches!(t.secret, Some(SecretSource::Env(ref v)) if v == "SES_TOKYO_SMTP_PASSWORD")
        );
        assert_eq!(c.targets["mx"].mode, ProbeMode::Connect);
        assert_eq!(c.max_timeout(), Duration::from_secs(20));
        let adhoc = c.adhoc("auth", "127.0.0.1:2587").unwrap();
        assert_eq!(adhoc.target.port, Some(2587));
        assert!(c.adhoc("auth", "nohost").is_err());
        assert!(c.adhoc("nope", "127.0.0.1:25").is_err());
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let bad = GOOD.replace("timeout_secs = 5", "timeout_secs = \"five\"");
        let e = parse(&bad, false).unwrap_err().to_string();
        assert!(
            e.starts_with("exporter.toml, line 7, key modules.auth.timeout_secs:"),
            "{e}"
        );
        let bad = GOOD.replace("module = \"auth\"", "module = \"nope\"");
        let e = parse(&bad, false).unwrap_err().to_string();
        assert!(
            e.contains("line 10, key targets.ses-tokyo.module") && e.contains("nope"),
            "{e}"
        );
        let bad = GOOD.replace("port = 2525", "prot = 2525");
        let e = parse(&bad, false).unwrap_err().to_string();
        assert!(
            e.contains("key targets.mx.prot") && e.contains("unknown field"),
            "{e}"
        );
        let bad = GOOD.replace("password_env = \"SES_TOKYO_SMTP_PASSWORD\"\n", "");
        let e = parse(&bad, false).unwrap_err().to_string();
        assert!(
            e.contains("key targets.ses-tokyo:") && e.contains("password_env"),
            "{e}"
        );
    }

    #[test]
    fn a_plaintext_password_needs_a_private_file_and_is_never_shown() {
        let inline = GOOD.replace(
            "password_env = \"SES_TOKYO_SMTP_PASSWORD\"",
            "password = \"hunter2-very-secret\"",
        );
        let e = parse(&inline, false).unwrap_err().to_string();
        assert!(
            e.contains("line 13, key targets.ses-tokyo.password") && e.contains("chmod 600"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let c = parse(&inline, true).unwrap();
        let shown = format!("{:?}", c.targets["ses-tokyo"]);
        assert!(
            !shown.contains("hunter2") && shown.contains("redacted"),
            "{shown}"
        );
        // A malformed value on a password line is not quoted back.
        let broken = inline.replace("\"hunter2-very-secret\"", "hunter2-very-secret");
        let e = parse(&broken, true).unwrap_err().to_string();
        assert!(
            !e.contains("hunter2") && e.contains("targets.ses-tokyo.password"),
            "{e}"
        );
    }

    #[test]
    fn relative_files_are_next_to_the_config() {
        let text = GOOD.replace(
            "password_env = \"SES_TOKYO_SMTP_PASSWORD\"",
            "password_file = \"tokyo.pass\"",
        );
        let c = Config::parse(&text, Path::new("/etc/smtpscope/exporter.toml"), false).unwrap();
        assert!(
            matches!(&c.targets["ses-tokyo"].secret, Some(SecretSource::File(p)) if p == Path::new("/etc/smtpscope/tokyo.pass"))
        );
    }

    #[test]
    fn secrets_are_read_at_probe_time() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let text = GOOD.replace(
            "password_env = \"SES_TOKYO_SMTP_PASSWORD\"",
            "password_command = [\"sh\", \"-c\", \"printf 'from-helper\\\\nsecond'\"]",
        );
        let c = parse(&text, false).unwrap();
        let creds = rt
            .block_on(c.targets["ses-tokyo"].credentials())
            .unwrap()
            .unwrap();
        assert_eq!(creds.user, "AKIAIOSFODNN7EXAMPLE");
        let text = GOOD.replace("SES_TOKYO_SMTP_PASSWORD", "SMTPSCOPE_TEST_UNSET_VARIABLE_X");
        let c = parse(&text, false).unwrap();
        let e = rt
            .block_on(c.targets["ses-tokyo"].credentials())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SMTPSCOPE_TEST_UNSET_VARIABLE_X is not set"),
            "{e}"
        );
        let text = GOOD.replace(
            "password_env = \"SES_TOKYO_SMTP_PASSWORD\"",
            "password_command = [\"false\"]",
        );
        let c = parse(&text, false).unwrap();
        assert!(rt.block_on(c.targets["ses-tokyo"].credentials()).is_err());
    }
}
