//! The message after DATA: streamed in chunks, dot-stuffed, watched for an early reply from a
//! server that stops reading, so neither a 40 MB file nor a hostile server can hang the client.

use super::{
    AsyncRead, AsyncReadExt, AsyncWriteExt, DotStuffer, Duration, EntryKind, FutureExt, Instant,
    MESSAGE_CHUNK, MessageStats, PathBuf, Reply, STALL_CHECK, Session, SessionError, Verb, io,
};
use crate::engine::transcript::{MESSAGE_VIEW_MAX, MessageView};

/// Where the message after DATA comes from.
#[derive(Debug, Clone)]
pub enum MessageSource {
    /// Text composed in memory (default message, the TUI's composer).
    Text(String),
    /// A file, streamed in chunks.
    File(PathBuf),
    /// Bytes held in memory, sent as they are (standard input, read whole before connecting
    /// so that it is linted and measured like a file).
    Bytes(std::sync::Arc<[u8]>),
}

/// How streaming a message ended.
pub(super) struct Streamed {
    stats: MessageStats,
    /// `Some(bytes sent)` when the server spoke or hung up before the message was complete.
    interrupted_after: Option<u64>,
}

impl Session {
    /// Streams the message after a 354, dot-stuffed, with the final `.`, then reads the reply.
    ///
    /// A server may answer before the message is complete (a 554 right after its 354, say)
    /// and stop reading. Between chunks the session looks for such an early reply; when one
    /// comes, streaming stops, the reply is the answer to the message, and the connection is
    /// closed because the server's state is unknown. Writes that stall for the reply timeout
    /// end the same way, so a server that stops reading cannot hang the client.
    pub async fn send_message(
        &mut self,
        source: MessageSource,
    ) -> Result<(Reply, MessageStats), SessionError> {
        self.send_message_then(source, false).await
    }

    /// [`Session::send_message`] for the session's last message, with QUIT sent right after
    /// the final "." without waiting (RFC 2920 §3.1: message content may start a group and
    /// QUIT may end one); the reply to the message is read, then QUIT's.
    pub async fn send_last_message(
        &mut self,
        source: MessageSource,
    ) -> Result<(Reply, MessageStats), SessionError> {
        self.send_message_then(source, true).await
    }

    async fn send_message_then(
        &mut self,
        source: MessageSource,
        quit: bool,
    ) -> Result<(Reply, MessageStats), SessionError> {
        if self.conn.is_none() {
            return Err(self.fail(SessionError::NotConnected));
        }
        let data_open = self
            .model
            .transaction()
            .is_some_and(|t| t.data == crate::engine::model::DataStage::Open);
        if !data_open {
            self.warn("sending message content without a 354 reply to DATA; the server will read it as commands");
        }
        // No drain of unsolicited replies here: after the 354, whatever the server says is
        // its answer to the message.
        self.wire_copy = (Vec::new(), 0);
        let streamed = match self.stream_message(source).await {
            Ok(s) => s,
            Err(e) => return Err(self.fail(e)),
        };
        let stats = streamed.stats;
        let eight_bit = self
            .model
            .capabilities()
            .is_some_and(|c| c.eight_bit_mime || c.smtputf8);
        let view = message_view(std::mem::take(&mut self.wire_copy));
        self.record(
            EntryKind::Message {
                stats: stats.clone(),
                view: Some(view),
            },
            None,
        );
        for w in stats.warnings(eight_bit) {
            self.warn(w);
        }
        let complete = streamed.interrupted_after.is_none();
        if let Some(sent) = streamed.interrupted_after {
            self.warn(format!(
                "the server replied (or hung up) before the message was complete: {sent} byte(s) were sent, the rest and the final \".\" were not; the connection will be closed since the server's state is unknown"
            ));
        } else {
            self.last_sent_at = Some(Instant::now());
        }
        let quit_sent = quit && complete && self.queue_quit().await;
        let reply = self.read_and_record(Verb::DataEnd).await;
        if !complete {
            self.drop_connection("the server answered before the end of the message");
        } else if quit && !quit_sent {
            self.drop_connection("QUIT could not be sent");
        } else if quit_sent && reply.is_ok() {
            // The message's answer stands whatever happens to QUIT's; a failure to read it
            // is recorded like any other.
            let _ = self.read_and_record(Verb::Quit).await;
        }
        Ok((reply?, stats))
    }

