//! Reading files and standard input with a size cap.
//!
//! Every input smtpscope reads whole (passwords, CA files, policies, the simulator's config,
//! saved transcripts) goes through here, so `/dev/zero` or a huge file ends in an error naming
//! the input and its limit instead of filling memory. Devices, folders and sockets are refused
//! before they are read; FIFOs are read (with the cap) because `--flag <(command)` is one.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use thiserror::Error;
use zeroize::Zeroizing;

use super::escape::escape_str;

/// A size in bytes, shown in KiB or MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Caps of the inputs read whole.
pub(crate) mod limit {
    /// A password file or `--password-stdin` (only the first line is used).
    pub(crate) const PASSWORD: u64 = 64 * 1024;
    /// `--ca-file`: a whole system bundle is about 220 KiB.
    pub(crate) const CA_FILE: u64 = 4 * 1024 * 1024;
    /// An IAM policy (IAM itself allows 6,144 characters for a managed policy).
    pub(crate) const POLICY: u64 = 1024 * 1024;
    /// `--body @FILE` and `--html @FILE`: message text composed in memory.
    pub(crate) const BODY: u64 = 10 * 1024 * 1024;
    /// One `--attach FILE`; all attachments together are held to [`ATTACHMENTS`].
    pub(crate) const ATTACHMENT: u64 = 25 * 1024 * 1024;
    /// All `--attach` files together (base64 makes them a third larger: SES takes 40 MB).
    pub(crate) const ATTACHMENTS: u64 = 40 * 1024 * 1024;
    /// The simulator's TOML configuration.
    pub(crate) const SIM_CONFIG: u64 = 1024 * 1024;
    /// A saved transcript (`.jsonl`).
    pub(crate) const TRANSCRIPT: u64 = 64 * 1024 * 1024;
    /// One line of a saved transcript.
    pub(crate) const TRANSCRIPT_LINE: u64 = 4 * 1024 * 1024;
    /// A reply or log pasted into `explain`.
    pub(crate) const PASTED: u64 = 1024 * 1024;
    /// `run --data -`: the message read from standard input, held in memory (SES takes 40 MB;
    /// a bigger message can still be sent from a file, which is streamed).
    pub(crate) const MESSAGE_STDIN: u64 = 40 * 1024 * 1024;
    /// How long `run --data -` waits for standard input to end.
    pub(crate) const MESSAGE_STDIN_WAIT: std::time::Duration = std::time::Duration::from_mins(2);
    /// How long `explain` waits for standard input to end.
    pub(crate) const PASTED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
}

/// An input that could not be read. Names are escaped when the error is made, so the message
/// is safe to print wherever it ends up.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{what} ({name}) is larger than the limit of {limit}")]
    TooLarge {
        what: &'static str,
        name: String,
        limit: Size,
    },
    #[error("{what} ({name}) is {kind}, not a regular file")]
    NotAFile {
        what: &'static str,
        name: String,
        kind: &'static str,
    },
    #[error("cannot read {what} from {name}: {source}")]
    Io {
        what: &'static str,
        name: String,
        source: io::Error,
    },
    #[error("{what} ({name}) is not UTF-8 text")]
    NotUtf8 { what: &'static str, name: String },
    #[error("{what} ({name}) did not end within {secs} s")]
    TimedOut {
        what: &'static str,
        name: String,
        secs: u64,
    },
}

/// How a path is shown in messages: escaped.
pub(crate) fn shown(path: &Path) -> String {
    escape_str(&path.display().to_string())
}

/// Opens `path` for reading if it is a regular file or a FIFO; refuses devices, folders and
/// sockets (checked before opening, and again on the open file). A regular file larger than
/// `max` is refused without reading it.
pub(crate) fn open(path: &Path, what: &'static str, max: u64) -> Result<File, ReadError> {
    let name = shown(path);
    let io = |source| ReadError::Io {
        what,
        name: name.clone(),
        source,
    };
    check_kind(&std::fs::metadata(path).map_err(io)?, what, &name)?;
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_kind(&meta, what, &name)?;
    if meta.is_file() && meta.len() > max {
        return Err(ReadError::TooLarge {
            what,
            name,
            limit: Size(max),
        });
    }
    Ok(file)
}

fn check_kind(meta: &std::fs::Metadata, what: &'static str, name: &str) -> Result<(), ReadError> {
    let kind = file_kind(meta);
    if matches!(kind, "a regular file" | "a FIFO") {
        return Ok(());
    }
    Err(ReadError::NotAFile {
        what,
        name: name.to_string(),
        kind,
    })
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        return "a regular file";
    }
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Reads `reader` to its end into `buf`, or fails once it holds more than `max` bytes: the
/// read stops at `max + 1`, so memory stays bounded whatever the source.
pub(crate) fn read_capped<R: Read>(
    reader: R,
    buf: &mut Vec<u8>,
    what: &'static str,
    name: &str,
    max: u64,
) -> Result<(), ReadError> {
    reader
        .take(max.saturating_add(1))
        .read_to_end(buf)
        .map_err(|source| ReadError::Io {
            what,
            name: name.to_string(),
            source,
        })?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge {
            what,
            name: name.to_string(),
            limit: Size(max),
        });
    }
    Ok(())
}

