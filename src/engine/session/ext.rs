//! The transmission side of the SMTP extensions: a PIPELINING group (RFC 2920) and a message
//! in BDAT chunks (RFC 3030). What goes into the envelope is decided in `engine::ext`.

use super::data::MessageSource;
use super::{Credentials, Reply, Session, SessionError, Verb};
use crate::engine::command::Command;
use crate::engine::ext::{bdat, pipelining};

impl Session {
    /// Sends `commands` in one write, then reads one reply per command, in order, each
    /// recorded as the answer to its own command. Stops at the first error (the connection
    /// is then closed); failing replies do not stop it: every command of the group was sent
    /// and each has an answer coming.
    ///
    /// With `auth`, the group starts with AUTH PLAIN and its initial response (RFC 4954 §4:
    /// allowed in a group because PLAIN completes in one round trip). If the server answers
    /// it with 334 all the same, it has taken the next command for a SASL response; the two
    /// sides are out of step and the connection is closed.
    pub async fn pipeline(
        &mut self,
        auth: Option<&Credentials>,
        commands: &[Command],
    ) -> Result<Vec<Reply>, SessionError> {
        let first = match (auth, commands.first()) {
            (Some(_), _) => Verb::Auth,
            (None, Some(c)) => c.verb(),
            (None, None) => return Ok(Vec::new()),
        };
        // A refused argument stops the group before anything is said or sent.
        let encoded = commands
            .iter()
            .map(Command::encode)
            .collect::<Result<Vec<_>, _>>()?;
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        self.drain_unsolicited(first)?;
        // The secret is in these bytes: they are wiped when dropped.
        let mut wire = zeroize::Zeroizing::new(Vec::new());
        let mut sent = Vec::with_capacity(commands.len() + 1);
        if let Some(creds) = auth {
            let (auth_wire, redacted) = self.plain_for_group(creds);
            wire.extend_from_slice(&auth_wire);
            sent.push((redacted.render(false), Verb::Auth, Some(redacted)));
        }
        for (c, bytes) in commands.iter().zip(encoded) {
            wire.extend(bytes);
            sent.push((c.line(), c.verb(), None));
        }
        let lines: Vec<String> = sent.iter().map(|(line, _, _)| line.clone()).collect();
        self.info(pipelining::group_note(&lines));
        for (line, verb, redacted) in sent {
            self.record_sent(line, verb, redacted);
        }
        self.write_recorded(&wire, first).await?;
        let mut replies = Vec::with_capacity(commands.len() + 1);
        if auth.is_some() {
            let reply = self.read_and_record(Verb::Auth).await?;
            if reply.code == 334 {
                return Err(self.fail(SessionError::Unexpected {
                    after: Verb::Auth,
                    code: 334,
                    why: "the server asked for more after AUTH PLAIN's initial response, so it took the next command of the group for a SASL response; the two sides are out of step, so the connection is closed",
                }));
            }
            replies.push(reply);
        }
        for c in commands {
            replies.push(self.read_expected(c.verb()).await?);
        }
        Ok(replies)
    }

    /// Sends the message in BDAT chunks of `chunk` bytes, exactly as given, and returns the
    /// reply to the LAST chunk (or to the chunk the server refused).
    pub async fn send_bdat(
        &mut self,
        source: MessageSource,
        chunk: usize,
    ) -> Result<Reply, SessionError> {
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        match source {
            MessageSource::Text(text) => {
                self.bdat_from(
                    std::io::Cursor::new(text.into_bytes()),
                    "the message",
                    chunk,
                )
                .await
            }
            MessageSource::File(path) => {
                let name = path.display().to_string();
                let file = match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(source) => {
                        return Err(self.fail(SessionError::MessageSource { path: name, source }));
                    }
                };
                self.bdat_from(file, &name, chunk).await
            }
            MessageSource::Bytes(bytes) => {
                self.bdat_from(std::io::Cursor::new(bytes), "the message", chunk)
                    .await
            }
        }
    }

    async fn bdat_from<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        reader: R,
        name: &str,
        size: usize,
    ) -> Result<Reply, SessionError> {
        let mut chunker = bdat::Chunker::new(reader, size);
        loop {
            let next = match chunker.next_chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => return Err(self.fail(SessionError::NotConnected)),
                Err(source) => {
                    return Err(self.fail(SessionError::MessageSource {
                        path: name.to_string(),
                        source,
                    }));
                }
            };
            let (bytes, last) = next;
            let line = bdat::command(bytes.len(), last);
            let verb = if last { Verb::DataEnd } else { Verb::Bdat };
            let mut header = line.clone().into_bytes();
            header.extend_from_slice(b"\r\n");
            self.send_line(&header, line, verb, None).await?;
            let mut sent = 0u64;
            let complete = match self.write_data(bytes, &mut sent).await {
                Ok(c) => c,
                Err(e) => return Err(self.fail(e)),
            };
            if !complete {
                self.warn(format!(
                    "the server replied (or hung up) before the chunk was complete: {sent} of its {} byte(s) were sent; the connection will be closed since the server's state is unknown",
                    bytes.len()
                ));
                let reply = self.read_and_record(verb).await;
                self.drop_connection("the server answered before the end of the chunk");
                return reply;
            }
            let reply = self.read_expected(verb).await?;
            if last || reply.code >= 400 {
                let stats = chunker.stats.clone();
                self.info(format!(
                    "message sent with BDAT: {} byte(s) in {} chunk(s), exactly as given (no dot-stuffing, no final \".\")",
                    stats.bytes, stats.chunks
                ));
                if stats.bare_lf > 0 {
                    self.warn(format!(
                        "{} line(s) end in a bare LF; BDAT sends them unchanged, though RFC 5321 wants CRLF (DATA would have converted them)",
                        stats.bare_lf
                    ));
                }
                return Ok(reply);
            }
        }
    }
}
