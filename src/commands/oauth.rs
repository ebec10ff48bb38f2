//! `smtpscope oauth login` and `smtpscope oauth token`: get the OAuth 2.0 access token that
//! XOAUTH2 and OAUTHBEARER send.
//!
//! `login` signs in once with the device authorization grant (a URL and a code to enter in any
//! browser) and caches the refresh token in a private file; `token` turns the cached login
//! into a fresh access token on standard output, for `--token-command` and other tools'
//! credential helpers. Microsoft app-only sending uses the client credentials grant instead,
//! with nothing cached. The client secret is read from the environment or a file, never from
//! the command line; tokens are printed only where asked for (`token`'s standard output).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use super::error::{CommandResult, EXIT_ENVIRONMENT, EXIT_USAGE};
use crate::engine::limited;
use crate::engine::oauth::cache::{self, Cache, Key, Login, Selector};
use crate::engine::oauth::grant::{self, ClientRegistration, DevicePrompt, GrantError, Tokens};
use crate::engine::oauth::http::HttpClient;
use crate::engine::oauth::provider::{self, Endpoints, Overrides, Provider};

/// The variable the client secret is read from (when there is no --client-secret-file).
pub const CLIENT_SECRET_ENV: &str = "SMTPSCOPE_OAUTH_CLIENT_SECRET";
/// Exit code when the authorization server refused (as `run`'s `authentication_failed`).
const EXIT_REFUSED: u8 = 6;
/// Exit code when the authorization server could not be reached (as `run`'s `connection_failed`).
const EXIT_UNREACHABLE: u8 = 3;
/// Exit code when the server's answer was not OAuth (as `run`'s `protocol_error`).
const EXIT_BAD_ANSWER: u8 = 13;
/// The largest client secret file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;
/// The longest text argument accepted (client IDs, tenants, scopes, URLs).
const MAX_ARG: usize = 2048;

#[derive(Subcommand, Debug)]
pub enum OauthCommand {
    /// Sign in once with a code shown here and entered in any browser (device authorization
    /// grant), and cache the refresh token for `oauth token`
    #[command(after_long_help = LOGIN_AFTER_HELP)]
    Login(Box<LoginArgs>),
    /// Print a fresh access token on standard output, from the cached login. The output is a
    /// secret: pipe it, never paste it or log it
    #[command(after_long_help = TOKEN_AFTER_HELP)]
    Token(Box<TokenArgs>),
}

const LOGIN_AFTER_HELP: &str = "\
The refresh token is cached in a file readable by you only (mode 0600): \
oauth-logins.json in the data folder (~/.local/share/smtpscope on Linux, \
~/Library/Application Support/smtpscope on macOS), or in $SMTPSCOPE_DATA_DIR. The access token \
and the client secret are never cached. The operating system's keyring is not used.\n\n\
Examples:\n  smtpscope oauth login --provider microsoft --client-id 00000000-0000-0000-0000-000000000000\n  \
SMTPSCOPE_OAUTH_CLIENT_SECRET=… smtpscope oauth login --provider google --client-id ID.apps.googleusercontent.com\n\n\
Exit codes: 0 signed in; 2 bad options; 3 the server could not be reached; 6 the server \
refused (or nobody approved the code in time); 13 the answer was not OAuth; 1 the cache \
could not be written.";

const TOKEN_AFTER_HELP: &str = "\
Standard output is the access token and a line break, nothing else: it is a secret. Use it \
as a credential helper, e.g. `smtpscope run --auth xoauth2 --token-command 'smtpscope oauth \
token --provider microsoft' …`. Each call asks the server for a new access token with the \
cached refresh token, and caches the new refresh token if the server rotated it.\n\n\
Exit codes: 0 printed; 2 no cached login matches, or bad options; 3 the server could not be \
reached; 6 the server refused the refresh (log in again); 13 the answer was not OAuth; 1 the \
cache could not be read.";

