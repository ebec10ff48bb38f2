//! `smtpscope explain` on pasted logs: every reply found, where it came from, the command it
//! answered, the verdict. The log lines are public ones; the unit tests of
//! `engine::pasted` name their sources, repeated here next to each.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

/// Runs `smtpscope explain ARGS` with `input` on standard input.
fn explain_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpscope"))
        .arg("explain")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run smtpscope");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write on a thread: a large input must not block on a full pipe while smtpscope waits.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn explain(args: &[&str]) -> Output {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    smtpscope(&all, &[])
}

/// The fields each test checks, per JSON line.
fn summary(out: &Output) -> Vec<(String, u64, u64, String, String)> {
    json_lines(out)
        .iter()
        .map(|v| {
            (
                v["format"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
                v["code"].as_u64().unwrap(),
                v["after"].as_str().unwrap_or("-").to_string(),
                v["phase"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(
    format: &str,
    line: u64,
    code: u64,
    after: &str,
    phase: &str,
) -> (String, u64, u64, String, String) {
    (
        format.to_string(),
        line,
        code,
        after.to_string(),
        phase.to_string(),
    )
}

// https://github.com/anonaddy/anonaddy/issues/647, https://github.com/loganmarchione/docker-postfixrelay/issues/64,
// https://github.com/Billionmail/BillionMail/issues/156
const POSTFIX_LOG: &str = "May 30 04:42:19 mail postfix/smtp[1013884]: 246FE23EF5B: to=<narayan.lal@slashash.co>, relay=xxx.amazonaws.com[54.157.237.25]:587, delay=4.2, delays=0.72/0.08/2.3/1, dsn=5.0.0, status=bounced (host xxxx.amazonaws.com[54.157.237.25] said: 554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: b_ofshc3dponygkn3xhbra_mm3dgojygeytg@domain.com (in reply to end of DATA command))
Apr 29 12:46:28 16c03b5f2fe9 postfix/smtp[489]: 9968FA4E47: to=<myemail@mydomain.com>, relay=smtp.gmail.com[142.251.2.108]:587, delay=13139, delays=13138/0.02/0.74/0, dsn=4.7.8, status=deferred (SASL authentication failed; server smtp.gmail.com[142.251.2.108] said: 535-5.7.8 Username and Password not accepted. For more information, go to?535 5.7.8  https://support.google.com/mail/?p=BadCredentials 98e67ed59e1d1-309f77521cfsm9763797a91.14 - gsmtp)
<onesoftlab@gmail.com>: host
    email-smtp.ap-southeast-1.amazonaws.com[18.138.111.200] said: 530
    Authentication required (in reply to MAIL FROM command)
";

#[test]
fn postfix_log_on_stdin_as_json_lines() {
    let out = explain_stdin(&["--json"], POSTFIX_LOG.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        summary(&out),
        [
            row("postfix", 1, 554, "DATA-END", "authorization"),
            row("postfix", 2, 535, "AUTH", "authentication"),
            row("postfix", 3, 530, "MAIL", "authentication"),
        ]
    );
    let v = &json_lines(&out)[0];
    assert_eq!(v["after_from"], "log");
    assert_eq!(v["evidence"], "in reply to end of DATA command");
    assert_eq!(v["server"], "xxxx.amazonaws.com[54.157.237.25]");
    // "-" reads standard input too, and the text output names format, line and command.
    let out = explain_stdin(&["-"], POSTFIX_LOG.as_bytes());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for needle in [
        "── reply 1 of 3 ──",
        "from:     a Postfix log, line 1",
        "after:    DATA-END (the log says \"in reply to end of DATA command\")",
        "phase:    authorization",
        "── reply 3 of 3 ──",
        "from:     a Postfix log, line 3",
        "after:    MAIL (the log says \"in reply to MAIL FROM command\")",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
}

#[test]
fn an_explicit_after_wins_over_the_log() {
    let out = explain_stdin(&["--json", "--after", "rcpt"], POSTFIX_LOG.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(v["after"], "RCPT");
    assert_eq!(v["after_from"], "option");
    assert_eq!(v["inferred_after"], "DATA-END");
    // The verdict is made for the command given: the SASL line's 535 is an AUTH failure
    // (whose TLS is unknown) by the log's words, and not one when --after says RCPT.
    let auth = &json_lines(&explain_stdin(&["--json"], POSTFIX_LOG.as_bytes()))[1];
    let rcpt = &json_lines(&out)[1];
    assert!(
        auth["diagnosis"]["notes"]
            .to_string()
            .contains("TLS: unknown"),
        "{auth}"
    );
    assert!(
        !rcpt["diagnosis"]["notes"]
            .to_string()
            .contains("TLS: unknown"),
        "{rcpt}"
    );
    let out = explain_stdin(&["--after", "rcpt"], POSTFIX_LOG.as_bytes());
    assert!(
        text(&out).contains("after:    RCPT (from --after; the log says DATA-END"),
        "{}",
        text(&out)
    );
}

// https://github.com/tianon/dockerfiles/issues/96, https://github.com/roundcube/roundcubemail/issues/9127
const EXIM_LOG: &str = "  308   H=us-smtp-inbound-1.mimecast.com [205.139.110.242]: SMTP error from remote mail server after RCPT TO:<XXXXX@redhat.com>: 451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [XXXXX]
host eig-east.smtp.a.cloudfilter.net [18.215.58.191]
    SMTP error from remote mail server after end of data:
    550 eKqgqwhcolWFfeKqgqLWon - <info@newlavenderdental.co.uk> sender rejected AUP#CDRBL
";

#[test]
fn exim_errors() {
    let out = explain(&[EXIM_LOG, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    // A temporary failure of the server itself ("internal resource"), not of the address.
    assert_eq!(rows[0], row("exim", 1, 451, "RCPT", "service"), "{rows:?}");
    assert_eq!(rows[1].0, "exim");
    assert_eq!(
        (rows[1].1, rows[1].2, rows[1].3.as_str()),
        (4, 550, "DATA-END")
    );
    let v = &json_lines(&out)[1];
    assert_eq!(
        v["server"],
        "eig-east.smtp.a.cloudfilter.net [18.215.58.191]"
    );
    // https://github.com/imthenachoman/How-To-Secure-A-Linux-Server/issues/42: 530 to MAIL
    // FROM is the authentication phase (the client never authenticated).
    let gmail = r#"2019-10-19 15:30:30 1iLooQ-0002aM-3F ** <MY-GMAIL-ADDRESS> R=smarthost T=remote_smtp_smarthost H=smtp.gmail.com [64.233.184.108] X=TLS1.2:ECDHE_RSA_CHACHA20_POLY1305:256 CV=yes DN="C=US,ST=California,L=Mountain View,O=Google LLC,CN=smtp.gmail.com": SMTP error from remote mail server after pipelined MAIL FROM:<gcoter@localhost> SIZE=1410: 530-5.5.1 Authentication Required. Learn more at\n530 5.5.1  https://support.google.com/mail/?p=WantAuthError z13sm8095930wrq.51 - gsmtp"#;
    assert_eq!(
        summary(&explain(&[gmail, "--json"])),
        [row("exim", 1, 530, "MAIL", "authentication")]
    );
    let t = text(&explain(&[EXIM_LOG]));
    assert!(
        t.contains("after:    RCPT (the log says \"after RCPT TO:<XXXXX@redhat.com>\")"),
        "{t}"
    );
    assert!(t.contains("to:       XXXXX@redhat.com"), "{t}");
}

// https://github.com/justingit/dada-mail/issues/717 (the delivery report part) and a Sendmail
// log line (fields from https://github.com/PHPMailer/PHPMailer/issues/2153, reply from
// https://github.com/Mailu/Mailu/issues/1458).
#[test]
fn delivery_reports_and_sendmail_lines_say_no_command() {
    let dsn = "Remote-MTA: dns; smtp.mailchannels.net\nDiagnostic-Code: smtp; 550 5.7.1 [BFD] Sender prohibited by SPF\n";
    let out = explain(&[dsn, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(
        (v["format"].as_str(), v["line"].as_u64()),
        (Some("dsn"), Some(2))
    );
    assert_eq!(v["after_from"], "unknown");
    assert_eq!(v["server"], "smtp.mailchannels.net");
    let t = text(&explain(&[dsn]));
    assert!(
        t.contains("after:    unknown: the text does not say"),
        "{t}"
    );
    assert!(t.contains("give --after COMMAND"), "{t}");

    let sendmail = "Oct  3 15:40:44 2862 sm-mta[9471]: 093DecOR009469: to=<crafter2345@eclipso.de>, delay=00:00:06, xdelay=00:00:06, mailer=esmtp, pri=120592, relay=mta7.am0.yahoodns.net. [67.195.204.77], dsn=4.7.0, stat=Deferred: 421 4.7.0 [TSS04] Messages from 78.225.183.108 temporarily deferred due to user complaints - 4.16.55.1; see https://help.yahoo.com/kb/postmaster/SLN3434.html";
    let out = explain(&[sendmail, "--json"]);
    assert_eq!(summary(&out), [row("sendmail", 1, 421, "-", "service")]);
    assert_eq!(json_lines(&out)[0]["verdict"], "transient");
}

// https://github.com/LandOfTheRair/LandOfTheRair/issues/293, https://github.com/Vincedream/NodeMail/issues/20,
// https://github.com/nodemailer/nodemailer/issues/1089
const NODEMAILER_LOG: &str = "Error: Invalid login: 535-5.7.8 Username and Password not accepted. Learn more at
535 5.7.8  https://support.google.com/mail/?p=BadCredentials d24sm19592wmb.35 - gsmtp
{ Error: Message failed: 554 DT:SPM 126 smtp2,DMmowAAnNDQz4zxdCk6LIw--.52838S2 1564271411,please see http://mail.163.com/help/help_spam_16.htm?ip=219.143.176.2&hostid=smtp2&time=1564271411
(node:60452) UnhandledPromiseRejectionWarning: Error: Can't send mail - all recipients were rejected: 550 5.7.1 Service unavailable; client [xx.xxx.xxx.xxx] blocked using zen.spamhaus.org
";

#[test]
fn nodemailer_errors() {
    let out = explain(&[NODEMAILER_LOG, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], row("nodemailer", 1, 535, "AUTH", "authentication"));
    assert_eq!(
        (rows[1].1, rows[1].2, rows[1].3.as_str()),
        (3, 554, "DATA-END")
    );
    assert_eq!((rows[2].1, rows[2].2, rows[2].3.as_str()), (4, 550, "RCPT"));
    assert_eq!(
        json_lines(&out)[0]["text"]
            .as_str()
            .unwrap()
            .lines()
            .count(),
        2
    );
}

// https://github.com/PHPMailer/PHPMailer/issues/1930, https://github.com/PHPMailer/PHPMailer/issues/1886
const PHPMAILER_LOG: &str = "2019-12-30 16:22:43 CLIENT -> SERVER: AUTH LOGIN
2019-12-30 16:22:43 SERVER -> CLIENT: 334 VXNlcm5hbWU6
2019-12-30 16:22:43 CLIENT -> SERVER: dXNlckBleGFtcGxlLmNvbQ==
2019-12-30 16:22:43 SERVER -> CLIENT: 334 UGFzc3dvcmQ6
2019-12-30 16:22:43 CLIENT -> SERVER: c2VjcmV0LXBhc3N3b3Jk
2019-12-30 16:22:43 SERVER -> CLIENT: 535-5.7.8 Username and Password not accepted. Learn more at535 5.7.8 https://support.google.com/mail/?p=BadCredentials u17sm8981445ljk.62 - gsmtp
2019-12-30 16:22:43 SMTP ERROR: Password command failed: 535-5.7.8 Username and Password not accepted. Learn more at535 5.7.8 https://support.google.com/mail/?p=BadCredentials u17sm8981445ljk.62 - gsmtp
Mailer Error: The following From address failed: mymail : MAIL FROM command failed,Authentication Required. Learn more at https://support.google.com/mail/?p=WantAuthError o189sm20117163wmo.23 - gsmtp ,530,5.5.1SMTP server error: MAIL FROM command failed Detail: Authentication Required. Learn more at https://support.google.com/mail/?p=WantAuthError o189sm20117163wmo.23 - gsmtp SMTP code: 530 Additional SMTP info: 5.5.1
";

#[test]
fn phpmailer_output_never_quotes_the_client_lines() {
    let out = explain(&[PHPMAILER_LOG, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    let got: Vec<(u64, u64, &str)> = rows.iter().map(|r| (r.1, r.2, r.3.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, 334, "AUTH"),
            (4, 334, "AUTH-RESPONSE"),
            (6, 535, "AUTH-RESPONSE"),
            (8, 530, "MAIL")
        ]
    );
    assert_eq!(rows[2].4, "authentication");
    assert_eq!(rows[3].4, "authentication");
    // The user name and password the client sent (base64 here) appear nowhere.
    for args in [vec![PHPMAILER_LOG], vec![PHPMAILER_LOG, "--json"]] {
        let t = text(&explain(&args));
        for secret in ["dXNlckBleGFtcGxlLmNvbQ==", "c2VjcmV0LXBhc3N3b3Jk"] {
            assert!(!t.contains(secret), "{secret} leaked:\n{t}");
        }
    }
}

// https://github.com/hacky1997/voice-based-email-for-blind/issues/22, https://github.com/ae-utbm/sith/issues/91,
// https://github.com/frappe/frappe/issues/7021
const PYTHON_LOG: &str = r"smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted. Learn more at\n5.7.8  https://support.google.com/mail/?p=BadCredentials j10sm5731558pfn.207 - gsmtp')
SMTPRecipientsRefused: {'ludovic.farine@utbm.fr': (550, b'5.1.1 <ludovic.farine@utbm.fr>: Recipient address rejected: User unknown in local recipient table')}
SMTPSenderRefused: (553, '5.7.1 Sender address rejected: not owned by auth user.', u'Notifications <admin@example.com>')
";

#[test]
fn python_smtplib_errors() {
    let out = explain(&[PYTHON_LOG, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    assert_eq!(
        rows[0],
        row("python-smtplib", 1, 535, "AUTH", "authentication")
    );
    assert_eq!(rows[1], row("python-smtplib", 2, 550, "RCPT", "envelope"));
    assert_eq!((rows[2].2, rows[2].3.as_str()), (553, "MAIL"));
    let v = json_lines(&out);
    assert_eq!(v[0]["enhanced"], "5.7.8");
    assert_eq!(v[1]["recipient"], "ludovic.farine@utbm.fr");
}

// https://github.com/eugenp/tutorials/issues/3234, https://github.com/halo-dev/halo/issues/6217
#[test]
fn javamail_exceptions() {
    let log = "org.springframework.mail.MailAuthenticationException: Authentication failed; nested exception is javax.mail.AuthenticationFailedException: 535-5.7.8 Username and Password not accepted. Learn more at
535 5.7.8  https://support.google.com/mail/?p=BadCredentials j5sm3207422pgn.82 - gsmtp
Caused by: jakarta.mail.AuthenticationFailedException: 535 Error: authentication failed
";
    let out = explain(&[log, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        summary(&out),
        [
            row("javamail", 1, 535, "AUTH", "authentication"),
            row("javamail", 3, 535, "AUTH", "authentication"),
        ]
    );
}

// https://github.com/dotnet/dotnet-api-docs/issues/11287, https://github.com/andrewdavey/postal/issues/127
#[test]
fn dotnet_messages_name_the_code_they_leave_out() {
    let log = "System.Net.Mail.SmtpException: The SMTP server requires a secure connection or the client was not authenticated. The server response was: 5.7.0 Authentication Required. For more information, go to
System.Net.Mail.SmtpException: Mailbox unavailable. The server response was: If MAIL FROM is local then you must authenticate
   at System.Net.Mail.MailCommand.CheckResponse(SmtpStatusCode statusCode, String response)
";
    let out = explain(&[log, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    assert_eq!(rows[0], row("dotnet", 1, 530, "-", "authentication"));
    assert_eq!((rows[1].2, rows[1].3.as_str()), (550, "MAIL"));
    let v = json_lines(&out);
    assert!(
        v[0]["note"]
            .as_str()
            .unwrap()
            .contains("has no reply code; 530"),
        "{}",
        v[0]
    );
    assert_eq!(
        v[1]["evidence"],
        "System.Net.Mail.MailCommand in the stack trace"
    );
    let t = text(&explain(&[log]));
    assert!(
        t.contains("note:     The .NET message has no reply code"),
        "{t}"
    );
}

// https://github.com/mozilla/fxa-auth-server/issues/834, inside an SNS envelope
// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
#[test]
fn ses_bounce_notification_inside_sns_on_stdin() {
    let bounce = serde_json::json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "reportingMTA": "dns; email.example.com",
            "bouncedRecipients": [{
                "emailAddress": "username@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <username@example.com>... User"
            }],
            "bounceSubType": "General",
            "timestamp": "2012-06-19T01:07:52.000Z"
        },
        "mail": {"source": "sender@example.com", "destination": ["username@example.com"]}
    });
    let sns = serde_json::json!({
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Message": bounce.to_string(),
    });
    let out = explain_stdin(
        &["--json"],
        serde_json::to_string_pretty(&sns).unwrap().as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = summary(&out);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].2, rows[0].3.as_str()),
        ("ses-notification", 550, "-")
    );
    let v = &json_lines(&out)[0];
    assert_eq!(v["recipient"], "username@example.com");
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("SES had accepted the message")
    );
}

#[test]
fn a_bare_reply_still_works_multi_line_too() {
    let out = explain(&[
        "250-mx.example.com\n250-SIZE 10240000\n250 PIPELINING",
        "--after",
        "ehlo",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(
        (v["format"].as_str(), v["code"].as_u64()),
        (Some("bare"), Some(250))
    );
    assert_eq!(v["text"], "mx.example.com\nSIZE 10240000\nPIPELINING");
    assert_eq!(v["after_from"], "option");
    let t = text(&explain(&[
        "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
        "--after",
        "rcpt",
    ]));
    assert!(t.contains("from:     a reply on its own, line 1"), "{t}");
    assert!(t.contains("phase:    envelope"), "{t}");
}

#[test]
fn nothing_recognisable_is_exit_2_with_an_example() {
    for out in [
        explain(&["the mail did not arrive, please help"]),
        explain_stdin(&[], b"just some words\nand more\n"),
        explain_stdin(&[], b""),
    ] {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no SMTP reply found"), "{err}");
        assert!(
            err.contains("535 Authentication Credentials Invalid"),
            "{err}"
        );
        assert!(err.contains("(in reply to RCPT TO command)"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // An incomplete bare reply says what is missing.
    let out = explain(&["250-first line only"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("the last line must be \"CODE text\""),
        "{}",
        text(&out)
    );
}

#[test]
fn control_sequences_in_a_pasted_log_are_escaped() {
    let log = "Jan  1 00:00:00 mx postfix/smtp[1]: 1: to=<a@b>, status=bounced (host evil[192.0.2.1] said: 550 5.1.1 \u{1b}[2J\u{1b}]0;owned\u{7} gone\u{202e} (in reply to RCPT TO command))";
    for args in [vec![log], vec![log, "--json"]] {
        let out = explain(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        for raw in [0x1b_u8, 0x07] {
            assert!(!out.stdout.contains(&raw), "raw {raw:#x} reached stdout");
        }
        assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{202e}'));
    }
    let t = text(&explain(&[log]));
    assert!(
        t.contains("\\x1b[2J\\x1b]0;owned\\x07 gone\\u{202e}"),
        "{t}"
    );
    let out = explain(&[log, "--json"]);
    assert_eq!(
        json_lines(&out)[0]["text"],
        "5.1.1 \u{1b}[2J\u{1b}]0;owned\u{7} gone\u{202e}",
        "JSON escapes the bytes and keeps them"
    );
}

#[test]
fn input_is_bounded_and_replies_capped() {
    let big = vec![b'x'; 1024 * 1024 + 1];
    let out = explain_stdin(&[], &big);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("larger than the limit of 1 MiB"),
        "{}",
        text(&out)
    );

    let many: String = (0..1005).map(|i| format!("550 no {i}\n")).collect();
    let out = explain_stdin(&["--json"], many.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out).len(), 1000);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped after 1000 replies"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_pasted_auth_failure_does_not_claim_the_connection_had_no_tls() {
    let t = text(&explain(&[
        "535 Authentication Credentials Invalid",
        "--after",
        "auth",
    ]));
    assert!(!t.contains("without TLS"), "{t}");
    assert!(t.contains("TLS: unknown"), "{t}");
    // A session that knows TLS was off still says so.
    use smtpscope::engine::classify::{Catalog, Context};
    use smtpscope::engine::command::Verb;
    use smtpscope::engine::reply::Reply;
    let reply = Reply::from_lines(535, &["Authentication Credentials Invalid"]);
    let notes = |tls| {
        let ctx = Context {
            tls,
            ..Context::after(Verb::Auth)
        };
        Catalog::builtin()
            .classify(&reply, &ctx)
            .diagnosis
            .notes
            .join(" ")
    };
    assert!(notes(Some(false)).contains("without TLS"));
    assert!(!notes(Some(true)).contains("TLS"), "{}", notes(Some(true)));
    assert!(!notes(None).contains("without TLS"));
}
