//! Command-line options shared by the front ends: target, credentials and envelope.
//!
//! `run`, the TUI and `demo` take the same flags, so a user can move from one to the other
//! without relearning them. Secrets never come from a visible argument unless the user insists
//! with `--password`, which warns.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::engine::auth::{Credentials, Mechanism};
use crate::engine::command::{check_address, check_arg};
use crate::engine::escape::escape_lines;
use crate::engine::limited::{self, ReadError, limit};
use crate::engine::session::{SesLint, SessionConfig};
use crate::engine::transport::{TlsMode, TlsSettings};

mod token;
pub use token::{TOKEN_ENV, TokenArgs, TokenSource};
pub mod profile;

/// A problem with the command line or configuration (exit code 2). Shown escaped: usage
/// messages quote the arguments.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("{}", escape_lines(.0))]
    Usage(String),
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The longest `--timeout` accepted: one day.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Where to connect.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// SES region: connects to email-smtp.REGION.amazonaws.com (with --host: the region of
    /// that SES endpoint, e.g. a VPC endpoint or the simulator, for the credential checks)
    #[arg(long, value_name = "REGION", help_heading = "Target")]
    pub region: Option<String>,
    /// Server host name or IP address
    #[arg(long, short = 's', value_name = "HOST", help_heading = "Target")]
    pub host: Option<String>,
    /// Port [default: 587; 465 and 2465 imply --tls implicit]
    #[arg(long, short = 'p', help_heading = "Target")]
    pub port: Option<u16>,
    /// TLS mode [default: implicit on 465/2465, else starttls]
    #[arg(long, value_enum, help_heading = "Target")]
    pub tls: Option<TlsMode>,
    /// Extra trusted CA certificates (PEM), e.g. a test server's CA
    #[arg(long, value_name = "PEM", help_heading = "Target")]
    pub ca_file: Option<PathBuf>,
    /// Do NOT verify the server's certificate (shown loudly in every output)
    #[arg(long, help_heading = "Target")]
    pub insecure: bool,
    /// Name to send in SNI and to verify the certificate against
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub sni: Option<String>,
    /// Name to send in EHLO [default: this machine's host name]
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub ehlo: Option<String>,
    /// Seconds to wait for each reply (and for the TCP connection)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Target"
    )]
    pub timeout: u64,
    #[command(flatten)]
    pub tls_pins: crate::commands::tls_args::TlsArgs,
}

impl TargetArgs {
    /// The host to connect to: `--host`, or the SES endpoint of `--region`.
    pub(crate) fn resolved_host(&self) -> Option<String> {
        self.host.clone().or_else(|| {
            self.region
                .as_deref()
                .map(crate::engine::ses::smtp_endpoint)
        })
    }

    /// The SES region, from `--region` or the host name.
    pub(crate) fn ses_region(&self) -> Option<String> {
        self.region.clone().or_else(|| {
            self.resolved_host()
                .and_then(|h| crate::engine::ses::region_from_host(&h))
        })
    }

