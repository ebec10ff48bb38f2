//! SMTP service extensions the client can use: PIPELINING, CHUNKING (BDAT), SMTPUTF8, DSN,
//! REQUIRETLS, SIZE and 8BITMIME, and the address family to connect with.
//!
//! Each extension lives in its own small module and answers two questions: does the server
//! offer it (or did the user force it), and what goes on the wire. Using an extension the
//! server did not advertise is allowed only when forced with `--force-ext NAME`, and the
//! transcript then says so in a warning.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::command::InputError;
use super::model::Capabilities;

pub mod bdat;
pub mod dsn;
pub mod eightbit;
pub mod family;
pub mod flow;
pub mod pipelining;
pub mod requiretls;
pub mod size;
pub mod smtputf8;

pub use dsn::{Dsn, Notify, Ret};
pub use family::Family;

/// An extension keyword, as `--force-ext` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ext {
    Pipelining,
    Chunking,
    Smtputf8,
    Dsn,
    Requiretls,
    Size,
    EightBitMime,
}

impl Ext {
    pub const ALL: [Ext; 7] = [
        Ext::Pipelining,
        Ext::Chunking,
        Ext::Smtputf8,
        Ext::Dsn,
        Ext::Requiretls,
        Ext::Size,
        Ext::EightBitMime,
    ];

    /// The EHLO keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Ext::Pipelining => "PIPELINING",
            Ext::Chunking => "CHUNKING",
            Ext::Smtputf8 => "SMTPUTF8",
            Ext::Dsn => "DSN",
            Ext::Requiretls => "REQUIRETLS",
            Ext::Size => "SIZE",
            Ext::EightBitMime => "8BITMIME",
        }
    }

    /// Reads a keyword as the user typed it (any case).
    pub fn parse(name: &str) -> Option<Ext> {
        Ext::ALL
            .into_iter()
            .find(|e| e.keyword().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether the server's EHLO reply offered it.
    pub fn offered(self, caps: &Capabilities) -> bool {
        match self {
            Ext::Pipelining => caps.pipelining,
            Ext::Chunking => caps.chunking,
            Ext::Smtputf8 => caps.smtputf8,
            Ext::Dsn => caps.dsn,
            Ext::Requiretls => caps.requiretls,
            Ext::Size => caps.size.is_some(),
            Ext::EightBitMime => caps.eight_bit_mime,
        }
    }
}

/// Why an extension cannot be used as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}")]
    Invalid(String),
    /// Asked for, not advertised, not forced: nothing is sent.
    #[error(
        "{what} needs the server's {keyword} extension, which its EHLO reply did not offer; {hint}"
    )]
    NotOffered {
        what: String,
        keyword: &'static str,
        hint: &'static str,
    },
}

/// What the user asked of the extensions (`run`'s flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtSettings {
    /// Connect over IPv4 or IPv6 only.
    pub family: Option<Family>,
    /// `--pipeline`: MAIL, RCPT… and DATA as one group.
    pub pipeline: bool,
    /// `--bdat`: the message in BDAT chunks instead of DATA.
    pub bdat: bool,
    /// Bytes per BDAT chunk.
    pub bdat_chunk: usize,
    pub dsn: Dsn,
    /// `--requiretls` (RFC 8689): MAIL FROM … REQUIRETLS, only over TLS.
    pub requiretls: bool,
    /// Extensions to use even when the server does not advertise them.
    pub forced: Vec<Ext>,
}

/// The default BDAT chunk: big enough that a 40 MB message takes a few dozen round trips,
/// small enough to keep memory flat.
pub const DEFAULT_BDAT_CHUNK: usize = 1024 * 1024;
/// The largest chunk `--bdat-chunk` accepts.
pub const MAX_BDAT_CHUNK: usize = 64 * 1024 * 1024;

impl ExtSettings {
    pub fn is_forced(&self, ext: Ext) -> bool {
        self.forced.contains(&ext)
    }

