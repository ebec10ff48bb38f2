//! IAM policy evaluation for SES sends: table tests over the evaluator, the shipped demo
//! policies, and `smtpscope policy check` through the built binary.

use std::net::IpAddr;
use std::process::Command;

use chrono::{DateTime, Utc};
use smtpscope::engine::iam::{
    self, DEMO_POLICIES, DecisionKind, Policy, PolicyError, RequestContext, evaluate,
};

const ACCOUNT: &str = "123456789012";

fn ctx(ip: &str) -> RequestContext {
    let mut c = RequestContext::smtp_send(
        iam::identity_arn("us-east-1", ACCOUNT, "example.com"),
        ip.parse::<IpAddr>().unwrap(),
    );
    c.from_address = Some("sender@example.com".into());
    c.recipients = vec!["a@example.com".into()];
    c.current_time = time("2025-06-15T12:00:00Z");
    c
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn policy(json: &str) -> Policy {
    Policy::from_json(json).unwrap_or_else(|e| panic!("policy should parse: {e}\n{json}"))
}

fn asset(name: &str) -> Policy {
    let text = std::fs::read_to_string(format!(
        "{}/assets/policies/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    policy(&text).with_name(name)
}

/// One Allow statement for ses:SendRawEmail on "*" with the given Condition block.
fn allow_if(condition: &str) -> Policy {
    policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{condition}}}]}}"#
    ))
}

fn kind(policies: &[Policy], c: &RequestContext) -> DecisionKind {
    evaluate(policies, c).kind
}

use DecisionKind::{Allowed, ExplicitDeny, ImplicitDeny};

#[test]
fn seed_policy_allows_only_loopback() {
    let p = [asset("source-ip-127.json")];
    assert_eq!(kind(&p, &ctx("127.0.0.1")), Allowed);
    // An IPv4-mapped IPv6 client is the same address.
    assert_eq!(kind(&p, &ctx("::ffff:127.0.0.1")), Allowed);
    let d = evaluate(&p, &ctx("203.0.113.5"));
    assert_eq!(d.kind, ImplicitDeny);
    assert!(!d.allowed());
    assert_eq!(d.statement, None);
    assert_eq!(
        d.trace,
        [
            "policy source-ip-127.json statement #1: Allow does not apply: condition IpAddress aws:SourceIp [127.0.0.1/32] did not match 203.0.113.5"
        ]
    );
    assert!(d.explain().starts_with("DENIED implicitly"));
}

#[test]
fn office_policy_denies_the_loopback_demo_client() {
    let p = [asset("source-ip-office.json")];
    assert_eq!(kind(&p, &ctx("127.0.0.1")), ImplicitDeny);
    let d = evaluate(&p, &ctx("203.0.113.77"));
    assert_eq!(d.kind, Allowed);
    let s = d.statement.unwrap();
    assert_eq!((s.number, s.sid.as_deref()), (1, Some("AllowOffice")));
    assert_eq!(
        s.to_string(),
        "policy source-ip-office.json statement #1 (Sid AllowOffice)"
    );
}

#[test]
fn explicit_deny_overrides_allow() {
    let deny_tls_off = policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"ses:*","Resource":"*"},
            {"Sid":"NoCleartext","Effect":"Deny","Action":"*","Resource":"*",
             "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    let mut c = ctx("127.0.0.1");
    assert_eq!(kind(std::slice::from_ref(&deny_tls_off), &c), Allowed);
    c.secure_transport = false;
    let d = evaluate(std::slice::from_ref(&deny_tls_off), &c);
    assert_eq!(d.kind, ExplicitDeny);
    assert_eq!(d.statement.unwrap().sid.as_deref(), Some("NoCleartext"));

    // Across policies: an Allow in one, a Deny in another.
    let p = [
        asset("allow-all.json"),
        asset("explicit-deny-outside-recipients.json"),
    ];
    let mut c = ctx("127.0.0.1");
    c.recipients = vec!["a@example.com".into(), "b@example.com".into()];
    assert_eq!(kind(&p, &c), Allowed);
    c.recipients.push("c@elsewhere.org".into());
    let d = evaluate(&p, &c);
    assert_eq!(d.kind, ExplicitDeny);
    let s = d.statement.clone().unwrap();
    assert_eq!((s.policy_index, s.number), (1, 2));
    assert!(
        d.explain().contains("c@elsewhere.org qualifies"),
        "{}",
        d.explain()
    );
}

