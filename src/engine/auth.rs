//! SASL PLAIN and LOGIN: building the lines, and keeping the secrets out of every rendering.
//!
//! The password lives in a [`Zeroizing`] buffer, is wiped when dropped, and has no `Debug` or
//! `Display` that could print it. What the transcript records for an AUTH line is a
//! [`Redacted`] description, never the base64 that decodes back to the credentials.

use std::fmt;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::command::{InputError, check_arg};

/// A SASL mechanism smtpscope can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mechanism {
    Plain,
    Login,
    /// Google's and Microsoft's OAuth 2.0 bearer-token mechanism.
    Xoauth2,
    /// RFC 7628's OAuth 2.0 bearer-token mechanism.
    Oauthbearer,
}

impl Mechanism {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// Sends an OAuth access token rather than a password.
    pub fn is_oauth(self) -> bool {
        matches!(self, Mechanism::Xoauth2 | Mechanism::Oauthbearer)
    }

    /// The mechanism a name stands for (`AUTH XOAUTH2` in a script or a saved line).
    pub(crate) fn parse(name: &str) -> Option<Mechanism> {
        [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::Xoauth2,
            Mechanism::Oauthbearer,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// A user name and password (or OAuth access token). Debug output never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub authzid: Option<String>,
    pub user: String,
    password: Zeroizing<String>,
    /// The secret is an OAuth access token (for XOAUTH2/OAUTHBEARER), not a password.
    token: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("user", &self.user)
            .field(if self.token { "token" } else { "password" }, &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Validates and wraps the credentials. CR, LF and NUL are refused: NUL would break the
    /// PLAIN blob's framing, CR/LF the command line.
    pub fn new(user: &str, password: Zeroizing<String>) -> Result<Credentials, InputError> {
        check_arg("user name", user)?;
        if password.contains(['\r', '\n', '\0']) {
            return Err(InputError::SecretControl {
                field: "the password".into(),
            });
        }
        Ok(Credentials {
            authzid: None,
            user: user.to_string(),
            password,
            token: false,
        })
    }

    /// A user name and an OAuth access token. CR, LF, NUL and ^A are refused: ^A separates
    /// the fields of the XOAUTH2 and OAUTHBEARER responses.
    pub fn with_token(user: &str, token: Zeroizing<String>) -> Result<Credentials, InputError> {
        check_arg("user name", user)?;
        if user.contains('\x01') {
            return Err(InputError::SecretControl {
                field: "the user name".into(),
            });
        }
        if token.contains(['\r', '\n', '\0', '\x01']) {
            return Err(InputError::SecretControl {
                field: "the access token".into(),
            });
        }
        Ok(Credentials {
            authzid: None,
            user: user.to_string(),
            password: token,
            token: true,
        })
    }

    /// Whether the secret is an OAuth access token.
    pub fn is_token(&self) -> bool {
        self.token
    }

    /// The XOAUTH2 client response (see [`super::oauth::xoauth2_blob`]).
    pub fn xoauth2_blob(&self) -> Zeroizing<String> {
        super::oauth::xoauth2_blob(&self.user, &self.password)
    }

    /// The OAUTHBEARER client response for this server (see [`super::oauth::oauthbearer_blob`]).
    pub fn oauthbearer_blob(&self, host: &str, port: u16) -> Zeroizing<String> {
        super::oauth::oauthbearer_blob(&self.user, host, port, &self.password)
    }

    /// Adds an authorization identity for PLAIN.
    pub fn with_authzid(mut self, authzid: &str) -> Result<Credentials, InputError> {
        check_arg("authorization identity", authzid)?;
        self.authzid = Some(authzid.to_string());
        Ok(self)
    }

    /// The password, for the few places that must use it (encoding, the credential lint).
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// Every form in which the password could leak into text, for leak checks.
    pub fn secret_forms(&self) -> Vec<Zeroizing<String>> {
        let mut forms = vec![
            Zeroizing::new(self.password.to_string()),
            Zeroizing::new(B64.encode(self.password.as_bytes())),
            self.plain_blob(),
        ];
        if self.token {
            forms.push(self.xoauth2_blob());
        }
        forms
    }

    /// base64(authzid NUL user NUL password), RFC 4616.
    pub fn plain_blob(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::new());
        raw.extend_from_slice(self.authzid.as_deref().unwrap_or("").as_bytes());
        raw.push(0);
        raw.extend_from_slice(self.user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(self.password.as_bytes());
        Zeroizing::new(B64.encode(&*raw))
    }

    pub fn login_user(&self) -> String {
        B64.encode(self.user.as_bytes())
    }

    pub fn login_password(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(self.password.as_bytes()))
    }
}

/// What a transcript keeps of a line that carried credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Redacted {
    /// `AUTH PLAIN <blob>` or the blob sent after `334`.
    PlainBlob {
        initial: bool,
        user: String,
        authzid: Option<String>,
    },
    /// The base64 user name of AUTH LOGIN.
    LoginUser { user: String },
    /// The base64 password of AUTH LOGIN.
    LoginPassword,
    /// The XOAUTH2 or OAUTHBEARER response (`AUTH XOAUTH2 <blob>` or the blob after `334`):
    /// it carries the user name and the access token.
    OAuthToken {
        mechanism: Mechanism,
        initial: bool,
        user: String,
    },
    /// A line typed by hand inside an AUTH exchange (or `AUTH <mech> <initial-response>`):
    /// smtpscope cannot tell which part is secret, so all of it after the mechanism is hidden.
    Typed { head: String },
}

impl Redacted {
    /// What a saved file keeps of a user name the screen was hiding.
    pub(crate) const HIDDEN_USER: &'static str = "(hidden when saved)";

