use super::*;

const GOOD: &[u8] = b"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nFrom: Me <me@example.com>\r\nTo: you@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

fn rules(input: &LintInput<'_>) -> Vec<String> {
    lint(input).into_iter().map(|f| f.rule).collect()
}

fn ses(message: &[u8]) -> LintInput<'_> {
    LintInput {
        message,
        mail_from: Some("me@example.com"),
        ses_region: Some("us-east-1"),
        ..LintInput::default()
    }
}

#[test]
fn the_catalog_parses_and_every_rule_used_is_in_it() {
    let cat: Catalog = serde_json::from_str(RULES).unwrap();
    for id in [
        "duplicate-header",
        "ses-duplicate-header",
        "missing-from",
        "missing-date",
        "missing-message-id",
        "from-domain-mismatch",
        "non-ascii-header",
        "long-line",
        "ses-size",
        "server-size",
        "ses-configuration-set",
        "ses-arn-header",
    ] {
        let r = cat.rule.iter().find(|r| r.id == id).unwrap();
        assert!(!r.cite.is_empty() && r.url.starts_with("https://"), "{id}");
    }
}

#[test]
fn a_good_message_has_no_findings() {
    assert!(lint(&ses(GOOD)).is_empty(), "{:?}", lint(&ses(GOOD)));
}

#[test]
fn duplicate_content_type_is_named_with_the_ses_reply() {
    let mut m = GOOD.to_vec();
    m.splice(
        0..0,
        b"Content-Type: text/plain\r\ncontent-type: text/html\r\n"
            .iter()
            .copied(),
    );
    let found = lint(&ses(&m));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "duplicate-header");
    assert!(
        found[0].text.contains("Duplicate header 'Content-Type'"),
        "{}",
        found[0].text
    );
    assert!(found[0].line().contains("RFC 5322 §3.6"));
    // Not SES: the RFC rule still applies, without SES's reply.
    let plain = lint(&LintInput {
        message: &m,
        ..LintInput::default()
    });
    assert!(!plain[0].text.contains("SES"));
}

#[test]
fn dkim_signature_twice_matters_only_to_ses() {
    let mut m = b"DKIM-Signature: a\r\nDKIM-Signature: b\r\n".to_vec();
    m.extend_from_slice(GOOD);
    assert_eq!(rules(&ses(&m)), ["ses-duplicate-header"]);
    assert!(
        rules(&LintInput {
            message: &m,
            ..LintInput::default()
        })
        .is_empty()
    );
    // Received may appear many times.
    let mut r = b"Received: a\r\nReceived: b\r\n".to_vec();
    r.extend_from_slice(GOOD);
    assert!(rules(&ses(&r)).is_empty());
}

#[test]
fn missing_required_headers() {
    let m = b"Subject: x\r\n\r\nbody\r\n";
    assert_eq!(
        rules(&LintInput {
            message: m,
            ..LintInput::default()
        }),
        ["missing-from", "missing-date", "missing-message-id"]
    );
}

#[test]
fn from_domain_must_match_mail_from_for_ses() {
    let input = LintInput {
        mail_from: Some("bounce@other.example"),
        ..ses(GOOD)
    };
    assert_eq!(rules(&input), ["from-domain-mismatch"]);
    let same_domain = LintInput {
        mail_from: Some("bounce@EXAMPLE.com"),
        ..ses(GOOD)
    };
    assert!(rules(&same_domain).is_empty());
}

#[test]
fn non_ascii_headers_need_encoding_or_smtputf8() {
    let mut m = "Subject: caf\u{e9}\r\n".as_bytes().to_vec();
    m.extend_from_slice(GOOD);
    let input = LintInput {
        message: &m,
        ..LintInput::default()
    };
    assert_eq!(rules(&input), ["duplicate-header", "non-ascii-header"]);
    let utf8 = LintInput {
        smtputf8: true,
        ..input
    };
    assert_eq!(rules(&utf8), ["duplicate-header"]);
}

#[test]
fn long_lines_reuse_the_encoder_count() {
    let mut m = GOOD.to_vec();
    m.extend(vec![b'a'; MAX_LINE_OCTETS + 1]);
    assert_eq!(rules(&ses(&m)), ["long-line"]);
    let mut ok = GOOD.to_vec();
    ok.extend(vec![b'a'; MAX_LINE_OCTETS]);
    assert!(rules(&ses(&ok)).is_empty());
}

#[test]
fn size_against_ses_and_the_servers_size() {
    let limit = ses_max_message_bytes();
    let over = LintInput {
        wire_size: Some(limit + 1),
        ..ses(GOOD)
    };
    assert_eq!(rules(&over), ["ses-size"]);
    assert!(
        rules(&LintInput {
            wire_size: Some(limit),
            ..ses(GOOD)
        })
        .is_empty()
    );
    let other = LintInput {
        message: GOOD,
        wire_size: Some(2000),
        server_size: Some(1000),
        ..LintInput::default()
    };
    assert_eq!(rules(&other), ["server-size"]);
    assert!(
        rules(&LintInput {
            server_size: Some(2000),
            ..other
        })
        .is_empty()
    );
}

#[test]
fn ses_headers_are_named_and_arns_checked_against_the_region() {
    let mut m = b"X-SES-CONFIGURATION-SET: tracking\r\n".to_vec();
    m.extend_from_slice(
        b"X-SES-SOURCE-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n",
    );
    m.extend_from_slice(
        b"X-SES-FROM-ARN: arn:aws:ses:eu-west-1:123456789012:identity/example.com\r\n",
    );
    m.extend_from_slice(b"X-SES-RETURN-PATH-ARN: example.com\r\n");
    m.extend_from_slice(GOOD);
    let found = lint(&ses(&m));
    let got: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        got,
        ["ses-configuration-set", "ses-arn-header", "ses-arn-header"]
    );
    assert!(found[0].text.contains("\"tracking\"") && found[0].text.contains("us-east-1"));
    assert!(found[1].text.contains("X-SES-FROM-ARN") && found[1].text.contains("eu-west-1"));
    assert!(found[2].text.contains("not an ARN"));
    // Not SES: no SES rules.
    assert!(
        rules(&LintInput {
            message: &m,
            ..LintInput::default()
        })
        .is_empty()
    );
}

#[test]
fn arn_shapes() {
    assert!(
        arn_problem(
            "arn:aws:ses:us-east-1:123456789012:identity/a@b.c",
            "us-east-1"
        )
        .is_none()
    );
    for bad in [
        "arn:aws:sns:us-east-1:123456789012:identity/x",
        "arn:aws:ses:us-east-1:12345:identity/x",
        "arn:aws:ses:us-east-1:123456789012:configuration-set/x",
        "arn:aws:ses:us-east-1:123456789012:identity/",
    ] {
        assert!(arn_problem(bad, "us-east-1").is_some(), "{bad}");
    }
}
