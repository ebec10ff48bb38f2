//! The three grants, through the `oauth2` crate and our bounded HTTP client:
//! - the device authorization grant (RFC 8628) for `oauth login`: ask for a user code, show it,
//!   poll the token endpoint at the server's interval (`authorization_pending` waits,
//!   `slow_down` adds 5 s, `expired_token` and `access_denied` end it), within a bounded time;
//! - the refresh token grant for `oauth token`;
//! - the client credentials grant for Microsoft app-only sending.
//!
//! Errors say what the server answered (its error code and, escaped and shortened, its
//! description) and never contain a token: a response that cannot be parsed is reported by
//! where it failed, not by its text.

use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet,
    ErrorResponse, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use oauth2::{DeviceCodeErrorResponse, StandardDeviceAuthorizationResponse};
use thiserror::Error;
use zeroize::Zeroizing;

use super::cache::Secret;
use super::http::{HttpClient, HttpError};
use super::provider::Endpoints;
use crate::engine::escape::escape_str;

/// The most of a server's error description shown.
const MAX_DESCRIPTION: usize = 300;
/// The shortest wait between two polls, whatever the server says.
const MIN_POLL: Duration = Duration::from_secs(1);

/// A client registration: its ID, and its secret when it has one.
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: Option<Zeroizing<String>>,
}

/// What the user is asked to do during the device flow. Shown on the terminal; the user code
/// is short-lived and useless without the device code, which is never shown.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// How long the code is valid and the wait this run allows, whichever is shorter.
    pub wait: Duration,
}

/// What a grant obtained.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the server said (else those asked for).
    pub scopes: Option<Vec<String>>,
}

/// Which request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    DeviceCode,
    Polling,
    Refresh,
    ClientCredentials,
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Step::DeviceCode => "the device authorization request",
            Step::Polling => "the sign-in",
            Step::Refresh => "the refresh of the cached login",
            Step::ClientCredentials => "the app-only (client credentials) request",
        }
    }
}

/// Why a grant gave no token.
#[derive(Debug, Error)]
pub enum GrantError {
    /// The server could not be reached or did not answer in time.
    #[error("{}: {source}", step.what())]
    Unreachable { step: Step, source: HttpError },
    /// The server answered with an OAuth error.
    #[error("{} was refused: {code}{}{}", step.what(), description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(), hint(*step, code).map(|h| format!(". {h}")).unwrap_or_default())]
    Refused {
        step: Step,
        /// The OAuth error code, escaped.
        code: String,
        /// The server's description, escaped and shortened.
        description: Option<String>,
    },
    /// Nobody approved the code in time.
    #[error("the code was not approved within {} s (it expired, or this run's --timeout passed)", .waited.as_secs())]
    TimedOut { waited: Duration },
    /// The token endpoint stopped answering while the device flow polled it.
    #[error("the token endpoint did not answer while waiting {} s for the sign-in; the last try: {last}", .waited.as_secs())]
    NoAnswer { waited: Duration, last: String },
    /// The answer was not what the protocol says.
    #[error("{} got an answer smtpscope cannot use: {detail}", step.what())]
    BadAnswer { step: Step, detail: String },
}

impl GrantError {
    /// Whether the server refused (as opposed to not answering or answering oddly).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            GrantError::Refused { .. } | GrantError::TimedOut { .. }
        )
    }

    /// The OAuth error code, if the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GrantError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What a refusal usually means, in plain words.
fn hint(step: Step, code: &str) -> Option<&'static str> {
    Some(match (step, code) {
        (Step::Refresh, "invalid_grant") => {
            "The cached login is no longer valid (revoked, expired, the password changed, or consent was removed)"
        }
        (Step::Polling, "access_denied") => "The sign-in was declined",
        (Step::Polling, "expired_token") => "The code expired before it was approved",
        (_, "invalid_client") => {
            "The client ID or secret is wrong, or the app registration does not allow this flow \
             (Microsoft: Authentication > Allow public client flows must be Yes for the device flow)"
        }
        (_, "unauthorized_client") => "The app registration is not allowed to use this grant",
        (_, "invalid_scope") => {
            "The app registration may not ask for these scopes: check --scope and the API \
             permissions of the app"
        }
        _ => return None,
    })
}

