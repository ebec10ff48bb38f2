//! Scripted sessions as the engine would report them, for the TUI's tests, snapshots and the
//! render benchmark. No network: each reply is classified by the real catalog and applied to
//! a real [`SessionModel`], the way `Session` does it; times are fixed so screens are stable.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::engine::auth::Redacted;
use crate::engine::classify::Catalog;
use crate::engine::command::{Command, Verb};
use crate::engine::message::encode_message;
use crate::engine::model::SessionModel;
use crate::engine::reply::Reply;
use crate::engine::session::Event;
use crate::engine::transcript::{Entry, EntryKind, ReplyEntry};
use crate::engine::transport::{CertInfo, TlsInfo, TlsMode, Verification};

/// The SES endpoint the scripts talk to.
pub const HOST: &str = "email-smtp.ap-northeast-1.amazonaws.com";
/// The access key ID the scripts log in with: AWS's documented example key ID, not a real key.
pub const USER: &str = "AKIAIOSFODNN7EXAMPLE";
pub const USER_ARN: &str = "arn:aws:iam::123456789012:user/ses-smtp-user.20230808-000000";
pub const ACCESS_DENIED: &str = "Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808-000000' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:123456789012:identity/example.com'";

/// Builds the events of a session step by step.
pub struct Script {
    seq: u64,
    clock: DateTime<Utc>,
    tls: bool,
    pub state: SessionModel,
    events: Vec<Event>,
}

