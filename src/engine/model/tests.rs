//! The model as a fold over entries: off-path sessions keep the right verdict, and the
//! standard flow never picks a failed step again.

use super::*;
use crate::engine::classify::Catalog;
use crate::engine::message::MessageStats;
use crate::engine::transport::Verification;
use chrono::Utc;

/// Builds entries the way `Session` records them, classifying replies with the model's
/// context, and applies each to a model.
struct Walk {
    model: SessionModel,
    seq: u64,
    tls: bool,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            model: SessionModel::default(),
            seq: 0,
            tls: false,
        }
    }

    /// Connected with STARTTLS, EHLO twice and AUTH PLAIN accepted.
    fn logged_in() -> Walk {
        let mut w = Walk::new();
        w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
        w.cmd(Verb::Auth, "AUTH PLAIN", 235, "Authentication successful.");
        w
    }

    /// [`Walk::logged_in`], then MAIL FROM and one RCPT TO accepted and DATA answered 354.
    fn in_data() -> Walk {
        let mut w = Walk::logged_in();
        w.cmd(Verb::Mail, "MAIL FROM:<a@example.com>", 250, "Ok")
            .cmd(Verb::Rcpt, "RCPT TO:<b@example.com>", 250, "Ok")
            .cmd(Verb::Data, "DATA", 354, "End data with <CR><LF>.<CR><LF>");
        w
    }

    fn push(&mut self, kind: EntryKind) -> &mut Walk {
        self.seq += 1;
        let e = Entry {
            seq: self.seq,
            time: Utc::now(),
            tls: self.tls,
            latency_ms: None,
            kind,
        };
        self.model.apply(&e);
        self
    }

    fn connect(&mut self, mode: TlsMode) -> &mut Walk {
        self.tls = false;
        self.push(EntryKind::Connecting {
            host: "email-smtp.us-east-1.amazonaws.com".into(),
            port: 587,
            mode: mode.name().into(),
        })
        .push(EntryKind::Connected {
            peer: "192.0.2.1:587".into(),
        })
        .reply(
            Verb::Connect,
            220,
            "email-smtp.amazonaws.com ESMTP SimpleEmailService",
        )
    }

    fn sent(&mut self, verb: Verb, line: &str) -> &mut Walk {
        let redacted = (verb == Verb::Auth).then(|| Redacted::PlainBlob {
            initial: true,
            user: "AKIAEXAMPLE".into(),
            authzid: None,
        });
        self.push(EntryKind::Sent {
            line: line.into(),
            verb,
            redacted,
        })
    }

    fn reply(&mut self, verb: Verb, code: u16, text: &str) -> &mut Walk {
        let reply = crate::engine::reply::Reply::from_lines(code, &[text]);
        let mut ctx = self.model.context();
        ctx.after = Some(verb);
        let class = Catalog::builtin().classify(&reply, &ctx);
        self.push(EntryKind::Reply(Box::new(ReplyEntry::new(
            reply,
            Some(verb),
            class,
        ))))
    }

    fn cmd(&mut self, verb: Verb, line: &str, code: u16, text: &str) -> &mut Walk {
        self.sent(verb, line).reply(verb, code, text)
    }

    fn ehlo(&mut self) -> &mut Walk {
        self.sent(Verb::Ehlo, "EHLO me");
        let reply = crate::engine::reply::Reply::from_lines(
            250,
            &[
                "email-smtp.amazonaws.com",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "Ok",
            ],
        );
        let class = Catalog::builtin().classify(&reply, &self.model.context());
        self.push(EntryKind::Reply(Box::new(ReplyEntry::new(
            reply,
            Some(Verb::Ehlo),
            class,
        ))))
    }

    fn starttls(&mut self) -> &mut Walk {
        self.cmd(Verb::StartTls, "STARTTLS", 220, "Ready to start TLS");
        self.tls = true;
        self.push(EntryKind::TlsStarted {
            info: TlsInfo {
                version: "TLS 1.3".into(),
                cipher: "x".into(),
                server_name: "h".into(),
                chain: vec![],
                verification: Verification::Verified,
                facts: Box::default(),
            },
        })
    }

    fn error(&mut self, kind: ErrorKind, phase: Phase) -> &mut Walk {
        self.push(EntryKind::Error {
            phase,
            kind,
            text: "x".into(),
            chain: vec![],
        })
    }

    fn closed(&mut self, reason: &str) -> &mut Walk {
        self.push(EntryKind::Closed {
            reason: reason.into(),
        })
    }

    fn outcome(&self) -> Outcome {
        self.model.outcome()
    }

    fn next(&self, plan: &Plan) -> Option<Step> {
        next_step(&self.model, plan)
    }
}