    /// The same redaction with the user name (and authorization identity) replaced by
    /// [`Redacted::HIDDEN_USER`], for files saved while the screen hid user names.
    pub(crate) fn without_user(&self) -> Redacted {
        let hidden = || Self::HIDDEN_USER.to_string();
        match self {
            Redacted::PlainBlob {
                initial, authzid, ..
            } => Redacted::PlainBlob {
                initial: *initial,
                user: hidden(),
                authzid: authzid.as_ref().map(|_| hidden()),
            },
            Redacted::LoginUser { .. } => Redacted::LoginUser { user: hidden() },
            Redacted::OAuthToken {
                mechanism, initial, ..
            } => Redacted::OAuthToken {
                mechanism: *mechanism,
                initial: *initial,
                user: hidden(),
            },
            other => other.clone(),
        }
    }

    /// The line as shown by default: the shape of what was sent, no secrets, no user name.
    pub fn render(&self, reveal_user: bool) -> String {
        let user = |u: &str| {
            if reveal_user {
                format!("user \"{}\"", super::escape::escape_str(u))
            } else {
                "user hidden".into()
            }
        };
        match self {
            Redacted::PlainBlob {
                initial,
                user: u,
                authzid,
            } => {
                let az = match (authzid, reveal_user) {
                    (Some(a), true) => format!(", authzid \"{}\"", super::escape::escape_str(a)),
                    _ => String::new(),
                };
                let head = if *initial { "AUTH PLAIN " } else { "" };
                format!("{head}<redacted: {}{az}, password hidden>", user(u))
            }
            Redacted::LoginUser { user: u } => format!("<redacted: base64 {}>", user(u)),
            Redacted::LoginPassword => "<redacted: base64 password>".into(),
            Redacted::OAuthToken {
                mechanism,
                initial,
                user: u,
            } => {
                let head = if *initial {
                    format!("AUTH {} ", mechanism.name())
                } else {
                    String::new()
                };
                format!("{head}<redacted: {}, access token hidden>", user(u))
            }
            Redacted::Typed { head } if head.is_empty() => "<redacted: typed AUTH response>".into(),
            Redacted::Typed { head } => format!(
                "{} <redacted: typed AUTH response>",
                super::escape::escape_str(head)
            ),
        }
    }
}

/// For a line typed by hand: the redaction it needs, if any. `in_sasl` says the server's last
/// reply was a `334` challenge, so whatever is typed now is a credential.
pub(crate) fn redaction_for_typed(line: &str, in_sasl: bool) -> Option<Redacted> {
    if in_sasl {
        return Some(Redacted::Typed {
            head: String::new(),
        });
    }
    let mut words = line.split_whitespace();
    let verb = words.next()?;
    if !verb.eq_ignore_ascii_case("AUTH") {
        return None;
    }
    let mechanism = words.next()?;
    words.next()?;
    Some(Redacted::Typed {
        head: format!("{verb} {mechanism}"),
    })
}

/// Removes the forms of a password from text the server sent back.
///
/// A server may echo what it was sent ("500 unrecognized command: `AGFraWEA`..."), and then the
/// secret would reach the screen, the saved transcript and error messages through the reply.
/// The session remembers every form it sent and replaces them with `<redacted>` wherever
/// server text is recorded. The forms: the password, its hex, its base64 (padded or not, as
/// LOGIN sends it) and the PLAIN blob's base64 (padded or not), each matched in any ASCII case
/// (a server may upper-case what it echoes).
///
/// Masking a password in place can reveal it by its absence: if the password is `welcome`,
/// `250 <redacted> to our server` says what it was. So a *weak* password (shorter than
/// [`SecretScrubber::MIN_LEN`], or letters with at most trailing digits and punctuation, like
/// a dictionary word) is not masked in place: a line that contains it is withheld whole (its
/// reply code kept), which says only that the line held it. Forms shorter than `MIN_LEN`
/// (the base64 or hex of a very short password) are treated the same way.
#[derive(Default, Clone)]
pub struct SecretScrubber {
    /// ASCII-lower-cased forms masked where they appear, longest first.
    forms: Vec<Zeroizing<Vec<u8>>>,
    /// ASCII-lower-cased forms whose presence withholds the whole line.
    withhold: Vec<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for SecretScrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretScrubber({} forms, {} withheld)",
            self.forms.len(),
            self.withhold.len()
        )
    }
}

