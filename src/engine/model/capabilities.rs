//! What EHLO advertised.

use serde::{Deserialize, Serialize};

use crate::engine::reply::Reply;

/// The extensions a server offered in its last EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub starttls: bool,
    pub auth: Vec<String>,
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub pipelining: bool,
    pub chunking: bool,
    /// DSN (RFC 3461).
    #[serde(default)]
    pub dsn: bool,
    /// REQUIRETLS (RFC 8689).
    #[serde(default)]
    pub requiretls: bool,
    /// Every keyword line as received, for display.
    pub keywords: Vec<String>,
}

impl Capabilities {
    /// Reads an EHLO reply (the first line is the server's name, not a keyword).
    pub(crate) fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let text = line.text();
            let mut words = text.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => caps.auth.extend(words.map(str::to_ascii_uppercase)),
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "PIPELINING" => caps.pipelining = true,
                "CHUNKING" => caps.chunking = true,
                "DSN" => caps.dsn = true,
                "REQUIRETLS" => caps.requiretls = true,
                _ => {}
            }
            if !keyword.is_empty() {
                caps.keywords.push(text);
            }
        }
        caps
    }

    pub(crate) fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keywords_after_the_server_name() {
        let ehlo = Reply::from_lines(
            250,
            &[
                "email-smtp.amazonaws.com",
                "8BITMIME",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "SIZE 10485760",
                "Ok",
            ],
        );
        let caps = Capabilities::from_ehlo(&ehlo);
        assert!(caps.starttls && caps.eight_bit_mime && caps.offers_auth("login"));
        assert_eq!(caps.size, Some(10_485_760));
        assert!(!caps.pipelining);
    }
}