#[test]
fn action_wildcards_are_case_insensitive() {
    let c = ctx("127.0.0.1");
    for (pattern, expected) in [
        ("ses:SendRawEmail", Allowed),
        ("SES:sendrawemail", Allowed),
        ("ses:Send*", Allowed),
        ("ses:*", Allowed),
        ("*", Allowed),
        ("ses:Send?awEmail", Allowed),
        ("ses:SendEmail", ImplicitDeny),
        ("ses:Send?Email", ImplicitDeny),
        ("sesv2:*", ImplicitDeny),
    ] {
        let p = policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{pattern}","Resource":"*"}}}}"#
        ));
        assert_eq!(kind(&[p], &c), expected, "Action {pattern}");
    }
    // The console's policy does not cover the API's SendEmail, and vice versa.
    let mut api = ctx("127.0.0.1");
    api.action = "ses:SendEmail".into();
    assert_eq!(kind(&[asset("send-email-only.json")], &api), Allowed);
    assert_eq!(kind(&[asset("send-email-only.json")], &c), ImplicitDeny);
}

#[test]
fn resource_wildcards_are_case_sensitive() {
    let c = ctx("127.0.0.1");
    for (pattern, expected) in [
        ("*", Allowed),
        (
            "arn:aws:ses:us-east-1:123456789012:identity/example.com",
            Allowed,
        ),
        ("arn:aws:ses:*:123456789012:identity/*", Allowed),
        ("arn:aws:ses:us-east-?:*:identity/example.*", Allowed),
        (
            "arn:aws:ses:us-east-1:123456789012:identity/Example.com",
            ImplicitDeny,
        ),
        (
            "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
            ImplicitDeny,
        ),
        (
            "arn:aws:ses:us-east-1:123456789012:identity/other.com",
            ImplicitDeny,
        ),
        (
            "arn:aws:ses:us-east-1:123456789012:configuration-set/*",
            ImplicitDeny,
        ),
    ] {
        let p = policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":["{pattern}"]}}]}}"#
        ));
        assert_eq!(kind(&[p], &c), expected, "Resource {pattern}");
    }
    let scoped = [asset("identity-scoped.json")];
    assert_eq!(kind(&scoped, &c), Allowed);
    let mut other = ctx("127.0.0.1");
    other.resource = iam::identity_arn("eu-west-2", ACCOUNT, "example.org");
    let d = evaluate(&scoped, &other);
    assert_eq!(d.kind, ImplicitDeny);
    assert!(
        d.trace[0].contains(
            "resource arn:aws:ses:eu-west-2:123456789012:identity/example.org is not in Resource"
        ),
        "{:?}",
        d.trace
    );
}

#[test]
fn not_action_and_not_resource() {
    let c = ctx("127.0.0.1");
    let not_action = |pat: &str| {
        policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","NotAction":"{pat}","Resource":"*"}}}}"#
        ))
    };
    assert_eq!(kind(&[not_action("ses:SendEmail")], &c), Allowed);
    assert_eq!(kind(&[not_action("ses:Send*")], &c), ImplicitDeny);
    let d = evaluate(&[not_action("ses:Send*")], &c);
    assert!(
        d.trace[0].contains("excluded by NotAction"),
        "{:?}",
        d.trace
    );

    let deny_except = policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"},
            {"Effect":"Deny","Action":"ses:SendRawEmail",
             "NotResource":"arn:aws:ses:*:123456789012:identity/example.com"}]}"#,
    );
    assert_eq!(kind(std::slice::from_ref(&deny_except), &c), Allowed);
    let mut other = c.clone();
    other.resource = iam::identity_arn("us-east-1", ACCOUNT, "example.net");
    assert_eq!(kind(&[deny_except], &other), ExplicitDeny);
}

#[test]
fn for_all_values_string_like_on_recipients() {
    let p = [asset("recipients-example-only.json")];
    let mut c = ctx("127.0.0.1");
    c.recipients = vec!["a@example.com".into(), "b@example.com".into()];
    assert_eq!(kind(&p, &c), Allowed);
    c.recipients.push("c@example.org".into());
    let d = evaluate(&p, &c);
    assert_eq!(d.kind, ImplicitDeny);
    assert!(d.trace[0].contains("c@example.org fails"), "{:?}", d.trace);
    // ForAllValues over an empty set is true.
    c.recipients.clear();
    assert_eq!(kind(&p, &c), Allowed);
}

