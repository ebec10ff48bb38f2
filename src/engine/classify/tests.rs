use super::catalog::{REPLY_FILES, first_chars, literal_prefix};
use super::*;
use crate::engine::iam::Arn;

/// The rfc-codes file as in `assets/`.
const RFC_CODES: &str = crate::engine::builtin_data::RFC_CODES.toml;

/// Every reply file's name and TOML, in the catalog's order.
fn reply_files_toml() -> Vec<(&'static str, &'static str)> {
    REPLY_FILES.iter().map(|f| (f.name, f.toml)).collect()
}

#[test]
fn every_ehlo_says_what_the_server_offers() {
    let postfix = Reply::from_lines(
        250,
        &[
            "mail.example.test",
            "PIPELINING",
            "SIZE 10240000",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "8BITMIME",
            "CHUNKING",
            "DSN",
        ],
    );
    let c = Catalog::builtin().classify(&postfix, &Context::after(Verb::Ehlo));
    let note = c
        .diagnosis
        .notes
        .iter()
        .find(|n| n.starts_with("Offered:"))
        .expect("an offers note");
    for want in [
        "STARTTLS",
        "AUTH PLAIN LOGIN",
        "SIZE 10240000 (10.2 MB)",
        "PIPELINING",
        "8BITMIME",
        "CHUNKING",
        "DSN",
        "Not offered: SMTPUTF8, REQUIRETLS.",
    ] {
        assert!(note.contains(want), "{want}: {note}");
    }
    let bare = Reply::from_lines(250, &["tiny.example.test"]);
    let ctx = Context {
        tls: Some(true),
        ..Context::after(Verb::Ehlo)
    };
    let c = Catalog::builtin().classify(&bare, &ctx);
    let note = c.diagnosis.notes.join(" ");
    assert!(note.contains("Offered: TLS (already on)."), "{note}");
    assert!(
        note.contains(
            "Not offered: AUTH, SIZE, PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, DSN, REQUIRETLS."
        ),
        "{note}"
    );
}

fn classify(text: &str, after: Verb) -> Classification {
    let (code, rest) = text.split_at(3);
    let reply = Reply::from_lines(
        code.parse().unwrap(),
        &[rest.trim_start_matches([' ', '-'])],
    );
    Catalog::builtin().classify(&reply, &Context::after(after))
}

#[test]
fn every_builtin_pattern_compiles_and_its_prefix_admits_its_example() {
    let files = reply_files_toml();
    let eager = Catalog::from_sources(&files, RFC_CODES).expect("all patterns compile");
    assert!(files.iter().any(|(name, _)| *name == "replies.toml"));
    assert!(files.iter().any(|(name, _)| *name == "replies-other.toml"));
    for e in eager.entries() {
        assert!(
            e.could_match(&e.example.to_ascii_uppercase()),
            "{}: prefix {:?}, first {:?}",
            e.id,
            e.prefix,
            e.first
        );
    }
    assert_eq!(
        literal_prefix("^535 Authentication Credentials Invalid$"),
        "535 AUTHENTICATION CREDENTIALS INVALID"
    );
    assert_eq!(literal_prefix("^451( 4\\.4\\.2)? Timeout"), "451");
    assert_eq!(literal_prefix("^55\\d[ -]"), "55");
    assert_eq!(literal_prefix("^250 Oks? x"), "250 OK");
    assert_eq!(literal_prefix("(a|b)"), "");
}

/// The first-character filter names only what the pattern plainly requires, and nothing when
/// a quantifier, an escape or a nested group makes that unsure.
#[test]
fn first_chars_are_what_the_pattern_plainly_requires() {
    assert_eq!(first_chars("^[45]\\d\\d[ -]"), "45");
    assert_eq!(first_chars("^(421|4[0-9][0-9])[ -]"), "4");
    assert_eq!(first_chars("^(5[0-9]{2}|4[12])"), "45");
    assert_eq!(first_chars("^([45]\\d\\d)"), "");
    assert_eq!(first_chars("^(421|[45]x)?"), "");
    assert_eq!(first_chars("^[45]?x"), "");
    assert_eq!(first_chars("^[4-5]x"), "");
    assert_eq!(first_chars("^(4|(5))"), "");
    assert_eq!(first_chars("^(4|x)"), "");
    assert_eq!(first_chars("[45]x"), "");
    assert_eq!(first_chars("^535 x"), "");
    // A 2xx reply is not even considered by a pattern for 4xx and 5xx replies…
    let eager =
        Catalog::from_sources(&reply_files_toml(), RFC_CODES).expect("all patterns compile");
    let sasl = eager
        .entries()
        .iter()
        .find(|e| e.id == "postfix-sasl-access")
        .expect("the entry exists");
    assert_eq!(sasl.first, "45");
    assert!(!sasl.could_match("220 MX.EXAMPLE ESMTP POSTFIX"));
    // …while its own kind of reply still is.
    assert!(sasl.could_match("554 5.7.1 <DENIED>: SASL LOGIN NAME REJECTED"));
}

