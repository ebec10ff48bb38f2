//! ARNs SES checks (built and parsed), the `554 Access denied` reply built from them, and
//! which identity a From address maps to. The reply is parsed back by the catalog, not here.

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

/// The parts of an AWS ARN, `arn:partition:service:region:account:resource`. The one ARN
/// parser: the classifier splits the ARNs of a `554 Access denied` reply with it (the reply
/// itself is parsed by the catalog's pattern, `ses-access-denied` in assets/replies.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub(crate) fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
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
        use crate::engine::classify::{Catalog, Context};
        use crate::engine::command::Verb;
        use crate::engine::reply::Reply;
        let reply = access_denied_reply(
            &user_arn("123456789012", "ses-smtp-user.20250101-000000"),
            SEND_RAW_EMAIL,
            &identity_arn("eu-west-2", "123456789012", "example.com"),
        );
        assert_eq!(
            reply,
            "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20250101-000000' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:eu-west-2:123456789012:identity/example.com'"
        );
        // Parsed back by the catalog (the one parser of this reply) and split by Arn.
        let parsed = Reply::from_lines(554, &[&reply[4..]]);
        let class = Catalog::builtin().classify(&parsed, &Context::after(Verb::DataEnd));
        assert_eq!(class.diagnosis.id.as_deref(), Some("ses-access-denied"));
        let detail = |k: &str| {
            class
                .diagnosis
                .details
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(detail("Action"), Some(SEND_RAW_EMAIL));
        assert_eq!(detail("Account"), Some("123456789012"));
        assert_eq!(detail("Region"), Some("eu-west-2"));
        assert_eq!(detail("IAM user"), Some("ses-smtp-user.20250101-000000"));
        assert_eq!(detail("Identity"), Some("example.com"));
    }

    #[test]
    fn arn_parts() {
        let a = Arn::parse("arn:aws:ses:eu-west-2:123456789012:identity/example.com").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            (
                "aws",
                "ses",
                "eu-west-2",
                "123456789012",
                "identity/example.com"
            )
        );
        let user = user_arn("123456789012", "path/to/user");
        let u = Arn::parse(&user).unwrap();
        assert_eq!(
            (u.account, u.resource),
            ("123456789012", "user/path/to/user")
        );
        assert!(Arn::parse("not-an-arn").is_none());
        assert!(Arn::parse("arn:aws:ses").is_none());
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
