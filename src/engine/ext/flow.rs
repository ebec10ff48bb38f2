//! How a run uses the extensions at its MAIL, RCPT and DATA steps: the envelope's
//! parameters, the PIPELINING group and BDAT, with what the transcript should say.

use super::{Envelope, EnvelopeInput, MessageFacts, bdat, pipelining};
use crate::engine::auth::Credentials;
use crate::engine::command::Command;
use crate::engine::reply::Reply;
use crate::engine::session::{MessageSource, Session, SessionError};

/// The run's state for the extensions, across steps.
#[derive(Debug, Default)]
pub struct ExtRun {
    facts: Option<MessageFacts>,
    /// The parameters of the current transaction, decided at MAIL.
    envelope: Option<Envelope>,
    /// Fallback remarks are made once per run.
    pipeline_noted: bool,
    bdat_noted: bool,
}

impl ExtRun {
    fn facts(&mut self, message: Option<&MessageSource>) -> &MessageFacts {
        self.facts.get_or_insert_with(|| match message {
            Some(MessageSource::Text(t)) => MessageFacts::of_bytes(t.as_bytes()),
            // An unreadable file is reported when it is sent; here it only has no facts.
            Some(MessageSource::File(p)) => MessageFacts::of_file(p).unwrap_or_default(),
            Some(MessageSource::Bytes(b)) => MessageFacts::of_bytes(b),
            None => MessageFacts::default(),
        })
    }

    /// Decides MAIL FROM's and the RCPTs' parameters for this transaction and records the
    /// remarks; an error (recorded) when an extension the envelope needs is missing.
    pub fn mail_params(
        &mut self,
        session: &mut Session,
        from: &str,
        to: &[String],
        message: Option<&MessageSource>,
    ) -> Result<Vec<String>, SessionError> {
        let settings = session.config().ext.clone();
        let caps = session.model().capabilities().cloned();
        let tls = session.model().tls().is_some();
        let facts = self.facts(message).clone();
        let input = EnvelopeInput {
            settings: &settings,
            caps: caps.as_ref(),
            tls,
            from,
            to,
            message: &facts,
        };
        let env = match super::envelope(&input) {
            Ok(e) => e,
            Err(e) => return Err(session.fail_local(e.into())),
        };
        for n in &env.notes {
            session.info(n.clone());
        }
        for w in &env.warnings {
            session.warn(w.clone());
        }
        let params = env.mail_params.clone();
        self.envelope = Some(env);
        Ok(params)
    }

    /// RCPT TO's parameters for recipient number `index`.
    pub fn rcpt_params(&self, index: usize) -> Vec<String> {
        self.envelope
            .as_ref()
            .and_then(|e| e.rcpt_params.get(index).cloned())
            .unwrap_or_default()
    }

    /// Whether MAIL starts a PIPELINING group; says so once when it cannot.
    pub fn pipelined(&mut self, session: &mut Session) -> bool {
        let (yes, note) = pipelining::decide(&session.config().ext, session.model().capabilities());
        if let Some(n) = note
            && (yes || !self.pipeline_noted)
        {
            self.pipeline_noted = true;
            if yes {
                session.warn(n);
            } else {
                session.info(n);
            }
        }
        yes
    }

    /// Whether the message goes in BDAT chunks; says so once when it cannot.
    pub fn bdat(&mut self, session: &mut Session) -> bool {
        let (yes, note) = bdat::decide(&session.config().ext, session.model().capabilities());
        if let Some(n) = note
            && (yes || !self.bdat_noted)
        {
            self.bdat_noted = true;
            session.warn(n);
        }
        yes
    }

    /// MAIL, every RCPT and (unless BDAT follows) DATA as one group, after AUTH PLAIN when
    /// `auth` is given. Returns the reply that decides whether the run goes on: the first
    /// failing one, else the last.
    pub async fn group(
        &mut self,
        session: &mut Session,
        auth: Option<&Credentials>,
        from: &str,
        to: &[String],
        message: Option<&MessageSource>,
    ) -> Result<Reply, SessionError> {
        let params = self.mail_params(session, from, to, message)?;
        let mut commands = vec![Command::Mail {
            from: from.to_string(),
            params,
        }];
        for (i, rcpt) in to.iter().enumerate() {
            commands.push(Command::Rcpt {
                to: rcpt.clone(),
                params: self.rcpt_params(i),
            });
        }
        let with_data = !self.bdat(session);
        if with_data {
            commands.push(Command::Data);
        }
        let replies = session.pipeline(auth, &commands).await?;
        let auth_failed = auth.is_some() && replies.first().is_some_and(|r| r.code >= 400);
        if with_data && auth_failed && session.model().data_open() {
            // The server opened DATA although AUTH failed: the message would go out without
            // the authentication it was meant to have. Hanging up abandons the transaction.
            session.info(
                "AUTH failed, yet the server opened DATA for the rest of the group: closing the connection without sending the message, so nothing goes out unauthenticated",
            );
            session.close_now();
            return Ok(replies[0].clone());
        }
        let no_recipient = session
            .model()
            .transaction()
            .is_some_and(|t| t.rcpts_accepted.is_empty());
        if with_data && no_recipient && session.model().data_open() {
            // RFC 2920 §3.1: DATA accepted with no valid recipient; end it with a lone ".".
            session.info(
                "DATA was accepted although no recipient was: sending an empty message (a lone \".\") to end it, as RFC 2920 §3.1 says",
            );
            let (reply, _) = session
                .send_message(MessageSource::Text(String::new()))
                .await?;
            return Ok(reply);
        }
        let decisive = replies
            .iter()
            .find(|r| r.code >= 400)
            .or(replies.last())
            .cloned();
        decisive.ok_or(SessionError::NotConnected)
    }

    /// The message in BDAT chunks, in place of DATA.
    pub async fn send_bdat(
        &mut self,
        session: &mut Session,
        source: MessageSource,
    ) -> Result<Reply, SessionError> {
        let chunk = session.config().ext.chunk_size();
        session.send_bdat(source, chunk).await
    }
}