    /// QUIT right after the message, recorded as sent. False, with a warning, when it could
    /// not be written: the answer to the message may still be there to read, and matters more.
    async fn queue_quit(&mut self) -> bool {
        self.info(crate::engine::ext::pipelining::quit_note());
        self.record_sent("QUIT".into(), Verb::Quit, None);
        match self.write_all(b"QUIT\r\n").await {
            Ok(()) => true,
            Err(e) => {
                self.warn(format!("QUIT could not be sent: {e}"));
                false
            }
        }
    }

    /// Sends one line of a message typed by hand after a 354, at once and without waiting for
    /// a reply: for a user used to `openssl s_client`. Dot-stuffing-aware: a line that starts
    /// with "." goes with one more "." (RFC 5321 §4.5.2), so the server stores the line as
    /// typed. A line that is only "." ends the message: it is recorded as the final "."
    /// (`Verb::DataEnd`, so the model waits for the answer to the message) and the reply is
    /// read. Empty lines are allowed; CR, LF and NUL are refused.
    pub(crate) async fn message_line(&mut self, line: &str) -> Result<Option<Reply>, SessionError> {
        super::super::command::check_arg("message line", line)?;
        let end = line == ".";
        let verb = if end { Verb::DataEnd } else { Verb::Other };
        let mut bytes = Vec::with_capacity(line.len() + 3);
        if !end && line.starts_with('.') {
            bytes.push(b'.');
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_line(&bytes, line.to_string(), verb, None)
            .await?;
        if !end {
            return Ok(None);
        }
        self.read_and_record(Verb::DataEnd).await.map(Some)
    }

    pub(super) async fn stream_message(
        &mut self,
        source: MessageSource,
    ) -> Result<Streamed, SessionError> {
        let mut stuffer = DotStuffer::default();
        let mut out = Vec::with_capacity(MESSAGE_CHUNK + MESSAGE_CHUNK / 8);
        let mut sent = 0u64;
        // A message held in memory goes out with its final "." in one write; a file is
        // pumped chunk by chunk, then the "." follows.
        let complete = match source {
            MessageSource::Text(text) => {
                stuffer.push(text.as_bytes(), &mut out);
                true
            }
            MessageSource::File(path) => {
                let file = tokio::fs::File::open(&path).await.map_err(|source| {
                    SessionError::MessageSource {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                let name = path.display().to_string();
                self.pump(file, &mut stuffer, &mut out, &name, &mut sent)
                    .await?
            }
            MessageSource::Bytes(bytes) => {
                stuffer.push(&bytes, &mut out);
                true
            }
        };
        if !complete {
            return Ok(Streamed {
                stats: stuffer.stats().clone(),
                interrupted_after: Some(sent),
            });
        }
        let stats = stuffer.finish(&mut out);
        if !self.write_data(&out, &mut sent).await? {
            return Ok(Streamed {
                stats,
                interrupted_after: Some(sent),
            });
        }
        Ok(Streamed {
            stats,
            interrupted_after: None,
        })
    }

    /// Copies `reader` through the dot-stuffer to the server; false when the server spoke
    /// before the end.
    pub(super) async fn pump<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: R,
        stuffer: &mut DotStuffer,
        out: &mut Vec<u8>,
        name: &str,
        sent: &mut u64,
    ) -> Result<bool, SessionError> {
        let mut chunk = vec![0u8; MESSAGE_CHUNK];
        loop {
            let n =
                reader
                    .read(&mut chunk)
                    .await
                    .map_err(|source| SessionError::MessageSource {
                        path: name.to_string(),
                        source,
                    })?;
            if n == 0 {
                return Ok(true);
            }
            stuffer.push(&chunk[..n], out);
            let complete = self.write_data(out, sent).await?;
            out.clear();
            if !complete {
                return Ok(false);
            }
        }
    }

    /// Writes message bytes, checking for an early reply before each chunk and whenever the
    /// server stops taking data for a moment. Returns false when the server spoke (or hung
    /// up); an error when it took nothing for the whole reply timeout.
    pub(super) async fn write_data(
        &mut self,
        bytes: &[u8],
        sent: &mut u64,
    ) -> Result<bool, SessionError> {
        let io_err = |source| SessionError::Io {
            after: Verb::DataEnd,
            source,
        };
        let timeout = self.cfg.reply_timeout;
        keep_for_view(&mut self.wire_copy, bytes);
        for chunk in bytes.chunks(MESSAGE_CHUNK) {
            if self.server_spoke_early() {
                return Ok(false);
            }
            let mut off = 0;
            let mut last_progress = Instant::now();
            while off < chunk.len() {
                let conn = self.conn.as_mut().ok_or(SessionError::NotConnected)?;
                // A pending write consumes nothing, so giving up on it after a slice is safe.
                match tokio::time::timeout(STALL_CHECK, conn.write(&chunk[off..])).await {
                    Ok(Ok(0)) => return Err(io_err(io::ErrorKind::WriteZero.into())),
                    Ok(Ok(n)) => {
                        off += n;
                        *sent += n as u64;
                        last_progress = Instant::now();
                    }
                    Ok(Err(source)) => {
                        // The server may have answered, then hung up: keep its words.
                        if self.server_spoke_early() {
                            return Ok(false);
                        }
                        return Err(io_err(source));
                    }
                    Err(_) if self.server_spoke_early() => return Ok(false),
                    Err(_) if last_progress.elapsed() >= timeout => {
                        return Err(io_err(stalled(timeout)));
                    }
                    Err(_) => {}
                }
            }
        }
        let conn = self.conn.as_mut().ok_or(SessionError::NotConnected)?;
        match tokio::time::timeout(timeout, conn.flush()).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(_)) | Err(_) if self.server_spoke_early() => Ok(false),
            Ok(Err(source)) => Err(io_err(source)),
            Err(_) => Err(io_err(stalled(timeout))),
        }
    }

    /// Takes what the server has already sent, without waiting: true when bytes of a reply
    /// are waiting or the server closed. At most one read, so a flood cannot pile up.
    pub(super) fn server_spoke_early(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        match conn.read(&mut self.buf).now_or_never() {
            Some(Ok(0)) => return true,
            Some(Ok(n)) => {
                let chunk = self.buf[..n].to_vec();
                self.parser.push(&chunk);
            }
            Some(Err(_)) | None => {}
        }
        self.parser.is_mid_reply()
    }
}

/// The error for a server that stopped reading what the client sends.
pub(super) fn stalled(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the server accepted no data for {timeout:?} (it stopped reading)"),
    )
}