/// Which server and which app: shared by `login` and `token`.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Who issues the token
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// The app registration's client ID (Microsoft: Application (client) ID). For `token`,
    /// picks among cached logins
    #[arg(long, value_name = "ID", env = "SMTPSCOPE_OAUTH_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Read the client secret from this file (first line). Without it, the secret, if any, comes
    /// from the SMTPSCOPE_OAUTH_CLIENT_SECRET environment variable. Google's device clients and
    /// --app-only need one; Microsoft's public clients do not
    #[expect(
        clippy::doc_markdown,
        reason = "this comment is --help text, shown verbatim"
    )]
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Microsoft tenant: its ID or domain, or organizations [default: organizations]
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// A label of your choice for this login (e.g. the mailbox), to keep several logins with
    /// the same app apart
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Scopes, space-separated [default: Microsoft `https://outlook.office.com/SMTP.Send
    /// offline_access`, or `https://outlook.office365.com/.default` with --app-only; Google
    /// `https://mail.google.com/`]
    #[arg(long, value_name = "SCOPES")]
    pub scope: Option<String>,
    /// Microsoft sign-in host, for national clouds [default: `https://login.microsoftonline.com`]
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// Device authorization endpoint (required for --provider custom)
    #[arg(long, value_name = "URL")]
    pub device_url: Option<String>,
    /// Token endpoint (required for --provider custom)
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Microsoft app-only sending (client credentials grant, permission SMTP.SendAsApp): needs
    /// --tenant, --client-id and the client secret; nothing is cached
    #[arg(long)]
    pub app_only: bool,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Wait at most this long for the code to be approved (the server's own expiry may be
    /// shorter)
    #[arg(long, value_name = "SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

/// A failure with its exit code; printed once by [`run`].
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    fn environment(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_ENVIRONMENT,
            message: message.into(),
        }
    }
    fn grant(e: &GrantError, next: Option<&str>) -> Self {
        let code = match e {
            GrantError::Refused { .. } | GrantError::TimedOut { .. } => EXIT_REFUSED,
            GrantError::Unreachable { .. } | GrantError::NoAnswer { .. } => EXIT_UNREACHABLE,
            GrantError::BadAnswer { .. } => EXIT_BAD_ANSWER,
        };
        let mut message = e.to_string();
        if let Some(next) = next.filter(|_| e.is_refusal()) {
            let _ = write!(message, ".\nNext: run `{next}`");
        }
        Failure { code, message }
    }
}

/// Runs `smtpscope oauth …`; prints its own errors (their exit codes are the command's).
pub async fn run(command: &OauthCommand) -> CommandResult {
    let (name, result) = match command {
        OauthCommand::Login(args) => ("smtpscope oauth login", login(args).await),
        OauthCommand::Token(args) => ("smtpscope oauth token", token(args).await),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(f) => {
            super::report(name, &f.message);
            Ok(ExitCode::from(f.code))
        }
    }
}

/// Every text argument: bounded, no control characters (CR, LF and NUL among them).
fn check_args(s: &ServerArgs) -> Result<(), Failure> {
    let texts = [
        ("--client-id", &s.client_id),
        ("--tenant", &s.tenant),
        ("--account", &s.account),
        ("--scope", &s.scope),
        ("--authority", &s.authority),
        ("--device-url", &s.device_url),
        ("--token-url", &s.token_url),
    ];
    for (flag, value) in texts {
        let Some(v) = value else { continue };
        if v.chars().any(char::is_control) {
            return Err(Failure::usage(format!(
                "{flag} contains a control character (CR, LF, NUL, ...); remove it"
            )));
        }
        if v.len() > MAX_ARG {
            return Err(Failure::usage(format!(
                "{flag} is longer than {MAX_ARG} bytes"
            )));
        }
        if v.trim().is_empty() {
            return Err(Failure::usage(format!("{flag} is empty")));
        }
    }
    Ok(())
}

fn overrides(s: &ServerArgs) -> Overrides {
    Overrides {
        tenant: s.tenant.clone(),
        authority: s.authority.clone(),
        device_url: s.device_url.clone(),
        token_url: s.token_url.clone(),
        scope: s.scope.clone(),
    }
}

