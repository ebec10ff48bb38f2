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
    /// A command with what the transcript should say before it: the notes and FORCED
    /// warnings of the extensions its parameters use (MAIL FROM, RCPT TO).
    Annotated {
        command: Command,
        notes: Vec<String>,
        warnings: Vec<String>,
    },
    /// The message in BDAT chunks (CHUNKING, RFC 3030) in place of DATA, through the same
    /// path as `run --bdat`; refused unless the server offers CHUNKING or it is forced.
    Bdat(MessageSource),
    /// MAIL, the RCPTs and DATA (unless `--bdat`) as one PIPELINING group, as `run
    /// --pipeline` sends them; without PIPELINING (nor --force-ext), MAIL alone.
    Group {
        from: String,
        to: Vec<String>,
        message: Option<MessageSource>,
    },
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
        Request::Annotated {
            command,
            notes,
            warnings,
        } => {
            if let Err(e) = command.validate() {
                session.warn(format!("not sent: {e}"));
                return;
            }
            for n in notes {
                session.info(n);
            }
            for w in warnings {
                session.warn(w);
            }
            let _ = session.command(&command).await;
        }
        Request::Bdat(source) => {
            // The key asks for BDAT whatever `--bdat` says: decide as `--bdat` would.
            let mut settings = session.config().ext.clone();
            settings.bdat = true;
            match super::ext::bdat::decide(&settings, session.model().capabilities()) {
                (true, note) => {
                    if let Some(n) = note {
                        session.warn(n);
                    }
                    let chunk = settings.chunk_size();
                    let _ = session.send_bdat(source, chunk).await;
                }
                (false, _) => session.warn(
                    "not sent: the server does not offer CHUNKING, so BDAT would be refused (RFC 3030 §2); DATA sends the message, or --force-ext chunking sends BDAT anyway",
                ),
            }
        }
        Request::Group { from, to, message } => {
            let mut run = super::ext::flow::ExtRun::default();
            if run.pipelined(session) {
                let _ = run.group(session, None, &from, &to, message.as_ref()).await;
            } else if let Ok(params) = run.mail_params(session, &from, &to, message.as_ref()) {
                let _ = session.command(&Command::Mail { from, params }).await;
            }
        }
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