/// A provider file under `assets/replies/` that is not listed in `REPLY_FILES` would never be
/// loaded, and so never checked against its examples: every file there must be listed.
#[test]
fn every_provider_file_is_loaded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/replies");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read assets/replies")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .filter_map(|p| {
            p.file_name()
                .map(|n| format!("replies/{}", n.to_string_lossy()))
        })
        .collect();
    on_disk.sort();
    assert!(on_disk.len() >= 16, "{on_disk:?}");
    let loaded: Vec<&str> = REPLY_FILES.iter().map(|f| f.name).collect();
    for file in &on_disk {
        assert!(
            loaded.contains(&file.as_str()),
            "{file} is not in REPLY_FILES"
        );
    }
    // Each provider file names its own provider: `replies/<id>.toml` holds `provider = "<id>"`.
    for (name, text) in reply_files_toml() {
        if let Some(id) = name
            .strip_prefix("replies/")
            .and_then(|n| n.strip_suffix(".toml"))
        {
            assert!(
                text.contains(&format!("provider = \"{id}\"")),
                "{name} does not say provider = \"{id}\""
            );
        }
    }
}

#[test]
fn every_catalog_entry_matches_its_own_example() {
    let catalog = Catalog::builtin();
    assert!(catalog.entries().len() > 70);
    for entry in catalog.entries() {
        let (code, rest) = entry.example.split_at(3);
        let reply = Reply::from_lines(code.parse().unwrap(), &[rest.trim_start()]);
        assert_eq!(reply.code, entry.code, "{}: code", entry.id);
        let after = entry.first_after().or(Some(Verb::Other));
        // A provider's entry must win at least when that provider is known (its file goes
        // first); without it, an earlier file may explain the same words.
        let found = catalog
            .find_for(&reply, after, entry.provider.as_deref())
            .map(|(e, _)| e.id.as_str());
        assert_eq!(
            found,
            Some(entry.id.as_str()),
            "example of {} matched another entry",
            entry.id
        );
        let c = catalog.classify(&reply, &Context::after(after.unwrap_or(Verb::Other)));
        assert!(!c.diagnosis.title.is_empty());
        // With its provider known, the example gets this entry's words and its fixed phase.
        let ctx = Context {
            after,
            provider: entry.provider.clone(),
            ..Context::default()
        };
        let c = catalog.classify(&reply, &ctx);
        assert_eq!(c.diagnosis.id.as_deref(), Some(entry.id.as_str()));
        if let (Some(phase), false) = (entry.phase, entry.phase_by_context) {
            assert_eq!(c.phase, phase, "{}: phase", entry.id);
        }
        for field in [&entry.title, &entry.meaning, &entry.remedy, &entry.source] {
            assert!(!field.trim().is_empty(), "{}: an empty field", entry.id);
        }
        assert!(
            ["DOC", "SEEN", "INFER"]
                .iter()
                .any(|label| entry.evidence.split('+').any(|part| part == *label))
                && entry
                    .evidence
                    .split('+')
                    .all(|part| ["DOC", "SEEN", "INFER"].contains(&part)),
            "{}: evidence {:?}",
            entry.id,
            entry.evidence
        );
    }
}

#[test]
fn seed_scenarios() {
    let c = classify("535 Authentication Credentials Invalid", Verb::AuthResponse);
    assert_eq!(
        (c.phase, c.verdict),
        (Phase::Authentication, Verdict::Permanent)
    );
    assert!(c.diagnosis.remedy.contains("region"), "{:?}", c.diagnosis);
    assert!(c.diagnosis.remedy.contains("secret"));

    // The published walkthrough's wording of the 535.
    let c = classify("535 Authentication failed", Verb::Auth);
    assert_eq!(c.phase, Phase::Authentication);

    let c = classify("530 Authentication required", Verb::Mail);
    assert_eq!(c.phase, Phase::Authentication);

    let c = classify("530 Must issue a STARTTLS command first", Verb::Auth);
    assert_eq!(c.phase, Phase::Tls);

    let text = "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:123456789012:identity/example.com'";
    let reply = Reply::from_lines(554, &[&text[4..]]);
    let ctx = Context {
        after: Some(Verb::DataEnd),
        auth: AuthContext::Accepted,
        ses: true,
        ..Context::default()
    };
    let c = Catalog::builtin().classify(&reply, &ctx);
    assert_eq!(c.phase, Phase::Authorization);
    let get = |k: &str| {
        c.diagnosis
            .details
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("User ARN"),
        Some("arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1")
    );
    assert_eq!(get("Action"), Some("ses:SendRawEmail"));
    assert_eq!(
        get("Resource"),
        Some("arn:aws:ses:ap-northeast-1:123456789012:identity/example.com")
    );
    assert_eq!(get("Region"), Some("ap-northeast-1"));
    assert_eq!(get("Identity"), Some("example.com"));
    assert_eq!(get("IAM user"), Some("ses-smtp-user.20230808-1"));
    assert!(
        c.diagnosis
            .notes
            .iter()
            .any(|n| n.contains("Authentication had succeeded"))
    );
}