type Client =
    BasicClient<EndpointNotSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet>;

fn client(endpoints: &Endpoints, reg: &ClientRegistration) -> Result<Client, GrantError> {
    let bad = |step, detail: String| GrantError::BadAnswer { step, detail };
    let token_url = TokenUrl::new(endpoints.token_url.clone())
        .map_err(|_| bad(Step::Refresh, "the token URL is not a URL".into()))?;
    let device_url = endpoints
        .device_url
        .clone()
        .map(DeviceAuthorizationUrl::new)
        .transpose()
        .map_err(|_| bad(Step::DeviceCode, "the device URL is not a URL".into()))?;
    let mut c = BasicClient::new(ClientId::new(reg.client_id.clone()))
        // The client ID (and secret) in the form body: what Microsoft's and Google's public
        // and device clients expect.
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri_option(Some(token_url))
        .set_device_authorization_url_option(device_url);
    if let Some(s) = &reg.client_secret {
        c = c.set_client_secret(ClientSecret::new(s.to_string()));
    }
    Ok(c)
}

fn scopes(endpoints: &Endpoints) -> Vec<Scope> {
    endpoints.scopes.iter().cloned().map(Scope::new).collect()
}

/// Runs the device authorization grant: asks for a code, hands it to `show`, and polls until
/// the user approves, refuses, the code expires or `max_wait` passes.
pub async fn device_login(
    endpoints: &Endpoints,
    reg: &ClientRegistration,
    http: &HttpClient,
    max_wait: Duration,
    show: impl FnOnce(&DevicePrompt),
) -> Result<Tokens, GrantError> {
    let c = client(endpoints, reg)?;
    let call = |r: oauth2::HttpRequest| http.call(r);
    let details: StandardDeviceAuthorizationResponse = c
        .exchange_device_code()
        .map_err(|e| GrantError::BadAnswer {
            step: Step::DeviceCode,
            detail: e.to_string(),
        })?
        .add_scopes(scopes(endpoints))
        .request_async(&call)
        .await
        .map_err(|e| from_basic(Step::DeviceCode, e))?;
    let wait = details.expires_in().min(max_wait);
    show(&DevicePrompt {
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        user_code: details.user_code().secret().clone(),
        wait,
    });
    let deadline = Instant::now() + wait;
    // The server's interval, but never faster than MIN_POLL and never past the deadline (a
    // server asking for an hour between polls does not stretch the wait).
    let sleep = move |d: Duration| {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(d.max(MIN_POLL).min(left))
    };
    // The crate retries a poll that got no answer (with a backoff) until the deadline; the
    // last such failure is kept, so a server that stayed unreachable is not reported as a
    // code nobody approved.
    let last_failure = std::sync::Mutex::new(None::<String>);
    let failures = &last_failure;
    let poll = move |r: oauth2::HttpRequest| async move {
        let result = http.call(r).await;
        if let Ok(mut last) = failures.lock() {
            *last = result.as_ref().err().map(ToString::to_string);
        }
        result
    };
    let result: Result<BasicTokenResponse, _> = c
        .exchange_device_access_token(&details)
        .map_err(|e| GrantError::BadAnswer {
            step: Step::Polling,
            detail: e.to_string(),
        })?
        .set_max_backoff_interval(Duration::from_secs(30))
        .request_async(&poll, sleep, Some(wait))
        .await;
    let last_failure = last_failure.lock().ok().and_then(|mut l| l.take());
    match result {
        Ok(t) => Ok(tokens(&t)),
        Err(RequestTokenError::ServerResponse(_)) if last_failure.is_some() => {
            Err(GrantError::NoAnswer {
                waited: wait,
                last: last_failure.unwrap_or_default(),
            })
        }
        // The crate reports its own deadline as expired_token with this text.
        Err(RequestTokenError::ServerResponse(e))
            if AsRef::<str>::as_ref(e.error()) == "expired_token"
                && e.error_description().map(String::as_str)
                    == Some("This device code has expired.") =>
        {
            Err(GrantError::TimedOut { waited: wait })
        }
        Err(e) => Err(from_device(Step::Polling, e)),
    }
}

