//! Runs a [`Session`] in its own task for interactive front ends.
//!
//! Requests go in through a channel; events come out through another. While no request is
//! running the task keeps reading the socket, so unsolicited replies, idle timeouts and drops
//! show up at once. The front end never waits on the network.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::auth::{Credentials, Mechanism};
use super::command::Command;
use super::session::{Event, MessageSource, Session, SessionConfig, SessionError};

/// What a front end can ask the session to do.
#[derive(Debug)]
pub enum Request {
    Connect,
    Command(Command),
    Auth {
        mechanism: Mechanism,
        credentials: Credentials,
        initial_response: bool,
    },
    Message(MessageSource),
    /// Lint this message (warnings in the transcript) before it is sent.
    Lint(MessageSource),
    /// One line of the message typed by hand after a 354 (a lone "." ends it).
    MessageLine(String),
    /// Drop the connection without QUIT.
    Disconnect,
    /// Send QUIT if connected, then end the task.
    Shutdown,
}

/// Handle to a running session task.
pub(crate) struct Driver {
    pub requests: mpsc::Sender<Request>,
    /// Unbounded on purpose: the front end keeps every entry anyway, and a bounded channel
    /// would force the session to drop or reorder events.
    pub events: mpsc::UnboundedReceiver<Event>,
    pub task: JoinHandle<()>,
}

/// Starts the session task.
pub(crate) fn spawn(cfg: SessionConfig) -> Driver {
    let (req_tx, mut req_rx) = mpsc::channel::<Request>(16);
    let (ev_tx, ev_rx) = mpsc::unbounded_channel::<Event>();
    let sink_tx = ev_tx.clone();
    let sink = Box::new(move |ev: Event| {
        // Fails only when the front end is gone, and then nobody needs the event.
        let _ = sink_tx.send(ev);
    });
    let mut session = Session::new(cfg, sink);
    let task = tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                r = req_rx.recv() => r,
                _ = session.idle_read(), if session.is_connected() => {
                    session.publish_state();
                    continue;
                }
            };
            let Some(request) = request else { break };
            let shutdown = matches!(request, Request::Shutdown);
            handle(&mut session, request).await;
            session.publish_state();
            if shutdown {
                break;
            }
        }
        drop(ev_tx);
    });
    Driver {
        requests: req_tx,
        events: ev_rx,
        task,
    }
}

async fn handle(session: &mut Session, request: Request) {
    // Failures are already in the transcript; the front end reads them from there.
    match request {
        Request::Connect => {
            let _ = session.connect().await;
        }
        Request::Command(cmd) => {
            if let Err(e) = cmd.validate() {
                session.warn(format!("not sent: {e}"));
                return;
            }
            let _ = session.command(&cmd).await;
        }
        Request::Auth {
            mechanism,
            credentials,
            initial_response,
        } => {
            let _ = session
                .auth(mechanism, &credentials, initial_response)
                .await;
        }
        Request::Message(source) => {
            let _ = session.send_message(source).await;
        }
        Request::Lint(source) => super::runner::lint_before_data(session, &source),
        Request::MessageLine(line) => {
            if let Err(SessionError::Input(e)) = session.message_line(&line).await {
                session.warn(format!("not sent: {e}"));
            }
        }
        Request::Disconnect => {
            if session.is_connected() {
                session.info("disconnecting without QUIT");
            }
            session.close_now();
        }
        Request::Shutdown => session.close().await,
    }
}
