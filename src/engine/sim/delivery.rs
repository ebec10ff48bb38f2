//! What happens after the final `.`: SES runs nearly all of its checks here, in this order:
//! size, recipient count, IAM authorization of `ses:SendRawEmail`, identity verification
//! (senders always, recipients in the sandbox), sending quotas. A message that passes is
//! kept in the mailbox and answered with `250 Ok <id>`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::account::SimAccount;
use super::ids;
use super::mailbox::StoredMessage;
use super::parse::is_valid_address;
use crate::engine::iam::{
    Authorization, RequestContext, SEND_RAW_EMAIL, access_denied_reply, evaluate, identity_arn,
    sending_identity, user_arn,
};

/// One transaction as the conversation collected it.
#[derive(Debug)]
pub struct Transaction<'a> {
    /// Index of the authenticated user in the config.
    pub user: usize,
    pub peer: SocketAddr,
    pub mail_from: &'a str,
    pub recipients: &'a [String],
    /// The body as kept (at most the size limit).
    pub body: Vec<u8>,
    /// The body's full size, including what was not kept.
    pub size: usize,
}

/// The reply to the final `.`, and the message when it was accepted.
#[derive(Debug)]
pub struct Verdict {
    pub reply: String,
    pub accepted: Option<Arc<StoredMessage>>,
    /// A line for the simulator's log explaining the decision (the IAM trace when denied).
    pub note: Option<String>,
    /// The IAM check that refused the message, as data: the policy, statement and condition
    /// that decided and the address `aws:SourceIp` was evaluated with.
    pub authorization: Option<Box<Authorization>>,
}

impl Verdict {
    fn rejected(reply: impl Into<String>, note: Option<String>) -> Verdict {
        Verdict {
            reply: reply.into(),
            accepted: None,
            note,
            authorization: None,
        }
    }
}

/// The From header: its first address and display name, and any further addresses (a From
/// may list several mailboxes; SES checks each one's identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FromHeader {
    pub address: String,
    pub display_name: Option<String>,
    pub others: Vec<String>,
}

/// SES's mailbox simulator (`success@`, `bounce@`, `complaint@`, `ooto@`, `suppressionlist@`
/// `simulator.amazonses.com`): SES accepts mail to it from any account, sandboxed or not,
/// without verifying it, so monitoring probes can send real test messages.
pub(crate) fn is_mailbox_simulator(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case("simulator.amazonses.com"))
}

/// Finds the From header in a message's header block (unfolding continuation lines).
#[cfg(test)]
pub(crate) fn from_header(message: &[u8]) -> Option<FromHeader> {
    check_from(message).ok().flatten()
}

/// The From header as SES reads it, or the `554` SES sends for it: a second From header is
/// a duplicate (From may appear once), and an address with a control character in it is
/// illegal. `Ok(None)`: no usable From (MAIL FROM stands in).
pub(crate) fn check_from(message: &[u8]) -> Result<Option<FromHeader>, String> {
    let head_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    let head = String::from_utf8_lossy(&message[..head_end]);
    let froms: Vec<String> = header_fields(&head)
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("from"))
        .map(|(_, value)| value)
        .collect();
    match froms.as_slice() {
        [] => Ok(None),
        [value] => parse_from_value(value),
        _ => Err("554 Transaction failed: Duplicate header 'From'.".into()),
    }
}

/// The header fields, unfolded: (name, value).
fn header_fields(head: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, rest)) = line.split_once(':') {
            fields.push((name.trim_end().to_string(), rest.trim().to_string()));
        }
    }
    fields
}