fn plan() -> Plan {
    Plan {
        tls_mode: TlsMode::Starttls,
        auth: true,
        recipients: 1,
        reconnect_once: true,
        messages: 1,
    }
}

const DENIED: &str = "Access denied: User `arn:aws:iam::1:user/u' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:1:identity/example.com'";

#[test]
fn the_standard_flow_to_an_accepted_message() {
    let mut w = Walk::new();
    assert_eq!(w.next(&plan()), Some(Step::Connect));
    w.connect(TlsMode::Starttls);
    assert_eq!(w.next(&plan()), Some(Step::Ehlo));
    w.ehlo();
    assert_eq!(w.next(&plan()), Some(Step::StartTls));
    w.starttls();
    assert_eq!(w.next(&plan()), Some(Step::Ehlo));
    w.ehlo();
    assert_eq!(w.next(&plan()), Some(Step::Auth));
    w.cmd(Verb::Auth, "AUTH PLAIN", 235, "Authentication successful.");
    assert_eq!(w.model.authenticated_as(), Some("AKIAEXAMPLE"));
    assert_eq!(w.next(&plan()), Some(Step::Mail));
    w.cmd(Verb::Mail, "MAIL FROM:<a@example.com>", 250, "Ok");
    assert_eq!(w.next(&plan()), Some(Step::Rcpt));
    w.cmd(Verb::Rcpt, "RCPT TO:<b@example.net>", 250, "Ok");
    assert_eq!(
        w.model.transaction().unwrap().rcpts_accepted,
        ["b@example.net"]
    );
    assert_eq!(w.next(&plan()), Some(Step::Data));
    w.cmd(Verb::Data, "DATA", 354, "End data with <CR><LF>.<CR><LF>");
    assert_eq!(w.next(&plan()), Some(Step::Dot));
    w.push(EntryKind::Message {
        stats: MessageStats::default(),
        view: None,
    })
    .reply(Verb::DataEnd, 250, "Ok 0100-id");
    assert_eq!(w.outcome(), Outcome::Accepted);
    assert_eq!(
        w.model.verdict(),
        "Authenticated and authorized: the message was accepted"
    );
    assert_eq!(w.next(&plan()), Some(Step::Quit));
    w.cmd(Verb::Quit, "QUIT", 221, "Bye").closed("after QUIT");
    assert_eq!(w.next(&plan()), None);
    // The idle timeout after the work is done changes nothing.
    assert_eq!(w.outcome(), Outcome::Accepted);
}

#[test]
fn auth_before_starttls_is_a_tls_order_problem_and_next_recovers() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        530,
        "Must issue a STARTTLS command first",
    );
    assert_eq!(w.outcome(), Outcome::TlsFailed);
    assert!(!w.model.credentials_checked);
    let v = w.model.verdict();
    assert!(v.starts_with("TLS required first"), "{v}");
    assert!(!v.contains("Authentication failed"), "{v}");
    // Next: STARTTLS, EHLO, then AUTH again, since the credentials were never checked.
    assert_eq!(w.next(&plan()), Some(Step::StartTls));
    w.starttls();
    assert_eq!(w.next(&plan()), Some(Step::Ehlo));
    w.ehlo();
    assert_eq!(w.next(&plan()), Some(Step::Auth));
    w.cmd(Verb::Auth, "AUTH PLAIN", 235, "Authentication successful.");
    assert!(w.model.credentials_checked);
    assert_eq!(
        w.model.failure, None,
        "the success settles the TLS-order failure"
    );
    assert_eq!(w.outcome(), Outcome::Authenticated);
}