#[test]
fn for_any_value() {
    let p = [allow_if(
        r#"{"ForAnyValue:StringEquals":{"ses:Recipients":["vip@example.com","boss@example.com"]}}"#,
    )];
    let mut c = ctx("127.0.0.1");
    c.recipients = vec!["x@example.org".into(), "boss@example.com".into()];
    assert_eq!(kind(&p, &c), Allowed);
    c.recipients = vec!["x@example.org".into(), "Boss@example.com".into()];
    assert_eq!(kind(&p, &c), ImplicitDeny);
    c.recipients.clear();
    assert_eq!(kind(&p, &c), ImplicitDeny);
}

#[test]
fn ip_conditions_ipv4_and_ipv6() {
    let p = [allow_if(
        r#"{"IpAddress":{"aws:SourceIp":["2001:db8::/32","192.0.2.10"]}}"#,
    )];
    for (ip, expected) in [
        ("2001:db8::5", Allowed),
        ("2001:db8:ffff::1", Allowed),
        ("2001:db9::1", ImplicitDeny),
        ("192.0.2.10", Allowed),
        ("192.0.2.11", ImplicitDeny),
        ("::1", ImplicitDeny),
    ] {
        assert_eq!(kind(&p, &ctx(ip)), expected, "{ip}");
    }
    let bare_v6 = [allow_if(r#"{"IpAddress":{"aws:SourceIp":"::1"}}"#)];
    assert_eq!(kind(&bare_v6, &ctx("::1")), Allowed);
    assert_eq!(kind(&bare_v6, &ctx("::2")), ImplicitDeny);
    // NotIpAddress with several values: the address must be in none of them.
    let not = [allow_if(
        r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
    )];
    assert_eq!(kind(&not, &ctx("203.0.113.5")), Allowed);
    assert_eq!(kind(&not, &ctx("192.168.1.1")), ImplicitDeny);
    assert_eq!(kind(&not, &ctx("10.1.1.1")), ImplicitDeny);
}

#[test]
fn bool_secure_transport() {
    let p = [allow_if(r#"{"Bool":{"aws:SecureTransport":true}}"#)];
    let mut c = ctx("127.0.0.1");
    assert_eq!(kind(&p, &c), Allowed);
    c.secure_transport = false;
    assert_eq!(kind(&p, &c), ImplicitDeny);
}

#[test]
fn date_conditions() {
    let window = [allow_if(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2025-06-01T00:00:00Z"},
            "DateLessThan":{"aws:CurrentTime":"2025-07-01T00:00:00Z"}}"#,
    )];
    let mut c = ctx("127.0.0.1");
    for (t, expected) in [
        ("2025-06-15T12:00:00Z", Allowed),
        ("2025-05-31T23:59:59Z", ImplicitDeny),
        ("2025-06-01T00:00:00Z", ImplicitDeny),
        ("2025-07-01T00:00:00Z", ImplicitDeny),
        ("2025-06-30T23:59:59Z", Allowed),
    ] {
        c.current_time = time(t);
        assert_eq!(kind(&window, &c), expected, "{t}");
    }
    let inclusive = [allow_if(
        r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-01"}}"#,
    )];
    c.current_time = time("2025-06-01T00:00:00Z");
    assert_eq!(kind(&inclusive, &c), Allowed);
    let epoch = [allow_if(
        r#"{"NumericLessThan":{"aws:EpochTime":1750000000}}"#,
    )];
    c.current_time = DateTime::from_timestamp(1_749_999_999, 0).unwrap();
    assert_eq!(kind(&epoch, &c), Allowed);
    c.current_time = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    assert_eq!(kind(&epoch, &c), ImplicitDeny);
}

#[test]
fn string_operators_and_missing_keys() {
    let mut c = ctx("127.0.0.1");
    c.from_address = Some("NoReply@Example.com".into());
    let cases = [
        (
            r#"{"StringEquals":{"ses:FromAddress":"noreply@example.com"}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringEqualsIgnoreCase":{"ses:FromAddress":"noreply@example.com"}}"#,
            Allowed,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"ses:FromAddress":"noreply@example.com"}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringLike":{"ses:FromAddress":"*@example.com"}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringLike":{"ses:FromAddress":["*@Example.com","x"]}}"#,
            Allowed,
        ),
        (
            r#"{"StringNotEquals":{"ses:FromAddress":["a@b.c","NoReply@Example.com"]}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringNotLike":{"ses:FromAddress":["*@other.com","*@b.c"]}}"#,
            Allowed,
        ),
        (r#"{"StringEquals":{"ses:ApiVersion":"2"}}"#, Allowed),
        // A missing key fails positive operators and satisfies negated ones.
        (
            r#"{"StringEquals":{"ses:FromDisplayName":"Ops"}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringNotEquals":{"ses:FromDisplayName":"Ops"}}"#,
            Allowed,
        ),
        (
            r#"{"StringEqualsIfExists":{"ses:FromDisplayName":"Ops"}}"#,
            Allowed,
        ),
        (
            r#"{"StringEqualsIfExists":{"ses:FromAddress":"x@y.z"}}"#,
            ImplicitDeny,
        ),
        (r#"{"Null":{"ses:FeedbackAddress":"true"}}"#, Allowed),
        (r#"{"Null":{"ses:FeedbackAddress":"false"}}"#, ImplicitDeny),
        // Several keys in one operator are ANDed.
        (
            r#"{"StringLike":{"ses:FromAddress":"*@Example.com","ses:ApiVersion":"1"}}"#,
            ImplicitDeny,
        ),
        (
            r#"{"StringLike":{"ses:FromAddress":"*@Example.com","ses:ApiVersion":"2"}}"#,
            Allowed,
        ),
    ];
    for (condition, expected) in cases {
        assert_eq!(kind(&[allow_if(condition)], &c), expected, "{condition}");
    }
}

#[test]
fn from_address_demo_policy() {
    let p = [asset("from-address-restricted.json")];
    let mut c = ctx("127.0.0.1");
    c.from_address = Some("noreply@example.com".into());
    assert_eq!(kind(&p, &c), Allowed);
    c.from_address = Some("alice@example.com".into());
    let d = evaluate(&p, &c);
    assert_eq!(d.kind, ImplicitDeny);
    assert!(d.trace[0].contains("condition StringEquals ses:FromAddress [noreply@example.com] did not match alice@example.com"), "{:?}", d.trace);
}

#[test]
fn statement_as_object_and_as_array() {
    let obj = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}}"#;
    let arr = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
    let old = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail"],"Resource":"*"}]}"#;
    for text in [obj, arr, old] {
        let p = policy(text);
        assert_eq!(p.statement_count(), 1);
        assert_eq!(kind(&[p], &ctx("127.0.0.1")), Allowed);
    }
}

fn parse_err(text: &str) -> PolicyError {
    match Policy::from_json(text) {
        Ok(_) => panic!("should have been refused: {text}"),
        Err(e) => e,
    }
}

fn cond_err(condition: &str) -> PolicyError {
    parse_err(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S1","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{condition}}}]}}"#
    ))
}