#[test]
fn unverified_identities() {
    let c = classify(
        "554 Message rejected: Email address is not verified. The following identities failed the check in region US-WEST-2: a@example.com, b@example.org",
        Verb::DataEnd,
    );
    assert_eq!(c.phase, Phase::Authorization);
    assert!(
        c.diagnosis
            .details
            .contains(&("Region".into(), "us-west-2".into()))
    );
    assert!(
        c.diagnosis
            .details
            .contains(&("Identities".into(), "a@example.com, b@example.org".into()))
    );
}

#[test]
fn throttling_and_content() {
    assert_eq!(
        classify(
            "454 Throttling failure: Maximum sending rate exceeded.",
            Verb::DataEnd
        )
        .phase,
        Phase::Throttling
    );
    let c = classify(
        "454 Throttling failure: Daily message quota exceeded.",
        Verb::DataEnd,
    );
    assert_eq!(
        (c.phase, c.verdict),
        (Phase::Throttling, Verdict::Transient)
    );
    assert!(!c.diagnosis.notes.is_empty());
    assert_eq!(
        classify(
            "554 Transaction failed: Duplicate header 'DKIM-Signature'.",
            Verb::DataEnd
        )
        .phase,
        Phase::Content
    );
    assert_eq!(
        classify("552 Message is too long.", Verb::DataEnd).phase,
        Phase::Content
    );
}

#[test]
fn other_servers_fall_back_sensibly() {
    let cases = [
        (
            "535 5.7.8 Error: authentication failed: authentication failure",
            Verb::AuthResponse,
            Phase::Authentication,
        ),
        (
            "535 5.7.8 Username and Password not accepted. Learn more",
            Verb::AuthResponse,
            Phase::Authentication,
        ),
        (
            "530 5.7.0 Must issue a STARTTLS command first.",
            Verb::Mail,
            Phase::Tls,
        ),
        // Without a login, relay denied means "log in first" (authentication).
        (
            "554 5.7.1 <x@y>: Relay access denied",
            Verb::Rcpt,
            Phase::Authentication,
        ),
        (
            "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
            Verb::Rcpt,
            Phase::Envelope,
        ),
        (
            "421 4.7.0 Too many connections from your IP, try again later",
            Verb::Mail,
            Phase::Throttling,
        ),
        (
            "552 5.3.4 Message size exceeds fixed limit",
            Verb::DataEnd,
            Phase::Content,
        ),
        (
            "451 4.3.0 Error: queue file write error",
            Verb::DataEnd,
            Phase::Service,
        ),
        (
            "550 5.7.26 Unauthenticated email is not accepted",
            Verb::DataEnd,
            Phase::Content,
        ),
        ("250 2.0.0 Ok: queued as 4ABC", Verb::DataEnd, Phase::Data),
        ("250 2.1.5 Ok", Verb::Rcpt, Phase::Envelope),
        (
            "503 5.5.1 Error: authentication not enabled",
            Verb::Auth,
            Phase::Authentication,
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
            Verb::AuthResponse,
            Phase::Authentication,
        ),
        (
            "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
            Verb::DataEnd,
            Phase::Authorization,
        ),
        (
            "454 4.7.0 TLS not available due to local problem",
            Verb::StartTls,
            Phase::Tls,
        ),
        (
            "500 5.5.2 Error: command not recognized",
            Verb::Other,
            Phase::Service,
        ),
        ("221 2.0.0 Bye", Verb::Quit, Phase::Connection),
        // A temporary problem is not rate limiting unless the server says so.
        (
            "421 4.7.0 Temporary System Problem. Try again later.",
            Verb::Auth,
            Phase::Service,
        ),
        (
            "421 4.7.0 Too many connections from your IP, try again later",
            Verb::Connect,
            Phase::Throttling,
        ),
    ];
    for (text, after, phase) in cases {
        assert_eq!(classify(text, after).phase, phase, "{text}");
    }
}

#[test]
fn fallback_explains_codes() {
    let c = classify("550 5.1.1 no such mailbox here", Verb::Rcpt);
    assert!(c.diagnosis.meaning.contains("550"));
    assert!(c.diagnosis.meaning.contains("5.1.1"));
    assert!(!c.diagnosis.remedy.is_empty());
}

#[test]
fn bad_catalog_is_a_clear_error() {
    let bad = "[[reply]]\nid='x'\ncode=250\npattern='('\nafter=['ANY']\nphase='ehlo'\ntitle='t'\nmeaning='m'\nremedy='r'\nexample='250 x'\nevidence='E'\nsource='s'\n";
    let err = Catalog::from_sources(&[("t.toml", bad)], RFC_CODES).unwrap_err();
    assert!(err.to_string().contains("bad pattern"), "{err}");
    let bad_phase = bad.replace("'('", "'x'").replace("'ehlo'", "'nope'");
    let err = Catalog::from_sources(&[("t.toml", &bad_phase)], RFC_CODES).unwrap_err();
    assert!(err.to_string().contains("unknown phase"), "{err}");
}

