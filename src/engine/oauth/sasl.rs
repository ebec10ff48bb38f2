//! OAuth 2.0 for SMTP AUTH: the XOAUTH2 and OAUTHBEARER (RFC 7628) client responses, the
//! server's JSON error challenge, and a lint of the access token before it is sent.
//!
//! The token is a secret like a password: it lives in the [`crate::engine::auth::Credentials`], and
//! nothing here returns it, or any text built from it, for display. The lint reads a JWT's
//! claims without verifying the signature: it only looks for the mistakes that make a server
//! refuse the token (expired, issued for another service, missing the SMTP permission,
//! issued to another user).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::engine::escape::escape_str;

/// The largest decoded challenge read as JSON; a server's error object is a few dozen bytes.
const MAX_CHALLENGE: usize = 4096;

/// base64("user=" user ^A "auth=Bearer " token ^A ^A): the XOAUTH2 client response, as
/// Google and Microsoft document it.
pub(crate) fn xoauth2_blob(user: &str, token: &str) -> Zeroizing<String> {
    let raw = Zeroizing::new(format!("user={user}\x01auth=Bearer {token}\x01\x01"));
    Zeroizing::new(B64.encode(raw.as_bytes()))
}

/// The OAUTHBEARER client response of RFC 7628 §3.1: the GS2 header with the user as the
/// authorization identity, then host, port and the bearer token as key/value pairs, base64.
pub(crate) fn oauthbearer_blob(
    user: &str,
    host: &str,
    port: u16,
    token: &str,
) -> Zeroizing<String> {
    // RFC 5801 saslname: "," and "=" are written =2C and =3D.
    let user = user.replace('=', "=3D").replace(',', "=2C");
    let raw = Zeroizing::new(format!(
        "n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    ));
    Zeroizing::new(B64.encode(raw.as_bytes()))
}

/// The reply an OAuth mechanism sends to the server's error challenge, so that the server
/// ends the exchange with its final reply: an empty line for XOAUTH2 (Google's and
/// Microsoft's documents), `%x01` (base64 `AQ==`) for OAUTHBEARER (RFC 7628 §3.2.3).
pub(crate) const XOAUTH2_ACK: &str = "";
pub(crate) const OAUTHBEARER_ACK: &str = "AQ==";

/// The error a server sends in a `334` challenge when it refuses a token (RFC 7628 §3.2.2):
/// `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    /// The HTTP-style status ("400", "401", "403"), or the `error` code some servers send.
    pub status: String,
    pub schemes: Option<String>,
    /// The scope the server wants the token to carry.
    pub scope: Option<String>,
    /// The decoded JSON as the server sent it, escaped for display.
    pub json: String,
}

impl OAuthError {
    /// Reads a `334` challenge (its text after the code): base64 of a JSON object with a
    /// `status`. `None` for anything else (an empty challenge, LOGIN's "Username:").
    pub fn from_challenge(text: &str) -> Option<OAuthError> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_CHALLENGE * 2 {
            return None;
        }
        let bytes = B64.decode(text).ok()?;
        if bytes.len() > MAX_CHALLENGE {
            return None;
        }
        let decoded = String::from_utf8(bytes).ok()?;
        let value: serde_json::Value = serde_json::from_str(&decoded).ok()?;
        let obj = value.as_object()?;
        let field = |k: &str| match obj.get(k)? {
            serde_json::Value::String(s) => Some(escape_str(s)),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let status = field("status").or_else(|| field("error"))?;
        Some(OAuthError {
            status,
            schemes: field("schemes"),
            scope: field("scope"),
            json: escape_str(&decoded),
        })
    }

    /// What the status says about the token, in plain words.
    pub fn reason(&self) -> String {
        let what = match self.status.as_str() {
            "400" => {
                "the server could not use the token (status 400): it is malformed, expired, or not valid for this user or service"
            }
            "401" | "invalid_token" => {
                "the server refused the token (status 401, invalid token): it is expired, revoked, or was issued for another user or service"
            }
            "403" | "insufficient_scope" => {
                "the token lacks a permission this server needs (status 403, insufficient scope)"
            }
            _ => "the server refused the token",
        };
        let mut out = what.to_string();
        if !matches!(
            self.status.as_str(),
            "400" | "401" | "403" | "invalid_token" | "insufficient_scope"
        ) {
            let _ = write!(out, " (status \"{}\")", self.status);
        }
        if let Some(scope) = &self.scope {
            let _ = write!(out, "; it asks for a token with scope {scope}");
        }
        out
    }

    /// Whether the error judges the token itself (so the refusal is about the credentials).
    pub(crate) fn judges_token(&self) -> bool {
        matches!(
            self.status.as_str(),
            "400" | "401" | "403" | "invalid_token" | "insufficient_scope" | "invalid_request"
        )
    }
}

/// One finding of the token lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenWarning {
    pub code: &'static str,
    pub message: String,
}

