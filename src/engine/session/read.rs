//! Reading replies: within the reply timeout, bounded, classified and recorded; unsolicited
//! replies are recorded as such, never mistaken for the answer to the next command.

use super::{
    AsyncReadExt, Duration, EntryKind, FutureExt, MAX_UNSOLICITED_BYTES, MAX_UNSOLICITED_REPLIES,
    Reply, ReplyEntry, Session, SessionError, TlsMode, Verb, decode_challenge,
};

impl Session {
    /// Records replies the server sent without being asked, before the next command (`verb`).
    /// Reads only what has already arrived, and at most a bounded amount of it, so a server
    /// that floods cannot keep the command from going out.
    pub(super) fn drain_unsolicited(&mut self, verb: Verb) -> Result<(), SessionError> {
        // Replies that came in the same read as the last answer are already buffered.
        self.record_unsolicited()?;
        for _ in 0..64 {
            let ready = match self.conn.as_mut() {
                Some(conn) => conn.read(&mut self.buf).now_or_never(),
                None => return Ok(()),
            };
            match ready {
                None => break,
                Some(Ok(0)) => {
                    self.record_unsolicited()?;
                    self.drop_connection("the server closed the connection");
                    return Err(self.fail(SessionError::ClosedBefore { verb }));
                }
                Some(Ok(n)) => {
                    let chunk = self.buf[..n].to_vec();
                    self.parser.push(&chunk);
                    // Parse as we go so a flood cannot pile up in the buffer.
                    self.record_unsolicited()?;
                }
                Some(Err(source)) => {
                    return Err(self.fail(SessionError::Io {
                        after: verb,
                        source,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Records the replies the parser holds as unsolicited; a flood of them (more than
    /// [`MAX_UNSOLICITED_REPLIES`] or [`MAX_UNSOLICITED_BYTES`] since the last command) is a
    /// protocol error that closes the connection, so the transcript stays bounded.
    pub(super) fn record_unsolicited(&mut self) -> Result<(), SessionError> {
        loop {
            match self.parser.next_reply() {
                Ok(Some(mut reply)) => {
                    let (replies, bytes) = &mut self.unsolicited;
                    *replies += 1;
                    *bytes += reply.lines.iter().map(|l| l.raw.len() + 2).sum::<usize>();
                    let (replies, bytes) = self.unsolicited;
                    if replies > MAX_UNSOLICITED_REPLIES || bytes > MAX_UNSOLICITED_BYTES {
                        return Err(self.fail(SessionError::Flood { replies, bytes }));
                    }
                    self.scrub_reply(&mut reply);
                    self.record_reply(&reply, None);
                }
                Ok(None) => return Ok(()),
                Err(source) => {
                    return Err(self.fail(SessionError::Protocol {
                        after: Verb::Other,
                        source,
                    }));
                }
            }
        }
    }

    /// Waits for the server while no command is outstanding; for front ends that stay open.
    /// Returns when something was recorded or the connection ended.
    pub async fn idle_read(&mut self) -> Result<(), SessionError> {
        let Some(conn) = self.conn.as_mut() else {
            return std::future::pending().await;
        };
        match conn.read(&mut self.buf).await {
            Ok(0) => {
                self.record_unsolicited()?;
                self.drop_connection("the server closed the connection");
                Ok(())
            }
            Ok(n) => {
                let chunk = self.buf[..n].to_vec();
                self.parser.push(&chunk);
                self.record_unsolicited()
            }
            Err(source) => Err(self.fail(SessionError::Io {
                after: Verb::Other,
                source,
            })),
        }
    }

    /// Waits `duration` with no command outstanding, recording what the server says (an idle
    /// timeout, a 421); returns early when the connection ends.
    pub async fn wait(&mut self, duration: Duration) -> Result<(), SessionError> {
        self.info(format!("waiting {} s", duration.as_secs()));
        let deadline = tokio::time::Instant::now() + duration;
        while self.conn.is_some() {
            match tokio::time::timeout_at(deadline, self.idle_read()).await {
                Err(_) => break,
                Ok(r) => r?,
            }
        }
        Ok(())
    }

    /// Reads and records the reply to `verb`, and fails the session when that reply cannot
    /// answer it (250 to DATA, 354 to MAIL, …).
    pub(super) async fn read_expected(&mut self, verb: Verb) -> Result<Reply, SessionError> {
        let reply = self.read_and_record(verb).await?;
        if let Some(why) = super::unexpected(verb, reply.code) {
            return Err(self.fail(SessionError::Unexpected {
                after: verb,
                code: reply.code,
                why,
            }));
        }
        Ok(reply)
    }

    /// Reads one reply within the reply timeout, records and classifies it.
    pub(super) async fn read_and_record(&mut self, verb: Verb) -> Result<Reply, SessionError> {
        let deadline = tokio::time::Instant::now() + self.cfg.reply_timeout;
        let reply = loop {
            match self.parser.next_reply() {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(source) => {
                    return Err(self.fail(SessionError::Protocol {
                        after: verb,
                        source,
                    }));
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(self.fail(SessionError::NotConnected));
            };
            conn.ack_promptly();
            match tokio::time::timeout_at(deadline, conn.read(&mut self.buf)).await {
                Err(_) => {
                    let hint = timeout_hint(verb, self.cfg.tls_mode, self.parser.is_mid_reply());
                    return Err(self.fail(SessionError::Timeout {
                        after: verb,
                        timeout: self.cfg.reply_timeout,
                        hint,
                    }));
                }
                Ok(Ok(0)) => {
                    return Err(self.fail(SessionError::Closed { after: verb }));
                }
                Ok(Ok(n)) => {
                    let chunk = self.buf[..n].to_vec();
                    self.parser.push(&chunk);
                }
                Ok(Err(source)) => {
                    return Err(self.fail(SessionError::Io {
                        after: verb,
                        source,
                    }));
                }
            }
        };
        let mut reply = reply;
        self.scrub_reply(&mut reply);
        self.record_reply(&reply, Some(verb));
        self.unsolicited = (0, 0);
        if reply.code == 421 {
            // RFC 5321 §3.8: 421 means the server is closing the channel.
            self.drop_connection("the server sent 421 (closing the channel)");
        }
        Ok(reply)
    }

    /// Masks any form of a password the server echoed back, and says so.
    pub(super) fn scrub_reply(&mut self, reply: &mut Reply) {
        let mut masked = false;
        for line in &mut reply.lines {
            masked |= self.scrubber.scrub_bytes(&mut line.raw);
        }
        if masked {
            self.warn("the server's reply contained the password (or its base64 form); it is shown as <redacted>");
        }
    }

    pub(super) fn record_reply(&mut self, reply: &Reply, verb: Option<Verb>) {
        let mut ctx = self.model.context();
        ctx.after = verb;
        ctx.tls = Some(self.in_tls());
        let class = crate::engine::classify::Catalog::builtin().classify(reply, &ctx);
        if verb == Some(Verb::Auth)
            && reply.code == 334
            && crate::engine::oauth::OAuthError::from_challenge(&reply.last_text()).is_none()
            && let Some(prompt) = decode_challenge(&reply.last_text())
        {
            self.info(format!("server challenge decodes to \"{prompt}\""));
        }
        let latency = verb.and(self.last_sent_at.map(|t| t.elapsed()));
        self.record(
            EntryKind::Reply(Box::new(ReplyEntry::new(reply.clone(), verb, class))),
            latency,
        );
    }
}

pub(super) fn timeout_hint(verb: Verb, mode: TlsMode, mid_reply: bool) -> &'static str {
    match (verb, mode) {
        _ if mid_reply => " (part of a reply arrived, then the server stalled)",
        (Verb::Connect, TlsMode::Starttls | TlsMode::None) => {
            " (no greeting: the server may expect TLS from the first byte; try --tls implicit on 465/2465)"
        }
        (Verb::DataEnd, _) => {
            " (the message may be missing its final line, or the server is slow to check it)"
        }
        _ => "",
    }
}