#[test]
fn none_remedies_become_notes() {
    assert_eq!(nothing_to_do("None"), Some(None));
    assert_eq!(
        nothing_to_do("None; do not assume x"),
        Some(Some("Do not assume x".into()))
    );
    assert_eq!(nothing_to_do("Nonetheless retry"), None);
    assert_eq!(nothing_to_do("Retry"), None);
    let c = classify(
        "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-X Y",
        Verb::Connect,
    );
    assert!(c.diagnosis.remedy.is_empty());
    assert!(
        c.diagnosis
            .notes
            .iter()
            .any(|n| n.starts_with("On ports 465 and 2465")),
        "{:?}",
        c.diagnosis.notes
    );
}

#[test]
fn arn_parts() {
    let a = Arn::parse("arn:aws:ses:eu-west-2:123456789012:identity/example.com").unwrap();
    assert_eq!(
        (a.service, a.region, a.account, a.resource),
        ("ses", "eu-west-2", "123456789012", "identity/example.com")
    );
    assert!(Arn::parse("not-an-arn").is_none());
}

fn detail<'a>(c: &'a Classification, key: &str) -> Option<&'a str> {
    c.diagnosis
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Issue 18, item 1: a positive reply says what went well, for every step and every
/// server we know the words of; an enhanced code's subject (x.1: addressing) is a detail.
#[test]
fn success_replies_say_what_succeeded() {
    use Verb::*;
    let gsmtp = "a1-20020a05.123 - gsmtp";
    let cases: Vec<(Verb, String, &str)> = vec![
        // greeting
        (Connect, "220 postfix.smtpscope.test ESMTP Postfix (Debian/GNU)".into(), "Server ready"),
        (Connect, "220 mail.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 00:00:00 +0000".into(), "Server ready"),
        (Connect, format!("220 smtp.gmail.com ESMTP {gsmtp}"), "Server ready"),
        (Connect, "220 BN8PR04CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024 00:00:00 +0000".into(), "Server ready"),
        (Connect, "220 localhost Python SMTP 1.4.4".into(), "Server ready"),
        (Connect, "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-VCSHDP1YZ A1b2C3d4E5f6G7h8I9j0".into(), "SES greeting"),
        // EHLO (the last line of the capability list)
        (Ehlo, "250 CHUNKING".into(), "EHLO accepted"),
        (Ehlo, "250 HELP".into(), "EHLO accepted"),
        (Ehlo, "250 SMTPUTF8".into(), "EHLO accepted"),
        (Ehlo, "250 Ok".into(), "EHLO accepted"),
        // STARTTLS
        (StartTls, "220 2.0.0 Ready to start TLS".into(), "Ready for TLS"),
        (StartTls, "220 TLS go ahead".into(), "Ready for TLS"),
        (StartTls, "220 2.0.0 SMTP server ready".into(), "Ready for TLS"),
        (StartTls, "220 Ready to start TLS".into(), "Ready for the TLS handshake"),
        // AUTH
        (Auth, "334 ".into(), "AUTH goes on"),
        (Auth, "334 VXNlcm5hbWU6".into(), "AUTH LOGIN asks for the user name"),
        (AuthResponse, "334 UGFzc3dvcmQ6".into(), "AUTH LOGIN asks for the password"),
        (Auth, "235 2.7.0 Authentication successful".into(), "Authenticated"),
        (AuthResponse, "235 Authentication succeeded".into(), "Authenticated"),
        (AuthResponse, "235 2.7.0 Accepted".into(), "Authenticated"),
        (AuthResponse, "235 Authentication successful.".into(), "Authenticated"),
        // MAIL
        (Mail, "250 2.1.0 Ok".into(), "Sender accepted"),
        (Mail, "250 OK".into(), "Sender accepted"),
        (Mail, format!("250 2.1.0 OK {gsmtp}"), "Sender accepted"),
        (Mail, "250 2.1.0 Sender OK".into(), "Sender accepted"),
        (Mail, "250 Ok".into(), "Sender accepted"),
        // RCPT
        (Rcpt, "250 2.1.5 Ok".into(), "Recipient accepted"),
        (Rcpt, "250 Accepted".into(), "Recipient accepted"),
        (Rcpt, format!("250 2.1.5 OK {gsmtp}"), "Recipient accepted"),
        (Rcpt, "250 2.1.5 Recipient OK".into(), "Recipient accepted"),
        (Rcpt, "250 Ok".into(), "Recipient accepted"),
        (Rcpt, "251 2.1.5 User not local; will forward".into(), "Recipient accepted"),
        // DATA
        (Data, "354 End data with <CR><LF>.<CR><LF>".into(), "Ready for the message"),
        (Data, "354 Enter message, ending with \".\" on a line by itself".into(), "Ready for the message"),
        (Data, format!("354  Go ahead {gsmtp}"), "Ready for the message"),
        (Data, "354 Start mail input; end with <CRLF>.<CRLF>".into(), "Ready for the message"),
        // the final "."
        (DataEnd, "250 2.0.0 Ok: queued as 4ABC123DEF".into(), "Message accepted"),
        (DataEnd, "250 OK id=1r2s3t-0004Xy-AB".into(), "Message accepted"),
        (DataEnd, format!("250 2.0.0 OK  1700000000 {gsmtp}"), "Message accepted"),
        (DataEnd, "250 2.0.0 OK <BN8PR04MB0001@BN8PR04MB0001.namprd04.prod.outlook.com> [Hostname=BN8PR04MB0001.namprd04.prod.outlook.com]".into(), "Message accepted"),
        (DataEnd, "250 Message accepted for delivery".into(), "Message accepted"),
        (DataEnd, "250 Ok 0107017033dbb64d-be13a01e-dbf1-44b7-b876-3622165dacc1-000000".into(), "Message accepted by SES"),
        // RSET, NOOP
        (Rset, "250 2.0.0 Ok".into(), "Transaction reset"),
        (Rset, "250 Reset OK".into(), "Transaction reset"),
        (Rset, format!("250 2.1.5 Flushed {gsmtp}"), "Transaction reset"),
        (Rset, "250 2.0.0 Resetting".into(), "Transaction reset"),
        (Rset, "250 Ok".into(), "Transaction reset"),
        (Noop, "250 2.0.0 Ok".into(), "Connection alive"),
        (Noop, format!("250 2.0.0 OK {gsmtp}"), "Connection alive"),
        (Noop, "250 OK".into(), "Connection alive"),
        // QUIT
        (Quit, "221 2.0.0 Bye".into(), "Session closed"),
        (Quit, "221 mail.example.com closing connection".into(), "Session closed"),
        (Quit, format!("221 2.0.0 closing connection {gsmtp}"), "Session closed"),
        (Quit, "221 2.0.0 Service closing transmission channel".into(), "Session closed"),
        (Quit, "221 Bye".into(), "Session closed"),
    ];
    for (after, text, title) in &cases {
        let c = classify(text, *after);
        let d = &c.diagnosis;
        assert!(!c.verdict.is_failure(), "{text}");
        assert_eq!(d.title, *title, "{text} after {after:?}: {d:?}");
        let said = format!("{} {}", d.title, d.meaning).to_ascii_lowercase();
        for bad in [
            "problem",
            "fail",
            "refus",
            "denied",
            "error",
            "connection accepted",
        ] {
            assert!(!said.contains(bad), "{text}: {bad:?} in {d:?}");
        }
        // The enhanced code is never the headline; when the RFC table explains it, it is
        // a detail.
        let reply = Reply::from_lines(text[..3].parse().unwrap(), &[&text[4..]]);
        if let Some(e) = reply.enhanced {
            assert!(!d.title.contains(&e.to_string()), "{text}");
            if d.id.is_none() {
                let shown = detail(&c, "Enhanced code").unwrap_or_else(|| panic!("{text}: {d:?}"));
                assert!(shown.starts_with(&e.to_string()), "{text}: {shown}");
            }
        }
    }
    // The subject class reads neutrally, for failures too.
    let c = classify("250 2.1.5 Ok", Verb::Rcpt);
    assert_eq!(
        detail(&c, "Enhanced code"),
        Some("2.1.5: Destination address valid.")
    );
    let c = classify("250 2.1.0 Ok", Verb::Mail);
    assert!(!detail(&c, "Enhanced code").unwrap().contains("problem"));
    // The queue id is a parsed part.
    let c = classify("250 2.0.0 Ok: queued as 4ABC123DEF", Verb::DataEnd);
    assert_eq!(detail(&c, "Queue ID"), Some("4ABC123DEF"));
}