/// Runs the refresh token grant.
pub async fn refresh(
    endpoints: &Endpoints,
    reg: &ClientRegistration,
    http: &HttpClient,
    refresh_token: &Secret,
) -> Result<Tokens, GrantError> {
    let c = client(endpoints, reg)?;
    let call = |r: oauth2::HttpRequest| http.call(r);
    let rt = RefreshToken::new(refresh_token.expose().to_string());
    let t = c
        .exchange_refresh_token(&rt)
        .map_err(|e| GrantError::BadAnswer {
            step: Step::Refresh,
            detail: e.to_string(),
        })?
        .add_scopes(scopes(endpoints))
        .request_async(&call)
        .await
        .map_err(|e| from_basic(Step::Refresh, e))?;
    Ok(tokens(&t))
}

/// Runs the client credentials grant (app-only).
pub async fn client_credentials(
    endpoints: &Endpoints,
    reg: &ClientRegistration,
    http: &HttpClient,
) -> Result<Tokens, GrantError> {
    let c = client(endpoints, reg)?;
    let call = |r: oauth2::HttpRequest| http.call(r);
    let t = c
        .exchange_client_credentials()
        .map_err(|e| GrantError::BadAnswer {
            step: Step::ClientCredentials,
            detail: e.to_string(),
        })?
        .add_scopes(scopes(endpoints))
        .request_async(&call)
        .await
        .map_err(|e| from_basic(Step::ClientCredentials, e))?;
    Ok(tokens(&t))
}

fn tokens(t: &BasicTokenResponse) -> Tokens {
    Tokens {
        access_token: Secret::new(t.access_token().secret().clone()),
        refresh_token: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
        expires_in: t.expires_in(),
        scopes: t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str().to_string()).collect()),
    }
}

fn from_basic(step: Step, e: RequestTokenError<HttpError, BasicErrorResponse>) -> GrantError {
    convert(step, e, |r: &BasicErrorResponse| {
        (
            AsRef::<str>::as_ref(r.error()).to_string(),
            r.error_description().cloned(),
        )
    })
}

fn from_device(step: Step, e: RequestTokenError<HttpError, DeviceCodeErrorResponse>) -> GrantError {
    convert(step, e, |r: &DeviceCodeErrorResponse| {
        (
            AsRef::<str>::as_ref(r.error()).to_string(),
            r.error_description().cloned(),
        )
    })
}

fn convert<T: ErrorResponse + 'static>(
    step: Step,
    e: RequestTokenError<HttpError, T>,
    parts: impl Fn(&T) -> (String, Option<String>),
) -> GrantError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let (code, description) = parts(&r);
            GrantError::Refused {
                step,
                code: escape_str(&code.chars().take(80).collect::<String>()),
                description: description.map(|d| short(&d)),
            }
        }
        RequestTokenError::Request(source) => GrantError::Unreachable { step, source },
        // The body may hold a token: only where parsing failed is said.
        RequestTokenError::Parse(e, _body) => GrantError::BadAnswer {
            step,
            detail: format!(
                "the JSON is not an OAuth answer (at {})",
                escape_str(&e.path().to_string())
            ),
        },
        RequestTokenError::Other(s) => GrantError::BadAnswer {
            step,
            detail: short(&s),
        },
    }
}

/// The first line of a server's text, shortened and escaped. Microsoft's descriptions run to
/// several lines (the AADSTS code first, then trace and correlation IDs).
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut s: String = line.chars().take(MAX_DESCRIPTION).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    escape_str(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_in_plain_words_and_are_escaped() {
        let e = GrantError::Refused {
            step: Step::Refresh,
            code: "invalid_grant".into(),
            description: Some(short("AADSTS70008: expired.\r\nTrace ID: 1\u{1b}[2J")),
        };
        let s = e.to_string();
        assert!(
            s.starts_with(
                "the refresh of the cached login was refused: invalid_grant (AADSTS70008: expired.)"
            ),
            "{s}"
        );
        assert!(s.contains("no longer valid"), "{s}");
        assert!(short("a\u{1b}[2Jb").contains("\\x1b"));
        assert!(e.is_refusal());
    }
}
