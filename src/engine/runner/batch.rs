//! Several messages in a run (`--count`), paced (`--rate`), over fresh connections every so
//! many (`--reconnect-every`); and the message lint, run just before DATA.

use std::io::Read;
use std::time::Duration;

use thiserror::Error;

use crate::engine::lint::{LintInput, lint};
use crate::engine::message::encode_message;
use crate::engine::session::{MessageSource, Session};

/// The most messages one run sends.
pub const MAX_COUNT: u32 = 10_000;
/// The fastest pace `--rate` takes, in messages per second.
pub const MAX_RATE: f64 = 1000.0;
/// How much of a message file the lint reads (its headers are at the top).
const LINT_HEAD: u64 = 256 * 1024;

/// How many messages, how fast, how many per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    pub count: u32,
    pub rate: Option<Rate>,
    pub reconnect_every: Option<u32>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            count: 1,
            rate: None,
            reconnect_every: None,
        }
    }
}

impl Batch {
    /// Messages per connection.
    pub(crate) fn per_connection(&self) -> u32 {
        self.reconnect_every
            .unwrap_or(self.count)
            .clamp(1, self.count.max(1))
    }
}

/// A pace: messages per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
}

/// A `--rate` that does not read as a pace.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "{0:?} is not a rate: write N/s, N/m or N/h (e.g. 2/s, 30/m), with N above 0 and at most {max} per second",
    max = MAX_RATE
)]
pub struct RateError(pub String);

impl Rate {
    /// Reads `2/s`, `0.5/s`, `30/m`, `100/h`, or a bare number (per second).
    pub fn parse(text: &str) -> Result<Rate, RateError> {
        let err = || RateError(text.to_string());
        let (n, per) = match text.trim().split_once('/') {
            Some((n, unit)) => (n, unit.trim()),
            None => (text, "s"),
        };
        let seconds = match per {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(err()),
        };
        let n: f64 = n.trim().parse().map_err(|_| err())?;
        let per_second = n / seconds;
        if !per_second.is_finite() || per_second <= 0.0 || per_second > MAX_RATE {
            return Err(err());
        }
        Ok(Rate { per_second })
    }

    /// The time between the starts of two messages.
    pub fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// Builds a fresh message for each send (its own Date and Message-ID).
pub type Composer = Box<dyn FnMut() -> Result<String, String> + Send>;

/// Lints the message about to be sent and records each finding as a warning, before DATA.
/// Standard input is read whole before connecting, so it is linted like any other message.
pub(crate) fn lint_before_data(session: &mut Session, source: &MessageSource) {
    let (head, wire_size) = match source {
        MessageSource::Text(text) => {
            let wire = encode_message(text.as_bytes()).0.len() as u64;
            (text.as_bytes().to_vec(), Some(wire))
        }
        MessageSource::File(path) => {
            let mut head = Vec::new();
            let size = std::fs::metadata(path).ok().map(|m| m.len());
            if let Ok(f) = std::fs::File::open(path) {
                let _ = f.take(LINT_HEAD).read_to_end(&mut head);
            }
            (head, size)
        }
        MessageSource::Bytes(bytes) => {
            let wire = encode_message(bytes).0.len() as u64;
            let head = usize::try_from(LINT_HEAD).unwrap_or(usize::MAX);
            (bytes[..bytes.len().min(head)].to_vec(), Some(wire))
        }
    };
    let model = session.model();
    let caps = model.capabilities();
    let mail_from = model.transaction().and_then(|t| t.mail_from.clone());
    let region = session
        .config()
        .ses_lint
        .as_ref()
        .and_then(|l| l.region.clone())
        .or_else(|| {
            model
                .conn
                .as_ref()
                .filter(|c| c.ses)
                .and_then(|c| crate::engine::ses::region_from_host(&c.host))
        });
    let findings = lint(&LintInput {
        message: &head,
        wire_size,
        mail_from: mail_from.as_deref(),
        ses_region: region.as_deref(),
        server_size: caps.and_then(|c| c.size),
        smtputf8: caps.is_some_and(|c| c.smtputf8),
    });
    for f in findings {
        session.warn(format!("message lint: {}", f.line()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_and_bounds() {
        assert_eq!(
            Rate::parse("2/s").unwrap().interval(),
            Duration::from_millis(500)
        );
        assert_eq!(
            Rate::parse("30/m").unwrap().interval(),
            Duration::from_secs(2)
        );
        assert_eq!(
            Rate::parse("4").unwrap().interval(),
            Duration::from_millis(250)
        );
        assert_eq!(
            Rate::parse("3600/h").unwrap().interval(),
            Duration::from_secs(1)
        );
        for bad in ["0/s", "-1/s", "x/s", "2/d", "1e9/s", "NaN/s", ""] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_per_connection() {
        let b = |count, every| Batch {
            count,
            rate: None,
            reconnect_every: every,
        };
        assert_eq!(b(10, None).per_connection(), 10);
        assert_eq!(b(10, Some(3)).per_connection(), 3);
        assert_eq!(b(2, Some(5)).per_connection(), 2);
        assert_eq!(b(1, Some(0)).per_connection(), 1);
    }
}
