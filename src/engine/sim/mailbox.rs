//! Accepted messages: kept in memory (bounded by count and bytes, oldest dropped first) and
//! optionally written as `.eml` files. Nothing is ever relayed anywhere.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::config::MailboxConfig;

/// Bytes of message data kept in memory at most, over all messages.
pub(crate) const MAX_MAILBOX_BYTES: usize = 256 * 1024 * 1024;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The SES-shaped message ID sent in `250 Ok <id>`.
    pub id: String,
    pub received_at: DateTime<Utc>,
    pub peer: SocketAddr,
    /// The IAM user that sent it.
    pub user: String,
    /// MAIL FROM (empty for `<>`).
    pub mail_from: String,
    /// RCPT TO, in order.
    pub recipients: Vec<String>,
    /// The address in the From header, if there was one.
    pub from_header: Option<String>,
    /// The message as received, dot-unstuffed, CRLF line ends.
    pub data: Vec<u8>,
}

impl StoredMessage {
    /// The message as an `.eml` file: the envelope as `Return-Path` and `X-Smtpscope-Rcpt-To`
    /// header lines, then the data as received.
    pub(crate) fn to_eml(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 256);
        out.extend_from_slice(format!("Return-Path: <{}>\r\n", self.mail_from).as_bytes());
        out.extend_from_slice(
            format!("X-Smtpscope-Rcpt-To: {}\r\n", self.recipients.join(", ")).as_bytes(),
        );
        out.extend_from_slice(
            format!(
                "X-Smtpscope-Sim: accepted {} for IAM user {} from {}\r\n",
                self.received_at.to_rfc3339(),
                self.user,
                self.peer
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.data);
        out
    }

    /// The Subject header's raw value, if any (for listings).
    #[cfg(test)]
    pub(crate) fn subject(&self) -> Option<String> {
        let head_end = find(&self.data, b"\r\n\r\n").unwrap_or(self.data.len());
        let head = String::from_utf8_lossy(&self.data[..head_end]);
        head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("subject")
                .then(|| value.trim().to_string())
        })
    }
}

#[cfg(test)]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct Stored {
    messages: VecDeque<std::sync::Arc<StoredMessage>>,
    bytes: usize,
}

/// The simulator's mailbox. Shared between connections; every method is cheap.
pub struct Mailbox {
    max_messages: usize,
    max_bytes: usize,
    dir: Option<PathBuf>,
    stored: Mutex<Stored>,
    accepted: AtomicU64,
    changed: Notify,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("max_messages", &self.max_messages)
            .field("dir", &self.dir)
            .field("len", &self.len())
            .field("accepted", &self.total_accepted())
            .finish()
    }
}

impl Mailbox {
    pub(crate) fn new(config: &MailboxConfig) -> Mailbox {
        Mailbox {
            max_messages: config.max_messages,
            max_bytes: MAX_MAILBOX_BYTES,
            dir: config.dir.clone(),
            stored: Mutex::new(Stored::default()),
            accepted: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        // A panic elsewhere must not take the mailbox down with it.
        self.stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a message, dropping the oldest ones beyond the limits.
    pub(crate) fn push(&self, message: StoredMessage) -> std::sync::Arc<StoredMessage> {
        let message = std::sync::Arc::new(message);
        {
            let mut stored = self.lock();
            stored.bytes += message.data.len();
            stored.messages.push_back(message.clone());
            while stored.messages.len() > self.max_messages || stored.bytes > self.max_bytes {
                match stored.messages.pop_front() {
                    Some(old) => stored.bytes -= old.data.len(),
                    None => break,
                }
            }
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_waiters();
        message
    }

    /// The messages kept, oldest first.
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<std::sync::Arc<StoredMessage>> {
        self.lock().messages.iter().cloned().collect()
    }

    /// The kept message with this ID.
    pub fn get(&self, id: &str) -> Option<std::sync::Arc<StoredMessage>> {
        self.lock().messages.iter().find(|m| m.id == id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages accepted since start, including those no longer kept.
    pub fn total_accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn clear(&self) {
        let mut stored = self.lock();
        stored.messages.clear();
        stored.bytes = 0;
    }

    /// Waits until the mailbox holds at least `n` messages accepted since start.
    #[cfg(test)]
    pub(crate) async fn wait_for(&self, n: u64) {
        loop {
            let notified = self.changed.notified();
            if self.total_accepted() >= n {
                return;
            }
            notified.await;
        }
    }

    /// Writes the message as `<dir>/<id>.eml` when a folder is configured.
    pub(crate) async fn write_eml(&self, message: &StoredMessage) -> io::Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        // Private (0700 folder, 0600 files): messages may hold anything, secrets included.
        let dir = dir.clone();
        let path = dir.join(format!("{}.eml", message.id));
        let eml = message.to_eml();
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::engine::private::create_dir_all(&dir)?;
            crate::engine::private::replace(&target, &eml)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, size: usize) -> StoredMessage {
        let mut data = b"From: a@example.com\r\nSubject: Hello there\r\n\r\n".to_vec();
        data.resize(data.len() + size, b'x');
        StoredMessage {
            id: id.to_string(),
            received_at: Utc::now(),
            peer: "127.0.0.1:5000".parse().unwrap(),
            user: "good".into(),
            mail_from: "a@example.com".into(),
            recipients: vec!["b@example.com".into(), "c@example.com".into()],
            from_header: Some("a@example.com".into()),
            data,
        }
    }

    #[test]
    fn keeps_the_newest_within_the_count() {
        let mb = Mailbox::new(&MailboxConfig {
            max_messages: 2,
            dir: None,
        });
        for id in ["1", "2", "3"] {
            mb.push(message(id, 10));
        }
        let ids: Vec<String> = mb.messages().iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, vec!["2", "3"]);
        assert_eq!(mb.total_accepted(), 3);
        assert!(mb.get("1").is_none());
        assert_eq!(
            mb.get("3").unwrap().subject().as_deref(),
            Some("Hello there")
        );
        mb.clear();
        assert!(mb.is_empty());
    }

    #[test]
    fn keeps_the_byte_total_bounded() {
        let mut mb = Mailbox::new(&MailboxConfig {
            max_messages: 1000,
            dir: None,
        });
        mb.max_bytes = 3000;
        for i in 0..5 {
            mb.push(message(&i.to_string(), 1000));
        }
        assert!(mb.len() <= 2, "{}", mb.len());
        assert_eq!(mb.messages().last().unwrap().id, "4");
    }

    #[tokio::test]
    async fn writes_eml_files() {
        let dir = tempfile::tempdir().unwrap();
        let mb = Mailbox::new(&MailboxConfig {
            max_messages: 10,
            dir: Some(dir.path().join("spool")),
        });
        let m = mb.push(message("0100abc", 3));
        let path = mb.write_eml(&m).await.unwrap().unwrap();
        assert_eq!(path, dir.path().join("spool/0100abc.eml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(
            "Return-Path: <a@example.com>\r\nX-Smtpscope-Rcpt-To: b@example.com, c@example.com\r\n"
        ));
        assert!(text.ends_with("\r\n\r\nxxx"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&path) & 0o777, 0o600);
            assert_eq!(mode(&dir.path().join("spool")) & 0o777, 0o700);
        }
        mb.wait_for(1).await;
    }
}