/// Audiences Exchange Online accepts for SMTP AUTH (the resource URLs and the app ID).
const OUTLOOK_AUDIENCES: [&str; 3] = [
    "https://outlook.office.com",
    "https://outlook.office365.com",
    "00000002-0000-0ff1-ce00-000000000000",
];
/// Microsoft Graph: a token for it is the common mistake.
const GRAPH_AUDIENCES: [&str; 2] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];
const SMTP_PERMISSIONS: [&str; 2] = ["SMTP.Send", "SMTP.SendAsApp"];

/// Checks an access token before AUTH. `now` is the current Unix time. The findings never
/// contain the token; claim values are escaped.
pub fn lint_token(token: &str, user: &str, now: i64) -> Vec<TokenWarning> {
    let mut out = Vec::new();
    let warn = |out: &mut Vec<TokenWarning>, code, message: String| {
        out.push(TokenWarning { code, message });
    };
    if token.is_empty() {
        warn(
            &mut out,
            "oauth-empty",
            "the access token is empty; AUTH will send an empty token".into(),
        );
        return out;
    }
    if token.len() >= 7 && token[..7].eq_ignore_ascii_case("bearer ") {
        warn(
            &mut out,
            "oauth-shape",
            "the token starts with \"Bearer \": give the access token alone; smtpscope adds \"Bearer\" itself".into(),
        );
        return out;
    }
    if token.starts_with("1//") {
        warn(
            &mut out,
            "oauth-refresh-token",
            "this looks like a Google refresh token (it starts with 1//), not an access token: exchange it for an access token first".into(),
        );
        return out;
    }
    // RFC 6750 b64token: letters, digits and -._~+/ then any "=".
    let body = token.trim_end_matches('=');
    let shape_ok = body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c));
    if !shape_ok {
        warn(
            &mut out,
            "oauth-shape",
            "the token has characters an OAuth access token never has (spaces, quotes or other punctuation): check that only the token was copied, not the JSON around it".into(),
        );
        return out;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let claims = (parts.len() == 3)
        .then(|| B64URL.decode(parts[1].trim_end_matches('=')).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter(serde_json::Value::is_object);
    let Some(claims) = claims else {
        if token.starts_with("eyJ") {
            warn(
                &mut out,
                "oauth-shape",
                "the token starts like a JWT but its claims cannot be read: it may be cut short"
                    .into(),
            );
        } else if token.len() < 20 {
            warn(
                &mut out,
                "oauth-shape",
                format!(
                    "the token is only {} characters long; access tokens are much longer: check that all of it was copied",
                    token.len()
                ),
            );
        }
        // An opaque token (Google's ya29.…): only its shape can be checked.
        return out;
    };
    lint_claims(&claims, user, now, &mut out);
    out
}

fn lint_claims(claims: &serde_json::Value, user: &str, now: i64, out: &mut Vec<TokenWarning>) {
    let text = |k: &str| claims.get(k).and_then(serde_json::Value::as_str);
    if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_i64) {
        if exp <= now {
            out.push(TokenWarning {
                code: "oauth-expired",
                message: format!(
                    "the token expired {} ago (its exp claim): get a new access token",
                    span(now - exp)
                ),
            });
        } else if exp - now < 60 {
            out.push(TokenWarning {
                code: "oauth-expiring",
                message: format!(
                    "the token expires in {} s (its exp claim): it may expire during the session; get a fresh one",
                    exp - now
                ),
            });
        }
    }
    let auds: Vec<String> = match claims.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let trim = |a: &str| a.trim_end_matches('/').to_ascii_lowercase();
    let is_outlook = auds
        .iter()
        .any(|a| OUTLOOK_AUDIENCES.iter().any(|o| trim(a) == *o));
    let is_graph = auds
        .iter()
        .any(|a| GRAPH_AUDIENCES.iter().any(|g| trim(a) == *g));
    let issuer = text("iss").unwrap_or_default().to_ascii_lowercase();
    let microsoft = is_outlook
        || is_graph
        || issuer.contains("login.microsoftonline.com")
        || issuer.contains("sts.windows.net");
    let shown_aud = auds
        .iter()
        .map(|a| escape_str(a))
        .collect::<Vec<_>>()
        .join(", ");
    if is_graph && !is_outlook {
        out.push(TokenWarning {
            code: "oauth-graph-audience",
            message: format!(
                "the token is for Microsoft Graph (aud {shown_aud}), not for SMTP: request it with the scope https://outlook.office.com/SMTP.Send (or https://outlook.office365.com/.default for app-only), not a Graph scope"
            ),
        });
    } else if microsoft && !is_outlook {
        out.push(TokenWarning {
            code: "oauth-audience",
            message: format!(
                "the token's audience (aud {}) is not Exchange Online's SMTP (https://outlook.office.com): request it with the scope https://outlook.office.com/SMTP.Send",
                if shown_aud.is_empty() { "missing".to_string() } else { shown_aud }
            ),
        });
    }
    let mut perms: Vec<String> = text("scp")
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    if let Some(roles) = claims.get("roles").and_then(serde_json::Value::as_array) {
        perms.extend(roles.iter().filter_map(|r| r.as_str().map(String::from)));
    }
    let has_smtp = perms.iter().any(|p| {
        let last = p.rsplit('/').next().unwrap_or(p);
        SMTP_PERMISSIONS
            .iter()
            .any(|s| last.eq_ignore_ascii_case(s))
    });
    let has_perm_claims = claims.get("scp").is_some() || claims.get("roles").is_some();
    if microsoft && has_perm_claims && !has_smtp {
        let listed = if perms.is_empty() {
            "none".to_string()
        } else {
            perms
                .iter()
                .map(|p| escape_str(p))
                .collect::<Vec<_>>()
                .join(" ")
        };
        out.push(TokenWarning {
            code: "oauth-scope",
            message: format!(
                "the token's permissions ({listed}) lack SMTP.Send (delegated, a user signed in) or SMTP.SendAsApp (app-only): add that API permission to the app registration and get a new token"
            ),
        });
    }
    let names: Vec<&str> = ["upn", "unique_name", "preferred_username", "email"]
        .iter()
        .filter_map(|k| text(k))
        .collect();
    if !user.is_empty() && !names.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(user))
    {
        out.push(TokenWarning {
            code: "oauth-user",
            message: format!(
                "the token was issued to {} but the SMTP user is \"{}\": the user name must be the account the token belongs to",
                names
                    .iter()
                    .map(|n| format!("\"{}\"", escape_str(n)))
                    .collect::<Vec<_>>()
                    .join(" / "),
                escape_str(user)
            ),
        });
    }
}

