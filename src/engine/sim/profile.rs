//! A provider profile: the simulator speaking like another mail service (Microsoft 365,
//! Gmail) at the greeting, EHLO and AUTH, with that service's own refusal texts.
//!
//! A profile is data (`assets/sim/<provider>.toml`): the greeting, the EHLO lines, the replies
//! to AUTH before STARTTLS and to MAIL FROM before AUTH, and users with the reply each one's
//! login gets. A user whose reply is a `235` is logged in and sends as one of the SES users of
//! the underlying configuration (`deliver_as`), so MAIL FROM, RCPT TO and DATA still work.
//! Passwords are held in [`Zeroizing`] buffers and never shown by `Debug`.

use std::fmt;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::config::ConfigError;

/// The built-in profiles: (name for `--provider`, TOML).
pub(crate) const BUILTIN_PROFILES: &[(&str, &str)] = &[
    (
        "microsoft365",
        include_str!("../../../assets/sim/microsoft365.toml"),
    ),
    ("gmail", include_str!("../../../assets/sim/gmail.toml")),
];

/// Most users in one profile, and the longest reply text: bounds on the data.
const MAX_USERS: usize = 50;
const MAX_REPLY_BYTES: usize = 2048;

/// One user of a profile. `Debug` never shows the password.
#[derive(Clone)]
pub struct ProfileUser {
    /// A short name for scenarios and listings.
    pub name: String,
    /// The SMTP user name (an address).
    pub username: String,
    password: Zeroizing<String>,
    /// What this user's login gets (one line, or several joined by CRLF).
    pub reply: String,
    /// For a user who logs in (a `235` reply): the SES user of the configuration it sends as.
    pub deliver_as: Option<String>,
}

impl fmt::Debug for ProfileUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileUser")
            .field("name", &self.name)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("reply", &self.reply)
            .field("deliver_as", &self.deliver_as)
            .finish()
    }
}

impl ProfileUser {
    /// The demo password (every profile password is a made-up demo value).
    pub fn password(&self) -> Zeroizing<String> {
        self.password.clone()
    }

    /// True when this user's login succeeds.
    pub fn logs_in(&self) -> bool {
        self.reply.starts_with("235")
    }
}

/// A test OAuth access token a profile knows (XOAUTH2, OAUTHBEARER). `Debug` never shows it.
#[derive(Clone)]
pub struct ProfileToken {
    /// A short name for scenarios and listings (valid, expired, wrong-audience…).
    pub name: String,
    /// The SMTP user name the token belongs to.
    pub username: String,
    token: Zeroizing<String>,
    /// base64 of the JSON error challenge sent in a `334` before the final reply, if any.
    pub challenge: Option<String>,
    /// The final reply.
    pub reply: String,
    /// For a token that logs in: the SES user it sends as.
    pub deliver_as: Option<String>,
}

impl fmt::Debug for ProfileToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileToken")
            .field("name", &self.name)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .field("challenge", &self.challenge)
            .field("reply", &self.reply)
            .finish_non_exhaustive()
    }
}

impl ProfileToken {
    /// The demo token (every profile token is a made-up test value).
    pub fn token(&self) -> Zeroizing<String> {
        self.token.clone()
    }

    pub fn logs_in(&self) -> bool {
        self.reply.starts_with("235")
    }
}

/// A provider profile, parsed and checked.
#[derive(Debug, Clone)]
pub struct ProviderProfile {
    /// The provider id, as `assets/providers.toml` names it (`microsoft365`, `gmail`).
    pub provider: String,
    /// The service's name, for people.
    pub name: String,
    pub greeting: String,
    /// The whole EHLO reply before STARTTLS and after it (CRLF between lines).
    pub ehlo_plain: String,
    pub ehlo_tls: String,
    /// The reply to HELO.
    pub helo: String,
    /// The go-ahead to STARTTLS.
    pub starttls_ready: String,
    /// AUTH before STARTTLS.
    pub starttls_first: String,
    /// MAIL FROM, RCPT TO or DATA before a successful AUTH.
    pub auth_required: String,
    /// An unknown user name or a wrong password.
    pub wrong_password: String,
    /// The AUTH mechanisms the service takes of those the simulator implements (PLAIN, LOGIN),
    /// and its reply to any other; `None`: both, with the SES simulator's reply to others.
    pub mechanisms: Option<(Vec<String>, String)>,
    pub users: Vec<ProfileUser>,
    /// Test OAuth tokens, and what a token the profile does not know gets (its challenge
    /// and final reply).
    pub tokens: Vec<ProfileToken>,
    pub unknown_token: (Option<String>, String),
}

/// One reply: a single line, or the lines of a multi-line reply.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawReply {
    One(String),
    Many(Vec<String>),
}