/// Reads `reader` to its end as [`read_capped`] does, waiting at most `wait` for the end. The
/// read runs on its own thread; when the time is up the caller gets an error and the thread is
/// left blocked until the process exits (a pipe that never closes cannot hold the command).
pub fn read_capped_within<R: Read + Send + 'static>(
    reader: R,
    what: &'static str,
    name: &str,
    max: u64,
    wait: std::time::Duration,
) -> Result<Vec<u8>, ReadError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_name = name.to_string();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let result = read_capped(reader, &mut buf, what, &thread_name, max).map(|()| buf);
        let _ = tx.send(result);
    });
    rx.recv_timeout(wait).unwrap_or_else(|_| {
        Err(ReadError::TimedOut {
            what,
            name: name.to_string(),
            secs: wait.as_secs().max(1),
        })
    })
}

/// A whole file as text, at most `max` bytes.
pub(crate) fn read_to_string(
    path: &Path,
    what: &'static str,
    max: u64,
) -> Result<String, ReadError> {
    let file = open(path, what, max)?;
    let mut buf = Vec::new();
    read_capped(file, &mut buf, what, &shown(path), max)?;
    String::from_utf8(buf).map_err(|_| ReadError::NotUtf8 {
        what,
        name: shown(path),
    })
}

/// A secret from a reader, at most `max` bytes, in memory that is wiped on drop. The buffer is
/// sized up front so that growing it never leaves a copy of the secret behind.
pub(crate) fn read_secret<R: Read>(
    reader: R,
    what: &'static str,
    name: &str,
    max: u64,
) -> Result<Zeroizing<String>, ReadError> {
    let cap = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf = Zeroizing::new(Vec::with_capacity(cap));
    read_capped(reader, &mut buf, what, name, max)?;
    let text = std::str::from_utf8(&buf).map_err(|_| ReadError::NotUtf8 {
        what,
        name: name.to_string(),
    })?;
    Ok(Zeroizing::new(text.to_string()))
}

/// A secret from a file (see [`read_secret`]).
pub(crate) fn read_secret_file(
    path: &Path,
    what: &'static str,
    max: u64,
) -> Result<Zeroizing<String>, ReadError> {
    let file = open(path, what, max)?;
    read_secret(file, what, &shown(path), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(Size(64 * 1024).to_string(), "64 KiB");
        assert_eq!(Size(4 << 20).to_string(), "4 MiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
    }

    #[test]
    fn devices_and_folders_are_refused_and_big_files_not_read() {
        let err = read_to_string(Path::new("/dev/zero"), "the policy", 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the policy (/dev/zero) is a device, not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read_to_string(dir.path(), "the policy", 10).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        let big = dir.path().join("big\u{1b}[2J.json");
        std::fs::write(&big, "x".repeat(11)).unwrap();
        let err = read_to_string(&big, "the policy", 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than the limit of 10 bytes"), "{err}");
        assert!(
            err.contains("big\\x1b[2J.json"),
            "the name is escaped: {err}"
        );
        std::fs::write(&big, "x".repeat(10)).unwrap();
        assert_eq!(read_to_string(&big, "the policy", 10).unwrap().len(), 10);
    }

    #[test]
    fn endless_readers_stop_at_the_cap() {
        let err = read_secret(io::repeat(0), "the password", "standard input", 64).unwrap_err();
        assert!(
            err.to_string()
                .contains("larger than the limit of 64 bytes")
        );
        let ok = read_secret(&b"pw\n"[..], "the password", "standard input", 64).unwrap();
        assert_eq!(ok.as_str(), "pw\n");
        let err = read_secret(&[0xff][..], "the password", "standard input", 64).unwrap_err();
        assert!(matches!(err, ReadError::NotUtf8 { .. }));
    }

    #[test]
    fn slow_readers_stop_at_the_time_limit() {
        use std::time::{Duration, Instant};
        struct Slow;
        impl Read for Slow {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_secs(5));
                Ok(0)
            }
        }
        let start = Instant::now();
        let err = read_capped_within(
            Slow,
            "the log",
            "standard input",
            64,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            err.to_string(),
            "the log (standard input) did not end within 1 s"
        );
        let ok = read_capped_within(
            &b"250 ok"[..],
            "the log",
            "standard input",
            64,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(ok, b"250 ok");
        let err = read_capped_within(
            io::repeat(b'x'),
            "the log",
            "standard input",
            64,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
    }
}
