//! The simulator's configuration: account, region, users and their policies, verified
//! identities, limits and listen addresses, read from TOML.
//!
//! Every table refuses unknown keys, and every error names the line it comes from, so a typo
//! in a config file is reported instead of silently ignored. Secrets are held in
//! [`Zeroizing`] buffers and never shown by `Debug`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::engine::iam::{DEMO_POLICIES, Policy};
use crate::engine::limited::{self, limit};
use crate::engine::ses;

/// The built-in demo configuration (fake keys only).
pub(crate) const DEFAULT_CONFIG_TOML: &str = include_str!("../../../assets/sim/default.toml");

/// A configuration that could not be used. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, or "built-in demo config".
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Where the simulator listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenConfig {
    /// The STARTTLS listener (SES: 25, 587, 2587).
    pub starttls: SocketAddr,
    /// The implicit-TLS listener (SES: 465, 2465); `None` disables it.
    pub implicit: Option<SocketAddr>,
}

/// Per-account limits, as SES applies them.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest accepted message (after dot-unstuffing); larger ones get `552`.
    pub max_message_bytes: usize,
    /// Most recipients per message; more get `554 Transaction failed: Recipient count exceeds N.`
    pub max_recipients: usize,
    /// Recipients per second (SES counts recipients, not messages); `None` = unlimited.
    pub max_send_rate: Option<u32>,
    /// Recipients per rolling 24 hours; `None` = unlimited.
    pub daily_quota: Option<u64>,
    /// Silence after which the server sends `451 4.4.2 Timeout waiting for data from client.`
    pub idle_timeout: Duration,
    /// Concurrent connections over both listeners; the surplus gets `421`.
    pub max_connections: usize,
    /// The longest one command (or DATA) line may take from its first byte to its CRLF. Each
    /// byte resets the idle timer, so without this a client sending a byte every few seconds
    /// would hold its connection (and a connection slot) forever.
    pub line_timeout: Duration,
    /// The longest a whole connection may last, however busy it is.
    pub session_timeout: Duration,
    /// Messages accepted on one connection before MAIL FROM gets
    /// [`super::conversation::SESSION_LIMIT_REPLY`] and the connection closes; `None` = no
    /// limit. SES documents none; some providers have one, and a learner practises
    /// `--reconnect-every` against it.
    pub max_messages_per_session: Option<u32>,
}

/// The in-memory mailbox and its optional spool folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxConfig {
    /// Messages kept in memory; the oldest is dropped first.
    pub max_messages: usize,
    /// Folder where each accepted message is also written as `<id>.eml`.
    pub dir: Option<PathBuf>,
}

/// One IAM user with SMTP credentials. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SimUser {
    /// The IAM user name (it appears in the `554 Access denied` ARN).
    pub name: String,
    /// The SMTP user name.
    pub access_key_id: String,
    secret_access_key: Zeroizing<String>,
    /// Where the policies came from (file path or embedded demo name), for display.
    pub policy_sources: Vec<String>,
    /// The identity policies attached to the user.
    pub policies: Vec<Policy>,
    /// Stands in for the connection's address as `aws:SourceIp` (overrides the global one).
    pub apparent_source_ip: Option<IpAddr>,
    /// Overrides the account's sandbox setting for this user (a simulator convenience: in SES
    /// the sandbox is per account and region).
    pub sandbox: Option<bool>,
    /// Own sending rate (a simulator convenience; with it the user gets own counters).
    pub max_send_rate: Option<u32>,
    /// Own daily quota (same).
    pub daily_quota: Option<u64>,
}

impl fmt::Debug for SimUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUser")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("policy_sources", &self.policy_sources)
            .field("apparent_source_ip", &self.apparent_source_ip)
            .field("sandbox", &self.sandbox)
            .field("max_send_rate", &self.max_send_rate)
            .field("daily_quota", &self.daily_quota)
            .finish()
    }
}

impl SimUser {
    /// The SMTP password SES would accept from this user in `region`.
    pub fn smtp_password(&self, region: &str) -> Zeroizing<String> {
        Zeroizing::new(ses::derive_smtp_password(&self.secret_access_key, region))
    }

