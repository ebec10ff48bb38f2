//! The session's outcome: one value of a documented set, each with one exit code.
//!
//! `run --json` prints it, exit codes follow it, and the README's table is checked against
//! [`Outcome::ALL`] by a test, so the three cannot drift apart.

use serde::{Deserialize, Serialize};

use super::Step;
use crate::engine::classify::Phase;

/// How a session ended, or where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one message was accepted and nothing failed after it.
    Accepted,
    /// AUTH was accepted; the session ended before a message was sent, with no failure.
    Authenticated,
    /// Nothing failed, but the session ended (or is still going) before a verdict.
    Incomplete,
    ConnectionFailed,
    TlsFailed,
    EhloRefused,
    /// The server checked the credentials and refused them.
    AuthenticationFailed,
    /// AUTH was never sent or never completed, and the server required it.
    NotAuthenticated,
    AuthorizationDenied,
    SenderRefused,
    RecipientRefused,
    MessageRefused,
    Throttled,
    ServerUnavailable,
    ProtocolError,
}

impl Outcome {
    /// Every outcome, in the README's order (the probe metrics list them all).
    pub(crate) const ALL: [Outcome; 15] = [
        Outcome::Accepted,
        Outcome::Authenticated,
        Outcome::Incomplete,
        Outcome::ConnectionFailed,
        Outcome::TlsFailed,
        Outcome::EhloRefused,
        Outcome::AuthenticationFailed,
        Outcome::NotAuthenticated,
        Outcome::AuthorizationDenied,
        Outcome::SenderRefused,
        Outcome::RecipientRefused,
        Outcome::MessageRefused,
        Outcome::Throttled,
        Outcome::ServerUnavailable,
        Outcome::ProtocolError,
    ];

    /// The name in JSON and in the README.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Authenticated => "authenticated",
            Outcome::Incomplete => "incomplete",
            Outcome::ConnectionFailed => "connection_failed",
            Outcome::TlsFailed => "tls_failed",
            Outcome::EhloRefused => "ehlo_refused",
            Outcome::AuthenticationFailed => "authentication_failed",
            Outcome::NotAuthenticated => "not_authenticated",
            Outcome::AuthorizationDenied => "authorization_denied",
            Outcome::SenderRefused => "sender_refused",
            Outcome::RecipientRefused => "recipient_refused",
            Outcome::MessageRefused => "message_refused",
            Outcome::Throttled => "throttled",
            Outcome::ServerUnavailable => "server_unavailable",
            Outcome::ProtocolError => "protocol_error",
        }
    }

    /// The process exit code of `smtpscope run` for this outcome.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Accepted | Outcome::Authenticated | Outcome::Incomplete => 0,
            Outcome::ConnectionFailed => 3,
            Outcome::TlsFailed => 4,
            Outcome::EhloRefused => 5,
            Outcome::AuthenticationFailed => 6,
            Outcome::SenderRefused | Outcome::RecipientRefused => 7,
            Outcome::MessageRefused => 8,
            Outcome::AuthorizationDenied => 9,
            Outcome::Throttled => 10,
            Outcome::ServerUnavailable => 11,
            Outcome::NotAuthenticated => 12,
            Outcome::ProtocolError => 13,
        }
    }

    /// One line for the README's table and `--help`.
    #[cfg(test)]
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Outcome::Accepted => "the server accepted the message (after AUTH, if AUTH was used)",
            Outcome::Authenticated => "AUTH was accepted; the session stopped before a message",
            Outcome::Incomplete => {
                "nothing failed, but the session ended before a message was accepted"
            }
            Outcome::ConnectionFailed => "no connection, no greeting, or the connection was lost",
            Outcome::TlsFailed => {
                "the TLS handshake failed, STARTTLS was refused, or the server required TLS first"
            }
            Outcome::EhloRefused => "the server refused EHLO/HELO",
            Outcome::AuthenticationFailed => {
                "the server checked the credentials and refused them (e.g. 535)"
            }
            Outcome::NotAuthenticated => {
                "the server required AUTH, which was never sent or never completed"
            }
            Outcome::AuthorizationDenied => {
                "the credentials are valid but may not do this (e.g. SES 554 Access denied)"
            }
            Outcome::SenderRefused => "MAIL FROM was refused",
            Outcome::RecipientRefused => "RCPT TO was refused",
            Outcome::MessageRefused => {
                "the message was refused after DATA (content, size, headers)"
            }
            Outcome::Throttled => "the server said a rate, quota or connection limit was reached",
            Outcome::ServerUnavailable => {
                "a temporary refusal (e.g. 421, 451, 454) that does not judge the request"
            }
            Outcome::ProtocolError => {
                "the conversation went out of step: an unexpected or malformed reply, or a command out of order"
            }
        }
    }

    pub(crate) fn is_failure(self) -> bool {
        !matches!(
            self,
            Outcome::Accepted | Outcome::Authenticated | Outcome::Incomplete
        )
    }
}

