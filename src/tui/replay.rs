//! `smtpscope replay FILE`: a saved `.jsonl` transcript, classified again with today's catalog
//! and shown read-only. The header, timeline and verdict are rebuilt from the entries alone.

use std::path::Path;

use crate::engine::auth::Redacted;
use crate::engine::classify::{Catalog, Phase};
use crate::engine::command::Verb;
use crate::engine::saved;
use crate::engine::session::SessionConfig;
use crate::engine::state::{SessionState, Step, StepStatus};
use crate::engine::transcript::{Entry, EntryKind, reclassify};
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

/// Reads and parses a saved transcript, bounded (see [`crate::engine::saved`]), off the
/// async threads.
pub async fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || saved::read_file(&path))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::Event;
    use crate::engine::transcript::parse_jsonl;
    use crate::tui::sample;

    fn split(events: Vec<Event>) -> (Vec<Entry>, SessionState) {
        let mut entries = Vec::new();
        let mut last = SessionState::default();
        for ev in events {
            match ev {
                Event::Entry(e) => entries.push(e),
                Event::State(s) => last = *s,
            }
        }
        (entries, last)
    }

    #[test]
    fn rebuilt_state_matches_the_live_one() {
        for events in [
            sample::auth_failure(),
            sample::access_denied(),
            sample::success(),
        ] {
            let (entries, live) = split(events);
            let rebuilt = state_from_entries(&entries);
            assert_eq!(rebuilt.timeline, live.timeline);
            assert_eq!(rebuilt.timeline.verdict(), live.timeline.verdict());
            assert_eq!(rebuilt.authenticated_as, live.authenticated_as);
            assert_eq!(rebuilt.tls.is_some(), live.tls.is_some());
            assert_eq!(rebuilt.connected, live.connected);
        }
    }

    #[test]
    fn a_timeout_marks_its_step_failed() {
        let (mut entries, _) = split(sample::access_denied());
        // Cut after the message and replace the 554 with a timeout.
        entries.pop();
        entries.push(Entry {
            kind: EntryKind::Error {
                phase: Phase::Connection,
                text: "no complete reply to DATA-END within 30s".into(),
                chain: vec![],
            },
            ..entries[0].clone()
        });
        let s = state_from_entries(&entries);
        assert_eq!(s.timeline.get(Step::Dot), StepStatus::Failed);
        assert_eq!(s.timeline.get(Step::Data), StepStatus::Passed);
    }

    #[test]
    fn saved_sessions_replay_read_only_and_reclassified() {
        let (entries, _) = split(sample::access_denied());
        let text: String = entries.iter().map(|e| e.to_json() + "\n").collect();
        let mut parsed = parse_jsonl(&text).unwrap();
        // An old catalog knew nothing: blank the classification, as if saved long ago.
        for e in &mut parsed {
            if let EntryKind::Reply(r) = &mut e.kind {
                r.class.diagnosis.details.clear();
                r.class.diagnosis.title = "old".into();
            }
        }
        let app = app_for(parsed, "old.jsonl", Catalog::builtin());
        assert_eq!(app.read_only.as_deref(), Some("old.jsonl"));
        assert_eq!(app.config.host, sample::HOST);
        let last = app.store.get(app.store.last_mark().unwrap()).unwrap();
        let r = last.reply().unwrap();
        assert!(
            r.class
                .diagnosis
                .details
                .iter()
                .any(|(k, v)| k == "User ARN" && v == sample::USER_ARN)
        );
        assert_eq!(
            app.session.timeline.verdict(),
            "Authenticated; authorization denied after DATA"
        );
    }
}
