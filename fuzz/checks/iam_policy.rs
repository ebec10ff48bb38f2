//! IAM policy parsing and evaluation on arbitrary input.
//!
//! Input: `policy JSON` 0xFF `resource` \n `source IP` \n `From` \n `recipients` \n `epoch`.
//! Checks: no panic; evaluation is deterministic; attaching the same policy twice, or adding
//! a policy about another action, never changes the decision; the explanation names the
//! verdict.

use std::net::IpAddr;

use smtpscope::engine::iam::{Policy, RequestContext, evaluate};

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let Ok(json) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let policy = match Policy::from_json(json) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let tail = String::from_utf8_lossy(data.get(split + 1..).unwrap_or_default()).into_owned();
    let mut fields = tail.split('\n');
    let resource = fields
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("arn:aws:ses:us-east-1:123456789012:identity/example.com");
    let ip: IpAddr = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| "127.0.0.1".parse().unwrap());
    let mut ctx = RequestContext::smtp_send(resource, ip);
    ctx.from_address = fields.next().map(str::to_string);
    ctx.recipients = fields
        .next()
        .map(|r| r.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(t) = fields
        .next()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
    {
        ctx.current_time = t;
    }

    let one = evaluate(std::slice::from_ref(&policy), &ctx);
    let again = evaluate(std::slice::from_ref(&policy), &ctx);
    assert_eq!(one, again, "evaluation is not deterministic");
    let twice = evaluate(&[policy.clone(), policy.clone()], &ctx);
    assert_eq!(
        one.kind, twice.kind,
        "a duplicate policy changed the decision"
    );
    let unrelated = Policy::from_json(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:GetSendQuota","Resource":"*"}]}"#,
    )
    .expect("valid policy");
    let with_unrelated = evaluate(&[policy, unrelated], &ctx);
    assert_eq!(
        one.kind, with_unrelated.kind,
        "an unrelated policy changed the decision"
    );
    let explained = one.explain();
    assert!(explained.starts_with("ALLOWED") || explained.starts_with("DENIED"));
}