/// A positive reply pasted without its command (`explain` without --after): the code or
/// the enhanced code says which command it answered, or the headline stays "Accepted".
#[test]
fn success_without_the_command() {
    let ctx = Context::default();
    let cases = [
        ("250 2.1.0 Ok", "Sender accepted", Phase::Envelope),
        ("250 2.1.5 Ok", "Recipient accepted", Phase::Envelope),
        ("221 2.0.0 Bye", "Session closed", Phase::Connection),
        (
            "235 2.7.0 Authentication successful",
            "Authenticated",
            Phase::Authentication,
        ),
        (
            "354 Start mail input; end with <CRLF>.<CRLF>",
            "Ready for the message",
            Phase::Data,
        ),
        (
            "250 2.0.0 Ok: queued as 4ABC123DEF",
            "Message accepted",
            Phase::Data,
        ),
        ("250 Ok", "Accepted", Phase::Service),
        ("250 2.0.0 Ok", "Accepted", Phase::Service),
    ];
    for (text, title, phase) in cases {
        let reply = Reply::from_lines(text[..3].parse().unwrap(), &[&text[4..]]);
        let c = Catalog::builtin().classify(&reply, &ctx);
        assert_eq!(
            (c.diagnosis.title.as_str(), c.phase),
            (title, phase),
            "{text}"
        );
    }
}

