//! OCSP stapling: whether the server sent an OCSP response with its certificate (RFC 6066
//! `status_request`), and what it says. smtpscope asks for one in every handshake (rustls does);
//! it reports the answer but does not act on it, as mail clients generally do not.
//!
//! The response is walked with `asn1-rs` (the DER reader under `x509-parser`) only as far as the
//! response status and the first certificate status (RFC 6960 §4.2.1): an unexpected shape is
//! reported as unreadable, never guessed.

use serde::{Deserialize, Serialize};
use x509_parser::asn1_rs::{Any, Class, FromDer};

/// The largest stapled response looked at (they are typically 1-4 KiB).
const MAX_RESPONSE: usize = 64 * 1024;

/// What the server stapled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcspStaple {
    pub stapled: bool,
    /// "good", "revoked", "unknown" (the responder does not know the certificate),
    /// "unsuccessful (tryLater)"-like response errors, or "unreadable".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The size of the stapled response in bytes.
    #[serde(default)]
    pub bytes: usize,
}

impl OcspStaple {
    /// One phrase for views and summaries.
    pub fn describe(&self) -> String {
        match (&self.stapled, &self.status) {
            (false, _) => "not stapled (the server sent no OCSP response)".into(),
            (true, Some(s)) => format!("stapled, {s} ({} bytes)", self.bytes),
            (true, None) => format!("stapled ({} bytes)", self.bytes),
        }
    }
}

const RESPONSE_STATUS: [&str; 7] = [
    "successful",
    "malformedRequest",
    "internalError",
    "tryLater",
    "(unused)",
    "sigRequired",
    "unauthorized",
];

/// Reads a stapled response (empty: none stapled).
pub fn read(response: &[u8]) -> OcspStaple {
    if response.is_empty() {
        return OcspStaple {
            stapled: false,
            status: None,
            bytes: 0,
        };
    }
    let status = if response.len() > MAX_RESPONSE {
        "too large to read".to_string()
    } else {
        cert_status(response).unwrap_or_else(|| "unreadable".into())
    };
    OcspStaple {
        stapled: true,
        status: Some(status),
        bytes: response.len(),
    }
}

/// The elements of a constructed value, in order.
fn children(data: &[u8]) -> Option<Vec<Any<'_>>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (next, any) = Any::from_der(rest).ok()?;
        out.push(any);
        rest = next;
        if out.len() > 64 {
            return None;
        }
    }
    Some(out)
}

fn cert_status(response: &[u8]) -> Option<String> {
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ... }
    let (_, outer) = Any::from_der(response).ok()?;
    let top = children(outer.data)?;
    let code = top.first()?.as_enumerated().ok()?.0;
    if code != 0 {
        let name = RESPONSE_STATUS
            .get(usize::try_from(code).ok()?)
            .copied()
            .unwrap_or("unknown error");
        return Some(format!("the responder answered {name}"));
    }
    let wrapped = top.get(1)?;
    if wrapped.class() != Class::ContextSpecific || wrapped.tag().0 != 0 {
        return None;
    }
    // ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING (BasicOCSPResponse) }
    let (_, response_bytes) = Any::from_der(wrapped.data).ok()?;
    let rb = children(response_bytes.data)?;
    let basic_der = rb.get(1)?.data;
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, ... }
    let (_, basic) = Any::from_der(basic_der).ok()?;
    let tbs = children(basic.data)?.into_iter().next()?;
    // ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT, responderID, producedAt,
    //                             responses SEQUENCE OF SingleResponse, ... }
    let responses = children(tbs.data)?
        .into_iter()
        .filter(|a| a.class() == Class::Universal)
        .find(|a| a.tag().0 == 16)?;
    let first = children(responses.data)?.into_iter().next()?;
    // SingleResponse ::= SEQUENCE { certID, certStatus CHOICE { good [0], revoked [1], unknown [2] }, ...}
    let status = children(first.data)?.into_iter().nth(1)?;
    if status.class() != Class::ContextSpecific {
        return None;
    }
    Some(
        match status.tag().0 {
            0 => "good",
            1 => "revoked",
            2 => "unknown to the responder",
            _ => return None,
        }
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_stapled_is_said_plainly() {
        let s = read(&[]);
        assert!(!s.stapled);
        assert!(s.describe().starts_with("not stapled"));
    }

    #[test]
    fn garbage_and_error_responses_are_named_not_guessed() {
        assert_eq!(read(&[1, 2, 3]).status.as_deref(), Some("unreadable"));
        // SEQUENCE { ENUMERATED 3 }: tryLater.
        let try_later = [0x30, 0x03, 0x0a, 0x01, 0x03];
        assert_eq!(
            read(&try_later).status.as_deref(),
            Some("the responder answered tryLater")
        );
    }
}