/// True for a password that masking in place would give away by context: short, or a word
/// (letters only, perhaps followed by digits and punctuation, as in `Password123!`).
pub(crate) fn is_weak_password(password: &str) -> bool {
    if password.chars().count() < SecretScrubber::MIN_LEN {
        return true;
    }
    let stem = password.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    !stem.is_empty() && stem.chars().all(char::is_alphabetic)
}

fn lower(text: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(text.to_ascii_lowercase())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

impl SecretScrubber {
    pub const MIN_LEN: usize = 8;
    const MASK: &'static str = "<redacted>";

    /// Remembers the forms of these credentials' password.
    pub fn add(&mut self, creds: &Credentials) {
        use base64::engine::general_purpose::STANDARD_NO_PAD as B64_NO_PAD;
        let password = creds.password.as_bytes();
        if password.is_empty() {
            return;
        }
        let blob = creds.plain_blob();
        let raw_blob = Zeroizing::new(B64.decode(blob.as_bytes()).unwrap_or_default());
        // Built in place, in wiped memory: no per-byte strings left behind.
        let mut hex = Zeroizing::new(String::with_capacity(password.len() * 2));
        for b in password {
            let _ = write!(hex, "{b:02x}");
        }
        let mut derived = vec![
            hex,
            Zeroizing::new(B64.encode(password)),
            Zeroizing::new(B64_NO_PAD.encode(password)),
            Zeroizing::new(blob.to_string()),
            Zeroizing::new(B64_NO_PAD.encode(&*raw_blob)),
        ];
        if creds.token {
            let x = creds.xoauth2_blob();
            derived.push(Zeroizing::new(x.trim_end_matches('=').to_string()));
            derived.push(x);
        }
        // A token is long and random: masked in place like a strong password.
        let weak = !creds.token && is_weak_password(&creds.password);
        self.remember(lower(password), weak);
        for form in derived {
            let short = form.len() < Self::MIN_LEN;
            self.remember(lower(form.as_bytes()), short);
        }
        // Longest first, so a blob is masked whole rather than around a shorter form in it.
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    fn remember(&mut self, form: Zeroizing<Vec<u8>>, withhold: bool) {
        let list = if withhold {
            &mut self.withhold
        } else {
            &mut self.forms
        };
        if !form.is_empty() && !list.iter().any(|f| **f == *form) {
            list.push(form);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.forms.is_empty() && self.withhold.is_empty()
    }

    /// Remembers one more form a secret was sent in (the OAUTHBEARER response, which
    /// depends on the host and port), with its unpadded base64.
    pub(crate) fn add_form(&mut self, form: &str) {
        for f in [form, form.trim_end_matches('=')] {
            let short = f.len() < Self::MIN_LEN;
            self.remember(lower(f.as_bytes()), short);
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Masks every form in `bytes` (a reply line without CRLF, or other server text); true
    /// when something was masked. A line holding a weak form keeps only its `CODE ` prefix.
    pub fn scrub_bytes(&self, bytes: &mut Vec<u8>) -> bool {
        let folded = lower(bytes);
        if self.withhold.iter().any(|w| contains(&folded, w)) {
            let code = bytes.len() >= 4
                && bytes[..3].iter().all(u8::is_ascii_digit)
                && matches!(bytes[3], b' ' | b'-');
            let mut out = Zeroizing::new(Vec::new());
            if code {
                out.extend_from_slice(&bytes[..4]);
            }
            out.extend_from_slice(Self::MASK.as_bytes());
            std::mem::swap(bytes, &mut out);
            return true;
        }
        let mut changed = false;
        for form in &self.forms {
            let folded = lower(bytes);
            if !contains(&folded, form) {
                continue;
            }
            let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
            let mut i = 0;
            while i < bytes.len() {
                if folded[i..].starts_with(form) {
                    out.extend_from_slice(Self::MASK.as_bytes());
                    i += form.len();
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            std::mem::swap(bytes, &mut out);
            changed = true;
        }
        changed
    }

    /// Masks every form in `text`; true when something was masked.
    pub(crate) fn scrub_str(&self, text: &mut String) -> bool {
        let mut bytes = Zeroizing::new(std::mem::take(text).into_bytes());
        let changed = self.scrub_bytes(&mut bytes);
        // Masks replace whole forms (valid UTF-8 in, ASCII out), so the text stays UTF-8.
        *text = String::from_utf8_lossy(&bytes).into_owned();
        changed
    }
}

/// Decodes a server's `334` challenge for display (`VXNlcm5hbWU6` is "Username:").
pub fn decode_challenge(text: &str) -> Option<String> {
    let bytes = B64.decode(text.trim()).ok()?;
    let s = String::from_utf8(bytes).ok()?;
    s.chars().all(|c| !c.is_control()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            Zeroizing::new("BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9".into()),
        )
        .unwrap()
    }

    #[test]
    fn plain_matches_the_published_vector() {
        assert_eq!(
            creds().plain_blob().as_str(),
            "AEFLSUFJT1NGT0ROTjdFWEFNUExFAEJMQk0vOWhTVUVMZnE4R3crclUxWWNCamtPeEdiaFQyWEc3NjN4VkxHV0w5"
        );
    }

    #[test]
    fn plain_with_authzid() {
        let c = Credentials::new("u", Zeroizing::new("p".into()))
            .unwrap()
            .with_authzid("z")
            .unwrap();
        assert_eq!(B64.decode(c.plain_blob().as_str()).unwrap(), b"z\0u\0p");
    }

    #[test]
    fn login_matches_the_published_vector() {
        let c = creds();
        assert_eq!(c.login_user(), "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=");
        assert_eq!(
            c.login_password().as_str(),
            "QkxCTS85aFNVRUxmcThHdytyVTFZY0Jqa094R2JoVDJYRzc2M3hWTEdXTDk="
        );
    }

    #[test]
    fn debug_and_redactions_never_show_the_password() {
        let c = creds();
        let debug = format!("{c:?}");
        let renders = [
            Redacted::PlainBlob {
                initial: true,
                user: c.user.clone(),
                authzid: None,
            }
            .render(true),
            Redacted::LoginUser {
                user: c.user.clone(),
            }
            .render(true),
            Redacted::LoginPassword.render(true),
        ];
        for text in renders.iter().chain([&debug]) {
            for secret in c.secret_forms() {
                assert!(!text.contains(secret.as_str()), "{text}");
            }
        }
        let hidden = Redacted::LoginUser {
            user: c.user.clone(),
        }
        .render(false);
        assert!(!hidden.contains("AKIA"));
    }

    #[test]
    fn typed_auth_lines_are_redacted() {
        assert_eq!(redaction_for_typed("AUTH LOGIN", false), None);
        assert_eq!(redaction_for_typed("NOOP", false), None);
        let r = redaction_for_typed("auth plain AGZvbwBiYXI=", false).unwrap();
        assert_eq!(r.render(true), "auth plain <redacted: typed AUTH response>");
        let r = redaction_for_typed("c2VjcmV0", true).unwrap();
        assert!(!r.render(true).contains("c2VjcmV0"));
    }

    #[test]
    fn scrubber_masks_every_form_and_nothing_else() {
        let c = creds();
        let mut scrubber = SecretScrubber::default();
        assert!(scrubber.is_empty());
        scrubber.add(&c);
        let blob = c.plain_blob();
        let mut echo = format!(
            "500 5.5.2 unrecognized: {} and {}",
            blob.as_str(),
            c.password()
        )
        .into_bytes();
        assert!(scrubber.scrub_bytes(&mut echo));
        let echo = String::from_utf8(echo).unwrap();
        assert_eq!(echo, "500 5.5.2 unrecognized: <redacted> and <redacted>");
        let mut text = format!("x{}y", c.login_password().as_str());
        assert!(scrubber.scrub_str(&mut text));
        assert_eq!(text, "x<redacted>y");
        let mut clean = b"250 Ok".to_vec();
        assert!(!scrubber.scrub_bytes(&mut clean));
        assert_eq!(clean, b"250 Ok");
        assert!(!format!("{scrubber:?}").contains(c.password()));
        // A short password is not masked in place ("250 <redacted>, go ahead" would give
        // "ok" away): the line that holds it is withheld whole, code kept.
        let mut short = SecretScrubber::default();
        short.add(&Credentials::new("u", Zeroizing::new("ok".into())).unwrap());
        let mut reply = b"250 OK, go ahead".to_vec();
        assert!(short.scrub_bytes(&mut reply));
        assert_eq!(reply, b"250 <redacted>");
        let mut other = b"250 Accepted".to_vec();
        assert!(!short.scrub_bytes(&mut other));
    }

    #[test]
    fn scrubber_catches_hex_unpadded_base64_and_case_variants() {
        use base64::engine::general_purpose::STANDARD_NO_PAD;
        let c = Credentials::new("u", Zeroizing::new("Xq7-pL2/wZ9!kR".into())).unwrap();
        let mut scrubber = SecretScrubber::default();
        scrubber.add(&c);
        let pw = c.password().as_bytes();
        let hex: String = pw.iter().map(|b| format!("{b:02x}")).collect();
        let blob_raw = B64.decode(c.plain_blob().as_bytes()).unwrap();
        let echoes = [
            hex.clone(),
            hex.to_uppercase(),
            STANDARD_NO_PAD.encode(pw),
            STANDARD_NO_PAD.encode(&blob_raw),
            c.plain_blob().to_uppercase(),
            c.password().to_uppercase(),
            c.password().to_lowercase(),
        ];
        for echo in echoes {
            let mut line = format!("500 unrecognized: {echo} here").into_bytes();
            assert!(scrubber.scrub_bytes(&mut line), "{echo}");
            assert_eq!(line, b"500 unrecognized: <redacted> here", "{echo}");
        }
    }

    #[test]
    fn weak_passwords_withhold_the_line() {
        for weak in ["welcome", "Password123!", "sunshine", "hunter2"] {
            assert!(is_weak_password(weak), "{weak}");
        }
        for strong in [
            "Xq7-pL2/wZ9!kR",
            "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
        ] {
            assert!(!is_weak_password(strong), "{strong}");
        }
        let mut scrubber = SecretScrubber::default();
        scrubber.add(&Credentials::new("u", Zeroizing::new("welcome1".into())).unwrap());
        let mut line = b"250-WELCOME1 to our server".to_vec();
        assert!(scrubber.scrub_bytes(&mut line));
        assert_eq!(line, b"250-<redacted>");
        let mut text = "timeout after welcome1".to_string();
        assert!(scrubber.scrub_str(&mut text));
        assert_eq!(text, "<redacted>");
    }

    #[test]
    fn refuses_control_characters() {
        assert!(Credentials::new("a\r\nb", Zeroizing::new("p".into())).is_err());
        for bad in ["p\0q", "p\rq", "p\nq"] {
            let err = Credentials::new("a", Zeroizing::new(bad.into())).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the password contains a line break (CR or LF) or a NUL byte, which AUTH cannot carry"
            );
        }
    }

    #[test]
    fn decodes_login_challenges() {
        assert_eq!(
            decode_challenge("VXNlcm5hbWU6").as_deref(),
            Some("Username:")
        );
        assert_eq!(
            decode_challenge("UGFzc3dvcmQ6").as_deref(),
            Some("Password:")
        );
        assert_eq!(decode_challenge("Ok"), None);
    }
}