    pub(crate) fn resolved_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            Some(TlsMode::Implicit) => 465,
            _ => 587,
        })
    }

    pub(crate) fn resolved_mode(&self) -> TlsMode {
        self.tls
            .unwrap_or_else(|| TlsMode::for_port(self.resolved_port()))
    }

    /// Builds the session configuration, or says what is missing.
    pub fn session_config(&self) -> Result<SessionConfig, CliError> {
        let host = self.resolved_host().ok_or_else(|| {
            CliError::Usage(
                "say where to connect: --region REGION (SES) or --host HOST, e.g. \
                 --region us-east-1 (SES in N. Virginia) or --host smtp.example.com"
                    .into(),
            )
        })?;
        check_arg("--host", &host).map_err(|e| CliError::Usage(e.to_string()))?;
        check_host(&host)?;
        if let Some(region) = &self.region
            && !crate::engine::ses::is_valid_region_name(region)
        {
            return Err(CliError::Usage(format!(
                "--region {region:?} is not a region name (e.g. us-east-1)"
            )));
        }
        if let Some(sni) = &self.sni {
            // Refused here, before connecting, rather than at the TLS handshake.
            check_arg("--sni", sni).map_err(|e| CliError::Usage(e.to_string()))?;
            if rustls_pki_types::ServerName::try_from(sni.as_str()).is_err() {
                return Err(CliError::Usage(format!(
                    "--sni {sni:?} is not a valid TLS server name (a DNS name or an IP address)"
                )));
            }
        }
        if self.timeout == 0 || self.timeout > MAX_TIMEOUT_SECS {
            // A larger value cannot be added to a clock on every platform; nobody waits a day.
            return Err(CliError::Usage(format!(
                "--timeout must be between 1 and {MAX_TIMEOUT_SECS} seconds"
            )));
        }
        if let Some(path) = &self.ca_file {
            // Read and checked now, so a bad file is a usage error before connecting rather
            // than a TLS failure after STARTTLS.
            let pem = limited::read_to_string(path, "the CA file (--ca-file)", limit::CA_FILE)?;
            crate::engine::transport::parse_ca_pem(pem.as_bytes(), &limited::shown(path))
                .map_err(|e| CliError::Usage(format!("--ca-file: {e}")))?;
        }
        let mut cfg = SessionConfig::new(&host, self.resolved_port(), self.resolved_mode());
        cfg.tls = TlsSettings {
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
            sni: self.sni.clone(),
            no_native_roots: false,
            ca_pem: None,
            pins: self.tls_pins.pins()?,
            identity: self.tls_pins.identity()?,
        };
        cfg.reply_timeout = Duration::from_secs(self.timeout);
        cfg.connect_timeout = Duration::from_secs(self.timeout);
        // SES endpoints (by name, or --region with --host) get the credential lint; the IAM
        // secret key, when exported, lets it check the password's region.
        cfg.ses_lint = self.ses_region().map(|region| SesLint {
            region: Some(region),
            secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY")
                .ok()
                .map(Zeroizing::new),
            access_key_id: std::env::var("AWS_ACCESS_KEY_ID").ok(),
        });
        Ok(cfg)
    }

    /// The EHLO name: `--ehlo`, else this machine's host name, else a safe literal.
    pub fn ehlo_name(&self) -> Result<String, CliError> {
        let name = match &self.ehlo {
            Some(n) => n.clone(),
            None => local_hostname(),
        };
        check_arg("--ehlo", &name).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(name)
    }
}

/// An empty host, or brackets around something that is not an IPv6 address, is a usage
/// error (`[::1]` is accepted: it is how IPv6 literals are written next to a port).
fn check_host(host: &str) -> Result<(), CliError> {
    if host.trim().is_empty() {
        return Err(CliError::Usage(
            "--host is empty: give a host name or an IP address (e.g. --host mail.example.com)"
                .into(),
        ));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
        if !ok {
            return Err(CliError::Usage(format!(
                "--host {host:?}: brackets hold an IPv6 address, e.g. --host [::1]; give the port with --port"
            )));
        }
    }
    Ok(())
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "smtpscope.localdomain".into())
}

/// Which AUTH to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AuthChoice {
    #[default]
    Plain,
    Login,
    None,
    /// OAuth 2.0 access token (Google, Microsoft 365)
    Xoauth2,
    /// OAuth 2.0 access token, RFC 7628
    Oauthbearer,
}

impl AuthChoice {
    pub(crate) fn mechanism(self) -> Option<Mechanism> {
        match self {
            AuthChoice::Plain => Some(Mechanism::Plain),
            AuthChoice::Login => Some(Mechanism::Login),
            AuthChoice::None => None,
            AuthChoice::Xoauth2 => Some(Mechanism::Xoauth2),
            AuthChoice::Oauthbearer => Some(Mechanism::Oauthbearer),
        }
    }

    /// Sends an OAuth access token instead of a password.
    pub(crate) fn is_oauth(self) -> bool {
        matches!(self, AuthChoice::Xoauth2 | AuthChoice::Oauthbearer)
    }
}