    /// The pre-2019 (`SigV2`) password of the same key, which SES now refuses with its own 535.
    pub(crate) fn legacy_v2_password(&self) -> Zeroizing<String> {
        Zeroizing::new(ses::derive_legacy_v2_password(&self.secret_access_key))
    }

    /// True when the secret is one of AWS's documentation-style fake keys (it contains
    /// `EXAMPLE`), so showing its derived password reveals nothing real.
    pub(crate) fn is_example_key(&self) -> bool {
        self.secret_access_key.contains("EXAMPLE")
    }
}

/// The whole simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the configuration came from, for messages.
    pub origin: String,
    pub region: String,
    pub account: String,
    /// Sandbox mode: recipients must be verified identities too.
    pub sandbox: bool,
    /// Verified identities: domains (`example.com`) or addresses (`ops@example.org`).
    pub verified_identities: Vec<String>,
    /// Stands in for every connection's address as `aws:SourceIp`.
    pub apparent_source_ip: Option<IpAddr>,
    pub listen: ListenConfig,
    pub limits: Limits,
    /// Names in the server certificate (DNS names or IP addresses).
    pub tls_names: Vec<String>,
    pub mailbox: MailboxConfig,
    pub users: Vec<SimUser>,
    /// Speak like another provider at the greeting, EHLO and AUTH (`sim --provider`).
    pub profile: Option<std::sync::Arc<super::profile::ProviderProfile>>,
}

impl SimConfig {
    /// The built-in demo configuration (assets/sim/default.toml).
    pub fn default_demo() -> Result<SimConfig, ConfigError> {
        parse(DEFAULT_CONFIG_TOML, None, "built-in demo config")
    }

    /// Parses a configuration. Relative paths (policy files, the mailbox folder) resolve
    /// against `base_dir`, normally the config file's folder.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<SimConfig, ConfigError> {
        parse(text, Some(base_dir), "sim config")
    }

    /// Reads and parses a configuration file.
    pub(crate) fn from_file(path: &Path) -> Result<SimConfig, ConfigError> {
        let origin = limited::shown(path);
        let text = limited::read_to_string(path, "the simulator config", limit::SIM_CONFIG)
            .map_err(|e| ConfigError {
                origin: origin.clone(),
                line: None,
                message: e.to_string(),
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        parse(&text, Some(base), &origin)
    }

    /// Makes the simulator speak like a built-in provider profile (`microsoft365`, `gmail`);
    /// `ses` keeps SES. Every profile user who logs in must send as a user of this config.
    pub fn set_provider(&mut self, name: &str) -> Result<(), ConfigError> {
        if name == crate::engine::provider::SES {
            self.profile = None;
            return Ok(());
        }
        let profile = super::profile::ProviderProfile::builtin(name)?;
        for u in &profile.users {
            if let Some(target) = &u.deliver_as
                && self.user(target).is_none()
            {
                return Err(ConfigError {
                    origin: self.origin.clone(),
                    line: None,
                    message: format!(
                        "the {name} profile's user {} sends as user {target:?}, which this config does not have",
                        u.name
                    ),
                });
            }
        }
        self.profile = Some(std::sync::Arc::new(profile));
        Ok(())
    }

    /// The user called `name`.
    pub fn user(&self, name: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.name == name)
    }
}

// ---- the file format -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_region")]
    region: Spanned<String>,
    #[serde(default = "default_account")]
    account: Spanned<String>,
    #[serde(default)]
    sandbox: bool,
    #[serde(default)]
    verified_identities: Vec<Spanned<String>>,
    apparent_source_ip: Option<IpAddr>,
    #[serde(default)]
    listen: RawListen,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    mailbox: RawMailbox,
    #[serde(default, rename = "user")]
    users: Vec<RawUser>,
}

fn default_region() -> Spanned<String> {
    Spanned::new(0..0, "us-east-1".to_string())
}

