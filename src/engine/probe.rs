//! One probe: a standard-flow run that stops where its mode says, under a deadline, and the
//! report read from its transcript. `smtpscope probe` and the exporter both call [`probe`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::metrics::{ProbeMode, ProbeReport};
use super::runner::{Runner, Values};
use super::session::{Event, Session, SessionConfig};
use super::transcript::Entry;
use super::transport::TlsClient;

/// The most entries one probe keeps: far more than a standard flow makes (it is bounded by
/// [`super::model::MAX_STEPS`]), so a hostile server's chatter cannot grow it without end.
const MAX_ENTRIES: usize = 4096;

/// Runs one probe. The session's own timeouts are capped by `deadline` too, so it usually ends
/// by itself with a timeout error the model understands; the deadline is the hard stop.
/// `tls`: a client built from `cfg.tls` earlier, so repeated probes do not load the roots again.
pub(crate) async fn probe(
    mut cfg: SessionConfig,
    values: Values,
    mode: ProbeMode,
    deadline: Duration,
    tls: Option<TlsClient>,
) -> ProbeReport {
    // A tenth of the deadline is left for the session's own timeout to be recorded (and QUIT).
    let inner = deadline.saturating_sub(deadline / 10);
    cfg.connect_timeout = cfg.connect_timeout.min(inner);
    cfg.reply_timeout = cfg.reply_timeout.min(inner);
    let entries: Arc<Mutex<Vec<Entry>>> = Arc::new(Mutex::new(Vec::new()));
    let kept = entries.clone();
    let sink = Box::new(move |ev: Event| {
        if let (Event::Entry(e), Ok(mut list)) = (ev, kept.lock())
            && list.len() < MAX_ENTRIES
        {
            list.push(e);
        }
    });
    let run = async move {
        let mut session = Session::new(cfg, sink);
        if let Some(client) = tls {
            session.set_tls_client(client);
        }
        let mut runner = Runner::new(values, false);
        runner.standard(&mut session, mode.stop_after()).await;
        session.close().await;
    };
    let timed_out = tokio::time::timeout(deadline, run).await.is_err();
    let entries = match entries.lock() {
        Ok(mut list) => std::mem::take(&mut *list),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    ProbeReport::from_entries(mode, &entries, timed_out)
}