/// Who to log in as. Its `Debug` hides `--password`.
#[derive(Clone, Args, Default)]
pub struct CredentialArgs {
    /// SMTP user name (for SES: the access key ID, AKIA...)
    #[arg(
        long,
        short = 'u',
        env = "SMTPSCOPE_USER",
        help_heading = "Credentials"
    )]
    pub user: Option<String>,
    /// Read the password from this file (first line)
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Credentials",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,
    /// Read the password from standard input (first line). Without this or --password-file,
    /// the password comes from the SMTPSCOPE_PASSWORD environment variable
    #[expect(
        clippy::doc_markdown,
        reason = "this comment is --help text, shown verbatim"
    )]
    #[arg(long, help_heading = "Credentials")]
    pub password_stdin: bool,
    /// Password on the command line: visible in `ps` and shell history. Prefer `SMTPSCOPE_PASSWORD`.
    #[arg(long, hide = true, help_heading = "Credentials")]
    pub password: Option<String>,
    /// AUTH mechanism
    #[arg(long, value_enum, default_value_t = AuthChoice::Plain, help_heading = "Credentials")]
    pub auth: AuthChoice,
    #[command(flatten)]
    pub token: TokenArgs,
    /// A password found for the user by `--profile` or a configured target
    /// ([`profile::ProfileArgs`]); the flags above still win over it.
    #[arg(skip)]
    pub provided: Option<profile::Provided>,
}

impl fmt::Debug for CredentialArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialArgs")
            .field("user", &self.user)
            .field("password_file", &self.password_file)
            .field("password_stdin", &self.password_stdin)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("token", &self.token)
            .field("provided", &self.provided)
            .finish()
    }
}

/// Where the password came from, for messages that must not show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    Env,
    File,
    Stdin,
    Argv,
    /// An OAuth access token (for XOAUTH2 and OAUTHBEARER) and where it came from.
    Token(TokenSource),
    /// From `--profile` or a configured target ([`CredentialArgs::provided`]).
    Provided,
}

impl CredentialArgs {
    /// Reads the password from env, file, stdin or (warned) argv. Never prompts. Files and
    /// standard input are read with a cap ([`limit::PASSWORD`]); only the first line is used.
    pub fn password(&self) -> Result<Option<(Zeroizing<String>, PasswordSource)>, CliError> {
        const WHAT: &str = "the password";
        // XOAUTH2 and OAUTHBEARER send a token; so do scripted AUTH XOAUTH2 lines when a
        // token source, and no password, is given.
        let token_only = self.token.given()
            && self.password_file.is_none()
            && !self.password_stdin
            && self.password.is_none();
        if self.auth.is_oauth() || token_only {
            return Ok(self
                .token
                .token()?
                .map(|(t, source)| (t, PasswordSource::Token(source))));
        }
        if let Some(path) = &self.password_file {
            let text = limited::read_secret_file(path, WHAT, limit::PASSWORD)?;
            return Ok(Some((first_line(&text), PasswordSource::File)));
        }
        if self.password_stdin {
            let text =
                limited::read_secret(std::io::stdin(), WHAT, "standard input", limit::PASSWORD)?;
            return Ok(Some((first_line(&text), PasswordSource::Stdin)));
        }
        if let Some(p) = &self.password {
            return Ok(Some((Zeroizing::new(p.clone()), PasswordSource::Argv)));
        }
        if let Some(p) = &self.provided {
            return Ok(Some((p.password.clone(), PasswordSource::Provided)));
        }
        if let Ok(p) = std::env::var("SMTPSCOPE_PASSWORD") {
            return Ok(Some((Zeroizing::new(p), PasswordSource::Env)));
        }
        Ok(None)
    }