fn default_account() -> Spanned<String> {
    Spanned::new(0..0, "123456789012".to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    #[serde(default = "default_starttls")]
    starttls: SocketAddr,
    /// An address, or "off".
    #[serde(default = "default_implicit")]
    implicit: Spanned<String>,
}

fn default_starttls() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2587))
}

fn default_implicit() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:2465".to_string())
}

impl Default for RawListen {
    fn default() -> Self {
        RawListen {
            starttls: default_starttls(),
            implicit: default_implicit(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: Spanned<u64>,
    #[serde(default = "default_max_recipients")]
    max_recipients: Spanned<u64>,
    #[serde(default)]
    max_send_rate: Option<Spanned<u32>>,
    #[serde(default)]
    daily_quota: Option<Spanned<u64>>,
    #[serde(default = "default_idle_timeout")]
    idle_timeout_secs: Spanned<f64>,
    #[serde(default = "default_max_connections")]
    max_connections: Spanned<u64>,
    #[serde(default = "default_line_timeout")]
    line_timeout_secs: Spanned<f64>,
    #[serde(default = "default_session_timeout")]
    session_timeout_secs: Spanned<f64>,
    #[serde(default)]
    max_messages_per_session: Option<Spanned<u32>>,
}

fn default_max_message_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 10 * 1024 * 1024)
}
fn default_max_recipients() -> Spanned<u64> {
    Spanned::new(0..0, 50)
}
fn default_idle_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 10.0)
}
fn default_max_connections() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}
fn default_line_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 30.0)
}
fn default_session_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 600.0)
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_message_bytes: default_max_message_bytes(),
            max_recipients: default_max_recipients(),
            max_send_rate: None,
            daily_quota: None,
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
            line_timeout_secs: default_line_timeout(),
            session_timeout_secs: default_session_timeout(),
            max_messages_per_session: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    /// Defaults to the region's endpoint name, localhost, 127.0.0.1 and `::1`.
    names: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    #[serde(default = "default_max_messages")]
    max_messages: Spanned<u64>,
    dir: Option<PathBuf>,
}

fn default_max_messages() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}

impl Default for RawMailbox {
    fn default() -> Self {
        RawMailbox {
            max_messages: default_max_messages(),
            dir: None,
        }
    }
}

/// `policy = "a.json"` or `policy = ["a.json", "b.json"]`. (Spans do not survive an
/// untagged enum, so the whole value carries one.)
#[derive(Deserialize)]
#[serde(untagged)]
enum PolicyList {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    access_key_id: Spanned<String>,
    secret_access_key: Spanned<String>,
    policy: Option<Spanned<PolicyList>>,
    apparent_source_ip: Option<IpAddr>,
    sandbox: Option<bool>,
    max_send_rate: Option<Spanned<u32>>,
    daily_quota: Option<Spanned<u64>>,
}

// ---- parsing and validation ------------------------------------------------------------

/// Turns byte offsets into "line N" errors.
struct Source<'a> {
    text: &'a str,
    origin: String,
}

impl Source<'_> {
    fn line_of(&self, span: &Range<usize>) -> Option<usize> {
        if span.start == 0 && span.end == 0 {
            return None; // a default value, not from the file
        }
        let upto = span.start.min(self.text.len());
        Some(
            self.text.as_bytes()[..upto]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
        )
    }

    fn error(&self, span: Option<&Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            line: span.and_then(|s| self.line_of(s)),
            message: message.into(),
        }
    }
}