/// Splits an address list at top-level commas (not inside quotes, angle brackets or
/// comments).
fn split_mailboxes(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut depth) = (Vec::new(), 0, false, 0i32);
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' | '(' if !quoted => depth += 1,
            '>' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// One mailbox: (address, display name).
fn parse_mailbox(text: &str) -> (String, Option<String>) {
    if let (Some(open), Some(close)) = (text.find('<'), text.rfind('>'))
        && open < close
    {
        let name = text[..open].trim().trim_matches('"').trim();
        let address = text[open + 1..close].trim().to_string();
        return (address, (!name.is_empty()).then(|| name.to_string()));
    }
    // Drop a trailing "(comment)".
    let address = match text.find('(') {
        Some(p) => &text[..p],
        None => text,
    };
    (address.trim().to_string(), None)
}

/// The refusal for an address with a control character, naming the part that holds it.
fn illegal_address(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    if local.chars().any(char::is_control) {
        // Shown escaped: a simulator must not send raw control bytes back to any client.
        let shown = crate::engine::escape::escape_str(address);
        return Some(format!(
            "554 Transaction failed: Address contains illegal characters in user name: '<{shown}>'."
        ));
    }
    domain
        .chars()
        .any(char::is_control)
        .then(|| "554 Transaction failed: Domain contains illegal character".to_string())
}

fn parse_from_value(value: &str) -> Result<Option<FromHeader>, String> {
    let mailboxes: Vec<(String, Option<String>)> = split_mailboxes(value)
        .into_iter()
        .map(parse_mailbox)
        .collect();
    if let Some(reply) = mailboxes.iter().find_map(|(a, _)| illegal_address(a)) {
        return Err(reply);
    }
    let mut valid = mailboxes.into_iter().filter(|(a, _)| is_valid_address(a));
    let Some((address, display_name)) = valid.next() else {
        return Ok(None);
    };
    Ok(Some(FromHeader {
        address,
        display_name,
        others: valid.map(|(a, _)| a).collect(),
    }))
}

fn is_verified(address: &str, verified: &[String]) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    verified
        .iter()
        .any(|v| v.eq_ignore_ascii_case(address) || v.eq_ignore_ascii_case(domain))
}

