//! `smtpscope replay FILE`: a saved `.jsonl` transcript, classified again with today's catalog
//! and shown read-only. The header, timeline and verdict are rebuilt from the entries alone.

use std::path::Path;

use crate::engine::auth::Redacted;
use crate::engine::classify::{Catalog, Phase};
use crate::engine::command::Verb;
use crate::engine::session::SessionConfig;
use crate::engine::state::{SessionState, Step, StepStatus};
use crate::engine::transcript::{Entry, EntryKind, parse_jsonl, reclassify};
use crate::engine::transport::TlsMode;

use super::app::{App, Prefill};

/// Rebuilds what the session knew from its transcript, as the live session would have.
pub fn state_from_entries(entries: &[Entry]) -> SessionState {
    let mut s = SessionState::default();
    let mut user: Option<String> = None;
    let mut last_verb: Option<Verb> = None;
    // A command (or the greeting) is waiting for its reply.
    let mut awaiting = false;
    for e in entries {
        match &e.kind {
            EntryKind::Connecting { mode, .. } => {
                s = SessionState::default();
                if mode == TlsMode::Implicit.name() {
                    s.timeline.set(Step::StartTls, StepStatus::Skipped, None);
                }
                last_verb = Some(Verb::Connect);
                awaiting = true;
            }
            EntryKind::Connected { peer } => {
                s.connected = true;
                s.peer = Some(peer.clone());
                s.timeline
                    .set(Step::Connect, StepStatus::Passed, Some(Phase::Connection));
            }
            EntryKind::TlsStarted { info } => s.tls_started(info.clone()),
            EntryKind::Sent { verb, redacted, .. } => {
                if let Some(Redacted::PlainBlob { user: u, .. } | Redacted::LoginUser { user: u }) =
                    redacted
                {
                    user = Some(u.clone());
                }
                if *verb == Verb::Quit {
                    s.quit_sent = true;
                }
                last_verb = Some(*verb);
                awaiting = true;
            }
            EntryKind::Message { .. } => {
                last_verb = Some(Verb::DataEnd);
                awaiting = true;
            }
            EntryKind::Reply(r) => match r.after {
                Some(verb) => {
                    s.apply_reply(verb, &r.reply(), &r.class, user.as_deref());
                    awaiting = false;
                }
                None => s.phase = Some(r.class.phase),
            },
            EntryKind::Error { phase, .. } => {
                s.phase = Some(*phase);
                if *phase == Phase::Tls {
                    s.timeline
                        .set(Step::StartTls, StepStatus::Failed, Some(Phase::Tls));
                } else if awaiting && let Some(step) = last_verb.and_then(|v| s.step_of(v)) {
                    s.timeline.set(step, StepStatus::Failed, Some(*phase));
                }
                awaiting = false;
            }
            EntryKind::Closed { .. } => s.disconnected(),
            EntryKind::Info { .. } | EntryKind::Warning { .. } => {}
        }
    }
    s
}

/// The read-only app for a saved transcript.
pub fn app_for(mut entries: Vec<Entry>, name: &str, catalog: &Catalog) -> App {
    reclassify(&mut entries, catalog);
    let config = entries
        .iter()
        .find_map(|e| match &e.kind {
            EntryKind::Connecting { host, port, mode } => {
                let mode = match mode.as_str() {
                    "implicit" => TlsMode::Implicit,
                    "none" => TlsMode::None,
                    _ => TlsMode::Starttls,
                };
                Some(SessionConfig::new(host, *port, mode))
            }
            _ => None,
        })
        .unwrap_or_else(|| SessionConfig::new("unknown", 0, TlsMode::Starttls));
    let mut app = App::new(config, Prefill::default());
    app.session = state_from_entries(&entries);
    app.read_only = Some(name.to_string());
    for e in entries {
        if let EntryKind::Closed { reason } = &e.kind {
            app.closed_reason = Some(reason.clone());
        }
        app.store.push(e);
    }
    app
}

/// Reads and parses a saved transcript.
pub async fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries = parse_jsonl(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if entries.is_empty() {
        return Err(format!("{}: no transcript entries", path.display()));
    }
    Ok(entries)
}