fn parse(text: &str, base_dir: Option<&Path>, origin: &str) -> Result<SimConfig, ConfigError> {
    let src = Source {
        text,
        origin: origin.to_string(),
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        // toml's message can span several lines with a caret diagram; keep its first line.
        let message = e.message().lines().next().unwrap_or("invalid TOML").trim();
        src.error(e.span().as_ref(), message.to_string())
    })?;

    let region = raw.region.get_ref().clone();
    if !ses::is_valid_region_name(&region) {
        return Err(src.error(
            Some(&raw.region.span()),
            format!("region {region:?} is not an AWS region name (like us-east-1)"),
        ));
    }
    let account = raw.account.get_ref().clone();
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(src.error(
            Some(&raw.account.span()),
            format!("account {account:?} must be 12 digits"),
        ));
    }

    let mut verified_identities = Vec::new();
    for id in &raw.verified_identities {
        let value = id.get_ref().trim();
        if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(src.error(
                Some(&id.span()),
                format!(
                    "verified identity {:?} must be a domain or an address",
                    id.get_ref()
                ),
            ));
        }
        verified_identities.push(value.to_string());
    }

    let implicit = match raw.listen.implicit.get_ref().trim() {
        "" | "off" => None,
        addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
            src.error(
                Some(&raw.listen.implicit.span()),
                format!(
                    "listen.implicit {addr:?} must be an address like 127.0.0.1:2465, or \"off\""
                ),
            )
        })?),
    };
    if implicit.is_some_and(|a| a == raw.listen.starttls && a.port() != 0) {
        return Err(src.error(
            Some(&raw.listen.implicit.span()),
            "listen.implicit and listen.starttls must differ",
        ));
    }

    let limits = parse_limits(&src, &raw.limits)?;
    let tls_names = parse_tls_names(&src, raw.tls.names.as_deref(), &region)?;

    let max_messages = *raw.mailbox.max_messages.get_ref();
    if max_messages > 100_000 {
        return Err(src.error(
            Some(&raw.mailbox.max_messages.span()),
            "mailbox.max_messages must be at most 100000",
        ));
    }
    let mailbox = MailboxConfig {
        max_messages: to_usize(max_messages),
        dir: raw.mailbox.dir.map(|d| match base_dir {
            Some(base) if d.is_relative() => base.join(d),
            _ => d,
        }),
    };

    let mut users: Vec<SimUser> = Vec::new();
    for raw_user in raw.users {
        let user = parse_user(&src, raw_user, base_dir)?;
        if let Some(other) = users.iter().find(|u| u.name == user.name) {
            return Err(src.error(None, format!("two users are called {:?}", other.name)));
        }
        if let Some(other) = users.iter().find(|u| u.access_key_id == user.access_key_id) {
            return Err(src.error(
                None,
                format!(
                    "users {:?} and {:?} share the access key ID {}",
                    other.name, user.name, user.access_key_id
                ),
            ));
        }
        users.push(user);
    }

    Ok(SimConfig {
        origin: origin.to_string(),
        region,
        account,
        sandbox: raw.sandbox,
        verified_identities,
        apparent_source_ip: raw.apparent_source_ip,
        listen: ListenConfig {
            starttls: raw.listen.starttls,
            implicit,
        },
        limits,
        tls_names,
        mailbox,
        users,
        profile: None,
    })
}

fn parse_limits(src: &Source<'_>, raw: &RawLimits) -> Result<Limits, ConfigError> {
    let in_range = |v: &Spanned<u64>, lo: u64, hi: u64, name: &str| {
        let value = *v.get_ref();
        if value < lo || value > hi {
            Err(src.error(
                Some(&v.span()),
                format!("limits.{name} must be between {lo} and {hi}, not {value}"),
            ))
        } else {
            Ok(value)
        }
    };
    // Messages are held in memory while they are checked, so the size has a hard ceiling.
    let max_message_bytes = in_range(
        &raw.max_message_bytes,
        1,
        64 * 1024 * 1024,
        "max_message_bytes",
    )
    .map(to_usize)?;
    let max_recipients = in_range(&raw.max_recipients, 1, 1000, "max_recipients").map(to_usize)?;
    let max_connections =
        in_range(&raw.max_connections, 1, 100_000, "max_connections").map(to_usize)?;
    let seconds = |v: &Spanned<f64>, hi: f64, name: &str| {
        let secs = *v.get_ref();
        if (0.05..=hi).contains(&secs) {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(src.error(
                Some(&v.span()),
                format!("limits.{name} must be between 0.05 and {hi}, not {secs}"),
            ))
        }
    };
    let idle_timeout = seconds(&raw.idle_timeout_secs, 3600.0, "idle_timeout_secs")?;
    let line_timeout = seconds(&raw.line_timeout_secs, 3600.0, "line_timeout_secs")?;
    let session_timeout = seconds(&raw.session_timeout_secs, 86400.0, "session_timeout_secs")?;
    let max_send_rate = match &raw.max_send_rate {
        Some(r) if *r.get_ref() == 0 => {
            return Err(src.error(
                Some(&r.span()),
                "limits.max_send_rate must be at least 1 (leave it out for no limit)",
            ));
        }
        Some(r) => Some(*r.get_ref()),
        None => None,
    };
    let daily_quota = match &raw.daily_quota {
        Some(q) if *q.get_ref() == 0 => {
            return Err(src.error(
                Some(&q.span()),
                "limits.daily_quota must be at least 1 (leave it out for no limit)",
            ));
        }
        Some(q) => Some(*q.get_ref()),
        None => None,
    };
    let max_messages_per_session = match &raw.max_messages_per_session {
        Some(n) if *n.get_ref() == 0 => {
            return Err(src.error(
                Some(&n.span()),
                "limits.max_messages_per_session must be at least 1 (leave it out for no limit)",
            ));
        }
        Some(n) => Some(*n.get_ref()),
        None => None,
    };
    Ok(Limits {
        max_message_bytes,
        max_recipients,
        max_send_rate,
        daily_quota,
        idle_timeout,
        max_connections,
        line_timeout,
        session_timeout,
        max_messages_per_session,
    })
}