/// The client secret from --client-secret-file or the environment, if any.
fn client_secret(s: &ServerArgs) -> Result<Option<Zeroizing<String>>, Failure> {
    let text = if let Some(path) = &s.client_secret_file {
        limited::read_secret_file(path, "the client secret", MAX_SECRET_FILE)
            .map_err(|e| Failure::usage(e.to_string()))?
    } else if let Some(v) = std::env::var_os(CLIENT_SECRET_ENV) {
        Zeroizing::new(
            v.into_string()
                .map_err(|_| Failure::usage(format!("{CLIENT_SECRET_ENV} is not UTF-8 text")))?,
        )
    } else {
        return Ok(None);
    };
    let first = Zeroizing::new(
        text.lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string(),
    );
    if first.is_empty() {
        return Err(Failure::usage(
            "the client secret is empty (its file's first line, or SMTPSCOPE_OAUTH_CLIENT_SECRET)",
        ));
    }
    if first.chars().any(char::is_control) {
        return Err(Failure::usage(
            "the client secret contains a control character",
        ));
    }
    Ok(Some(first))
}

fn need_client_id(s: &ServerArgs) -> Result<String, Failure> {
    s.client_id.clone().ok_or_else(|| {
        Failure::usage(
            "--client-id is needed: your app registration's client ID (Microsoft Entra: \
             Application (client) ID; Google Cloud: the OAuth client ID), or set \
             SMTPSCOPE_OAUTH_CLIENT_ID",
        )
    })
}

fn missing_secret(why: &str) -> Failure {
    Failure::usage(format!(
        "{why} needs the client secret: set {CLIENT_SECRET_ENV}, or use --client-secret-file FILE \
         (never on the command line)"
    ))
}

/// Writes a line to standard error (the terminal): what the user is asked to do, progress.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// The `oauth login` command that would redo this login, for messages. The endpoints are
/// named when they are not the provider's defaults (always for `custom`).
fn login_command(key: &Key, device_url: Option<&str>) -> String {
    let mut s = format!("smtpscope oauth login --provider {}", key.provider.as_str());
    if let Some(t) = &key.tenant {
        let _ = write!(s, " --tenant {t}");
    }
    let _ = write!(s, " --client-id {}", key.client_id);
    if let Some(a) = &key.account {
        let _ = write!(s, " --account {a}");
    }
    let defaults = provider::resolve(
        key.provider,
        &Overrides {
            tenant: key.tenant.clone(),
            ..Overrides::default()
        },
        false,
    )
    .ok();
    if defaults.is_none_or(|d| d.token_url != key.token_url) {
        if let Some(d) = device_url {
            let _ = write!(s, " --device-url {d}");
        }
        let _ = write!(s, " --token-url {}", key.token_url);
    }
    s
}

/// The `oauth token` command that uses this login, for messages.
fn token_command(key: &Key) -> String {
    let mut s = format!("smtpscope oauth token --provider {}", key.provider.as_str());
    if let Some(t) = key.tenant.as_ref().filter(|t| *t != "organizations") {
        let _ = write!(s, " --tenant {t}");
    }
    if let Some(a) = &key.account {
        let _ = write!(s, " --account {a}");
    }
    s
}

fn cache_path() -> Result<PathBuf, Failure> {
    cache::default_path().map_err(|e| Failure::environment(e.to_string()))
}

