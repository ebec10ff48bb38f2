//! DSN (RFC 3461): which delivery status notifications to get (`NOTIFY=` on each RCPT), how
//! much of the message they carry (`RET=`), and an envelope id (`ENVID=`), all xtext-encoded
//! where the RFC says so. The original recipient (`ORCPT=`) goes with each RCPT.

use std::fmt::Write as _;

use super::{Envelope, EnvelopeInput, Ext, ExtError, Use, forced_warning};
use crate::engine::command::check_arg;

/// RFC 3461 §4.4: an ENVID is at most 100 characters.
pub const MAX_ENVID: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    Never,
    Success,
    Failure,
    Delay,
}

impl Notify {
    fn keyword(self) -> &'static str {
        match self {
            Notify::Never => "NEVER",
            Notify::Success => "SUCCESS",
            Notify::Failure => "FAILURE",
            Notify::Delay => "DELAY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Hdrs,
}

/// The DSN requests of one envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub notify: Option<Vec<Notify>>,
    pub ret: Option<Ret>,
    /// Plain text; xtext-encoded on the wire.
    pub envid: Option<String>,
}

impl Dsn {
    pub fn is_requested(&self) -> bool {
        self.notify.is_some() || self.ret.is_some() || self.envid.is_some()
    }
}

/// Reads `--dsn-notify`: `never`, or a comma list of `success`, `failure`, `delay`.
pub fn parse_notify(value: &str) -> Result<Vec<Notify>, ExtError> {
    check_arg("--dsn-notify", value)?;
    let mut out = Vec::new();
    for word in value.split(',') {
        let n = match word.trim().to_ascii_uppercase().as_str() {
            "NEVER" => Notify::Never,
            "SUCCESS" => Notify::Success,
            "FAILURE" => Notify::Failure,
            "DELAY" => Notify::Delay,
            _ => {
                return Err(ExtError::Invalid(format!(
                    "--dsn-notify: {} is not one of never, success, failure, delay",
                    crate::engine::escape::escape_str(word.trim())
                )));
            }
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.contains(&Notify::Never) && out.len() > 1 {
        return Err(ExtError::Invalid(
            "--dsn-notify: never cannot be combined with success, failure or delay (RFC 3461 §4.1)"
                .into(),
        ));
    }
    Ok(out)
}

/// Reads `--dsn-ret`: `full` or `hdrs`.
pub fn parse_ret(value: &str) -> Result<Ret, ExtError> {
    check_arg("--dsn-ret", value)?;
    match value.trim().to_ascii_uppercase().as_str() {
        "FULL" => Ok(Ret::Full),
        "HDRS" => Ok(Ret::Hdrs),
        _ => Err(ExtError::Invalid(format!(
            "--dsn-ret: {} is not full or hdrs",
            crate::engine::escape::escape_str(value)
        ))),
    }
}

/// Checks `--envid`: printable ASCII, at most 100 characters before encoding.
pub fn check_envid(value: &str) -> Result<(), ExtError> {
    check_arg("--envid", value)?;
    if value.is_empty() {
        return Err(ExtError::Invalid("--envid is empty".into()));
    }
    if value.chars().count() > MAX_ENVID {
        return Err(ExtError::Invalid(format!(
            "--envid is longer than {MAX_ENVID} characters (RFC 3461 §4.4)"
        )));
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ExtError::Invalid(
            "--envid must be printable ASCII (RFC 3461 §4.4)".into(),
        ));
    }
    Ok(())
}

/// RFC 3461 §4: xtext. `!` to `~` stay as they are except `+` and `=`; every other byte is
/// `+` and two upper-case hex digits.
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) -> Result<(), ExtError> {
    let dsn = &input.settings.dsn;
    if !dsn.is_requested() {
        return Ok(());
    }
    match input.settings.usable(Ext::Dsn, input.caps) {
        Use::No => {
            return Err(ExtError::NotOffered {
                what: "--dsn-notify, --dsn-ret and --envid".into(),
                keyword: "DSN",
                hint: "a server without it would refuse the parameters (555), so MAIL FROM is not sent; --force-ext dsn sends them anyway",
            });
        }
        Use::Forced => env
            .warnings
            .push(forced_warning(Ext::Dsn, "the DSN parameters")),
        Use::Offered => {}
    }
    if let Some(ret) = dsn.ret {
        env.mail_params.push(match ret {
            Ret::Full => "RET=FULL".into(),
            Ret::Hdrs => "RET=HDRS".into(),
        });
    }
    if let Some(envid) = &dsn.envid {
        check_envid(envid)?;
        env.mail_params.push(format!("ENVID={}", xtext(envid)));
    }
    for (params, to) in env.rcpt_params.iter_mut().zip(input.to) {
        if let Some(notify) = &dsn.notify {
            let words: Vec<&str> = notify.iter().map(|n| n.keyword()).collect();
            params.push(format!("NOTIFY={}", words.join(",")));
        }
        // RFC 3461 §4.2: ORCPT is "rfc822;" and the xtext of an ASCII address; a non-ASCII
        // one would need RFC 6533's utf-8 form, so it is left out.
        if to.is_ascii() {
            params.push(format!("ORCPT=rfc822;{}", xtext(to)));
        }
    }
    Ok(())
}