fn parse_tls_names(
    src: &Source<'_>,
    names: Option<&[Spanned<String>]>,
    region: &str,
) -> Result<Vec<String>, ConfigError> {
    let Some(names) = names else {
        return Ok(vec![
            ses::smtp_endpoint(region),
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ]);
    };
    if names.is_empty() {
        return Err(src.error(None, "tls.names must hold at least one name"));
    }
    let mut out = Vec::new();
    for name in names {
        let value = name.get_ref().trim();
        let ok = value.parse::<IpAddr>().is_ok()
            || (!value.is_empty()
                && value.len() <= 253
                && value.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
                }));
        if !ok {
            return Err(src.error(
                Some(&name.span()),
                format!("tls.names entry {value:?} is neither a DNS name nor an IP address"),
            ));
        }
        out.push(value.to_string());
    }
    Ok(out)
}

fn parse_user(
    src: &Source<'_>,
    raw: RawUser,
    base_dir: Option<&Path>,
) -> Result<SimUser, ConfigError> {
    let name = raw.name.get_ref().clone();
    // The name ends up in an ARN: keep to IAM's user-name alphabet.
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(src.error(
            Some(&raw.name.span()),
            format!("user name {name:?} must be 1-64 characters of A-Z a-z 0-9 +=,.@_-"),
        ));
    }
    let key = raw.access_key_id.get_ref().clone();
    if !ses::is_access_key_id(&key) || ses::is_temporary_access_key_id(&key) {
        return Err(src.error(
            Some(&raw.access_key_id.span()),
            format!(
                "access_key_id {key:?} of user {name:?} must look like an IAM access key ID: AKIA + 16 of A-Z 0-9"
            ),
        ));
    }
    let secret_span = raw.secret_access_key.span();
    // Moved, not copied, into the zeroizing buffer.
    let secret = Zeroizing::new(raw.secret_access_key.into_inner());
    if secret.len() != ses::SECRET_ACCESS_KEY_LEN
        || secret.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        // Never echo the secret itself.
        return Err(src.error(
            Some(&secret_span),
            format!(
                "secret_access_key of user {name:?} must be {} characters without spaces",
                ses::SECRET_ACCESS_KEY_LEN
            ),
        ));
    }
    let (refs, span) = match raw.policy {
        None => (Vec::new(), 0..0),
        Some(list) => {
            let span = list.span();
            match list.into_inner() {
                PolicyList::One(one) => (vec![one], span),
                PolicyList::Many(many) => (many, span),
            }
        }
    };
    let mut policies = Vec::new();
    let mut policy_sources = Vec::new();
    for r in &refs {
        let (source, policy) = load_policy(src, r, &span, base_dir)?;
        policy_sources.push(source);
        policies.push(policy);
    }
    let positive = |v: &Option<Spanned<u32>>| match v {
        Some(r) if *r.get_ref() == 0 => {
            Err(src.error(Some(&r.span()), "max_send_rate must be at least 1"))
        }
        Some(r) => Ok(Some(*r.get_ref())),
        None => Ok(None),
    };
    let max_send_rate = positive(&raw.max_send_rate)?;
    let daily_quota = match &raw.daily_quota {
        Some(q) if *q.get_ref() == 0 => {
            return Err(src.error(Some(&q.span()), "daily_quota must be at least 1"));
        }
        Some(q) => Some(*q.get_ref()),
        None => None,
    };
    Ok(SimUser {
        name,
        access_key_id: key,
        secret_access_key: secret,
        policy_sources,
        policies,
        apparent_source_ip: raw.apparent_source_ip,
        sandbox: raw.sandbox,
        max_send_rate,
        daily_quota,
    })
}