    /// Warnings to show at start, before anything is sent: a password on the command line,
    /// an empty password. `password` is what [`CredentialArgs::password`] returned.
    pub fn warnings(&self, password: Option<&(Zeroizing<String>, PasswordSource)>) -> Vec<String> {
        let mut out = Vec::new();
        if self.password.is_some() {
            out.push(ARGV_PASSWORD_WARNING.to_string());
        }
        if let Some((p, source)) = password
            && p.is_empty()
            && self.auth != AuthChoice::None
        {
            let from = match source {
                PasswordSource::File => "the --password-file is empty (or its first line is)",
                PasswordSource::Stdin => "standard input ended before any password",
                PasswordSource::Env => "SMTPSCOPE_PASSWORD is set but empty",
                PasswordSource::Argv => "--password is empty",
                PasswordSource::Token(source) => {
                    out.push(match source {
                        TokenSource::Env => format!("{TOKEN_ENV} is set but empty; AUTH will send an empty access token"),
                        TokenSource::File => "the --token-file is empty (or its first line is); AUTH will send an empty access token".into(),
                        TokenSource::Command => "the --token-command printed an empty token".into(),
                    });
                    return out;
                }
                PasswordSource::Provided => "the configured password source gave an empty one",
            };
            out.push(format!(
                "the password is empty: {from}; AUTH will send an empty password"
            ));
        }
        out
    }

    /// Credentials when AUTH is wanted, or a usage error naming what is missing.
    #[cfg(test)]
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>, CliError> {
        self.credentials_and_warnings().map(|(c, _)| c)
    }

    /// [`CredentialArgs::credentials`] and the warnings to show at start (see
    /// [`CredentialArgs::warnings`]); the password is read once, for both.
    pub(crate) fn credentials_and_warnings(
        &self,
    ) -> Result<(Option<Credentials>, Vec<String>), CliError> {
        if self.auth == AuthChoice::None {
            return Ok((None, self.warnings(None)));
        }
        let user = self.user.clone().ok_or_else(|| {
            CliError::Usage(
                "AUTH needs a user: --user USER or SMTPSCOPE_USER (or --auth none)".into(),
            )
        })?;
        let found = self.password()?.ok_or_else(|| {
            if self.auth.is_oauth() {
                CliError::Usage(format!("AUTH {} needs an OAuth access token: set {TOKEN_ENV}, or use --token-file FILE or --token-command CMD (or --auth none)", self.auth.mechanism().map_or("", Mechanism::name)))
            } else {
                CliError::Usage("AUTH needs a password: set SMTPSCOPE_PASSWORD, or use --password-file FILE or --password-stdin (or --auth none)".into())
            }
        })?;
        let warnings = self.warnings(Some(&found));
        let credentials = if matches!(found.1, PasswordSource::Token(_)) {
            Credentials::with_token(&user, found.0)
        } else {
            Credentials::new(&user, found.0)
        }
        .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok((Some(credentials), warnings))
    }
}

/// Shown at start when the password came from argv (and again before AUTH by `run`).
pub(crate) const ARGV_PASSWORD_WARNING: &str = "--password puts the password in the process list and shell history; prefer SMTPSCOPE_PASSWORD or --password-file";

fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or("").to_string())
}

/// The envelope and message.
#[derive(Debug, Clone, Args, Default)]
pub struct EnvelopeArgs {
    /// Envelope sender (MAIL FROM)
    #[arg(long, short = 'f', value_name = "ADDRESS", help_heading = "Envelope")]
    pub from: Option<String>,
    /// Recipient (RCPT TO); repeat for more
    #[arg(long, short = 't', value_name = "ADDRESS", help_heading = "Envelope")]
    pub to: Vec<String>,
    /// Message to send: @FILE (streamed), or - for standard input (read whole before
    /// connecting, at most 40 MiB) [default: a generated test message]
    #[arg(long, value_name = "@FILE|-", help_heading = "Envelope")]
    pub data: Option<String>,
}

