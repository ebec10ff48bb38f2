//! ARNs SES checks, the `554 Access denied` reply built from them (and parsed back), and
//! which identity a From address maps to.

/// `arn:aws:ses:REGION:ACCOUNT:identity/IDENTITY`.
pub fn identity_arn(region: &str, account: &str, identity: &str) -> String {
    format!("arn:aws:ses:{region}:{account}:identity/{identity}")
}

/// `arn:aws:ses:REGION:ACCOUNT:configuration-set/NAME` (checked when a configuration set applies).
pub fn configuration_set_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ses:{region}:{account}:configuration-set/{name}")
}

/// `arn:aws:iam::ACCOUNT:user/NAME`.
pub fn user_arn(account: &str, user_name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{user_name}")
}

/// The reply SES sends after the final "." when IAM denies the send (no CRLF). ARNs open
/// with a backtick and close with an apostrophe, as SES writes them.
pub fn access_denied_reply(user_arn: &str, action: &str, resource: &str) -> String {
    format!(
        "554 Access denied: User `{user_arn}' is not authorized to perform `{action}' on resource `{resource}'"
    )
}

/// The parts of a `554 Access denied` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenied {
    pub user_arn: String,
    pub action: String,
    pub resource: String,
}

impl AccessDenied {
    /// The account in the user ARN (`arn:aws:iam::ACCOUNT:user/NAME`).
    pub fn account(&self) -> Option<&str> {
        self.user_arn.split(':').nth(4).filter(|a| !a.is_empty())
    }
    /// The region in the resource ARN (`arn:aws:ses:REGION:…`).
    pub fn region(&self) -> Option<&str> {
        self.resource.split(':').nth(3).filter(|r| !r.is_empty())
    }
}

/// Parse a `554 Access denied: User `…' is not authorized to perform `…' on resource `…'`
/// line (CRLF, trailing period and spacing variations tolerated).
pub fn parse_access_denied_reply(line: &str) -> Option<AccessDenied> {
    let line = line.trim_end_matches(['\r', '\n']).trim_end();
    let rest = line.strip_prefix("554")?.trim_start_matches([' ', '-']);
    let rest = rest.strip_prefix("Access denied: User ")?;
    let (user_arn, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(" is not authorized to perform ")?;
    let (action, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(" on resource ")?;
    let (resource, rest) = quoted(rest)?;
    matches!(rest, "" | ".").then(|| AccessDenied {
        user_arn,
        action,
        resource,
    })
}

/// Take a `…' (or plain `'…'`) quoted token from the start of `text`.
fn quoted(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('`').or_else(|| text.strip_prefix('\''))?;
    let end = body.find('\'')?;
    Some((body[..end].to_string(), &body[end + 1..]))
}

/// The identity SES checks for a From address: the address itself when it is a verified
/// identity, otherwise its domain (lower-cased). `from` may be `Name <addr>` or a bare address.
pub fn sending_identity(from: &str, verified: &[String]) -> String {
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    }
    .trim();
    if verified.iter().any(|v| v.eq_ignore_ascii_case(address)) {
        return address.to_string();
    }
    match address.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => domain.to_ascii_lowercase(),
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::SEND_RAW_EMAIL;
    use super::*;

    #[test]
    fn access_denied_round_trip() {
        let reply = access_denied_reply(
            &user_arn("123456789012", "ses-smtp-user.20250101-000000"),
            SEND_RAW_EMAIL,
            &identity_arn("eu-west-2", "123456789012", "example.com"),
        );
        assert_eq!(
            reply,
            "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20250101-000000' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:eu-west-2:123456789012:identity/example.com'"
        );
        let parsed = parse_access_denied_reply(&format!("{reply}\r\n")).unwrap();
        assert_eq!(parsed.action, SEND_RAW_EMAIL);
        assert_eq!(parsed.account(), Some("123456789012"));
        assert_eq!(parsed.region(), Some("eu-west-2"));
        assert_eq!(
            parsed.resource,
            "arn:aws:ses:eu-west-2:123456789012:identity/example.com"
        );
        assert!(
            parse_access_denied_reply("554 Message rejected: Email address is not verified.")
                .is_none()
        );
        assert!(
            parse_access_denied_reply(
                "550 Access denied: User `a' is not authorized to perform `b' on resource `c'"
            )
            .is_none()
        );
    }

    #[test]
    fn sending_identities() {
        let verified = vec!["ops@example.com".to_string()];
        assert_eq!(
            sending_identity("ops@example.com", &verified),
            "ops@example.com"
        );
        assert_eq!(
            sending_identity("Ops <OPS@example.com>", &verified),
            "OPS@example.com"
        );
        assert_eq!(
            sending_identity("alice@Example.COM", &verified),
            "example.com"
        );
        assert_eq!(
            sending_identity("Alice <alice@example.org>", &[]),
            "example.org"
        );
        assert_eq!(sending_identity("root", &[]), "root");
    }
}