/// A policy file relative to the config's folder, else one of the embedded demo policies.
fn load_policy(
    src: &Source<'_>,
    name: &String,
    span: &Range<usize>,
    base_dir: Option<&Path>,
) -> Result<(String, Policy), ConfigError> {
    let span = span.clone();
    if let Some(base) = base_dir {
        let path = base.join(name);
        if path.is_file() {
            let text = limited::read_to_string(&path, "the policy", limit::POLICY)
                .map_err(|e| src.error(Some(&span), e.to_string()))?;
            let policy = Policy::from_json(&text)
                .map_err(|e| src.error(Some(&span), format!("policy {}: {e}", path.display())))?;
            let shown = path.display().to_string();
            return Ok((shown.clone(), policy.with_name(shown)));
        }
    }
    let Some((_, text)) = DEMO_POLICIES.iter().find(|(n, _)| n == name) else {
        let known: Vec<&str> = DEMO_POLICIES.iter().map(|(n, _)| *n).collect();
        return Err(src.error(
            Some(&span),
            format!(
                "policy {name:?} is neither a file next to the config nor a built-in demo policy ({})",
                known.join(", ")
            ),
        ));
    };
    let policy = Policy::from_json(text)
        .map_err(|e| src.error(Some(&span), format!("built-in policy {name}: {e}")))?;
    Ok((format!("built-in {name}"), policy.with_name(name.clone())))
}

/// A bounded count as a `usize`. The bounds checked above are far below `usize::MAX` on every
/// target, so the saturation never happens; it only replaces an unchecked `as`.
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
region = "eu-west-2"
account = "111122223333"

