//! `smtpscope replay FILE`: a saved `.jsonl` transcript, classified again with today's catalog
//! and shown read-only. The header, timeline and verdict are rebuilt from the entries alone.

use std::fmt::Write as _;
use std::path::Path;

use crate::engine::classify::Catalog;
use crate::engine::model::SessionModel;
use crate::engine::saved;
use crate::engine::session::SessionConfig;
use crate::engine::transcript::{Entry, EntryKind, reclassify};
use crate::engine::transport::TlsMode;

use super::app::{App, Prefill};

/// Rebuilds what the session knew from its transcript: the same fold the live session does.
pub(crate) fn state_from_entries(entries: &[Entry]) -> SessionModel {
    let mut model = SessionModel::default();
    for e in entries {
        model.apply(e);
    }
    model
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
    // Open on the reply that decided the verdict, as the live session would have kept it.
    super::update::track_decisive(&mut app);
    app
}

/// Reads and parses a saved transcript, bounded (see [`crate::engine::saved`]), off the
/// async threads.
pub async fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || saved::read_file(&owned))
        .await
        .map_err(|e| e.to_string())?;
    read.map_err(|e| match e {
        // Not JSON Lines at all: most likely the .txt saved beside the .jsonl.
        saved::SavedError::Bad { line: 1, .. } => format!("{e}\n{}", not_jsonl_hint(path)),
        e => e.to_string(),
    })
}

/// What `replay` reads, and the file that would do, when it is next to the one given.
fn not_jsonl_hint(path: &Path) -> String {
    let sibling = path.with_extension("jsonl");
    let mut hint = String::from(
        "replay reads the .jsonl that the debugger's `w` saves (or `run --json` prints), \
         not the .txt beside it",
    );
    if sibling != path && sibling.is_file() {
        let _ = write!(hint, ": try {}", crate::engine::limited::shown(&sibling));
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::classify::Phase;
    use crate::engine::model::{Outcome, Step, StepStatus};
    use crate::engine::session::Event;
    use crate::engine::transcript::{ErrorKind, parse_jsonl};
    use crate::tui::sample;

    fn split(events: Vec<Event>) -> (Vec<Entry>, SessionModel) {
        let mut entries = Vec::new();
        let mut last = SessionModel::default();
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
            assert_eq!(rebuilt, live);
            assert_eq!(rebuilt.verdict(), live.verdict());
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
                kind: ErrorKind::Timeout,
                text: "no complete reply to DATA-END within 30s".into(),
                chain: vec![],
            },
            ..entries[0].clone()
        });
        let s = state_from_entries(&entries);
        let last: Vec<_> = s
            .history
            .iter()
            .rev()
            .take(2)
            .map(|h| (h.step, h.status))
            .collect();
        assert_eq!(
            last,
            [
                (Step::Dot, StepStatus::Failed),
                (Step::Data, StepStatus::Passed)
            ]
        );
        assert_eq!(s.outcome(), Outcome::ConnectionFailed);
        assert_eq!(s.failure.as_ref().and_then(|f| f.step), Some(Step::Dot));
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
            app.session.verdict(),
            "Authenticated; authorization denied after DATA"
        );
    }
}