async fn login(args: &LoginArgs) -> Result<(), Failure> {
    let s = &args.server;
    check_args(s)?;
    let endpoints = provider::resolve(s.provider, &overrides(s), s.app_only)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let reg = ClientRegistration {
        client_id: need_client_id(s)?,
        client_secret: client_secret(s)?,
    };
    let http = HttpClient::default();
    if s.app_only {
        if reg.client_secret.is_none() {
            return Err(missing_secret("--app-only"));
        }
        let t = grant::client_credentials(&endpoints, &reg, &http)
            .await
            .map_err(|e| Failure::grant(&e, None))?;
        say(&format!(
            "App-only sign-in works: the server issued an access token{}. Nothing is cached; \
             get a token each time with `smtpscope oauth token --provider microsoft --app-only \
             --tenant {} --client-id {}` (client secret in {CLIENT_SECRET_ENV} or \
             --client-secret-file).",
            valid_for(&t),
            endpoints.tenant.as_deref().unwrap_or(""),
            reg.client_id
        ));
        return Ok(());
    }
    if s.provider == Provider::Google && reg.client_secret.is_none() {
        return Err(missing_secret(
            "Google's device flow (a \"TVs and Limited Input devices\" OAuth client)",
        ));
    }
    let path = cache_path()?;
    // Read first, so a cache that cannot be used stops the login before the user signs in.
    let mut cache = Cache::load(&path).map_err(|e| Failure::environment(e.to_string()))?;
    let key = Key {
        provider: s.provider,
        tenant: endpoints.tenant.clone(),
        client_id: reg.client_id.clone(),
        account: s.account.clone(),
        token_url: endpoints.token_url.clone(),
    };
    let tokens = grant::device_login(
        &endpoints,
        &reg,
        &http,
        Duration::from_secs(args.timeout),
        show_prompt,
    )
    .await
    .map_err(|e| {
        Failure::grant(
            &e,
            Some(&login_command(&key, endpoints.device_url.as_deref())),
        )
    })?;
    let Some(refresh_token) = tokens.refresh_token else {
        return Err(Failure {
            code: EXIT_REFUSED,
            message: "the sign-in worked, but the server issued no refresh token, so there is \
                      nothing to cache. Microsoft issues one only with the offline_access scope: \
                      add it to --scope"
                .into(),
        });
    };
    cache.put(Login {
        key: key.clone(),
        scopes: endpoints.scopes.clone(),
        device_url: endpoints.device_url.clone(),
        uses_client_secret: reg.client_secret.is_some(),
        refresh_token,
        saved_at: chrono::Utc::now(),
    });
    cache
        .save()
        .map_err(|e| Failure::environment(e.to_string()))?;
    say(&format!(
        "Signed in. The refresh token is cached in {} (readable by you only).\n\
         Get an access token with: {}",
        limited::shown(cache.path()),
        token_command(&key)
    ));
    Ok(())
}

fn valid_for(t: &Tokens) -> String {
    t.expires_in
        .map(|d| format!(", valid for {} min", d.as_secs() / 60))
        .unwrap_or_default()
}

