//! CHUNKING (RFC 3030): the message in `BDAT <size> [LAST]` chunks. The bytes go exactly as
//! given: no dot-stuffing, no final ".", no line-ending repair (a bare LF is reported, not
//! fixed, so what the server stores is what the file holds). Two chunk buffers are the only
//! memory a message of any size takes.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The command that announces a chunk.
pub fn command(len: usize, last: bool) -> String {
    if last {
        format!("BDAT {len} LAST")
    } else {
        format!("BDAT {len}")
    }
}

/// Whether to send the message with BDAT, and what to tell the user.
pub fn decide(
    settings: &super::ExtSettings,
    caps: Option<&crate::engine::model::Capabilities>,
) -> (bool, Option<String>) {
    use super::{Ext, Use};
    if !settings.bdat {
        return (false, None);
    }
    match settings.usable(Ext::Chunking, caps) {
        Use::Offered => (true, None),
        Use::Forced => (
            true,
            Some(super::forced_warning(Ext::Chunking, "the message (BDAT)")),
        ),
        Use::No => (
            false,
            Some(
                "--bdat: the server does not offer CHUNKING, so the message goes with DATA instead (RFC 3030 §2: BDAT only to a server that advertises it)"
                    .into(),
            ),
        ),
    }
}

/// What was sent, for the transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BdatStats {
    pub bytes: u64,
    pub chunks: u64,
    /// LFs not preceded by CR: sent as they are, though RFC 5321 wants CRLF.
    pub bare_lf: u64,
    prev_cr: bool,
}

impl BdatStats {
    fn scan(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.chunks += 1;
        for &b in chunk {
            if b == b'\n' && !self.prev_cr {
                self.bare_lf += 1;
            }
            self.prev_cr = b == b'\r';
        }
    }
}

/// Reads a message in chunks of a fixed size, knowing which one is the last.
pub struct Chunker<R> {
    reader: R,
    size: usize,
    cur: Vec<u8>,
    ahead: Vec<u8>,
    started: bool,
    eof: bool,
    done: bool,
    pub stats: BdatStats,
}

impl<R: AsyncRead + Unpin> Chunker<R> {
    pub fn new(reader: R, size: usize) -> Chunker<R> {
        let size = size.max(1);
        Chunker {
            reader,
            size,
            cur: Vec::with_capacity(size),
            ahead: Vec::with_capacity(size),
            started: false,
            eof: false,
            done: false,
            stats: BdatStats::default(),
        }
    }

    async fn fill(reader: &mut R, buf: &mut Vec<u8>, size: usize) -> std::io::Result<bool> {
        buf.clear();
        buf.resize(size, 0);
        let mut filled = 0;
        let mut eof = false;
        while filled < size {
            let n = reader.read(&mut buf[filled..]).await?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(eof)
    }

    /// The next chunk and whether it is the last; `None` after the last.
    pub async fn next_chunk(&mut self) -> std::io::Result<Option<(&[u8], bool)>> {
        if self.done {
            return Ok(None);
        }
        if self.started {
            std::mem::swap(&mut self.cur, &mut self.ahead);
        } else {
            self.started = true;
            self.eof = Self::fill(&mut self.reader, &mut self.cur, self.size).await?;
        }
        let last = if self.eof {
            self.ahead.clear();
            true
        } else {
            self.eof = Self::fill(&mut self.reader, &mut self.ahead, self.size).await?;
            self.ahead.is_empty()
        };
        self.done = last;
        self.stats.scan(&self.cur);
        Ok(Some((&self.cur, last)))
    }
}