/// "3 min", "2 h", "40 s".
fn span(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            B64URL.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            B64URL.encode(claims.to_string())
        )
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn xoauth2_matches_the_published_example() {
        // curl's test 908: user "user", token "mF_9.B5f-4.1JqM".
        assert_eq!(
            xoauth2_blob("user", "mF_9.B5f-4.1JqM").as_str(),
            "dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB"
        );
    }

    #[test]
    fn oauthbearer_matches_rfc_7628() {
        // RFC 7628 §4.1's example, with its user, host, port and token.
        let blob = oauthbearer_blob(
            "user@example.com",
            "server.example.com",
            143,
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        );
        let raw = B64.decode(blob.as_bytes()).unwrap();
        assert_eq!(
            raw,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        let odd = B64
            .decode(oauthbearer_blob("a,b=c", "h", 1, "t").as_bytes())
            .unwrap();
        assert!(odd.starts_with(b"n,a=a=2Cb=3Dc,"));
    }

    #[test]
    fn reads_the_error_challenge() {
        // Google's documented XOAUTH2 error, base64.
        let e = OAuthError::from_challenge(
            "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K",
        )
        .unwrap();
        assert_eq!(e.status, "401");
        assert_eq!(e.schemes.as_deref(), Some("bearer mac"));
        assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
        assert!(e.reason().contains("status 401"));
        assert!(e.reason().contains("https://mail.google.com/"));
        assert!(e.judges_token());
        assert!(!e.json.contains('\n'), "escaped: {}", e.json);
        assert_eq!(OAuthError::from_challenge("VXNlcm5hbWU6"), None);
        assert_eq!(OAuthError::from_challenge(""), None);
        assert_eq!(OAuthError::from_challenge(&B64.encode("[1,2]")), None);
        let hostile = B64.encode("{\"status\":\"401\\u001b[2J\"}");
        let e = OAuthError::from_challenge(&hostile).unwrap();
        assert!(!e.status.contains('\x1b'), "{}", e.status);
    }

    #[test]
    fn lint_catches_each_mistake() {
        let codes = |t: &str, user: &str| -> Vec<&'static str> {
            lint_token(t, user, NOW)
                .into_iter()
                .map(|w| w.code)
                .collect()
        };
        let good = serde_json::json!({
            "aud": "https://outlook.office.com", "iss": "https://sts.windows.net/x/",
            "exp": NOW + 3600, "scp": "SMTP.Send", "upn": "ann@contoso.com"
        });
        assert!(codes(&jwt(&good), "ann@contoso.com").is_empty());
        let mut expired = good.clone();
        expired["exp"] = (NOW - 600).into();
        assert_eq!(codes(&jwt(&expired), "ann@contoso.com"), ["oauth-expired"]);
        let mut soon = good.clone();
        soon["exp"] = (NOW + 30).into();
        assert_eq!(codes(&jwt(&soon), "ann@contoso.com"), ["oauth-expiring"]);
        let mut graph = good.clone();
        graph["aud"] = "https://graph.microsoft.com".into();
        assert_eq!(
            codes(&jwt(&graph), "ann@contoso.com"),
            ["oauth-graph-audience"]
        );
        let mut other = good.clone();
        other["aud"] = "api://something".into();
        assert_eq!(codes(&jwt(&other), "ann@contoso.com"), ["oauth-audience"]);
        let mut scope = good.clone();
        scope["scp"] = "Mail.Read User.Read".into();
        assert_eq!(codes(&jwt(&scope), "ann@contoso.com"), ["oauth-scope"]);
        let mut app = good.clone();
        app.as_object_mut().unwrap().remove("scp");
        app.as_object_mut().unwrap().remove("upn");
        app["roles"] = serde_json::json!(["SMTP.SendAsApp"]);
        assert!(codes(&jwt(&app), "ann@contoso.com").is_empty());
        assert_eq!(codes(&jwt(&good), "bob@contoso.com"), ["oauth-user"]);
        // Opaque tokens: only the shape.
        assert!(codes("ya29.a0AfH6SMBx-EXAMPLE-opaque-token_value", "a@gmail.com").is_empty());
        assert_eq!(codes("Bearer ya29.abc", "a"), ["oauth-shape"]);
        assert_eq!(codes("{\"access_token\":\"x\"}", "a"), ["oauth-shape"]);
        assert_eq!(codes("1//0gEXAMPLErefresh", "a"), ["oauth-refresh-token"]);
        assert_eq!(codes("", "a"), ["oauth-empty"]);
    }

    #[test]
    fn lint_never_shows_the_token() {
        let claims = serde_json::json!({"aud": "https://graph.microsoft.com", "exp": NOW - 5,
            "scp": "User.Read", "upn": "x@y"});
        let t = jwt(&claims);
        for w in lint_token(&t, "other", NOW) {
            assert!(!w.message.contains(&t));
            assert!(!w.message.contains(t.split('.').nth(1).unwrap()));
        }
        for bad in ["Bearer sekr3t-token-value", "sekr3t token value"] {
            for w in lint_token(bad, "u", NOW) {
                assert!(!w.message.contains("sekr3t"), "{}", w.message);
            }
        }
    }
}