#[test]
fn mail_without_auth_says_auth_was_never_sent() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.sent(Verb::Mail, "MAIL FROM:<a@example.com>");
    w.reply(Verb::Mail, 530, "Authentication required");
    assert_eq!(w.outcome(), Outcome::NotAuthenticated);
    assert_eq!(
        w.model.verdict(),
        "Not authenticated: refused at MAIL (530); AUTH was never sent"
    );
}

#[test]
fn a_530_after_a_535_keeps_the_535_as_the_cause() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        535,
        "Authentication Credentials Invalid",
    );
    assert!(w.model.credentials_checked);
    // The flow goes on to MAIL, where SES answers 530: the learner sees both.
    assert_eq!(w.next(&plan()), Some(Step::Mail));
    w.cmd(
        Verb::Mail,
        "MAIL FROM:<a@example.com>",
        530,
        "Authentication required",
    );
    assert_eq!(w.outcome(), Outcome::AuthenticationFailed);
    let f = w.model.failure.clone().unwrap();
    assert_eq!((f.step, f.code), (Some(Step::Auth), Some(535)));
    assert!(
        w.model
            .verdict()
            .starts_with("Authentication failed at AUTH")
    );
    assert_eq!(w.next(&plan()), Some(Step::Quit));
}

/// A pipelined group to a server that takes mail without AUTH: the 535 comes first, then
/// MAIL, RCPT and DATA succeed, and the client hangs up at the 354. The credentials were
/// refused; what the server took without them does not change that.
#[test]
fn refused_credentials_stay_the_verdict_through_a_group_the_server_took_anyway() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.sent(Verb::Auth, "AUTH PLAIN")
        .sent(Verb::Mail, "MAIL FROM:<a@example.com>")
        .sent(Verb::Rcpt, "RCPT TO:<b@example.com>")
        .sent(Verb::Data, "DATA");
    w.reply(Verb::Auth, 535, "5.7.8 Error: authentication failed")
        .reply(Verb::Mail, 250, "2.1.0 Ok")
        .reply(Verb::Rcpt, 250, "2.1.5 Ok")
        .reply(Verb::Data, 354, "End data with <CR><LF>.<CR><LF>");
    assert_eq!(w.outcome(), Outcome::AuthenticationFailed);
    w.closed("closed by the user");
    assert_eq!(w.outcome(), Outcome::AuthenticationFailed);
    assert!(
        w.model
            .verdict()
            .starts_with("Authentication failed at AUTH")
    );
}

/// The server hangs up while the message is being written: the write fails before the
/// final "." is recorded, and the failure belongs to the message, not to no step at all.
#[test]
fn a_write_that_fails_mid_message_fails_the_message() {
    let mut w = Walk::in_data();
    w.error(ErrorKind::Io, Phase::Connection);
    let f = w.model.failure.clone().expect("a failure");
    assert_eq!(f.step, Some(Step::Dot));
    assert_eq!(w.outcome(), Outcome::ConnectionFailed);
}

#[test]
fn a_good_auth_after_a_535_ends_authenticated_and_remembers_it() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        535,
        "Authentication Credentials Invalid",
    );
    w.cmd(Verb::Auth, "AUTH PLAIN", 235, "Authentication successful.");
    assert_eq!(w.outcome(), Outcome::Authenticated);
    assert_eq!(
        w.model.settled_auth_failure().and_then(|f| f.code),
        Some(535)
    );
    assert_eq!(w.next(&plan()), Some(Step::Mail));
    let auths: Vec<_> = w
        .model
        .history
        .iter()
        .filter(|h| h.step == Step::Auth)
        .map(|h| h.status)
        .collect();
    assert_eq!(auths, [StepStatus::Failed, StepStatus::Passed]);
}