/// Keeps the first [`MESSAGE_VIEW_MAX`] bytes written, and counts the rest.
fn keep_for_view((kept, more): &mut (Vec<u8>, u64), bytes: &[u8]) {
    let room = MESSAGE_VIEW_MAX.saturating_sub(kept.len()).min(bytes.len());
    kept.extend_from_slice(&bytes[..room]);
    *more += (bytes.len() - room) as u64;
}

/// The message view from the kept bytes, without the final "." line.
fn message_view((mut kept, omitted): (Vec<u8>, u64)) -> MessageView {
    if omitted == 0 && kept.ends_with(b"\r\n.\r\n") {
        kept.truncate(kept.len() - 3);
    } else if omitted == 0 && kept == b".\r\n" {
        kept.clear();
    }
    MessageView {
        text: String::from_utf8_lossy(&kept).into_owned(),
        omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_keeps_the_stuffed_start_and_counts_the_rest() {
        let mut copy = (Vec::new(), 0);
        keep_for_view(&mut copy, b"Subject: x\r\n\r\n..dot\r\n.\r\n");
        let v = message_view(copy);
        assert_eq!(v.text, "Subject: x\r\n\r\n..dot\r\n");
        assert_eq!(v.omitted, 0);
        let mut big = (Vec::new(), 0);
        keep_for_view(&mut big, &vec![b'a'; MESSAGE_VIEW_MAX - 1]);
        keep_for_view(&mut big, b"bcd");
        assert_eq!(big.0.len(), MESSAGE_VIEW_MAX);
        assert_eq!(big.1, 2);
    }
}