impl EnvelopeArgs {
    /// Checks every address for CR/LF/NUL and shape.
    pub fn validate(&self) -> Result<(), CliError> {
        if let Some(f) = &self.from {
            check_address("--from", f).map_err(|e| CliError::Usage(e.to_string()))?;
        }
        for t in &self.to {
            check_address("--to", t).map_err(|e| CliError::Usage(e.to_string()))?;
            if t.is_empty() {
                return Err(CliError::Usage("--to must not be empty".into()));
            }
        }
        if let Some(d) = &self.data
            && d != "-"
            && !d.starts_with('@')
        {
            return Err(CliError::Usage(format!(
                "--data takes @FILE or - (got {d:?})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_builds_the_ses_host_and_port_picks_the_mode() {
        let t = TargetArgs {
            region: Some("ap-northeast-1".into()),
            ..Default::default()
        };
        assert_eq!(
            t.resolved_host().as_deref(),
            Some("email-smtp.ap-northeast-1.amazonaws.com")
        );
        assert_eq!(
            (t.resolved_port(), t.resolved_mode()),
            (587, TlsMode::Starttls)
        );
        let t = TargetArgs {
            port: Some(2465),
            ..t
        };
        assert_eq!(t.resolved_mode(), TlsMode::Implicit);
        let t = TargetArgs {
            tls: Some(TlsMode::Implicit),
            port: None,
            ..t
        };
        assert_eq!(t.resolved_port(), 465);
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        assert!(TargetArgs::default().session_config().is_err());
        let t = TargetArgs {
            region: Some("us east".into()),
            timeout: 30,
            ..Default::default()
        };
        assert!(t.session_config().is_err());
        let t = TargetArgs {
            host: Some("h\r\nx".into()),
            timeout: 30,
            ..Default::default()
        };
        assert!(t.session_config().is_err());
        let e = EnvelopeArgs {
            from: Some("a@b\r\nRCPT TO:<x@y>".into()),
            ..Default::default()
        };
        assert!(e.validate().is_err());
        let e = EnvelopeArgs {
            data: Some("file.eml".into()),
            ..Default::default()
        };
        assert!(e.validate().is_err());
    }

    #[test]
    fn sni_is_checked_before_connecting() {
        let with_sni = |sni: &str| TargetArgs {
            host: Some("127.0.0.1".into()),
            sni: Some(sni.into()),
            timeout: 30,
            ..Default::default()
        };
        assert!(with_sni("mail.example.com").session_config().is_ok());
        for (bad, says) in [
            ("a\r\nb", "carriage return"),
            ("a\nb", "line feed"),
            ("a\0b", "NUL"),
            ("not a name", "not a valid TLS server name"),
        ] {
            let err = with_sni(bad).session_config().unwrap_err().to_string();
            assert!(err.contains("--sni") && err.contains(says), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let c = CredentialArgs {
            user: Some("AKIAEXAMPLE".into()),
            password: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("AKIAEXAMPLE"));
    }

    #[test]
    fn password_warnings_name_argv_and_empty_passwords() {
        let argv = CredentialArgs {
            user: Some("u".into()),
            password: Some("secret-on-argv".into()),
            ..Default::default()
        };
        let (_, warnings) = argv.credentials_and_warnings().unwrap();
        assert_eq!(warnings, [ARGV_PASSWORD_WARNING]);
        let empty = (Zeroizing::new(String::new()), PasswordSource::Stdin);
        let w = CredentialArgs::default().warnings(Some(&empty));
        assert_eq!(
            w,
            [
                "the password is empty: standard input ended before any password; AUTH will send an empty password"
            ]
        );
        let none = CredentialArgs {
            auth: AuthChoice::None,
            ..Default::default()
        };
        assert!(none.warnings(Some(&empty)).is_empty());
    }

    #[test]
    fn hosts_are_checked() {
        assert!(check_host("[::1]").is_ok() && check_host("mail.example.com").is_ok());
        for bad in ["", " ", "[::1", "[mail.example.com]"] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn missing_credentials_are_named() {
        let c = CredentialArgs {
            user: None,
            ..Default::default()
        };
        let err = c.credentials().unwrap_err().to_string();
        assert!(err.contains("--user"), "{err}");
        assert!(
            CredentialArgs {
                auth: AuthChoice::None,
                ..Default::default()
            }
            .credentials()
            .unwrap()
            .is_none()
        );
    }
}
