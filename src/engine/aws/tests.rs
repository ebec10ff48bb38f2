use super::*;

const ACCOUNT: &str = "111122223333";
const KEY: &str = "AKIAEXAMPLEDIAGNOSE1";

fn allow_all() -> PolicyText {
    inline(
        "send",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Send","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#,
    )
}

fn inline(name: &str, document: &str) -> PolicyText {
    PolicyText {
        name: name.into(),
        place: PolicyPlace::UserInline,
        document: document.into(),
    }
}

fn question() -> SendQuestion {
    SendQuestion {
        access_key_id: KEY.into(),
        region: "eu-west-1".into(),
        from: "app@example.com".into(),
        from_display_name: None,
        recipients: vec!["someone@example.org".into()],
        source_ip: Some("203.0.113.5".parse().unwrap()),
        time: "2026-12-01T12:00:00Z".parse().unwrap(),
    }
}

fn user(policies: Vec<PolicyText>, boundary: Option<PolicyText>, status: &str) -> KeyOwner {
    KeyOwner::User(Box::new(UserFacts {
        name: "smtp-app".into(),
        keys: Ok(vec![KeyInfo {
            access_key_id: KEY.into(),
            status: status.into(),
            created: Some("2026-11-20T00:00:00Z".parse().unwrap()),
        }]),
        policies: Ok(policies),
        boundary: Ok(boundary),
    }))
}

fn facts(owner: KeyOwner) -> AwsFacts {
    AwsFacts {
        account: Ok(ACCOUNT.into()),
        owner,
        identities: Ok(vec![
            ("app@example.com".into(), None),
            ("example.com".into(), Some("Success".into())),
            ("someone@example.org".into(), None),
            ("example.org".into(), None),
        ]),
        sending: Ok(SendingStatus {
            production_access: true,
            sending_enabled: true,
            max_24_hour_send: 50_000.0,
            max_send_rate: 14.0,
            sent_last_24_hours: 0.0,
        }),
    }
}

#[test]
fn an_allowed_verified_send_is_accepted() {
    let d = diagnose(&question(), &facts(user(vec![allow_all()], None, "Active")));
    assert_eq!(d.outcome, Some(Outcome::Accepted), "{d:#?}");
    assert_eq!(d.exit_code(), 0);
    assert_eq!(d.reply, None);
    assert!(d.findings.iter().any(|f| f.contains("created 2026-11-20")));
}

#[test]
fn an_unknown_key_gets_535() {
    let d = diagnose(&question(), &facts(KeyOwner::Unknown));
    assert_eq!(d.outcome, Some(Outcome::AuthenticationFailed));
    assert_eq!(d.exit_code(), 6);
    assert_eq!(d.reply.as_deref(), Some(BAD_CREDENTIALS_REPLY));
    assert!(
        d.reason.contains("unknown to account 111122223333"),
        "{}",
        d.reason
    );
}

#[test]
fn an_inactive_key_gets_535_with_its_age() {
    let d = diagnose(
        &question(),
        &facts(user(vec![allow_all()], None, "Inactive")),
    );
    assert_eq!(d.outcome, Some(Outcome::AuthenticationFailed));
    assert!(
        d.reason
            .contains("is Inactive, created 2026-11-20 (11 days ago)"),
        "{}",
        d.reason
    );
}

#[test]
fn a_temporary_key_gets_535() {
    let d = diagnose(&question(), &facts(KeyOwner::Temporary));
    assert_eq!(d.outcome, Some(Outcome::AuthenticationFailed));
    assert!(d.reason.contains("temporary"));
}