/// The README's outcome table, generated from [`Outcome::ALL`] so it cannot drift.
#[cfg(test)]
pub(crate) fn readme_table() -> String {
    use std::fmt::Write as _;
    let mut out = String::from("| outcome | exit | meaning |\n|---|---|---|\n");
    for o in Outcome::ALL {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            o.name(),
            o.exit_code(),
            o.meaning()
        );
    }
    out
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the server refused an AUTH attempt, as far as its reply tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthRejection {
    /// The server checked the user name and password and refused them (535 and the like).
    BadCredentials,
    /// The server wants TLS before AUTH (530 "Must issue a STARTTLS command first", 538).
    TlsRequired,
    /// The mechanism is not offered or too weak (504, 534).
    Mechanism,
    /// A temporary refusal (4xx): nothing was judged.
    Temporary,
    /// A policy refused this client or user before the credentials mattered.
    Policy,
    /// AUTH out of order, e.g. a second AUTH after a successful one (503).
    Misstep,
    /// The server could not read the exchange (501), or the client cancelled it with `*`.
    Malformed,
}

impl AuthRejection {
    /// Reads the reason from a failing reply to AUTH, sent with or without TLS.
    pub(crate) fn of(code: u16, phase: Phase, text: &str, tls: bool) -> AuthRejection {
        let lower = text.to_ascii_lowercase();
        // Postfix with smtpd_tls_auth_only answers "503 5.5.1 Error: authentication not
        // enabled" before STARTTLS: AUTH does not exist yet on a plain connection.
        let not_offered = code == 503 && lower.contains("not enabled");
        if code / 100 == 4 {
            AuthRejection::Temporary
        } else if phase == Phase::Tls || code == 538 || (not_offered && !tls) {
            AuthRejection::TlsRequired
        } else if not_offered {
            AuthRejection::Mechanism
        } else if code == 503 {
            AuthRejection::Misstep
        } else if code == 504 || (code == 534 && !lower.contains("password")) {
            AuthRejection::Mechanism
        } else if code == 501 || code == 500 {
            AuthRejection::Malformed
        } else if phase == Phase::Authorization {
            AuthRejection::Policy
        } else {
            AuthRejection::BadCredentials
        }
    }

    /// Whether the server's answer says anything about the credentials themselves.
    pub(crate) fn checked_credentials(self) -> bool {
        self == AuthRejection::BadCredentials
    }

    pub(crate) fn outcome(self) -> Outcome {
        match self {
            AuthRejection::BadCredentials => Outcome::AuthenticationFailed,
            AuthRejection::TlsRequired => Outcome::TlsFailed,
            AuthRejection::Mechanism => Outcome::NotAuthenticated,
            AuthRejection::Temporary => Outcome::ServerUnavailable,
            AuthRejection::Policy => Outcome::AuthorizationDenied,
            AuthRejection::Misstep | AuthRejection::Malformed => Outcome::ProtocolError,
        }
    }

    /// A few words for the header and the server's view.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            AuthRejection::BadCredentials => "credentials rejected",
            AuthRejection::TlsRequired => {
                "AUTH refused: TLS required first (credentials never checked)"
            }
            AuthRejection::Mechanism => "AUTH mechanism refused (credentials never checked)",
            AuthRejection::Temporary => "AUTH refused for now (temporary; credentials not judged)",
            AuthRejection::Policy => "AUTH refused by policy",
            AuthRejection::Misstep => "AUTH out of order",
            AuthRejection::Malformed => "AUTH exchange not understood",
        }
    }
}

/// The failure that decides the verdict, and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub outcome: Outcome,
    /// The step that failed; `None` when the server ended the session between commands.
    pub step: Option<Step>,
    pub phase: Phase,
    /// The reply code, when a reply (not a network error) decided it.
    pub code: Option<u16>,
    /// The transcript entry that decided it.
    pub seq: u64,
    /// For AUTH: why the server refused.
    pub rejection: Option<AuthRejection>,
    /// The command was answered while the login (of this connection) was accepted.
    pub while_authenticated: bool,
    /// AUTH had been sent on this connection before the failure.
    #[serde(default)]
    pub auth_tried: bool,
}

impl Failure {
    /// The step's name as the verdict says it.
    pub(crate) fn at(&self) -> String {
        match self.step {
            Some(Step::Dot) => "after DATA".into(),
            Some(step) => format!("at {}", step.label()),
            None => "between commands".into(),
        }
    }