/// SES's MAIL/RCPT 250 is not a promise: its checks come after the final ".". Other
/// servers get no such note.
#[test]
fn ses_envelope_acceptance_is_not_a_promise() {
    let reply = Reply::from_lines(250, &["Ok"]);
    let ses = Context {
        after: Some(Verb::Rcpt),
        ses: true,
        ..Context::default()
    };
    let c = Catalog::builtin().classify(&reply, &ses);
    assert!(
        c.diagnosis
            .notes
            .iter()
            .any(|n| n.contains("after the final"))
    );
    let other = Context { ses: false, ..ses };
    assert!(
        Catalog::builtin()
            .classify(&reply, &other)
            .diagnosis
            .notes
            .is_empty()
    );
}

fn at_dot(ses: bool) -> Context {
    Context {
        after: Some(Verb::DataEnd),
        auth: AuthContext::Accepted,
        ses,
        mail_from: Some("sender@example.com".into()),
        rcpts: vec!["recipient@example.com".into()],
        ..Context::default()
    }
}

/// Issue 18, item 7: the sandbox refusal is about an unverified recipient, not about the
/// identity (IAM user) behind the credentials; the note names the recipient and both fixes.
#[test]
fn sandbox_note_names_the_unverified_recipient_and_both_fixes() {
    let text = "Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: recipient@example.com";
    let reply = Reply::from_lines(554, &[text]);
    let c = Catalog::builtin().classify(&reply, &at_dot(true));
    assert_eq!(c.phase, Phase::Authorization);
    assert_eq!(c.diagnosis.id.as_deref(), Some("ses-not-verified"));
    let notes = &c.diagnosis.notes;
    let first = &notes[0];
    for needle in [
        "recipient@example.com is a recipient",
        "us-east-1",
        "sandbox",
        "verify recipient@example.com",
        "request production access",
    ] {
        assert!(first.contains(needle), "{needle:?} missing from {first:?}");
    }
    assert!(
        notes.iter().all(|n| !n.contains("identity behind them")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("235") && n.contains("not about the login or the IAM policy")),
        "{notes:?}"
    );

    // The sender listed: verify the sender; no sandbox story.
    let text = "Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: sender@example.com";
    let c = Catalog::builtin().classify(&Reply::from_lines(554, &[text]), &at_dot(true));
    let first = &c.diagnosis.notes[0];
    assert!(
        first.contains("sender@example.com is the sender"),
        "{first}"
    );
    assert!(
        first.contains("eu-west-1") && !first.contains("sandbox,"),
        "{first}"
    );

    // Pasted without the session: both readings, each with its fix.
    let c = Catalog::builtin().classify(
        &Reply::from_lines(554, &[text]),
        &Context::after(Verb::DataEnd),
    );
    let first = &c.diagnosis.notes[0];
    assert!(first.contains("If that is a recipient"), "{first}");
    assert!(first.contains("production access") && first.contains("If it is the sender"));
}

/// Issue 18, item 8: Postfix's "SASL login name rejected" comes after a successful AUTH:
/// authorization, with the relayed ARN, action and resource parsed, and no SES claim.
#[test]
fn postfix_sasl_login_name_rejected_is_authorization() {
    let text = "5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/denied' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'";
    let reply = Reply::from_lines(554, &[text]);
    for ses in [false, true] {
        let c = Catalog::builtin().classify(&reply, &at_dot(ses));
        assert_eq!(
            (c.phase, c.verdict),
            (Phase::Authorization, Verdict::Permanent)
        );
        assert_eq!(c.diagnosis.id.as_deref(), Some("postfix-sasl-access-iam"));
        assert_eq!(detail(&c, "SASL login"), Some("denied"));
        assert_eq!(
            detail(&c, "User ARN"),
            Some("arn:aws:iam::123456789012:user/denied")
        );
        assert_eq!(detail(&c, "IAM user"), Some("denied"));
        assert_eq!(detail(&c, "Action"), Some("ses:SendRawEmail"));
        assert_eq!(
            detail(&c, "Resource"),
            Some("arn:aws:ses:us-east-1:123456789012:identity/example.com")
        );
        assert_eq!(detail(&c, "Identity"), Some("example.com"));
        assert_eq!(detail(&c, "Region"), Some("us-east-1"));
        let all = format!(
            "{} {} {:?}",
            c.diagnosis.title, c.diagnosis.meaning, c.diagnosis.notes
        );
        assert!(c.diagnosis.title.contains("Authorization"), "{all}");
        assert!(!all.contains("SES accepted"), "{all}");
        assert!(!all.contains("Authentication failed"), "{all}");
        assert!(
            c.diagnosis
                .notes
                .iter()
                .any(|n| n.contains("not a login failure") && n.contains("authorization")),
            "{all}"
        );
    }
    // Pasted alone, it still says the login had worked.
    let c = Catalog::builtin().classify(&reply, &Context::default());
    assert!(
        c.diagnosis.notes[0].contains("only after a successful AUTH"),
        "{c:?}"
    );

    // Any check_sasl_access refusal, at any step, temporary or not.
    let c = classify(
        "554 5.7.1 <bob>: SASL login name rejected: Access denied",
        Verb::Rcpt,
    );
    assert_eq!(c.diagnosis.id.as_deref(), Some("postfix-sasl-access"));
    assert_eq!(c.phase, Phase::Authorization);
    assert_eq!(detail(&c, "SASL login"), Some("bob"));
    assert_eq!(detail(&c, "Reason"), Some("Access denied"));
    let c = classify(
        "450 4.7.1 <bob>: SASL login name rejected: try again tomorrow",
        Verb::Mail,
    );
    assert_eq!(
        (c.phase, c.verdict),
        (Phase::Authorization, Verdict::Transient)
    );
}

