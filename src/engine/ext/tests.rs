use super::*;
use crate::engine::reply::Reply;

fn caps(lines: &[&str]) -> Capabilities {
    let mut all = vec!["mx.example"];
    all.extend_from_slice(lines);
    Capabilities::from_ehlo(&Reply::from_lines(250, &all))
}

fn input<'a>(
    settings: &'a ExtSettings,
    caps: Option<&'a Capabilities>,
    from: &'a str,
    to: &'a [String],
    message: &'a MessageFacts,
) -> EnvelopeInput<'a> {
    EnvelopeInput {
        settings,
        caps,
        tls: true,
        from,
        to,
        message,
    }
}

#[test]
fn xtext_encodes_plus_equals_and_controls() {
    assert_eq!(dsn::xtext("a+b=c d"), "a+2Bb+3Dc+20d");
    assert_eq!(dsn::xtext("user@example.com"), "user@example.com");
    assert_eq!(dsn::xtext("~!"), "~!");
}

#[test]
fn notify_and_ret_are_validated() {
    assert_eq!(
        dsn::parse_notify("success,Failure").unwrap(),
        vec![Notify::Success, Notify::Failure]
    );
    assert_eq!(dsn::parse_notify("never").unwrap(), vec![Notify::Never]);
    assert!(dsn::parse_notify("never,success").is_err());
    assert!(dsn::parse_notify("sometimes").is_err());
    assert!(dsn::parse_notify("success\r\nRSET").is_err());
    assert_eq!(dsn::parse_ret("hdrs").unwrap(), Ret::Hdrs);
    assert!(dsn::parse_ret("some").is_err());
    assert!(dsn::check_envid("abc\n").is_err());
    assert!(dsn::check_envid("abc\0").is_err());
    assert!(dsn::check_envid(&"x".repeat(101)).is_err());
    assert!(dsn::check_envid("é").is_err());
    assert!(dsn::check_envid("id-1+2").is_ok());
}

#[test]
fn envelope_uses_only_what_is_offered() {
    let all = caps(&["SIZE 1000", "8BITMIME", "SMTPUTF8", "DSN", "REQUIRETLS"]);
    let none = caps(&[]);
    let to = vec!["b+x@example.net".to_string()];
    let facts = MessageFacts {
        size: Some(2000),
        eight_bit: Some(true),
    };
    let settings = ExtSettings {
        dsn: Dsn {
            notify: Some(vec![Notify::Success, Notify::Failure]),
            ret: Some(Ret::Hdrs),
            envid: Some("q=1".into()),
        },
        requiretls: true,
        ..ExtSettings::default()
    };
    let env = envelope(&input(&settings, Some(&all), "a@example.com", &to, &facts)).unwrap();
    assert_eq!(
        env.mail_params,
        [
            "SIZE=2000",
            "BODY=8BITMIME",
            "RET=HDRS",
            "ENVID=q+3D1",
            "REQUIRETLS"
        ]
    );
    assert_eq!(
        env.rcpt_params,
        [vec![
            "NOTIFY=SUCCESS,FAILURE".to_string(),
            "ORCPT=rfc822;b+2Bx@example.net".to_string()
        ]]
    );
    assert!(
        env.warnings.iter().any(|w| w.contains("SIZE 1000")),
        "{env:?}"
    );

    // Not offered: DSN is an error, not a silent omission; SIZE and BODY are left out.
    let err = envelope(&input(&settings, Some(&none), "a@example.com", &to, &facts)).unwrap_err();
    assert!(err.to_string().contains("DSN"), "{err}");
    let plain = ExtSettings::default();
    let env = envelope(&input(&plain, Some(&none), "a@example.com", &to, &facts)).unwrap();
    assert!(env.mail_params.is_empty(), "{env:?}");
    assert!(env.warnings.iter().any(|w| w.contains("8BITMIME")));

    // Forced: sent, and said loudly.
    let forced = ExtSettings {
        forced: vec![Ext::Dsn, Ext::Requiretls],
        ..settings.clone()
    };
    let env = envelope(&input(&forced, Some(&none), "a@example.com", &to, &facts)).unwrap();
    assert!(env.mail_params.contains(&"REQUIRETLS".to_string()));
    assert_eq!(
        env.warnings
            .iter()
            .filter(|w| w.starts_with("FORCED"))
            .count(),
        2
    );
}