    /// The verdict line for this failure.
    pub(crate) fn verdict(&self) -> String {
        let at = self.at();
        let authed = if self.while_authenticated {
            "Authenticated; "
        } else {
            ""
        };
        let code = self.code.map(|c| format!(" ({c})")).unwrap_or_default();
        match self.outcome {
            Outcome::AuthenticationFailed => {
                format!("Authentication failed {at}{code}: the server refused the credentials")
            }
            Outcome::NotAuthenticated => match self.rejection {
                Some(AuthRejection::Mechanism) => format!(
                    "Not authenticated: AUTH mechanism refused{code}; credentials never checked"
                ),
                _ if self.auth_tried => {
                    format!("Not authenticated: refused {at}{code}; AUTH did not succeed")
                }
                _ => format!("Not authenticated: refused {at}{code}; AUTH was never sent"),
            },
            Outcome::TlsFailed => match (self.step, self.rejection) {
                (Some(Step::Auth), _) | (_, Some(AuthRejection::TlsRequired)) => format!(
                    "TLS required first: {} refused{code}; credentials never checked",
                    self.step.map_or("the command", Step::label)
                ),
                _ => format!("TLS failed {at}{code}"),
            },
            Outcome::AuthorizationDenied => format!("{authed}authorization denied {at}"),
            Outcome::ServerUnavailable if self.step == Some(Step::Auth) => {
                format!("Server unavailable at AUTH{code}: temporary; credentials not judged")
            }
            Outcome::ServerUnavailable => {
                format!("{authed}server unavailable {at}{code}: temporary")
            }
            Outcome::ConnectionFailed if self.step == Some(Step::Auth) => {
                "Connection lost during AUTH; credentials not judged".to_string()
            }
            Outcome::ConnectionFailed => match self.step {
                Some(Step::Connect) | None => format!("Connection failed {at}"),
                _ => format!("{authed}connection lost {at}"),
            },
            Outcome::ProtocolError
                if self.rejection == Some(AuthRejection::Misstep) && self.while_authenticated =>
            {
                format!("Protocol misstep at AUTH{code}: AUTH again; authentication still holds")
            }
            Outcome::ProtocolError => format!("{authed}protocol error {at}{code}"),
            Outcome::EhloRefused => format!("EHLO refused{code}"),
            Outcome::SenderRefused => format!("{authed}sender refused at MAIL FROM{code}"),
            Outcome::RecipientRefused => format!("{authed}recipient refused {at}{code}"),
            Outcome::MessageRefused => format!("{authed}message refused {at}{code}"),
            Outcome::Throttled => format!("{authed}throttled {at}{code}"),
            Outcome::Accepted | Outcome::Authenticated | Outcome::Incomplete => {
                self.outcome.to_string()
            }
        }
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_a_distinct_name_and_a_documented_meaning() {
        let mut names: Vec<_> = Outcome::ALL.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Outcome::ALL.len());
        for o in Outcome::ALL {
            assert!(!o.meaning().is_empty());
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.name()));
            assert_eq!(o.is_failure(), o.exit_code() != 0, "{o}");
        }
    }

    #[test]
    fn the_readme_table_matches_the_code() {
        let readme = include_str!("../../../README.md");
        let table = readme_table();
        let begin = "<!-- outcomes:begin -->\n";
        let inside = readme
            .split_once(begin)
            .and_then(|(_, rest)| rest.split_once("<!-- outcomes:end -->"))
            .map(|(t, _)| t);
        assert_eq!(
            inside,
            Some(table.as_str()),
            "README.md's outcome table is out of date; it should read:\n{table}"
        );
    }

    #[test]
    fn rejection_reasons_from_replies() {
        use AuthRejection as R;
        let r = |code, phase, text| AuthRejection::of(code, phase, text, true);
        assert_eq!(
            r(
                535,
                Phase::Authentication,
                "Authentication Credentials Invalid"
            ),
            R::BadCredentials
        );
        assert_eq!(
            r(530, Phase::Tls, "Must issue a STARTTLS command first"),
            R::TlsRequired
        );
        assert_eq!(
            r(421, Phase::Service, "4.7.0 Temporary System Problem"),
            R::Temporary
        );
        assert_eq!(
            r(503, Phase::Authentication, "Already authenticated"),
            R::Misstep
        );
        assert_eq!(r(504, Phase::Authentication, "Unrecognized"), R::Mechanism);
        assert_eq!(
            r(
                534,
                Phase::Authentication,
                "5.7.9 Application-specific password required"
            ),
            R::BadCredentials
        );
        assert_eq!(
            AuthRejection::of(
                503,
                Phase::Authentication,
                "5.5.1 Error: authentication not enabled",
                false
            ),
            R::TlsRequired
        );
        assert!(!R::TlsRequired.checked_credentials());
        assert!(R::BadCredentials.checked_credentials());
    }
}