// Known wrong results of issue 11, and the provider-aware catalog.

#[test]
fn gmail_534_is_an_app_password_not_a_weak_mechanism() {
    // The first line alone (as pasted from a log), and the whole two-line reply.
    for reply in [
        Reply::from_lines(
            534,
            &["5.7.9 Application-specific password required. Learn more at"],
        ),
        Reply::from_lines(
            534,
            &[
                "5.7.9 Application-specific password required. Learn more at",
                "5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor o13sm2119833lfg.90 - gsmtp",
            ],
        ),
    ] {
        for ctx in [Context::after(Verb::AuthResponse), Context::default()] {
            let c = Catalog::builtin().classify(&reply, &ctx);
            assert_eq!(c.phase, Phase::Authentication);
            assert_eq!(
                c.diagnosis.id.as_deref(),
                Some("gmail-app-password-required")
            );
            assert!(
                !c.diagnosis.title.to_lowercase().contains("weak"),
                "{}",
                c.diagnosis.title
            );
            assert!(c.diagnosis.remedy.contains("App passwords"));
        }
    }
}

#[test]
fn a_221_is_closing_wherever_it_comes() {
    let bye = Reply::from_lines(221, &["2.0.0 Bye"]);
    for verb in [
        Verb::Rcpt,
        Verb::Mail,
        Verb::Connect,
        Verb::DataEnd,
        Verb::Ehlo,
    ] {
        let c = Catalog::builtin().classify(&bye, &Context::after(verb));
        assert_eq!(
            c.diagnosis.title, "Server is closing the connection",
            "after {verb:?}"
        );
        assert_eq!(c.phase, Phase::Connection, "after {verb:?}");
    }
    for ctx in [Context::after(Verb::Quit), Context::default()] {
        let c = Catalog::builtin().classify(&bye, &ctx);
        assert_eq!(c.diagnosis.title, "Session closed");
    }
    let greeting = Catalog::builtin().classify(&bye, &Context::after(Verb::Connect));
    assert!(!greeting.diagnosis.title.contains("ready"));
}

#[test]
fn ses_denial_relayed_by_postfix_keeps_the_arn_and_claims_nothing_about_ses() {
    let text = "5.7.1 <denied>: SASL login name rejected: Access denied: User `arn:aws:iam::123456789012:user/x' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'";
    let reply = Reply::from_lines(554, &[text]);
    for auth in [AuthContext::Accepted, AuthContext::NeverTried] {
        let ctx = Context {
            after: Some(Verb::DataEnd),
            auth,
            provider: Some("postfix".into()),
            ses: false,
            ..Context::default()
        };
        let c = Catalog::builtin().classify(&reply, &ctx);
        assert_eq!(c.phase, Phase::Authorization);
        assert_eq!(c.diagnosis.id.as_deref(), Some("postfix-sasl-access-iam"));
        assert_eq!(detail(&c, "IAM user"), Some("x"));
        assert_eq!(detail(&c, "Account"), Some("123456789012"));
        assert_eq!(detail(&c, "Action"), Some("ses:SendRawEmail"));
        assert_eq!(detail(&c, "Region"), Some("us-east-1"));
        assert_eq!(detail(&c, "Identity"), Some("example.com"));
        for n in &c.diagnosis.notes {
            assert!(!n.contains("SES accepted"), "{n}");
        }
        assert!(!c.diagnosis.meaning.contains("SES accepted"));
    }
}