impl SimAccount {
    /// Runs SES's end-of-data checks on a transaction and, if it passes, keeps the message.
    pub(crate) fn deliver(&self, tx: Transaction<'_>) -> Verdict {
        let cfg = &self.config;
        let Some(user) = cfg.users.get(tx.user) else {
            return Verdict::rejected("451 Temporary service failure", None);
        };
        if tx.size > cfg.limits.max_message_bytes {
            return Verdict::rejected("552 Message is too long.", None);
        }
        if tx.recipients.len() > cfg.limits.max_recipients {
            return Verdict::rejected(
                format!(
                    "554 Transaction failed: Recipient count exceeds {}.",
                    cfg.limits.max_recipients
                ),
                None,
            );
        }

        // Header checks come first: SES validates the message before authorizing it.
        let header = match check_from(&tx.body) {
            Ok(h) => h,
            Err(reply) => {
                return Verdict::rejected(reply, Some("the From header was refused".into()));
            }
        };
        let from = header
            .as_ref()
            .map_or(tx.mail_from, |h| h.address.as_str())
            .to_string();
        let stand_in = user.apparent_source_ip.or(cfg.apparent_source_ip);
        let source_ip: IpAddr = stand_in.unwrap_or_else(|| tx.peer.ip().to_canonical());
        let sandbox = user.sandbox.unwrap_or(cfg.sandbox);

        // IAM: the sending identity first; in the sandbox, each recipient's identity too
        // (SES's mailbox simulator excepted: the sandbox lets everyone send to it).
        let mut resources = vec![sending_identity(&from, &cfg.verified_identities)];
        if sandbox {
            for r in tx.recipients.iter().filter(|r| !is_mailbox_simulator(r)) {
                let id = sending_identity(r, &cfg.verified_identities);
                if !resources.contains(&id) {
                    resources.push(id);
                }
            }
        }
        for identity in &resources {
            let resource = identity_arn(&cfg.region, &cfg.account, identity);
            let mut ctx = RequestContext::smtp_send(resource.clone(), source_ip);
            ctx.from_address = Some(from.clone());
            ctx.from_display_name = header.as_ref().and_then(|h| h.display_name.clone());
            ctx.recipients = tx.recipients.to_vec();
            ctx.feedback_address = (!tx.mail_from.is_empty()).then(|| tx.mail_from.to_string());
            let decision = evaluate(&user.policies, &ctx);
            if !decision.allowed() {
                let arn = user_arn(&cfg.account, &user.name);
                let mut verdict = Verdict::rejected(
                    access_denied_reply(&arn, SEND_RAW_EMAIL, &resource),
                    Some(format!(
                        "IAM (aws:SourceIp {source_ip}): {}",
                        decision.explain().replace("\n  ", " | ")
                    )),
                );
                verdict.authorization = Some(Box::new(Authorization {
                    user_arn: arn,
                    action: ctx.action,
                    resource,
                    source_ip,
                    source_ip_stand_in: stand_in.is_some(),
                    decision,
                }));
                return verdict;
            }
        }

        // Verification: the From and MAIL FROM identities always; recipients in the sandbox.
        let mut unverified: Vec<String> = Vec::new();
        let mut check = |address: &str| {
            if !address.is_empty()
                && !is_verified(address, &cfg.verified_identities)
                && !unverified.iter().any(|u| u.eq_ignore_ascii_case(address))
            {
                unverified.push(address.to_string());
            }
        };
        check(&from);
        for other in header.iter().flat_map(|h| &h.others) {
            check(other);
        }
        check(tx.mail_from);
        if sandbox {
            tx.recipients
                .iter()
                .filter(|r| !is_mailbox_simulator(r))
                .for_each(|r| check(r));
        }
        if !unverified.is_empty() {
            return Verdict::rejected(
                format!(
                    "554 Message rejected: Email address is not verified. The following identities failed the check in region {}: {}",
                    cfg.region.to_ascii_uppercase(),
                    unverified.join(", ")
                ),
                None,
            );
        }

        if let Err(throttle) = self.charge(tx.user, tx.recipients.len() as u64, Instant::now()) {
            return Verdict::rejected(throttle.reply(), None);
        }

        let now = Utc::now();
        let id = ids::message_id(now);
        let stored = self.mailbox.push(StoredMessage {
            id: id.clone(),
            received_at: now,
            peer: tx.peer,
            user: user.name.clone(),
            mail_from: tx.mail_from.to_string(),
            recipients: tx.recipients.to_vec(),
            from_header: header.map(|h| h.address),
            data: tx.body,
        });
        Verdict {
            reply: format!("250 Ok {id}"),
            accepted: Some(stored),
            note: None,
            authorization: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sim::config::SimConfig;

    #[test]
    fn from_header_forms() {
        let h = |text: &str| from_header(text.as_bytes());
        assert_eq!(
            h("Subject: x\r\nFrom: Alice Example <alice@example.com>\r\n\r\nbody"),
            Some(FromHeader {
                address: "alice@example.com".into(),
                display_name: Some("Alice Example".into()),
                others: vec![],
            })
        );
        assert_eq!(
            h("FROM:\r\n \"Ops, Team\"\r\n\t<ops@example.org>\r\nTo: x@y.z\r\n\r\n")
                .unwrap()
                .address,
            "ops@example.org"
        );
        assert_eq!(
            h("From: bob@example.net (Bob)\r\n\r\n").unwrap().address,
            "bob@example.net"
        );
        assert_eq!(h("To: a@b.c\r\n\r\nFrom: not@header.example\r\n"), None);
        assert_eq!(h("From: garbage\r\n\r\n"), None);
        assert_eq!(h(""), None);
    }

    fn tx<'a>(user: usize, from: &'a str, rcpts: &'a [String], body: &str) -> Transaction<'a> {
        Transaction {
            user,
            peer: "127.0.0.1:40000".parse().unwrap(),
            mail_from: from,
            recipients: rcpts,
            body: body.as_bytes().to_vec(),
            size: body.len(),
        }
    }

    fn user_index(account: &SimAccount, name: &str) -> usize {
        account
            .config
            .users
            .iter()
            .position(|u| u.name == name)
            .unwrap()
    }

    #[test]
    fn the_checks_in_ses_order() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let good = user_index(&account, "good");
        let one = vec!["rcpt@example.org".to_string()];
        let body = "From: sender@example.com\r\nSubject: t\r\n\r\nhi\r\n";

        let v = account.deliver(tx(good, "sender@example.com", &one, body));
        assert!(v.reply.starts_with("250 Ok 0100"), "{}", v.reply);
        assert_eq!(account.mailbox.len(), 1);

        let mut big = tx(good, "sender@example.com", &one, body);
        big.size = account.config.limits.max_message_bytes + 1;
        assert_eq!(account.deliver(big).reply, "552 Message is too long.");

        let many: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
        assert_eq!(
            account
                .deliver(tx(good, "sender@example.com", &many, body))
                .reply,
            "554 Transaction failed: Recipient count exceeds 50."
        );

        let v = account.deliver(tx(
            good,
            "root@ip-172-31-0-1.ec2.internal",
            &one,
            "From: root@ip-172-31-0-1.ec2.internal\r\n\r\n",
        ));
        assert_eq!(
            v.reply,
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: root@ip-172-31-0-1.ec2.internal"
        );
        assert_eq!(account.mailbox.len(), 1);
    }

    #[test]
    fn ip_restricted_user_is_denied_from_loopback() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let user = user_index(&account, "ip-restricted");
        let one = vec!["rcpt@example.org".to_string()];
        let v = account.deliver(tx(
            user,
            "policy-fail@example.com",
            &one,
            "From: policy-fail@example.com\r\n\r\nx\r\n",
        ));
        assert_eq!(
            v.reply,
            "554 Access denied: User `arn:aws:iam::123456789012:user/ip-restricted' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
        );
        assert!(v.note.unwrap().contains("127.0.0.1"));
    }