/// 2023-08-08 12:00:00 UTC, the start of every script.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 8, 8, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    pub fn new() -> Script {
        Script {
            seq: 0,
            clock: start_time(),
            tls: false,
            state: SessionModel::default(),
            events: Vec::new(),
        }
    }

    fn push(&mut self, kind: EntryKind, latency_ms: Option<u64>) {
        self.seq += 1;
        self.clock += TimeDelta::milliseconds(250);
        let entry = Entry {
            seq: self.seq,
            time: self.clock,
            tls: self.tls,
            latency_ms,
            kind,
        };
        self.state.apply(&entry);
        self.events.push(Event::Entry(entry));
    }

    /// The session's state snapshot, as the driver sends after each request.
    pub fn publish(&mut self) -> &mut Script {
        self.events.push(Event::State(Box::new(self.state.clone())));
        self
    }

    pub fn connect(&mut self, host: &str, port: u16, mode: TlsMode) -> &mut Script {
        self.tls = false;
        self.push(
            EntryKind::Connecting {
                host: host.into(),
                port,
                mode: mode.name().into(),
            },
            None,
        );
        self.push(
            EntryKind::Connected {
                peer: format!("198.51.100.7:{port}"),
            },
            Some(31),
        );
        self
    }

    pub fn send(&mut self, cmd: &Command) -> &mut Script {
        self.push(
            EntryKind::Sent {
                line: cmd.line(),
                verb: cmd.verb(),
                redacted: None,
            },
            None,
        );
        self
    }

    /// `AUTH PLAIN <blob>`, recorded redacted as the engine records it.
    pub fn auth_plain(&mut self, user: &str) -> &mut Script {
        let redacted = Redacted::PlainBlob {
            initial: true,
            user: user.into(),
            authzid: None,
        };
        self.push(
            EntryKind::Sent {
                line: redacted.render(false),
                verb: Verb::Auth,
                redacted: Some(redacted),
            },
            None,
        );
        self
    }

    pub fn message(&mut self, text: &str) -> &mut Script {
        let (_, stats) = encode_message(text.as_bytes());
        self.push(EntryKind::Message { stats, view: None }, None);
        self
    }

    pub fn reply(&mut self, verb: Verb, code: u16, lines: &[&str]) -> &mut Script {
        let reply = Reply::from_lines(code, lines);
        let mut ctx = self.state.context();
        ctx.after = Some(verb);
        ctx.tls = Some(self.tls);
        let class = Catalog::builtin().classify(&reply, &ctx);
        let latency = 20 + u64::from(code % 97);
        self.push(
            EntryKind::Reply(Box::new(ReplyEntry::new(reply, Some(verb), class))),
            Some(latency),
        );
        self
    }

    /// A reply nobody asked for (an idle timeout, a 421 before closing).
    pub fn unasked(&mut self, code: u16, lines: &[&str]) -> &mut Script {
        let reply = Reply::from_lines(code, lines);
        let class = Catalog::builtin().classify(&reply, &self.state.context());
        self.push(
            EntryKind::Reply(Box::new(ReplyEntry::new(reply, None, class))),
            None,
        );
        self
    }

    pub fn start_tls(&mut self) -> &mut Script {
        self.start_tls_with(tls_info())
    }

    /// TLS started with these facts.
    pub fn start_tls_with(&mut self, info: TlsInfo) -> &mut Script {
        self.tls = true;
        self.push(EntryKind::TlsStarted { info }, None);
        self
    }

    /// A finding of the credential lint, recorded before AUTH as the engine records it.
    pub fn lint(&mut self, code: &str, text: &str) -> &mut Script {
        self.push(
            EntryKind::Warning {
                text: text.into(),
                lint: Some(code.into()),
            },
            None,
        );
        self
    }

    pub fn info(&mut self, text: &str) -> &mut Script {
        self.push(EntryKind::Info { text: text.into() }, None);
        self
    }

    pub fn close(&mut self, reason: &str) -> &mut Script {
        self.push(
            EntryKind::Closed {
                reason: reason.into(),
            },
            None,
        );
        self.tls = false;
        self
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// A made-up fingerprint for the sample leaf.
const SAMPLE_FINGERPRINT: &str = "3F:9A:11:C2:5E:80:47:D1:9B:26:AE:03:71:C4:58:E9:12:BD:6F:90:2A:47:E3:18:C5:7D:04:B6:99:21:F0:8C";

/// The chain SES presents, as the transport describes it.
pub fn tls_info() -> TlsInfo {
    TlsInfo {
        version: "TLS 1.3".into(),
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        server_name: HOST.into(),
        chain: vec![
            CertInfo {
                subject: format!("CN={HOST}"),
                issuer: "C=US, O=Amazon, CN=Amazon RSA 2048 M01".into(),
                not_before: "2023-06-01T00:00:00Z".into(),
                not_after: "2024-06-29T23:59:59Z".into(),
                not_after_unix: Some(1_719_705_599),
                sans: vec![
                    HOST.into(),
                    "email-smtp-fips.ap-northeast-1.amazonaws.com".into(),
                ],
                serial: "0a:1b:2c:3d".into(),
                self_signed: false,
                key: Some("RSA".into()),
                key_bits: Some(2048),
                signature_algorithm: Some("sha256WithRSAEncryption".into()),
                sha256: Some(SAMPLE_FINGERPRINT.into()),
                days_left: Some(9),
                der_base64: None,
            },
            CertInfo {
                subject: "C=US, O=Amazon, CN=Amazon RSA 2048 M01".into(),
                issuer: "C=US, O=Amazon, CN=Amazon Root CA 1".into(),
                not_before: "2022-08-23T22:21:28Z".into(),
                not_after: "2030-08-23T22:21:28Z".into(),
                not_after_unix: Some(1_913_754_088),
                sans: vec![],
                serial: "07:73:f4".into(),
                self_signed: false,
                key: Some("RSA".into()),
                key_bits: Some(2048),
                signature_algorithm: Some("sha256WithRSAEncryption".into()),
                sha256: None,
                days_left: Some(2_400),
                der_base64: None,
            },
        ],
        verification: Verification::Verified,
        facts: Box::new(crate::engine::transport::HandshakeFacts {
            key_exchange: Some("X25519".into()),
            trust_anchor: Some("C=US, O=Amazon, CN=Amazon Root CA 1".into()),
            ocsp: Some(crate::engine::tls::ocsp::OcspStaple {
                stapled: false,
                status: None,
                bytes: 0,
            }),
        }),
    }
}

const EHLO_LINES: [&str; 5] = [
    "email-smtp.amazonaws.com",
    "8BITMIME",
    "STARTTLS",
    "AUTH PLAIN LOGIN",
    "Ok",
];

/// Connect, greeting, EHLO, STARTTLS, EHLO again: the common opening, inside TLS at the end.
pub fn opening(s: &mut Script) {
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(
            Verb::Connect,
            220,
            &["email-smtp.amazonaws.com ESMTP SimpleEmailService-d-EXAMPLE"],
        )
        .publish();
    s.send(&Command::Ehlo("mail.example.com".into()))
        .reply(Verb::Ehlo, 250, &EHLO_LINES)
        .publish();
    s.send(&Command::StartTls)
        .reply(Verb::StartTls, 220, &["Ready to start TLS"])
        .start_tls()
        .publish();
    s.send(&Command::Ehlo("mail.example.com".into()))
        .reply(Verb::Ehlo, 250, &EHLO_LINES)
        .publish();
}

/// A wrong password: 535 at AUTH, then 530 to MAIL FROM.
pub fn auth_failure() -> Vec<Event> {
    let mut s = Script::new();
    opening(&mut s);
    s.auth_plain(USER)
        .reply(Verb::Auth, 535, &["Authentication Credentials Invalid"])
        .publish();
    s.send(&Command::Mail {
        from: "auth-fail@example.com".into(),
        params: vec![],
    })
    .reply(Verb::Mail, 530, &["Authentication required"])
    .publish();
    s.events()
}

/// MAIL FROM `from` and RCPT TO xxxxx@example.com, both answered 250.
pub fn accept_envelope(s: &mut Script, from: &str) {
    s.send(&Command::Mail {
        from: from.into(),
        params: vec![],
    })
    .reply(Verb::Mail, 250, &["Ok"])
    .publish();
    s.send(&Command::Rcpt {
        to: "xxxxx@example.com".into(),
        params: vec![],
    })
    .reply(Verb::Rcpt, 250, &["Ok"])
    .publish();
}

/// Everything up to the 354 of DATA, authenticated.
pub fn up_to_data(s: &mut Script, from: &str) {
    opening(s);
    s.auth_plain(USER)
        .reply(Verb::Auth, 235, &["Authentication successful."])
        .publish();
    accept_envelope(s, from);
    s.send(&Command::Data)
        .reply(Verb::Data, 354, &["End data with <CR><LF>.<CR><LF>"])
        .publish();
}

pub const MESSAGE: &str = "From: policy-fail@example.com\r\nTo: xxxxx@example.com\r\nSubject: from ses\r\n\r\nIm from SES\r\n";

/// After the 554: QUIT and its 221, then (on a later connection) the server's idle timeout.
pub fn after_the_verdict(s: &mut Script) {
    s.send(&Command::Quit)
        .reply(Verb::Quit, 221, &["Bye"])
        .close("after QUIT")
        .publish();
    s.connect(HOST, 587, TlsMode::Starttls)
        .reply(
            Verb::Connect,
            220,
            &["email-smtp.amazonaws.com ESMTP SimpleEmailService"],
        )
        .unasked(451, &["4.4.2 Timeout waiting for data from client."])
        .close("the server closed the connection")
        .publish();
}

/// The IP-restricted user: everything passes, then 554 Access denied after the dot.
pub fn access_denied() -> Vec<Event> {
    access_denied_script().events()
}

/// [`access_denied`] as a script that can go on.
pub fn access_denied_script() -> Script {
    let mut s = Script::new();
    up_to_data(&mut s, "policy-fail@example.com");
    s.message(MESSAGE)
        .reply(Verb::DataEnd, 554, &[ACCESS_DENIED])
        .publish();
    s
}

/// A good user: the message is accepted and the session ends with QUIT.
pub fn success() -> Vec<Event> {
    let mut s = Script::new();
    up_to_data(&mut s, "success@example.com");
    s.message(MESSAGE)
        .reply(
            Verb::DataEnd,
            250,
            &["Ok 01060189d4b021bf-350814d7-97db-4a4d-824f-782d7760f018-000000"],
        )
        .publish();
    s.send(&Command::Quit)
        .reply(Verb::Quit, 221, &["Bye"])
        .close("after QUIT")
        .publish();
    s.events()
}

/// A long session for the render benchmark: `n` entries (the opening, then NOOP/250 pairs),
/// plus the opening's state snapshots.
pub fn long_session(n: usize) -> Vec<Event> {
    let mut s = Script::new();
    opening(&mut s);
    let mut out = s.events();
    let is_entry = |e: &Event| matches!(e, Event::Entry(_));
    let mut entries = out.iter().filter(|e| is_entry(e)).count();
    if entries > n {
        // Keep the first n entries (and the snapshots between them).
        let mut kept = 0;
        out.retain(|e| {
            if is_entry(e) {
                kept += 1;
                kept <= n
            } else {
                kept < n
            }
        });
        return out;
    }
    // Classify once and clone: a million classifications would only slow the set-up.
    let mut pair = Script::new();
    pair.tls = true;
    pair.send(&Command::Noop).reply(Verb::Noop, 250, &["Ok"]);
    let template: Vec<Entry> = pair
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Entry(e) => Some(e),
            Event::State(_) => None,
        })
        .collect();
    let mut seq = entries as u64;
    'fill: loop {
        for e in &template {
            if entries >= n {
                break 'fill;
            }
            seq += 1;
            entries += 1;
            let mut e = e.clone();
            e.seq = seq;
            out.push(Event::Entry(e));
        }
    }
    out
}

/// The debugger (SES prefill, as the flags would give it) after `events`, at `size`: the
/// state the update and view tests start from.
pub fn app_after(events: Vec<Event>, size: (u16, u16)) -> crate::tui::app::App {
    let mut app = crate::tui::app::App::new(
        crate::engine::session::SessionConfig::new(HOST, 587, TlsMode::Starttls),
        crate::tui::app::Prefill {
            ehlo: "mail.example.com".into(),
            user: Some(USER.into()),
            password: Some(zeroize::Zeroizing::new("not-the-real-password".into())),
            auth: crate::cli::AuthChoice::Plain,
            from: Some("policy-fail@example.com".into()),
            to: vec!["xxxxx@example.com".into()],
        },
    );
    crate::tui::update::update(&mut app, crate::tui::update::Msg::Resize(size.0, size.1));
    for ev in events {
        crate::tui::update::update(&mut app, crate::tui::update::Msg::Engine(ev));
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sessions_have_exactly_n_entries() {
        for n in [3, 20, 21, 100, 1001] {
            let entries = long_session(n)
                .iter()
                .filter(|e| matches!(e, Event::Entry(_)))
                .count();
            assert_eq!(entries, n);
        }
    }
}
