//! The simulator's whole per-connection state machine on arbitrary client bytes, fed in
//! arbitrary chunks, inside and outside TLS: AUTH PLAIN/LOGIN decoding, envelope, DATA and the
//! policy checks after the final dot. It must never panic, every reply must be a well-formed
//! SMTP reply, and no reply may echo a configured user's SMTP password.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use smtpscope::engine::sim::account::SimAccount;
use smtpscope::engine::sim::{Action, Conversation, SimConfig};

fn account() -> Arc<SimAccount> {
    static ACCOUNT: OnceLock<Arc<SimAccount>> = OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            Arc::new(SimAccount::new(
                SimConfig::default_demo().expect("demo config"),
            ))
        })
        .clone()
}

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let tls = control & 1 == 1;
    let chunk = usize::from(control >> 1).max(1);
    let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let mut conversation = Conversation::new(account(), peer, tls);
    let config = SimConfig::default_demo().expect("demo config");
    let secrets: Vec<String> = config
        .users
        .iter()
        .map(|u| u.smtp_password(&config.region).to_string())
        .collect();
    for piece in rest.chunks(chunk) {
        let out = conversation.feed(piece);
        for reply in &out.replies {
            for line in reply.split("\r\n") {
                let code = line.get(..3).unwrap_or("");
                assert!(
                    code.bytes().all(|b| b.is_ascii_digit()) && code.len() == 3,
                    "{line:?}"
                );
                assert!(
                    matches!(line.as_bytes().get(3), None | Some(b' ' | b'-')),
                    "{line:?}"
                );
                assert!(!line.contains(['\r', '\n']), "{line:?}");
                for s in &secrets {
                    assert!(
                        !line.contains(s.as_str()),
                        "a reply echoed a user's password"
                    );
                }
            }
        }
        match out.action {
            Action::Close => return,
            Action::StartTls => conversation.tls_started(),
            Action::Continue => {}
        }
    }
}