    /// The 554's decision as data: the policy, statement and condition that decided, and the
    /// address aws:SourceIp was evaluated with (the connection's, or the configured stand-in).
    #[test]
    fn denied_decisions_name_policy_statement_condition_and_ip() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let one = vec!["rcpt@example.org".to_string()];
        let body = "From: a@example.com\r\n\r\nx\r\n";
        for (name, policy, sid, allowed, ip, stand_in) in [
            (
                "ip-restricted",
                "source-ip-office.json",
                Some("AllowOffice"),
                "203.0.113.0/24",
                "127.0.0.1",
                false,
            ),
            (
                "loopback-remote",
                "source-ip-127.json",
                None,
                "127.0.0.1/32",
                "203.0.113.5",
                true,
            ),
        ] {
            let user = user_index(&account, name);
            let v = account.deliver(tx(user, "a@example.com", &one, body));
            assert!(
                v.reply.starts_with("554 Access denied"),
                "{name}: {}",
                v.reply
            );
            let a = v.authorization.expect("the denial carries its decision");
            assert_eq!(a.user_arn, format!("arn:aws:iam::123456789012:user/{name}"));
            assert_eq!(a.action, "ses:SendRawEmail");
            assert_eq!(
                a.resource,
                "arn:aws:ses:us-east-1:123456789012:identity/example.com"
            );
            assert_eq!(a.source_ip.to_string(), ip, "{name}");
            assert_eq!(a.source_ip_stand_in, stand_in, "{name}");
            let deciding = a.decision.deciding();
            let [st] = deciding.as_slice() else {
                panic!("{name}: one deciding statement, not {deciding:?}")
            };
            assert_eq!(st.statement.policy_name.as_deref(), Some(policy));
            assert_eq!((st.statement.number, st.statement.sid.as_deref()), (1, sid));
            assert_eq!(st.effect, crate::engine::iam::Effect::Allow);
            assert!(!st.applies);
            let c = st.deciding_condition().expect("a condition decided");
            assert_eq!(
                (c.operator.as_str(), c.key.as_str(), c.held),
                ("IpAddress", "aws:SourceIp", false)
            );
            assert_eq!(c.values, vec![allowed.to_string()]);
            assert_eq!(c.request, vec![ip.to_string()]);
            assert_eq!(
                a.summary(),
                format!("denied by {policy}: aws:SourceIp {ip} not in {allowed}")
            );
            assert!(
                a.explanation()
                    .iter()
                    .any(|l| l.starts_with(&format!("aws:SourceIp was {ip}: the IP SES saw"))),
                "{:?}",
                a.explanation()
            );
        }
        // An accepted message has no denial to explain.
        let good = user_index(&account, "good");
        let v = account.deliver(tx(good, "sender@example.com", &one, body));
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
        assert!(v.authorization.is_none());
    }

    #[test]
    fn the_article_policy_both_ways() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let one = vec!["rcpt@example.org".to_string()];
        let body = "From: a@example.com\r\n\r\nx\r\n";
        let near = user_index(&account, "loopback-only");
        let far = user_index(&account, "loopback-remote");
        assert!(
            account
                .deliver(tx(near, "a@example.com", &one, body))
                .reply
                .starts_with("250 Ok ")
        );
        assert!(
            account
                .deliver(tx(far, "a@example.com", &one, body))
                .reply
                .starts_with(
                    "554 Access denied: User `arn:aws:iam::123456789012:user/loopback-remote'"
                )
        );
    }

    #[test]
    fn sandbox_checks_recipients_and_uses_the_from_header() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let user = user_index(&account, "sandbox-user");
        let rcpts = vec![
            "friend@example.org".to_string(),
            "colleague@example.com".to_string(),
            "other@gmail.example".to_string(),
        ];
        let v = account.deliver(tx(
            user,
            "bounce@example.com",
            &rcpts,
            "From: Me <me@example.net>\r\n\r\nx\r\n",
        ));
        assert_eq!(
            v.reply,
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: me@example.net, friend@example.org, other@gmail.example"
        );
    }

    #[test]
    fn the_sandbox_lets_anyone_send_to_the_mailbox_simulator() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let user = user_index(&account, "sandbox-user");
        let body = "From: bounce@example.com\r\n\r\nx\r\n";
        let to = vec!["success@simulator.amazonses.com".to_string()];
        let v = account.deliver(tx(user, "bounce@example.com", &to, body));
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
        // Only that domain: a look-alike is an ordinary unverified recipient.
        let to = vec!["success@simulator.amazonses.com.example".to_string()];
        let v = account.deliver(tx(user, "bounce@example.com", &to, body));
        assert!(v.reply.starts_with("554 Message rejected"), "{}", v.reply);
    }

    #[test]
    fn sandbox_account_from_the_example_config() {
        let config = SimConfig::from_toml_str(
            include_str!("../../../assets/sim/sandbox.toml"),
            std::path::Path::new("/nonexistent"),
        )
        .unwrap();
        let account = SimAccount::new(config);
        let verified = vec!["friend@example.org".to_string()];
        let v = account.deliver(tx(
            0,
            "me@example.com",
            &verified,
            "From: me@example.com\r\n\r\n",
        ));
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
        let other = vec!["someone@gmail.example".to_string()];
        assert_eq!(
            account
                .deliver(tx(
                    0,
                    "me@example.com",
                    &other,
                    "From: me@example.com\r\n\r\n"
                ))
                .reply,
            "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: someone@gmail.example"
        );
    }

    #[test]
    fn from_restricted_policy_sees_the_header_address() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let user = user_index(&account, "from-restricted");
        let one = vec!["rcpt@example.org".to_string()];
        // The envelope says noreply, the header says otherwise: the header decides.
        let v = account.deliver(tx(
            user,
            "noreply@example.com",
            &one,
            "From: ceo@example.com\r\n\r\n",
        ));
        assert!(v.reply.starts_with("554 Access denied"), "{}", v.reply);
        let v = account.deliver(tx(
            user,
            "bounces@example.com",
            &one,
            "From: No Reply <noreply@example.com>\r\n\r\n",
        ));
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
        // Without a From header, MAIL FROM stands in.
        let v = account.deliver(tx(user, "noreply@example.com", &one, "Subject: x\r\n\r\n"));
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
    }

    #[test]
    fn from_headers_ses_refuses() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let good = user_index(&account, "good");
        let one = vec!["rcpt@example.org".to_string()];
        let deliver = |body: &str| account.deliver(tx(good, "sender@example.com", &one, body));
        // Two From headers: From may appear only once.
        let v = deliver("From: a@example.com\r\nSubject: x\r\nFROM: b@example.com\r\n\r\nx\r\n");
        assert_eq!(v.reply, "554 Transaction failed: Duplicate header 'From'.");
        // A second, unverified address in From.
        let v = deliver("From: \"Ops, Team\" <a@example.com>, intruder@evil.example\r\n\r\nx\r\n");
        assert_eq!(
            v.reply,
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: intruder@evil.example"
        );
        // Control characters in the address.
        let v = deliver("From: Eve <ev\u{1b}[2Je@example.com>\r\n\r\nx\r\n");
        assert_eq!(
            v.reply,
            "554 Transaction failed: Address contains illegal characters in user name: '<ev\\x1b[2Je@example.com>'."
        );
        let v = deliver("From: eve@exam\u{7}ple.com\r\n\r\nx\r\n");
        assert_eq!(
            v.reply,
            "554 Transaction failed: Domain contains illegal character"
        );
        assert_eq!(account.mailbox.len(), 0);
        // Each refusal is classified by its catalog entry, which cites SES's documentation.
        for (reply, id) in [
            (
                "554 Transaction failed: Duplicate header 'From'.",
                "ses-duplicate-header",
            ),
            (
                "554 Transaction failed: Address contains illegal characters in user name: '<ev\\x1b[2Je@example.com>'.",
                "ses-illegal-local-part",
            ),
            (
                "554 Transaction failed: Domain contains illegal character",
                "ses-illegal-domain",
            ),
            (
                "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: intruder@evil.example",
                "ses-not-verified",
            ),
        ] {
            let mut parser = crate::engine::reply::ReplyParser::default();
            parser.push(reply.as_bytes());
            parser.push(b"\r\n");
            let parsed = parser.next_reply().unwrap().unwrap();
            let ctx = crate::engine::classify::Context {
                after: Some(crate::engine::command::Verb::DataEnd),
                ..Default::default()
            };
            let d = crate::engine::classify::Catalog::builtin()
                .classify(&parsed, &ctx)
                .diagnosis;
            assert_eq!(d.id.as_deref(), Some(id), "{reply}");
            let source = d.source.unwrap_or_default();
            assert!(
                source.starts_with("https://docs.aws.amazon.com/ses/"),
                "{id}: {source}"
            );
        }
        // Two verified addresses are fine.
        let v = deliver("From: a@example.com, b@example.com\r\n\r\nx\r\n");
        assert!(v.reply.starts_with("250 Ok "), "{}", v.reply);
    }

    #[test]
    fn throttled_user_gets_454() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let user = user_index(&account, "throttled");
        let one = vec!["rcpt@example.org".to_string()];
        let body = "From: a@example.com\r\n\r\nx\r\n";
        assert!(
            account
                .deliver(tx(user, "a@example.com", &one, body))
                .reply
                .starts_with("250 Ok ")
        );
        assert_eq!(
            account.deliver(tx(user, "a@example.com", &one, body)).reply,
            "454 Throttling failure: Maximum sending rate exceeded."
        );
    }
}