#[test]
fn unknown_operator_and_key_are_errors() {
    let e = cond_err(r#"{"StringSortOf":{"ses:FromAddress":"a@b.c"}}"#);
    assert!(
        matches!(&e, PolicyError::UnknownOperator { operator, .. } if operator == "StringSortOf"),
        "{e:?}"
    );
    assert!(e.to_string().contains("statement #1 (Sid S1)"), "{e}");
    let e = cond_err(r#"{"StringEquals":{"ses:FromAdress":"a@b.c"}}"#);
    assert!(
        matches!(&e, PolicyError::UnknownConditionKey { key, .. } if key == "ses:FromAdress"),
        "{e:?}"
    );
    let e = cond_err(r#"{"StringEquals":{"aws:UserAgent":"x"}}"#);
    assert!(
        matches!(e, PolicyError::UnknownConditionKey { .. }),
        "{e:?}"
    );
}

#[test]
fn bad_values_and_shapes_are_errors() {
    for (condition, what) in [
        (
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
            "bad CIDR",
        ),
        (r#"{"IpAddress":{"aws:SourceIp":"localhost"}}"#, "bad IP"),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"next tuesday"}}"#,
            "bad date",
        ),
        (r#"{"Bool":{"aws:SecureTransport":"yes"}}"#, "bad bool"),
        (
            r#"{"IpAddress":{"ses:FromAddress":"10.0.0.0/8"}}"#,
            "operator/key mismatch",
        ),
        (
            r#"{"StringLike":{"ses:Recipients":"*@example.com"}}"#,
            "multivalued key without set operator",
        ),
        (r#"{"StringEquals":{"ses:FromAddress":[]}}"#, "empty values"),
        (
            r#"{"StringEquals":{"ses:FromAddress":{"nested":1}}}"#,
            "object value",
        ),
        (
            r#"{"ForEveryValue:StringLike":{"ses:Recipients":"*"}}"#,
            "bad set operator",
        ),
    ] {
        let e = Policy::from_json(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{condition}}}]}}"#
        ));
        assert!(e.is_err(), "{what} should be refused");
    }
    let stmt = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
    assert!(matches!(
        parse_err(&stmt(
            r#"{"Effect":"Allow","Principal":"*","Action":"ses:SendRawEmail","Resource":"*"}"#
        )),
        PolicyError::PrincipalNotAllowed { .. }
    ));
    assert!(matches!(
        parse_err(&stmt(
            r#"{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Conditions":{}}"#
        )),
        PolicyError::UnknownElement { .. }
    ));
    assert!(matches!(
        parse_err(&stmt(
            r#"{"Effect":"allow","Action":"ses:SendRawEmail","Resource":"*"}"#
        )),
        PolicyError::BadEffect { .. }
    ));
    assert!(matches!(
        parse_err(&stmt(r#"{"Effect":"Allow","Resource":"*"}"#)),
        PolicyError::MissingElement { .. }
    ));
    assert!(matches!(
        parse_err(&stmt(
            r#"{"Effect":"Allow","Action":"a","NotAction":"b","Resource":"*"}"#
        )),
        PolicyError::ConflictingElements { .. }
    ));
    assert!(matches!(
        parse_err(r#"{"Version":"2012-10-18","Statement":[]}"#),
        PolicyError::UnsupportedVersion(_)
    ));
    assert!(matches!(
        parse_err(r#"{"Version":"2012-10-17","Statement":[]}"#),
        PolicyError::EmptyElement { .. }
    ));
    match parse_err(
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ { \"Effect\": \"Allow\", } ]\n}",
    ) {
        PolicyError::Json { line, column, .. } => assert_eq!((line, column), (3, 39)),
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn every_shipped_policy_parses_and_is_embedded() {
    let dir = format!("{}/assets/policies", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        })
        .collect();
    on_disk.sort();
    assert!(on_disk.len() >= 6, "{on_disk:?}");
    for name in &on_disk {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        Policy::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut embedded: Vec<String> = DEMO_POLICIES.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(
        embedded, on_disk,
        "DEMO_POLICIES and assets/policies/ differ"
    );
    for (name, text) in DEMO_POLICIES {
        assert_eq!(
            *text,
            std::fs::read_to_string(format!("{dir}/{name}")).unwrap()
        );
    }
    // The console's policy, exactly.
    let allow_all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/allow-all.json")).unwrap())
            .unwrap();
    assert_eq!(
        allow_all["Statement"][0],
        serde_json::json!({"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"})
    );
}

#[test]
fn denied_reply_matches_the_seed_transcript_shape() {
    let reply = iam::access_denied_reply(
        &iam::user_arn("xxxxx", "ses-smtp-user.20230808-xxxxx"),
        iam::SEND_RAW_EMAIL,
        &iam::identity_arn("ap-northeast-1", "xxxxx", "example.com"),
    );
    assert_eq!(
        reply,
        "554 Access denied: User `arn:aws:iam::xxxxx:user/ses-smtp-user.20230808-xxxxx' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:xxxxx:identity/example.com'"
    );
    assert_eq!(
        iam::sending_identity("sender@example.com", &[]),
        "example.com"
    );
}

// --- `smtpscope policy check` through the built binary ---------------------------------------

fn check(args: &[&str]) -> (i32, String, String) {
    let dir = format!("{}/assets/policies", env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = args.iter().map(|a| a.replace("@POLICIES", &dir)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_smtpscope"))
        .args(["policy", "check"])
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn binary_policy_check_exit_codes() {
    let base = [
        "--source-ip",
        "127.0.0.1",
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
    ];
    let with = |policy: &str, extra: &[&str]| {
        let mut v = vec!["--policy", policy];
        v.extend_from_slice(&base);
        v.extend_from_slice(extra);
        check(&v)
    };
    let (code, out, err) = with("@POLICIES/source-ip-127.json", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ALLOWED"));

    let (code, out, _) = with(
        "@POLICIES/source-ip-office.json",
        &["--region", "eu-west-2"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:eu-west-2:123456789012:identity/example.com'"), "{out}");

    let (code, out, _) = with("@POLICIES/source-ip-office.json", &["--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "implicit_deny");

    let (code, out, err) = with("@POLICIES/does-not-exist.json", &[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("does-not-exist.json"), "{err}");

    let (code, _, _) = with("@POLICIES/allow-all.json", &["--secure-transport", "maybe"]);
    assert_eq!(code, 2);
}