[[user]]
name = "alice"
access_key_id = "AKIAEXAMPLEALICE0001"
secret_access_key = "aliceEXAMPLEsecretKEY0123456789abcdefghi"
policy = "allow-all.json"
"#;

    #[test]
    fn demo_config_parses_and_has_the_documented_users() {
        let cfg = SimConfig::default_demo().unwrap();
        assert_eq!(cfg.region, "us-east-1");
        assert_eq!(cfg.account, "123456789012");
        assert!(!cfg.sandbox);
        assert!(cfg.verified_identities.iter().any(|v| v == "example.com"));
        for name in ["good", "wrong-password", "ip-restricted", "sandbox-user"] {
            assert!(cfg.user(name).is_some(), "demo user {name} missing");
        }
        let good = cfg.user("good").unwrap();
        // AWS's published vector: the documented example secret in us-east-1.
        assert_eq!(
            good.smtp_password("us-east-1").as_str(),
            "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
        );
        assert!(cfg.users.iter().all(SimUser::is_example_key));
        assert_eq!(cfg.limits.idle_timeout, Duration::from_secs(10));
        assert_eq!(cfg.limits.max_recipients, 50);
        assert_eq!(cfg.listen.starttls, "127.0.0.1:2587".parse().unwrap());
        assert_eq!(cfg.listen.implicit, Some("127.0.0.1:2465".parse().unwrap()));
        assert!(
            cfg.tls_names
                .contains(&"email-smtp.us-east-1.amazonaws.com".to_string())
        );
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = SimConfig::from_toml_str(MINIMAL, Path::new("/nonexistent")).unwrap();
        assert_eq!(cfg.region, "eu-west-2");
        assert_eq!(cfg.tls_names[0], "email-smtp.eu-west-2.amazonaws.com");
        assert_eq!(cfg.limits.max_connections, 1000);
        assert_eq!(cfg.users[0].policy_sources, vec!["built-in allow-all.json"]);
        assert_eq!(cfg.mailbox.max_messages, 1000);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let cfg = SimConfig::from_toml_str(MINIMAL, Path::new("/")).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("aliceEXAMPLEsecret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    fn error_of(text: &str) -> ConfigError {
        SimConfig::from_toml_str(text, Path::new("/nonexistent")).unwrap_err()
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = MINIMAL.replace("account = ", "sandbx = true\naccount = ");
        let err = error_of(&text);
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(err.message.contains("sandbx"), "{err}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let err = error_of(&MINIMAL.replace("eu-west-2", "Europe"));
        assert_eq!(err.line, Some(2), "{err}");
        let err = error_of(&MINIMAL.replace("AKIAEXAMPLEALICE0001", "alice"));
        assert_eq!(err.line, Some(7), "{err}");
        let err = error_of(&MINIMAL.replace("allow-all.json", "nope.json"));
        assert_eq!(err.line, Some(9), "{err}");
        assert!(err.message.contains("nope.json"));
        let err = error_of(&format!("{MINIMAL}\n[limits]\nmax_connections = 0\n"));
        assert_eq!(err.line, Some(12), "{err}");
        let err = error_of(&format!(
            "{MINIMAL}\n[limits]\nidle_timeout_secs = \"soon\"\n"
        ));
        assert_eq!(err.line, Some(12), "{err}");
        let err = error_of("region = \n");
        assert_eq!(err.line, Some(1), "{err}");
    }

    #[test]
    fn secret_errors_do_not_echo_the_secret() {
        let err = error_of(&MINIMAL.replace(
            "aliceEXAMPLEsecretKEY0123456789abcdefghi",
            "shortSECRETvalue",
        ));
        assert_eq!(err.line, Some(8));
        assert!(!err.to_string().contains("shortSECRETvalue"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let text = format!(
            "{MINIMAL}\n[[user]]\nname = \"bob\"\naccess_key_id = \"AKIAEXAMPLEALICE0001\"\nsecret_access_key = \"bobEXAMPLEsecretKEY0123456789abcdefghijk\"\n"
        );
        let err = error_of(&text);
        assert!(err.message.contains("share the access key ID"), "{err}");
    }

    #[test]
    fn policy_files_resolve_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.json"),
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ses:*","Resource":"*"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();
        let cfg = SimConfig::from_toml_str(
            &MINIMAL.replace("\"allow-all.json\"", "[\"allow-all.json\", \"mine.json\"]"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(cfg.users[0].policies.len(), 2);
        assert!(cfg.users[0].policy_sources[1].ends_with("mine.json"));
        let err = SimConfig::from_toml_str(
            &MINIMAL.replace("allow-all.json", "broken.json"),
            dir.path(),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(9));
        assert!(err.message.contains("broken.json"), "{err}");
    }

    #[test]
    fn sandbox_example_config_parses() {
        let text = include_str!("../../../assets/sim/sandbox.toml");
        let cfg = SimConfig::from_toml_str(text, Path::new("/nonexistent")).unwrap();
        assert!(cfg.sandbox);
        assert_eq!(cfg.region, "eu-west-1");
        assert_eq!(cfg.limits.max_send_rate, Some(1));
        assert_eq!(cfg.limits.daily_quota, Some(200));
        assert!(cfg.users[0].is_example_key());
    }

    #[test]
    fn implicit_listener_can_be_turned_off() {
        let cfg = SimConfig::from_toml_str(
            &format!("{MINIMAL}\n[listen]\nstarttls = \"127.0.0.1:0\"\nimplicit = \"off\"\n"),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(cfg.listen.implicit, None);
        assert_eq!(cfg.listen.starttls.port(), 0);
    }
}