#[test]
fn a_source_ip_condition_names_statement_and_addresses() {
    let p = inline(
        "ses-from-office",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowOfficeOnly","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}}]}"#,
    );
    let d = diagnose(&question(), &facts(user(vec![p], None, "Active")));
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert_eq!(d.exit_code(), 9);
    let deciding = d.deciding.as_ref().unwrap();
    assert_eq!(
        deciding.policy,
        "inline policy ses-from-office on user smtp-app"
    );
    assert_eq!(deciding.sid.as_deref(), Some("AllowOfficeOnly"));
    assert_eq!(
        deciding.condition.as_deref(),
        Some("aws:SourceIp 203.0.113.5 not in 198.51.100.0/24")
    );
    assert_eq!(
        d.reply.as_deref(),
        Some(
            "554 Access denied: User `arn:aws:iam::111122223333:user/smtp-app' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:eu-west-1:111122223333:identity/example.com'"
        )
    );
}

#[test]
fn an_unknown_source_ip_says_what_the_policy_requires() {
    let p = inline(
        "ses-from-office",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowOfficeOnly","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}}]}"#,
    );
    let mut q = question();
    q.source_ip = None;
    let d = diagnose(&q, &facts(user(vec![p], None, "Active")));
    assert!(
        d.not_checked
            .iter()
            .any(|n| n.contains("source address is unknown")
                && n.contains("applies only when: aws:SourceIp IpAddress [198.51.100.0/24]")),
        "{:#?}",
        d.not_checked
    );
    // Without an IP condition, nothing is said about the address.
    let mut q = question();
    q.source_ip = None;
    let d = diagnose(&q, &facts(user(vec![allow_all()], None, "Active")));
    assert!(!d.not_checked.iter().any(|n| n.contains("source address")));
}

#[test]
fn an_explicit_deny_in_a_group_wins() {
    let deny = PolicyText {
        name: "no-outside".into(),
        place: PolicyPlace::GroupInline {
            group: "mailers".into(),
        },
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutside","Effect":"Deny","Action":"ses:*","Resource":"*","Condition":{"ForAnyValue:StringNotLike":{"ses:Recipients":["*@example.com"]}}}]}"#.into(),
    };
    let d = diagnose(
        &question(),
        &facts(user(vec![allow_all(), deny], None, "Active")),
    );
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    let deciding = d.deciding.unwrap();
    assert_eq!(deciding.policy, "inline policy no-outside on group mailers");
    assert_eq!(deciding.effect, "Deny");
    assert!(d.reason.contains("explicit deny"), "{}", d.reason);
}

#[test]
fn a_boundary_without_send_raw_email_caps_the_allow() {
    let boundary = PolicyText {
        name: "ses-api-only".into(),
        place: PolicyPlace::Boundary {
            arn: "arn:aws:iam::111122223333:policy/ses-api-only".into(),
        },
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#.into(),
    };
    let d = diagnose(
        &question(),
        &facts(user(vec![allow_all()], Some(boundary.clone()), "Active")),
    );
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert!(
        d.reason.contains("permissions boundary ses-api-only"),
        "{}",
        d.reason
    );
    assert_eq!(
        d.deciding.unwrap().policy,
        "permissions boundary ses-api-only"
    );
    // The same boundary allowing ses:SendRawEmail lets the send through.
    let mut ok = boundary;
    ok.document = ok.document.replace("ses:SendEmail", "ses:Send*");
    let d = diagnose(
        &question(),
        &facts(user(vec![allow_all()], Some(ok), "Active")),
    );
    assert_eq!(d.outcome, Some(Outcome::Accepted), "{d:#?}");
}

#[test]
fn from_address_and_recipients_conditions() {
    let p = inline(
        "scoped",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoreplyToExampleOrg","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"noreply@example.com"},"ForAllValues:StringLike":{"ses:Recipients":["*@example.org"]}}}]}"#,
    );
    let d = diagnose(&question(), &facts(user(vec![p.clone()], None, "Active")));
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert!(
        d.deciding
            .unwrap()
            .condition
            .unwrap()
            .starts_with("ses:FromAddress app@example.com")
    );
    let mut q = question();
    q.from = "noreply@example.com".into();
    q.recipients = vec!["x@example.net".into()];
    let d = diagnose(&q, &facts(user(vec![p], None, "Active")));
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert!(
        d.deciding
            .unwrap()
            .condition
            .unwrap()
            .starts_with("ses:Recipients x@example.net"),
    );
}