#[test]
fn a_second_auth_after_success_is_a_misstep_and_authentication_holds() {
    let mut w = Walk::logged_in();
    w.cmd(Verb::Auth, "AUTH PLAIN", 503, "Already authenticated");
    assert_eq!(w.model.authenticated_as(), Some("AKIAEXAMPLE"));
    assert_eq!(w.outcome(), Outcome::ProtocolError);
    let v = w.model.verdict();
    assert!(v.contains("authentication still holds"), "{v}");
    assert!(!v.contains("Authentication failed"), "{v}");
    // Going on settles it.
    w.cmd(Verb::Mail, "MAIL FROM:<a@example.com>", 250, "Ok");
    assert_eq!(w.model.failure, None);
}

#[test]
fn a_temporary_refusal_at_auth_does_not_judge_the_credentials() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        421,
        "4.7.0 Temporary System Problem. Try again later",
    );
    w.closed("the server sent 421 (closing the channel)");
    assert_eq!(w.outcome(), Outcome::ServerUnavailable);
    assert!(!w.model.credentials_checked);
    let v = w.model.verdict();
    assert!(v.contains("not judged"), "{v}");
    // Next offers one reconnect, then gives up.
    assert_eq!(w.next(&plan()), Some(Step::Connect));
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        421,
        "4.7.0 Temporary System Problem",
    );
    w.closed("the server sent 421 (closing the channel)");
    assert_eq!(w.next(&plan()), None);
}

#[test]
fn a_drop_at_auth_is_a_lost_connection_not_bad_credentials() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.sent(Verb::Auth, "AUTH PLAIN");
    w.error(ErrorKind::Closed, Phase::Connection)
        .closed("after the error above");
    assert_eq!(w.outcome(), Outcome::ConnectionFailed);
    assert_eq!(
        w.model.verdict(),
        "Connection lost during AUTH; credentials not judged"
    );
}

#[test]
fn implicit_tls_against_plain_text_fails_at_connect() {
    let mut w = Walk::new();
    w.push(EntryKind::Connecting {
        host: "h".into(),
        port: 25,
        mode: "implicit".into(),
    })
    .push(EntryKind::Connected {
        peer: "127.0.0.1:25".into(),
    })
    .error(ErrorKind::Tls, Phase::Tls)
    .closed("TLS handshake failed");
    assert_eq!(w.outcome(), Outcome::TlsFailed);
    assert_eq!(w.model.failure.as_ref().unwrap().step, Some(Step::Connect));
    assert_eq!(w.model.verdict(), "TLS failed at connect");
}

#[test]
fn a_refused_connection_fails_at_connect() {
    let mut w = Walk::new();
    w.push(EntryKind::Connecting {
        host: "h".into(),
        port: 25,
        mode: "starttls".into(),
    })
    .error(ErrorKind::Connect, Phase::Connection);
    assert_eq!(w.outcome(), Outcome::ConnectionFailed);
    assert_eq!(w.model.verdict(), "Connection failed at connect");
}

#[test]
fn ehlo_refused_is_its_own_outcome_and_ends_the_flow() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls);
    w.cmd(Verb::Ehlo, "EHLO me", 550, "5.7.1 go away");
    assert_eq!(w.outcome(), Outcome::EhloRefused);
    assert_eq!(w.outcome().exit_code(), 5);
    assert_eq!(w.next(&plan()), Some(Step::Quit));
}

#[test]
fn a_refused_starttls_never_leads_to_auth_in_the_clear() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo();
    w.cmd(
        Verb::StartTls,
        "STARTTLS",
        454,
        "4.7.0 TLS not available due to local problem",
    );
    assert_eq!(w.outcome(), Outcome::TlsFailed);
    assert_eq!(w.next(&plan()), Some(Step::Quit));
}

