//! PIPELINING (RFC 2920): MAIL, the RCPTs and DATA go out as one group, and the replies are
//! read afterwards, in order, each matched to its command.

use super::{Ext, ExtSettings, Use, forced_warning};
use crate::engine::model::Capabilities;

/// Whether to send the envelope as a group, and what to tell the user.
pub fn decide(settings: &ExtSettings, caps: Option<&Capabilities>) -> (bool, Option<String>) {
    if !settings.pipeline {
        return (false, None);
    }
    match settings.usable(Ext::Pipelining, caps) {
        Use::Offered => (true, None),
        Use::Forced => (
            true,
            Some(forced_warning(Ext::Pipelining, "this envelope group")),
        ),
        Use::No => (
            false,
            Some(
                "--pipeline: the server does not offer PIPELINING, so each command waits for its reply (RFC 2920 §3.1: a client may send a group only to a server that advertises it)"
                    .into(),
            ),
        ),
    }
}

/// The line that introduces a group in the transcript.
pub fn group_note(commands: &[String]) -> String {
    format!(
        "PIPELINING: sending {} commands as one group, then reading their replies in order: {}",
        commands.len(),
        commands.join(" | ")
    )
}

/// The line that says QUIT follows the session's last message without waiting.
pub fn quit_note() -> &'static str {
    "PIPELINING: QUIT goes right after the message's final \".\", without waiting; the answer to the message is read first, then QUIT's (RFC 2920 §3.1: message content may open a group, QUIT may close one)"
}