#[test]
fn the_530_next_step_depends_on_whether_credentials_were_checked() {
    let reply = Reply::from_lines(530, &["Authentication required"]);
    let at_mail = |auth| Context {
        after: Some(Verb::Mail),
        auth,
        ..Context::default()
    };
    let refused = Catalog::builtin().classify(
        &reply,
        &at_mail(AuthContext::Rejected(
            crate::engine::model::AuthRejection::BadCredentials,
        )),
    );
    assert_eq!(refused.phase, Phase::Authentication);
    let next = &refused.diagnosis.remedy;
    assert!(next.contains("credentials"), "{next}");
    assert!(!next.contains("smtp_sasl_auth_enable"), "{next}");
    assert!(!next.to_lowercase().contains("enable smtp auth"), "{next}");
    let never = Catalog::builtin().classify(&reply, &at_mail(AuthContext::NeverTried));
    assert_ne!(never.diagnosis.remedy, *next);
    assert!(never.diagnosis.remedy.contains("AUTH"));
    // The entry's source is a transcript, labelled as one.
    assert_eq!(never.diagnosis.evidence.as_deref(), Some("SEEN"));
    assert!(
        !never
            .diagnosis
            .source
            .as_deref()
            .unwrap_or_default()
            .contains("BillionMail")
    );
}

#[test]
fn a_known_providers_entries_come_first() {
    let reply = Reply::from_lines(535, &["5.7.8 Error: authentication failed: "]);
    let id = |provider: Option<&str>| {
        let ctx = Context {
            after: Some(Verb::AuthResponse),
            provider: provider.map(str::to_string),
            ..Context::default()
        };
        Catalog::builtin().classify(&reply, &ctx).diagnosis.id
    };
    assert_eq!(
        id(Some("postmark")).as_deref(),
        Some("postmark-auth-failed")
    );
    assert_eq!(id(None).as_deref(), Some("postfix-auth-failed"));
    assert_eq!(id(Some("postfix")).as_deref(), Some("postfix-auth-failed"));
}

#[test]
fn relay_denied_is_authentication_without_a_login_and_authorization_with_one() {
    for (code, text) in [
        (554, "5.7.1 <x@example.org>: Relay access denied"),
        (550, "relay not permitted"),
        (
            553,
            "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
        ),
        (550, "5.7.1 Unable to relay for paris.team@example.com"),
        (550, "5.7.1 Relaying denied"),
    ] {
        let reply = Reply::from_lines(code, &[text]);
        let with = |auth| Context {
            after: Some(Verb::Rcpt),
            auth,
            ..Context::default()
        };
        assert_eq!(
            Catalog::builtin()
                .classify(&reply, &with(AuthContext::NeverTried))
                .phase,
            Phase::Authentication,
            "{text}"
        );
        assert_eq!(
            Catalog::builtin()
                .classify(&reply, &with(AuthContext::Accepted))
                .phase,
            Phase::Authorization,
            "{text}"
        );
    }
}

#[test]
fn the_fallback_reads_the_enhanced_code_with_the_command() {
    let at = |code, text: &str, after, auth| {
        let ctx = Context {
            after: Some(after),
            auth,
            ..Context::default()
        };
        Catalog::builtin().classify(&Reply::from_lines(code, &[text]), &ctx)
    };
    let c = at(550, "5.7.0 Nope", Verb::DataEnd, AuthContext::Accepted);
    assert_eq!(c.phase, Phase::Content);
    let c = at(
        535,
        "5.7.0 Nope",
        Verb::AuthResponse,
        AuthContext::NeverTried,
    );
    assert_eq!(c.phase, Phase::Authentication);
    let c = at(550, "5.7.1 Nope", Verb::Rcpt, AuthContext::NeverTried);
    assert_eq!(c.phase, Phase::Authentication);
    assert_eq!(c.diagnosis.title, "Relay denied: authenticate first");
    let c = at(452, "4.4.5 Busy", Verb::Rcpt, AuthContext::Accepted);
    assert_eq!(c.phase, Phase::Throttling);
    assert!(c.diagnosis.title.ends_with("(temporary)"));
    let c = at(552, "5.2.2 Mailbox full", Verb::Rcpt, AuthContext::Accepted);
    assert_eq!(c.phase, Phase::Envelope);
    assert!(
        c.diagnosis.meaning.contains("5.2.2"),
        "{}",
        c.diagnosis.meaning
    );
}

#[test]
fn ses_words_in_an_ehlo_answer_get_ses_explanation_only_from_ses() {
    // "250 Ok" ends SES's EHLO answer, and many other servers' too.
    let reply = Reply::from_lines(250, &["Ok"]);
    let ctx = |provider: Option<&str>| Context {
        provider: provider.map(String::from),
        ..Context::after(Verb::Ehlo)
    };
    let ses = Catalog::builtin().classify(&reply, &ctx(Some("ses")));
    assert_eq!(ses.diagnosis.title, "EHLO capabilities");
    assert!(ses.diagnosis.meaning.contains("SES"), "{:?}", ses.diagnosis);
    for other in [None, Some("postfix")] {
        let c = Catalog::builtin().classify(&reply, &ctx(other));
        assert!(
            !c.diagnosis.meaning.contains("SES"),
            "{other:?}: {:?}",
            c.diagnosis
        );
    }
}