#[test]
fn authorization_after_dot_with_and_without_a_login() {
    let mut w = Walk::in_data();
    w.push(EntryKind::Message {
        stats: MessageStats::default(),
        view: None,
    })
    .reply(Verb::DataEnd, 554, DENIED);
    assert_eq!(w.outcome(), Outcome::AuthorizationDenied);
    assert_eq!(
        w.model.verdict(),
        "Authenticated; authorization denied after DATA"
    );
    assert_eq!(w.outcome().exit_code(), 9);
    assert_eq!(w.next(&plan()), Some(Step::Quit));
}

#[test]
fn out_of_order_commands_are_protocol_errors() {
    let mut w = Walk::logged_in();
    w.cmd(
        Verb::Rcpt,
        "RCPT TO:<b@example.net>",
        503,
        "5.5.1 Error: need MAIL command",
    );
    assert_eq!(w.outcome(), Outcome::ProtocolError);
    assert_eq!(w.outcome().exit_code(), 13);
}

#[test]
fn an_unexpected_reply_error_fails_the_step_it_follows() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo();
    w.cmd(Verb::Data, "DATA", 250, "Ok");
    w.error(ErrorKind::Unexpected, Phase::Service);
    assert_eq!(w.outcome(), Outcome::ProtocolError);
    assert_eq!(w.model.failure.as_ref().unwrap().step, Some(Step::Data));
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo();
    w.cmd(Verb::StartTls, "STARTTLS", 250, "Ok");
    w.error(ErrorKind::Unexpected, Phase::Service);
    assert_eq!(w.outcome(), Outcome::TlsFailed);
}

#[test]
fn progress_changes_with_every_answered_step() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls);
    let before = w.model.progress();
    w.ehlo();
    assert_ne!(before, w.model.progress());
    let before = w.model.progress();
    w.cmd(Verb::Noop, "NOOP", 250, "Ok");
    assert_eq!(before, w.model.progress(), "NOOP moves nothing");
}

#[test]
fn a_closed_session_keeps_its_history_for_the_header() {
    let mut w = Walk::logged_in();
    w.cmd(Verb::Quit, "QUIT", 221, "Bye").closed("after QUIT");
    assert!(!w.model.connected());
    let c = w.model.conn.as_ref().unwrap();
    assert!(c.tls.is_some());
    assert_eq!(c.authenticated_as.as_deref(), Some("AKIAEXAMPLE"));
}

#[test]
fn the_decisive_reply_is_the_535_not_the_530_nor_a_later_221() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo().starttls().ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        535,
        "Authentication Credentials Invalid",
    );
    let decided = w.seq;
    assert_eq!(w.model.decisive_seq(), Some(decided));
    w.cmd(
        Verb::Mail,
        "MAIL FROM:<a@example.com>",
        530,
        "Authentication required",
    );
    w.cmd(Verb::Quit, "QUIT", 221, "Bye").closed("after QUIT");
    assert_eq!(w.model.decisive_seq(), Some(decided));
}

#[test]
fn a_settled_failure_is_no_longer_decisive() {
    let mut w = Walk::new();
    w.connect(TlsMode::Starttls).ehlo();
    w.cmd(
        Verb::Auth,
        "AUTH PLAIN",
        530,
        "Must issue a STARTTLS command first",
    );
    assert!(w.model.decisive_seq().is_some());
    w.starttls().ehlo();
    w.cmd(Verb::Auth, "AUTH PLAIN", 235, "Authentication successful.");
    assert_eq!(w.model.decisive_seq(), None);
}

#[test]
fn the_iam_check_waits_for_the_final_dot() {
    let mut w = Walk::in_data();
    assert_eq!(w.model.iam_check(), Some(&IamCheck::NotEvaluated));
    w.push(EntryKind::Message {
        stats: crate::engine::message::encode_message(b"x\r\n").1,
        view: None,
    });
    w.reply(Verb::DataEnd, 554, DENIED);
    assert_eq!(
        w.model.iam_check(),
        Some(&IamCheck::Denied {
            action: "ses:SendRawEmail".into()
        })
    );
    // A new transaction has not been evaluated yet.
    w.cmd(Verb::Mail, "MAIL FROM:<a@example.com>", 250, "Ok");
    assert_eq!(w.model.iam_check(), Some(&IamCheck::NotEvaluated));
}