#[test]
fn requiretls_only_inside_tls() {
    let all = caps(&["REQUIRETLS"]);
    let settings = ExtSettings {
        requiretls: true,
        ..ExtSettings::default()
    };
    let facts = MessageFacts::of_bytes(b"x");
    let mut i = input(&settings, Some(&all), "a@example.com", &[], &facts);
    i.tls = false;
    assert!(envelope(&i).unwrap_err().to_string().contains("TLS"));
    // Forcing lifts a missing keyword, never the plain connection (RFC 8689 §2).
    let forced = ExtSettings {
        forced: vec![Ext::Requiretls],
        ..settings.clone()
    };
    let mut i = input(&forced, Some(&all), "a@example.com", &[], &facts);
    i.tls = false;
    let err = envelope(&i).unwrap_err().to_string();
    assert!(err.contains("only inside TLS"), "{err}");
    let mut i = input(&forced, None, "a@example.com", &[], &facts);
    i.tls = false;
    assert!(envelope(&i).is_err());
    // Inside TLS and offered: sent, with a note saying what it asks.
    let i = input(&settings, Some(&all), "a@example.com", &[], &facts);
    let env = envelope(&i).unwrap();
    assert_eq!(env.mail_params, ["REQUIRETLS"]);
    assert!(env.warnings.is_empty(), "{env:?}");
    assert!(env.notes.iter().any(|n| n.contains("RFC 8689")), "{env:?}");
}

#[test]
fn smtputf8_is_automatic_or_a_clear_error() {
    let facts = MessageFacts::of_bytes(b"x");
    let to = vec!["пользователь@пример.рф".to_string()];
    let settings = ExtSettings::default();
    let offered = caps(&["SMTPUTF8"]);
    let env = envelope(&input(
        &settings,
        Some(&offered),
        "a@example.com",
        &to,
        &facts,
    ))
    .unwrap();
    assert_eq!(env.mail_params, ["SMTPUTF8"]);
    let err = envelope(&input(
        &settings,
        Some(&caps(&[])),
        "a@example.com",
        &to,
        &facts,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("SMTPUTF8"), "{err}");
    let ascii = vec!["b@example.net".to_string()];
    let env = envelope(&input(
        &settings,
        Some(&offered),
        "a@example.com",
        &ascii,
        &facts,
    ))
    .unwrap();
    assert!(env.mail_params.is_empty());
}

#[tokio::test]
async fn chunker_marks_the_last_chunk_and_keeps_bytes() {
    let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let mut c = bdat::Chunker::new(&data[..], 1000);
    let mut got = Vec::new();
    let mut lasts = Vec::new();
    while let Some((chunk, last)) = c.next_chunk().await.unwrap() {
        got.extend_from_slice(chunk);
        lasts.push((chunk.len(), last));
    }
    assert_eq!(got, data);
    assert_eq!(lasts, [(1000, false), (1000, false), (500, true)]);
    // An exact multiple: the last full chunk is LAST, no empty chunk after it.
    let mut c = bdat::Chunker::new(&data[..2000], 1000);
    let mut lasts = Vec::new();
    while let Some((chunk, last)) = c.next_chunk().await.unwrap() {
        lasts.push((chunk.len(), last));
    }
    assert_eq!(lasts, [(1000, false), (1000, true)]);
    let mut c = bdat::Chunker::new(&b""[..], 1000);
    assert_eq!(c.next_chunk().await.unwrap(), Some((&b""[..], true)));
    assert_eq!(c.next_chunk().await.unwrap(), None);
    let mut c = bdat::Chunker::new(&b"a\nb\r\n"[..], 1000);
    c.next_chunk().await.unwrap();
    assert_eq!(c.stats.bare_lf, 1);
}