/// Tells the user where to go and what to type. Server text is escaped.
fn show_prompt(p: &DevicePrompt) {
    use crate::engine::escape::escape_str;
    say(&format!(
        "To sign in, open {} in a browser and enter the code {}",
        escape_str(&p.verification_uri),
        escape_str(&p.user_code)
    ));
    if let Some(full) = &p.verification_uri_complete {
        say(&format!(
            "(or open {}, which carries the code)",
            escape_str(full)
        ));
    }
    say(&format!(
        "Waiting up to {} for the sign-in…",
        minutes(p.wait)
    ));
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

async fn token(args: &TokenArgs) -> Result<(), Failure> {
    let s = &args.server;
    check_args(s)?;
    let http = HttpClient::default();
    let secret = client_secret(s)?;
    let tokens = if s.app_only {
        let endpoints = provider::resolve(s.provider, &overrides(s), true)
            .map_err(|e| Failure::usage(e.to_string()))?;
        let reg = ClientRegistration {
            client_id: need_client_id(s)?,
            client_secret: secret,
        };
        if reg.client_secret.is_none() {
            return Err(missing_secret("--app-only"));
        }
        grant::client_credentials(&endpoints, &reg, &http)
            .await
            .map_err(|e| Failure::grant(&e, None))?
    } else {
        for (flag, v) in [
            ("--authority", &s.authority),
            ("--device-url", &s.device_url),
            ("--token-url", &s.token_url),
        ] {
            if v.is_some() {
                return Err(Failure::usage(format!(
                    "{flag} is for `oauth login`; `oauth token` uses the endpoint saved at login"
                )));
            }
        }
        refresh_cached(s, secret, &http).await?
    };
    if std::io::stdout().is_terminal() {
        say("(The line below is an access token: a secret. Do not paste it anywhere public.)");
    }
    let mut line = Zeroizing::new(String::with_capacity(
        tokens.access_token.expose().len() + 1,
    ));
    line.push_str(tokens.access_token.expose());
    line.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    Ok(())
}

/// Refreshes the one cached login the options select, re-caching a rotated refresh token.
async fn refresh_cached(
    s: &ServerArgs,
    secret: Option<Zeroizing<String>>,
    http: &HttpClient,
) -> Result<Tokens, Failure> {
    let path = cache_path()?;
    let mut cache = Cache::load(&path).map_err(|e| Failure::environment(e.to_string()))?;
    let selector = Selector {
        provider: Some(s.provider),
        tenant: s.tenant.clone(),
        client_id: s.client_id.clone(),
        account: s.account.clone(),
    };
    let found = cache.find(&selector);
    let login = match found.as_slice() {
        [] => {
            let mut hint = format!("smtpscope oauth login --provider {}", s.provider.as_str());
            if let Some(t) = &s.tenant {
                let _ = write!(hint, " --tenant {t}");
            }
            let _ = write!(
                hint,
                " --client-id {}",
                s.client_id.as_deref().unwrap_or("YOUR-CLIENT-ID")
            );
            if let Some(a) = &s.account {
                let _ = write!(hint, " --account {a}");
            }
            return Err(Failure::usage(format!(
                "no cached {} login matches in {}.\nNext: run `{hint}` first",
                s.provider.as_str(),
                limited::shown(cache.path())
            )));
        }
        [one] => (*one).clone(),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|l| {
                    format!(
                        "  --client-id {}{}{}",
                        l.key.client_id,
                        l.key
                            .tenant
                            .as_ref()
                            .map(|t| format!(" --tenant {t}"))
                            .unwrap_or_default(),
                        l.key
                            .account
                            .as_ref()
                            .map(|a| format!(" --account {a}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            return Err(Failure::usage(format!(
                "{} cached {} logins match; pick one with:\n{}",
                many.len(),
                s.provider.as_str(),
                list.join("\n")
            )));
        }
    };
    if login.uses_client_secret && secret.is_none() {
        return Err(missing_secret("this login's refresh"));
    }
    let endpoints = Endpoints {
        provider: login.key.provider,
        tenant: login.key.tenant.clone(),
        device_url: None,
        token_url: login.key.token_url.clone(),
        scopes: s.scope.as_deref().map_or_else(
            || login.scopes.clone(),
            |sc| sc.split_whitespace().map(str::to_string).collect(),
        ),
    };
    let reg = ClientRegistration {
        client_id: login.key.client_id.clone(),
        client_secret: secret,
    };
    let tokens = grant::refresh(&endpoints, &reg, http, &login.refresh_token)
        .await
        .map_err(|e| {
            Failure::grant(
                &e,
                Some(&login_command(&login.key, login.device_url.as_deref())),
            )
        })?;
    if let Some(rotated) = &tokens.refresh_token
        && rotated != &login.refresh_token
    {
        let mut updated = login.clone();
        updated.refresh_token = rotated.clone();
        updated.saved_at = chrono::Utc::now();
        cache.put(updated);
        if let Err(e) = cache.save() {
            // The token is still good now; the next refresh may fail with the old one.
            super::report(
                "smtpscope oauth token: warning",
                &format!(
                    "{e}; the server sent a new refresh token that could not be saved, so the next refresh may be refused"
                ),
            );
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            provider: Provider::Microsoft,
            tenant: Some("contoso.com".into()),
            client_id: "abc".into(),
            account: Some("bob".into()),
            token_url: "https://x/token".into(),
        }
    }

    #[test]
    fn next_steps_name_the_login() {
        assert_eq!(
            login_command(&key(), Some("https://x/devicecode")),
            "smtpscope oauth login --provider microsoft --tenant contoso.com --client-id abc \
             --account bob --device-url https://x/devicecode --token-url https://x/token"
        );
        let default = Key {
            token_url: "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token".into(),
            ..key()
        };
        assert_eq!(
            login_command(&default, Some("https://x/devicecode")),
            "smtpscope oauth login --provider microsoft --tenant contoso.com --client-id abc \
             --account bob"
        );
        assert_eq!(
            token_command(&key()),
            "smtpscope oauth token --provider microsoft --tenant contoso.com --account bob"
        );
    }

    #[test]
    fn control_characters_in_arguments_are_refused() {
        let s = ServerArgs {
            provider: Provider::Microsoft,
            client_id: Some("abc\r\nX".into()),
            client_secret_file: None,
            tenant: None,
            account: None,
            scope: None,
            authority: None,
            device_url: None,
            token_url: None,
            app_only: false,
        };
        let e = check_args(&s).err().unwrap();
        assert_eq!(e.code, EXIT_USAGE);
        assert!(e.message.contains("--client-id"));
    }
}