#[test]
fn lines_typed_after_354_are_the_message_and_a_lone_dot_ends_it() {
    let mut w = Walk::in_data();
    let steps = w.model.history.len();
    w.sent(Verb::Other, "Subject: hi").sent(Verb::Other, "");
    assert_eq!(w.model.history.len(), steps, "message lines are not steps");
    assert!(!w.model.waiting(), "no reply is awaited for a message line");
    w.sent(Verb::DataEnd, ".");
    assert!(w.model.waiting());
    w.reply(Verb::DataEnd, 250, "Ok 0100");
    assert_eq!(w.outcome(), Outcome::Accepted);
    assert_eq!(w.model.history.last().map(|h| h.step), Some(Step::Dot));
}

fn connect_to(w: &mut Walk, host: &str, greeting: &str) {
    w.push(EntryKind::Connecting {
        host: host.into(),
        port: 587,
        mode: TlsMode::Starttls.name().into(),
    })
    .push(EntryKind::Connected {
        peer: "192.0.2.1:587".into(),
    })
    .reply(Verb::Connect, 220, greeting);
}

#[test]
fn the_provider_comes_from_the_host_then_the_greeting() {
    // A host name of a known service: detected before the greeting arrives.
    let mut w = Walk::new();
    w.push(EntryKind::Connecting {
        host: "smtp.gmail.com".into(),
        port: 587,
        mode: TlsMode::Starttls.name().into(),
    });
    assert_eq!(w.model.provider().map(|p| p.id.as_str()), Some("gmail"));
    assert_eq!(w.model.provider().map(|p| p.by), Some(Signal::Host));

    // An unknown host: the greeting names Postfix, and the context carries it.
    let mut w = Walk::new();
    connect_to(
        &mut w,
        "mail.example.net",
        "mail.example.net ESMTP Postfix (Debian/GNU)",
    );
    assert_eq!(w.model.provider().map(|p| p.id.as_str()), Some("postfix"));
    assert_eq!(w.model.provider().map(|p| p.by), Some(Signal::Greeting));
    assert_eq!(w.model.context().provider.as_deref(), Some("postfix"));

    // The SES greeting behind a custom host name refines nothing-known into SES.
    let mut w = Walk::new();
    connect_to(
        &mut w,
        "smtp.example.org",
        "email-smtp.amazonaws.com ESMTP SimpleEmailService-d-1 x",
    );
    assert_eq!(w.model.provider().map(|p| p.id.as_str()), Some("ses"));
    assert!(w.model.context().ses);

    // Nothing recognisable: no provider.
    let mut w = Walk::new();
    connect_to(&mut w, "127.0.0.1", "localhost Python SMTP 1.4.6");
    assert_eq!(w.model.provider(), None);
}

#[test]
fn a_known_non_ses_server_is_not_ses_even_when_its_text_quotes_ses() {
    // Postfix relaying an SES IAM denial quotes "ses:SendRawEmail": the model must not call it
    // SES, so no note claims SES accepted MAIL FROM.
    let mut w = Walk::new();
    connect_to(
        &mut w,
        "email-smtp.relay.example.com",
        "relay.example.com ESMTP Postfix",
    );
    assert!(
        w.model.conn.as_ref().unwrap().ses,
        "the host name looks like SES's"
    );
    assert_eq!(w.model.provider().map(|p| p.id.as_str()), Some("postfix"));
    assert!(
        !w.model.context().ses,
        "a server known to be Postfix is not SES"
    );
}