    /// Whether `ext` may be used: offered, or forced (then `Forced`).
    pub fn usable(&self, ext: Ext, caps: Option<&Capabilities>) -> Use {
        if caps.is_some_and(|c| ext.offered(c)) {
            Use::Offered
        } else if self.is_forced(ext) {
            Use::Forced
        } else {
            Use::No
        }
    }

    pub fn chunk_size(&self) -> usize {
        if self.bdat_chunk == 0 {
            DEFAULT_BDAT_CHUNK
        } else {
            self.bdat_chunk.min(MAX_BDAT_CHUNK)
        }
    }
}

/// May an extension be used, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Offered,
    /// Not advertised; used because `--force-ext` said so.
    Forced,
    No,
}

impl Use {
    pub fn yes(self) -> bool {
        self != Use::No
    }
}

/// The warning shown each time a forced extension is used.
pub(crate) fn forced_warning(ext: Ext, what: &str) -> String {
    format!(
        "FORCED: {what} uses {}, which the server did NOT advertise (--force-ext {}); expect a 500/501/555 refusal from a server that does not know it",
        ext.keyword(),
        ext.keyword().to_ascii_lowercase()
    )
}

/// What the client knows about the message before sending it, for SIZE, BODY= and SMTPUTF8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFacts {
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// Any byte above 127 (needs 8BITMIME, or SMTPUTF8 in the headers).
    pub eight_bit: Option<bool>,
}

impl MessageFacts {
    /// Measures a message held in memory.
    pub fn of_bytes(bytes: &[u8]) -> MessageFacts {
        MessageFacts {
            size: Some(bytes.len() as u64),
            eight_bit: Some(!bytes.is_ascii()),
        }
    }

    /// Measures a file by reading it once in chunks (constant memory).
    pub fn of_file(path: &std::path::Path) -> std::io::Result<MessageFacts> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        let (mut size, mut eight_bit) = (0u64, false);
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            eight_bit |= !buf[..n].is_ascii();
        }
        Ok(MessageFacts {
            size: Some(size),
            eight_bit: Some(eight_bit),
        })
    }
}

/// Parameters for one envelope, and the remarks about them for the transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub mail_params: Vec<String>,
    /// One list per recipient, in order.
    pub rcpt_params: Vec<Vec<String>>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// Everything the envelope needs to decide its parameters.
pub struct EnvelopeInput<'a> {
    pub settings: &'a ExtSettings,
    pub caps: Option<&'a Capabilities>,
    pub tls: bool,
    pub from: &'a str,
    pub to: &'a [String],
    pub message: &'a MessageFacts,
}

/// Builds MAIL FROM's and each RCPT TO's parameters from what the server offers and what was
/// asked, in the order RFCs show them: SIZE, BODY, SMTPUTF8, RET, ENVID, REQUIRETLS.
pub fn envelope(input: &EnvelopeInput<'_>) -> Result<Envelope, ExtError> {
    let mut env = Envelope {
        rcpt_params: vec![Vec::new(); input.to.len()],
        ..Envelope::default()
    };
    size::apply(input, &mut env);
    eightbit::apply(input, &mut env);
    smtputf8::apply(input, &mut env)?;
    dsn::apply(input, &mut env)?;
    requiretls::apply(input, &mut env)?;
    for p in env
        .mail_params
        .iter()
        .chain(env.rcpt_params.iter().flatten())
    {
        super::command::check_arg("envelope parameter", p)?;
    }
    Ok(env)
}

/// The extensions this module knows, as the EHLO summary lists them (offered first).
pub(crate) fn summary_entries(caps: &Capabilities) -> Vec<(bool, String)> {
    vec![
        (caps.dsn, "DSN".to_string()),
        (caps.requiretls, "REQUIRETLS".to_string()),
    ]
}

#[cfg(test)]
mod tests;