#[test]
fn an_unverified_from_gets_554_message_rejected() {
    let mut q = question();
    q.from = "app@unverified.example".into();
    let d = diagnose(&q, &facts(user(vec![allow_all()], None, "Active")));
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert_eq!(d.exit_code(), 9);
    assert_eq!(
        d.reply.as_deref(),
        Some(
            "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: app@unverified.example"
        )
    );
}

#[test]
fn the_sandbox_requires_verified_recipients_and_an_unread_sandbox_is_not_checked() {
    let mut f = facts(user(vec![allow_all()], None, "Active"));
    if let Ok(s) = &mut f.sending {
        s.production_access = false;
    }
    let d = diagnose(&question(), &f);
    assert_eq!(d.outcome, Some(Outcome::AuthorizationDenied));
    assert!(d.reply.unwrap().ends_with(": someone@example.org"));
    f.sending = Err(Unseen::NotImplemented {
        call: "sesv2:GetAccount",
    });
    let d = diagnose(&question(), &f);
    assert_eq!(d.outcome, Some(Outcome::Accepted));
    assert!(
        d.not_checked
            .iter()
            .any(|n| n.contains("sesv2:GetAccount: this endpoint does not implement it")),
        "{:#?}",
        d.not_checked
    );
    assert!(
        d.not_checked
            .iter()
            .any(|n| n.contains("recipients must be verified"))
    );
}

#[test]
fn a_refused_call_names_its_permission_and_nothing_is_predicted() {
    let mut owner = user(vec![allow_all()], None, "Active");
    if let KeyOwner::User(u) = &mut owner {
        u.policies = Err(Unseen::NotAllowed {
            call: "iam:ListUserPolicies",
            permission: "iam:ListUserPolicies",
        });
    }
    let d = diagnose(&question(), &facts(owner));
    assert_eq!(d.outcome, None);
    assert_eq!(d.exit_code(), 1);
    assert!(
        d.not_checked[0].contains("needs iam:ListUserPolicies"),
        "{:#?}",
        d.not_checked
    );
    // The limits are always listed.
    assert!(
        d.not_checked
            .iter()
            .any(|n| n.contains("service control policies"))
    );
}

#[test]
fn identities_asked_about_are_from_recipients_and_their_domains() {
    let mut q = question();
    q.recipients.push("Someone@Example.org".into());
    assert_eq!(
        q.identities(),
        [
            "app@example.com",
            "example.com",
            "someone@example.org",
            "example.org"
        ]
    );
}

/// The least-privilege policy shipped for the checker allows every call the reader makes,
/// and nothing that sends mail.
#[test]
fn the_shipped_read_only_policy_covers_every_call_and_cannot_send() {
    let text = include_str!("../../../assets/aws/aws-diagnose-readonly.json");
    let policy = Policy::from_json(text).unwrap();
    let reader = include_str!("read.rs");
    // Every `unseen("call", "permission", …)` names the permission the call needs.
    let permissions: Vec<&str> = reader
        .split("unseen(")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(3))
        .filter(|p| p.contains(':'))
        .collect();
    assert!(permissions.len() >= 12, "{permissions:?}");
    let resource = iam::identity_arn("us-east-1", ACCOUNT, "example.com");
    for permission in permissions {
        let mut ctx = RequestContext::smtp_send(resource.clone(), "203.0.113.5".parse().unwrap());
        ctx.action = permission.to_string();
        assert!(
            iam::evaluate(std::slice::from_ref(&policy), &ctx).allowed(),
            "{permission} is not in the read-only policy"
        );
    }
    let ctx = RequestContext::smtp_send(resource, "203.0.113.5".parse().unwrap());
    assert_eq!(
        iam::evaluate(&[policy], &ctx).kind,
        DecisionKind::ImplicitDeny
    );
}