impl RawReply {
    fn clone_raw(&self) -> RawReply {
        self.clone()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    provider: String,
    name: String,
    greeting: RawReply,
    ehlo_before_tls: Vec<String>,
    ehlo_after_tls: Vec<String>,
    helo: RawReply,
    starttls_ready: RawReply,
    starttls_first: RawReply,
    auth_required: RawReply,
    wrong_password: RawReply,
    auth_mechanisms: Option<Vec<String>>,
    unsupported_mechanism: Option<RawReply>,
    #[serde(rename = "user")]
    users: Vec<RawUser>,
    #[serde(rename = "token", default)]
    tokens: Vec<RawToken>,
    unknown_token: Option<RawTokenReply>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    username: String,
    token: String,
    /// The JSON error object sent (base64) in a 334 before the final reply.
    error: Option<String>,
    reply: RawReply,
    deliver_as: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenReply {
    error: Option<String>,
    reply: RawReply,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    username: String,
    password: String,
    reply: RawReply,
    deliver_as: Option<String>,
}

impl ProviderProfile {
    /// The names `--provider` accepts besides `ses`.
    #[must_use]
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<ProviderProfile, ConfigError> {
        let Some((_, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == name) else {
            return Err(ConfigError {
                origin: "provider profiles".into(),
                line: None,
                message: format!(
                    "no provider {name:?}; choose ses, {}",
                    Self::builtin_names().join(" or ")
                ),
            });
        };
        Self::from_toml_str(text, &format!("built-in {name} profile"))
    }

    /// Parses and checks a profile.
    pub(crate) fn from_toml_str(text: &str, origin: &str) -> Result<ProviderProfile, ConfigError> {
        let error = |message: String| ConfigError {
            origin: origin.to_string(),
            line: None,
            message,
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| {
            error(
                e.message()
                    .lines()
                    .next()
                    .unwrap_or("invalid TOML")
                    .to_string(),
            )
        })?;
        let reply = |what: &str, r: RawReply| {
            let lines = match r {
                RawReply::One(one) => vec![one],
                RawReply::Many(many) => many,
            };
            checked_reply(&lines).map_err(|why| error(format!("{what}: {why}")))
        };
        if raw.users.is_empty() || raw.users.len() > MAX_USERS {
            return Err(error(format!(
                "1 to {MAX_USERS} users, not {}",
                raw.users.len()
            )));
        }
        let mut users = Vec::with_capacity(raw.users.len());
        for u in raw.users {
            let name = u.name.clone();
            let checked = reply(&format!("user {name}"), u.reply)?;
            if checked.starts_with("235") != u.deliver_as.is_some() {
                return Err(error(format!(
                    "user {name}: a 235 reply needs deliver_as, and only it"
                )));
            }
            let plain =
                |s: &str| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control);
            if !plain(&u.username) || !plain(&u.password) {
                return Err(error(format!(
                    "user {name}: user name and password must be 1-256 characters without control characters"
                )));
            }
            users.push(ProfileUser {
                name: u.name,
                username: u.username,
                password: Zeroizing::new(u.password),
                reply: checked,
                deliver_as: u.deliver_as,
            });
        }
        let mechanisms = match (raw.auth_mechanisms, raw.unsupported_mechanism) {
            (None, None) => None,
            (Some(list), Some(refusal)) => {
                let known = ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"];
                if list.is_empty() || list.iter().any(|m| !known.contains(&m.as_str())) {
                    return Err(error(
                        "auth_mechanisms may list PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER, at least one".into(),
                    ));
                }
                Some((list, reply("unsupported_mechanism", refusal)?))
            }
            _ => {
                return Err(error(
                    "auth_mechanisms and unsupported_mechanism go together".into(),
                ));
            }
        };
        let challenge = |what: &str, json: Option<String>| -> Result<Option<String>, ConfigError> {
            use base64::Engine as _;
            let Some(json) = json else { return Ok(None) };
            let ok = serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .is_some_and(|v| v.get("status").is_some());
            if !ok || json.len() > 512 {
                return Err(error(format!(
                    "{what}: error must be a JSON object with a \"status\", at most 512 bytes"
                )));
            }
            Ok(Some(base64::engine::general_purpose::STANDARD.encode(json)))
        };
        let mut tokens = Vec::with_capacity(raw.tokens.len());
        for t in raw.tokens {
            let what = format!("token {}", t.name);
            let checked = reply(&what, t.reply)?;
            if checked.starts_with("235") != t.deliver_as.is_some() {
                return Err(error(format!(
                    "{what}: a 235 reply needs deliver_as, and only it"
                )));
            }
            let b64token = |s: &str| {
                (20..=4096).contains(&s.len())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(c))
            };
            if !b64token(&t.token) {
                return Err(error(format!(
                    "{what}: a token is 20-4096 characters of letters, digits and -._~+/="
                )));
            }
            tokens.push(ProfileToken {
                challenge: challenge(&what, t.error)?,
                name: t.name,
                username: t.username,
                token: Zeroizing::new(t.token),
                reply: checked,
                deliver_as: t.deliver_as,
            });
        }
        let unknown_token = match raw.unknown_token {
            Some(u) => (
                challenge("unknown_token", u.error)?,
                reply("unknown_token", u.reply)?,
            ),
            None => (
                None,
                reply("wrong_password", raw.wrong_password.clone_raw())?,
            ),
        };
        Ok(ProviderProfile {
            tokens,
            unknown_token,
            provider: raw.provider,
            name: raw.name,
            greeting: reply("greeting", raw.greeting)?,
            ehlo_plain: reply("ehlo_before_tls", RawReply::Many(raw.ehlo_before_tls))?,
            ehlo_tls: reply("ehlo_after_tls", RawReply::Many(raw.ehlo_after_tls))?,
            helo: reply("helo", raw.helo)?,
            starttls_ready: reply("starttls_ready", raw.starttls_ready)?,
            starttls_first: reply("starttls_first", raw.starttls_first)?,
            auth_required: reply("auth_required", raw.auth_required)?,
            wrong_password: reply("wrong_password", raw.wrong_password)?,
            mechanisms,
            users,
        })
    }

    /// Whether the service takes this AUTH mechanism (`PLAIN`, `LOGIN`).
    #[must_use]
    pub fn takes(&self, mechanism: &str) -> bool {
        self.mechanisms
            .as_ref()
            .is_none_or(|(list, _)| list.iter().any(|m| m == mechanism))
    }

    /// The profile user called `name`.
    #[must_use]
    pub fn user(&self, name: &str) -> Option<&ProfileUser> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The test token a login sends, if the profile knows it for this user (compared in
    /// constant time).
    pub(crate) fn token_for(&self, username: &str, token: &str) -> Option<&ProfileToken> {
        self.tokens.iter().find(|t| {
            super::account::constant_time_eq(t.token.as_bytes(), token.as_bytes())
                && t.username.eq_ignore_ascii_case(username)
        })
    }

    /// The user a login names, if its password matches (compared in constant time).
    pub(crate) fn authenticate(&self, username: &str, password: &str) -> Option<&ProfileUser> {
        let user = self.users.iter().find(|u| u.username == username)?;
        super::account::constant_time_eq(user.password.as_bytes(), password.as_bytes())
            .then_some(user)
    }
}

/// Joins reply lines with CRLF after checking them: each starts with the same three-digit code,
/// followed by `-` on every line but the last and a space (or nothing) on the last.
fn checked_reply(lines: &[String]) -> Result<String, String> {
    let Some(first) = lines.first() else {
        return Err("no reply line".into());
    };
    let code = first.get(..3).unwrap_or_default();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{first:?} does not start with a reply code"));
    }
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let sep = line.as_bytes().get(3).copied();
        let shape_ok = line.starts_with(code)
            && if last {
                matches!(sep, None | Some(b' '))
            } else {
                sep == Some(b'-')
            };
        if !shape_ok || line.chars().any(char::is_control) {
            return Err(format!(
                "{line:?} must start with {code}, then '-' on all but the last line"
            ));
        }
    }
    let joined = lines.join("\r\n");
    if joined.len() > MAX_REPLY_BYTES {
        return Err(format!("longer than {MAX_REPLY_BYTES} bytes"));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_with_a_good_user_each() {
        for name in ProviderProfile::builtin_names() {
            let p = ProviderProfile::builtin(name).unwrap();
            assert_eq!(p.provider, name);
            assert!(p.users.iter().any(ProfileUser::logs_in), "{name}");
            assert!(!format!("{p:?}").contains(p.users[0].password().as_str()));
        }
        assert!(ProviderProfile::builtin("yahoo").is_err());
    }

    #[test]
    fn reply_lines_are_checked() {
        let ok = checked_reply(&["535-5.7.8 a".into(), "535 5.7.8 b".into()]).unwrap();
        assert_eq!(ok, "535-5.7.8 a\r\n535 5.7.8 b");
        assert!(checked_reply(&["535 5.7.8 a".into(), "535 5.7.8 b".into()]).is_err());
        assert!(checked_reply(&["535-a".into(), "534 b".into()]).is_err());
        assert!(checked_reply(&["hello".into()]).is_err());
        assert!(checked_reply(&["250 a\rb".into()]).is_err());
    }
}
