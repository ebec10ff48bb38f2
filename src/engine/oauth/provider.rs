//! The authorization servers smtpscope knows: their device-authorization and token endpoints
//! and the scopes SMTP needs.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::http::check_url;

/// Who issues the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft Entra ID (Exchange Online / Microsoft 365)
    Microsoft,
    /// Google (Gmail, Google Workspace)
    Google,
    /// Any RFC 8628 server: give --device-url and --token-url
    Custom,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
            Provider::Custom => "custom",
        }
    }
}

/// Microsoft's public cloud; sovereign clouds have their own (`--authority`).
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The tenant used when none is given: any work or school account.
pub const MICROSOFT_DEFAULT_TENANT: &str = "organizations";
/// Delegated SMTP sending, and a refresh token.
pub const MICROSOFT_SCOPE: &str = "https://outlook.office.com/SMTP.Send offline_access";
/// App-only sending (client credentials): the application permission SMTP.SendAsApp.
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";
pub const GOOGLE_DEVICE_URL: &str = "https://oauth2.googleapis.com/device/code";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Gmail's SMTP/IMAP scope.
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";

/// What the user may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub tenant: Option<String>,
    pub authority: Option<String>,
    pub device_url: Option<String>,
    pub token_url: Option<String>,
    pub scope: Option<String>,
}

/// The endpoints and scopes of one grant, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub provider: Provider,
    /// The Microsoft tenant (None for the others).
    pub tenant: Option<String>,
    pub device_url: Option<String>,
    pub token_url: String,
    pub scopes: Vec<String>,
}

/// A provider setting that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error("{0}")]
    Usage(String),
}

/// Resolves the endpoints for `provider`. `app_only` picks the client credentials grant
/// (Microsoft only), which needs no device endpoint.
pub fn resolve(
    provider: Provider,
    o: &Overrides,
    app_only: bool,
) -> Result<Endpoints, ProviderError> {
    let usage = |s: String| ProviderError::Usage(s);
    if app_only && provider != Provider::Microsoft {
        return Err(usage(
            "--app-only is Microsoft's client credentials grant; use it with --provider microsoft"
                .into(),
        ));
    }
    if o.tenant.is_some() && provider != Provider::Microsoft {
        return Err(usage("--tenant is for --provider microsoft".into()));
    }
    if o.authority.is_some() && provider != Provider::Microsoft {
        return Err(usage(
            "--authority is for --provider microsoft; give --device-url and --token-url instead"
                .into(),
        ));
    }
    let tenant = match provider {
        Provider::Microsoft => {
            let t = o
                .tenant
                .clone()
                .unwrap_or_else(|| MICROSOFT_DEFAULT_TENANT.into());
            check_tenant(&t).map_err(usage)?;
            if app_only && matches!(t.as_str(), "organizations" | "common" | "consumers") {
                return Err(usage(format!(
                    "--app-only needs your tenant's ID or domain in --tenant (not \"{t}\"): an app \
                     signs in to one tenant"
                )));
            }
            Some(t)
        }
        _ => None,
    };
    let (device_default, token_default, scope_default) = match provider {
        Provider::Microsoft => {
            let authority = o
                .authority
                .clone()
                .unwrap_or_else(|| MICROSOFT_AUTHORITY.into());
            let authority = authority.trim_end_matches('/');
            let tenant = tenant.as_deref().unwrap_or(MICROSOFT_DEFAULT_TENANT);
            (
                Some(format!("{authority}/{tenant}/oauth2/v2.0/devicecode")),
                Some(format!("{authority}/{tenant}/oauth2/v2.0/token")),
                Some(if app_only {
                    MICROSOFT_APP_SCOPE
                } else {
                    MICROSOFT_SCOPE
                }),
            )
        }
        Provider::Google => (
            Some(GOOGLE_DEVICE_URL.into()),
            Some(GOOGLE_TOKEN_URL.into()),
            Some(GOOGLE_SCOPE),
        ),
        Provider::Custom => (None, None, None),
    };
    let token_url = o.token_url.clone().or(token_default).ok_or_else(|| {
        usage("--provider custom needs --token-url (and --device-url to log in)".into())
    })?;
    let device_url = if app_only {
        None
    } else {
        o.device_url.clone().or(device_default)
    };
    check_url(&token_url).map_err(|e| usage(format!("--token-url: {e}")))?;
    if let Some(d) = &device_url {
        check_url(d).map_err(|e| usage(format!("--device-url: {e}")))?;
    }
    let scope = o.scope.as_deref().or(scope_default).unwrap_or("");
    let scopes = scope.split_whitespace().map(str::to_string).collect();
    Ok(Endpoints {
        provider,
        tenant,
        device_url,
        token_url,
        scopes,
    })
}

/// A tenant is a GUID or a domain name; it goes into the endpoint's path.
fn check_tenant(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 253
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--tenant takes a tenant ID (a GUID), a domain such as contoso.onmicrosoft.com, or \
             organizations (got \"{}\")",
            crate::engine::escape::escape_str(t)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_defaults_and_overrides() {
        let e = resolve(Provider::Microsoft, &Overrides::default(), false).unwrap();
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            e.device_url.as_deref(),
            Some("https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode")
        );
        assert_eq!(
            e.scopes,
            ["https://outlook.office.com/SMTP.Send", "offline_access"]
        );
        let o = Overrides {
            tenant: Some("contoso.onmicrosoft.com".into()),
            authority: Some("https://login.microsoftonline.us/".into()),
            ..Overrides::default()
        };
        let e = resolve(Provider::Microsoft, &o, true).unwrap();
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(e.device_url, None);
        assert_eq!(e.scopes, ["https://outlook.office365.com/.default"]);
    }

    #[test]
    fn bad_settings_are_refused() {
        let app = resolve(Provider::Microsoft, &Overrides::default(), true).unwrap_err();
        assert!(app.to_string().contains("--tenant"), "{app}");
        assert!(resolve(Provider::Custom, &Overrides::default(), false).is_err());
        assert!(resolve(Provider::Google, &Overrides::default(), true).is_err());
        let o = Overrides {
            tenant: Some("a/../b".into()),
            ..Overrides::default()
        };
        assert!(resolve(Provider::Microsoft, &o, false).is_err());
        let o = Overrides {
            token_url: Some("http://example.com/token".into()),
            ..Overrides::default()
        };
        assert!(resolve(Provider::Google, &o, false).is_err());
    }
}