#[test]
fn a_pipelined_group_matches_each_reply_to_its_command() {
    // RFC 2920: MAIL, two RCPTs and DATA sent before any reply; the second RCPT is refused,
    // and since the first was accepted, DATA gets 354.
    let mut w = Walk::new();
    w.connect(TlsMode::None).ehlo();
    w.sent(Verb::Mail, "MAIL FROM:<a@example.com>")
        .sent(Verb::Rcpt, "RCPT TO:<good@example.net>")
        .sent(Verb::Rcpt, "RCPT TO:<bad@example.net>")
        .sent(Verb::Data, "DATA");
    assert_eq!(w.model.open().unwrap().queued.len(), 3);
    w.reply(Verb::Mail, 250, "2.1.0 Ok")
        .reply(Verb::Rcpt, 250, "2.1.5 Ok")
        .reply(
            Verb::Rcpt,
            550,
            "5.1.1 <bad@example.net>: Recipient address rejected",
        );
    let t = w.model.transaction().unwrap();
    assert_eq!(t.mail_from.as_deref(), Some("a@example.com"));
    assert_eq!(t.rcpts_accepted, ["good@example.net"]);
    assert_eq!(t.rcpts_refused, ["bad@example.net"]);
    w.reply(Verb::Data, 354, "End data with <CR><LF>.<CR><LF>");
    assert!(w.model.data_open());
    let steps: Vec<(Step, StepStatus)> = w
        .model
        .history
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(|h| (h.step, h.status))
        .collect();
    assert_eq!(
        steps,
        [
            (Step::Mail, StepStatus::Passed),
            (Step::Rcpt, StepStatus::Passed),
            (Step::Rcpt, StepStatus::Failed),
            (Step::Data, StepStatus::Passed),
        ]
    );
}

#[test]
fn a_pipelined_group_failing_in_the_middle_keeps_the_rcpt_as_the_cause() {
    // The only recipient refused, then DATA's 554 "no valid recipients": the verdict is
    // the RCPT's, and DATA's refusal is recorded against DATA.
    let mut w = Walk::new();
    w.connect(TlsMode::None).ehlo();
    w.sent(Verb::Mail, "MAIL FROM:<a@example.com>")
        .sent(Verb::Rcpt, "RCPT TO:<bad@localhost>")
        .sent(Verb::Data, "DATA")
        .reply(Verb::Mail, 250, "2.1.0 Ok")
        .reply(
            Verb::Rcpt,
            504,
            "5.5.2 <bad@localhost>: need fully-qualified address",
        )
        .reply(Verb::Data, 554, "5.5.1 Error: no valid recipients");
    let f = w.model.failure.as_ref().unwrap();
    assert_eq!(f.step, Some(Step::Rcpt));
    assert_eq!(f.code, Some(504));
    assert_eq!(w.outcome(), Outcome::RecipientRefused);
    let t = w.model.transaction().unwrap();
    assert_eq!(t.rcpts_refused, ["bad@localhost"]);
    assert_eq!(t.data, DataStage::Refused);
    let last = w.model.history.last().unwrap();
    assert_eq!((last.step, last.status), (Step::Data, StepStatus::Failed));
    assert!(w.model.open().unwrap().pending.is_none());
    let plan = Plan {
        tls_mode: TlsMode::None,
        auth: false,
        recipients: 1,
        reconnect_once: false,
        messages: 1,
    };
    assert_eq!(w.next(&plan), Some(Step::Quit));
}

#[test]
fn a_pipelined_group_cut_off_fails_every_waiting_step() {
    let mut w = Walk::new();
    w.connect(TlsMode::None).ehlo();
    w.sent(Verb::Mail, "MAIL FROM:<a@example.com>")
        .sent(Verb::Rcpt, "RCPT TO:<b@example.net>")
        .sent(Verb::Data, "DATA")
        .reply(Verb::Mail, 250, "2.1.0 Ok")
        .error(ErrorKind::Closed, Phase::Connection)
        .closed("after the error above");
    let h: Vec<StepStatus> = w
        .model
        .history
        .iter()
        .rev()
        .take(3)
        .map(|h| h.status)
        .collect();
    assert_eq!(
        h,
        [StepStatus::Failed, StepStatus::Failed, StepStatus::Passed]
    );
    assert_eq!(w.model.failure.as_ref().unwrap().step, Some(Step::Rcpt));
}
