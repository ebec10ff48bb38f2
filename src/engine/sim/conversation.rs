//! One connection's SMTP dialogue as a pure state machine: bytes in, SES's replies out.
//!
//! No sockets here: the server feeds whatever it read and writes what comes back, so every
//! reply and every sequence rule is tested without a network. Input is framed with bounded
//! buffers ([`super::lines`]); a chunk holding many commands (a pipelining client) gives
//! many replies, in order.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use super::account::{AuthCheck, SIGV2_DEPRECATED, SimAccount};
use super::delivery::Transaction;
use super::ids;
use super::lines::{DataReader, Framed, LineFramer};
use super::mailbox::StoredMessage;
use super::parse::{ClientCommand, CommandVerb, parse_command};

/// Sent when the client stays silent for the idle timeout; then the server closes.
pub(crate) const IDLE_TIMEOUT_REPLY: &str = "451 4.4.2 Timeout waiting for data from client.";
/// Sent to a connection over the concurrency limit; then the server closes.
pub(crate) const TOO_MANY_CONNECTIONS_REPLY: &str = "421 Too many concurrent SMTP connections";

/// Sent to MAIL FROM once a connection has carried `limits.max_messages_per_session`
/// messages; then the server closes. The simulator's own words, after the replies of
/// providers that limit messages per connection.
pub(crate) const SESSION_LIMIT_REPLY: &str =
    "421 4.3.2 Too many messages in this session; open a new connection to send more";

/// RCPTs kept per transaction at most (SES refuses more than 50 after the dot anyway; this
/// only bounds memory).
pub(crate) const MAX_RCPT_PER_TRANSACTION: usize = 1000;

const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the server must do after writing the replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Continue,
    /// Run the TLS handshake now (`220 Ready to start TLS` was the last reply).
    StartTls,
    /// Close the connection.
    Close,
}

/// The result of feeding bytes.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Replies in order, without CRLF; multi-line replies hold `\r\n` between their lines.
    pub replies: Vec<String>,
    pub action: Action,
    /// Messages accepted while processing this input.
    pub accepted: Vec<Arc<StoredMessage>>,
    /// Notable events for the simulator's log (never a secret).
    pub log: Vec<String>,
    /// The IAM check that refused a message in this input, as data.
    pub authorization: Option<Box<crate::engine::iam::Authorization>>,
}

impl Outbox {
    fn reply(&mut self, text: impl Into<String>) {
        self.replies.push(text.into());
    }

    /// The replies as wire bytes, CRLF after each.
    pub(crate) fn wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.replies.iter().map(|r| r.len() + 2).sum());
        for r in &self.replies {
            out.extend_from_slice(r.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

enum Mode {
    Command,
    /// After `AUTH PLAIN` without initial response: the next line is the PLAIN blob.
    AuthPlain,
    /// After `AUTH LOGIN`: the next line is the base64 user name.
    AuthLoginUser,
    /// The next line is the base64 password.
    AuthLoginPassword {
        username: String,
    },
    /// After `AUTH XOAUTH2` or `AUTH OAUTHBEARER` without initial response: the next line is
    /// the client response holding the token.
    AuthOAuth,
    /// After the JSON error challenge: whatever the client answers, this is the final reply.
    AuthOAuthRefused {
        reply: String,
    },
    Data(DataReader),
}

/// The state of one connection.
pub struct Conversation {
    account: Arc<SimAccount>,
    peer: SocketAddr,
    tls: bool,
    mode: Mode,
    framer: LineFramer,
    session_id: String,
    user: Option<usize>,
    mail_from: Option<String>,
    recipients: Vec<String>,
    closed: bool,
    /// Messages accepted on this connection.
    accepted: u32,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation")
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .field("session_id", &self.session_id)
            .field("user", &self.user)
            .field("mail_from", &self.mail_from)
            .field("recipients", &self.recipients.len())
            .field("closed", &self.closed)
            .finish()
    }
}

impl Conversation {
    /// A new connection from `peer`; `tls` is true on the implicit-TLS listener.
    pub fn new(account: Arc<SimAccount>, peer: SocketAddr, tls: bool) -> Conversation {
        Conversation {
            account,
            peer,
            tls,
            mode: Mode::Command,
            framer: LineFramer::default(),
            session_id: ids::session_id(),
            user: None,
            mail_from: None,
            recipients: Vec::new(),
            closed: false,
            accepted: 0,
        }
    }

    /// The 220 greeting to send first.
    pub(crate) fn greeting(&self) -> String {
        match self.profile() {
            Some(p) => p.greeting.clone(),
            None => self.account.greeting(&self.session_id),
        }
    }

    /// The provider profile, when the simulator speaks like another provider.
    fn profile(&self) -> Option<&super::profile::ProviderProfile> {
        self.account.config.profile.as_deref()
    }

    /// The authenticated user's IAM name, if any.
    #[cfg(test)]
    pub(crate) fn user_name(&self) -> Option<&str> {
        self.user
            .and_then(|i| self.account.config.users.get(i))
            .map(|u| u.name.as_str())
    }

    /// True while a line (a command, an AUTH response or a line of DATA) has begun but not
    /// ended: the server's per-line deadline runs.
    pub(crate) fn mid_line(&self) -> bool {
        match &self.mode {
            Mode::Data(reader) => !reader.at_line_start(),
            _ => !self.framer.is_empty(),
        }
    }

    /// Call after a successful STARTTLS handshake: SMTP starts over inside TLS (RFC 3207).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.mode = Mode::Command;
        self.framer.clear();
        self.user = None;
        self.reset_transaction();
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
    }

    /// Processes bytes from the client. Stops at STARTTLS (bytes after it in the same chunk
    /// are dropped: they were sent before the handshake) and at anything that closes.
    pub fn feed(&mut self, input: &[u8]) -> Outbox {
        let mut out = Outbox::default();
        let mut rest = input;
        while !self.closed && !rest.is_empty() && out.action == Action::Continue {
            if let Mode::Data(reader) = &mut self.mode {
                let (n, done) = reader.push(rest);
                rest = &rest[n..];
                if done {
                    self.finish_data(&mut out);
                }
                continue;
            }
            let (n, framed) = self.framer.push(rest);
            rest = &rest[n..];
            match framed {
                None => {}
                Some(Framed::Line(line)) => {
                    let line = Zeroizing::new(line); // AUTH lines carry secrets
                    self.on_line(&line, &mut out);
                }
                Some(Framed::BareCrLf { position }) => {
                    out.reply(format!(
                        "501 Syntax error at character position {position}. CR and LF must be CRLF paired.  See RFC 2821 #2.7.1."
                    ));
                    out.log
                        .push("bare CR or LF in a command line: closing".into());
                    out.action = Action::Close;
                }
                Some(Framed::TooLong) => {
                    out.reply("501 Input line length is too long!");
                    out.log.push("command line over 1000 bytes: closing".into());
                    out.action = Action::Close;
                }
            }
        }
        match out.action {
            Action::StartTls => self.framer.clear(),
            Action::Close => self.closed = true,
            Action::Continue => {}
        }
        out
    }

    fn on_line(&mut self, line: &[u8], out: &mut Outbox) {
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Command => self.on_command(line, out),
            Mode::AuthPlain => {
                if !cancelled(line, out) {
                    self.finish_plain(line, out);
                }
            }
            Mode::AuthLoginUser => {
                if cancelled(line, out) {
                    return;
                }
                match decode_text(line) {
                    Some(username) => {
                        self.mode = Mode::AuthLoginPassword {
                            username: username.to_string(),
                        };
                        out.reply("334 UGFzc3dvcmQ6");
                    }
                    None => out.reply("535 Authentication failed"),
                }
            }
            Mode::AuthLoginPassword { username } => {
                if cancelled(line, out) {
                    return;
                }
                match decode_text(line) {
                    Some(password) => self.check_credentials(&username, &password, out),
                    None => out.reply("535 Authentication failed"),
                }
            }
            Mode::AuthOAuth => {
                if !cancelled(line, out) {
                    self.finish_oauth(line, out);
                }
            }
            Mode::AuthOAuthRefused { reply } => {
                if !cancelled(line, out) {
                    out.reply(reply);
                }
            }
            Mode::Data(reader) => self.mode = Mode::Data(reader), // not reached: data is not framed
        }
    }

    fn on_command(&mut self, line: &[u8], out: &mut Outbox) {
        let parsed = parse_command(line);
        let verb = match &parsed {
            Ok(c) => Some(c.verb()),
            Err(e) => e.verb,
        };
        // SES checks TLS and authentication before it looks at the arguments.
        match verb {
            Some(CommandVerb::Auth) if !self.tls => {
                return out.reply(
                    self.profile()
                        .map_or("530 Must issue a STARTTLS command first", |p| {
                            p.starttls_first.as_str()
                        }),
                );
            }
            Some(CommandVerb::Auth) if self.user.is_some() => {
                return out.reply("503 Refusing any other AUTH command.");
            }
            Some(CommandVerb::Mail | CommandVerb::Rcpt | CommandVerb::Data)
                if self.user.is_none() =>
            {
                return out.reply(
                    self.profile()
                        .map_or("530 Authentication required", |p| p.auth_required.as_str()),
                );
            }
            _ => {}
        }
        let command = match parsed {
            Ok(c) => c,
            Err(e) => return out.reply(e.reply),
        };
        match command {
            ClientCommand::Ehlo(_) | ClientCommand::Helo(_) if self.profile().is_some() => {
                self.reset_transaction();
                let account = self.account.clone();
                if let Some(p) = account.config.profile.as_deref() {
                    out.reply(match (&command, self.tls) {
                        (ClientCommand::Helo(_), _) => &p.helo,
                        (_, true) => &p.ehlo_tls,
                        (_, false) => &p.ehlo_plain,
                    });
                }
            }
            ClientCommand::Ehlo(_) => {
                self.reset_transaction();
                let mut lines = vec!["250-email-smtp.amazonaws.com", "250-8BITMIME"];
                if !self.tls {
                    lines.push("250-STARTTLS");
                }
                lines.extend(["250-AUTH PLAIN LOGIN", "250 Ok"]);
                out.reply(lines.join("\r\n"));
            }
            ClientCommand::Helo(_) => {
                self.reset_transaction();
                out.reply("250 email-smtp.amazonaws.com");
            }
            ClientCommand::StartTls => {
                if self.tls {
                    out.reply("454 TLS not available due to temporary reason: TLS already active");
                } else {
                    out.reply(
                        self.profile()
                            .map_or("220 Ready to start TLS", |p| p.starttls_ready.as_str()),
                    );
                    out.action = Action::StartTls;
                }
            }
            ClientCommand::Auth {
                mechanism,
                initial_response,
            } => self.start_auth(&mechanism, initial_response.map(Zeroizing::new), out),
            ClientCommand::Mail { address, .. } => {
                let limit = self.account.config.limits.max_messages_per_session;
                if limit.is_some_and(|n| self.accepted >= n) {
                    out.log.push(format!(
                        "MAIL refused: {} messages already accepted on this connection",
                        self.accepted
                    ));
                    out.reply(SESSION_LIMIT_REPLY);
                    out.action = Action::Close;
                } else if self.mail_from.is_some() {
                    out.reply("503 Sender already specified.");
                } else {
                    self.mail_from = Some(address);
                    out.reply("250 Ok");
                }
            }
            ClientCommand::Rcpt { address, .. } => {
                if self.mail_from.is_none() {
                    out.reply("503 Error: need MAIL command");
                } else if self.recipients.len() >= MAX_RCPT_PER_TRANSACTION {
                    out.reply("452 Error: too many recipients");
                } else {
                    self.recipients.push(address);
                    out.reply("250 Ok");
                }
            }
            ClientCommand::Data => {
                if self.mail_from.is_none() {
                    out.reply("503 Error: need MAIL command");
                } else if self.recipients.is_empty() {
                    out.reply("503 Error: need RCPT command");
                } else {
                    out.reply("354 End data with <CR><LF>.<CR><LF>");
                    self.mode = Mode::Data(DataReader::new(
                        self.account.config.limits.max_message_bytes,
                        Some(self.account.data_budget.clone()),
                    ));
                }
            }
            ClientCommand::Rset => {
                self.reset_transaction();
                out.reply("250 Ok");
            }
            ClientCommand::Noop => out.reply("250 Ok"),
            ClientCommand::Quit => {
                out.reply("221 Bye");
                out.action = Action::Close;
            }
            ClientCommand::Vrfy => out.reply("502 VRFY command is disabled"),
            ClientCommand::Expn => out.reply("502 EXPN command is disabled"),
        }
    }

    fn start_auth(
        &mut self,
        mechanism: &str,
        initial: Option<Zeroizing<String>>,
        out: &mut Outbox,
    ) {
        if let Some(p) = self.profile()
            && let Some((_, refusal)) = &p.mechanisms
            && !p.takes(mechanism)
        {
            return out.reply(refusal);
        }
        match (mechanism, initial) {
            ("PLAIN", Some(blob)) => self.finish_plain(blob.as_bytes(), out),
            ("PLAIN", None) => {
                self.mode = Mode::AuthPlain;
                out.reply("334 Ok");
            }
            ("LOGIN", Some(user)) => match decode_text(user.as_bytes()) {
                Some(username) => {
                    self.mode = Mode::AuthLoginPassword {
                        username: username.to_string(),
                    };
                    out.reply("334 UGFzc3dvcmQ6");
                }
                None => out.reply("535 Authentication failed"),
            },
            ("LOGIN", None) => {
                self.mode = Mode::AuthLoginUser;
                out.reply("334 VXNlcm5hbWU6");
            }
            // Only a provider profile (Microsoft 365, Gmail) takes OAuth tokens; SES does not.
            ("XOAUTH2" | "OAUTHBEARER", Some(blob)) if self.profile().is_some() => {
                self.finish_oauth(blob.as_bytes(), out);
            }
            ("XOAUTH2" | "OAUTHBEARER", None) if self.profile().is_some() => {
                self.mode = Mode::AuthOAuth;
                out.reply("334 ");
            }
            _ => out.reply("504 The requested authentication mechanism is not supported"),
        }
    }

    /// `base64(authzid NUL authcid NUL password)`. A blob that does not decode to that shape
    /// gets what SES sent to `AUTH PLAIN abcdefg` in the article: `535 Authentication failed`.
    fn finish_plain(&mut self, blob: &[u8], out: &mut Outbox) {
        let decoded = match blob {
            b"=" => Some(Zeroizing::new(Vec::new())),
            _ => B64.decode(blob).ok().map(Zeroizing::new),
        };
        let parts = decoded.as_ref().and_then(|d| {
            let mut it = d.split(|&b| b == 0);
            let (_authzid, user, pass) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() {
                return None;
            }
            Some((
                std::str::from_utf8(user).ok()?,
                Zeroizing::new(std::str::from_utf8(pass).ok()?.to_string()),
            ))
        });
        if let Some((user, pass)) = parts {
            self.check_credentials(user, &pass, out);
        } else {
            out.log.push("AUTH PLAIN with a malformed blob".into());
            out.reply("535 Authentication failed");
        }
    }

    fn check_credentials(&mut self, username: &str, password: &str, out: &mut Outbox) {
        if self.account.config.profile.is_some() {
            return self.check_profile_credentials(username, password, out);
        }
        // Someone who swapped the fields would have typed the password as the user name:
        // show only what looks like an access key ID.
        let shown_user = if crate::engine::ses::is_access_key_id(username) {
            username.to_string()
        } else {
            format!(
                "a user name that is not an access key ID ({} characters)",
                username.chars().count()
            )
        };
        match self.account.authenticate(username, password) {
            AuthCheck::Valid(index) => {
                self.user = Some(index);
                let name = &self.account.config.users[index].name;
                out.log
                    .push(format!("AUTH ok: {shown_user} is IAM user {name}"));
                out.reply("235 Authentication successful.");
            }
            AuthCheck::Invalid => {
                out.log.push(format!("AUTH failed for {shown_user}"));
                out.reply("535 Authentication Credentials Invalid");
            }
            AuthCheck::SigV2 => {
                out.log
                    .push(format!("AUTH failed for {shown_user}: a SigV2 password"));
                out.reply(SIGV2_DEPRECATED);
            }
        }
    }

    /// A login against the provider profile: its user's reply, or its wrong-password reply.
    /// Only the profile's own user names are shown in the log.
    fn check_profile_credentials(&mut self, username: &str, password: &str, out: &mut Outbox) {
        let account = self.account.clone();
        let Some(profile) = account.config.profile.as_deref() else {
            return;
        };
        let Some(user) = profile.authenticate(username, password) else {
            let known = profile.users.iter().any(|u| u.username == username);
            out.log.push(if known {
                format!("AUTH failed for {username}: wrong password")
            } else {
                "AUTH failed for a user name the profile does not know".to_string()
            });
            return out.reply(&profile.wrong_password);
        };
        let index = user
            .deliver_as
            .as_deref()
            .and_then(|name| account.config.users.iter().position(|u| u.name == name));
        match index {
            Some(i) if user.logs_in() => {
                self.user = Some(i);
                out.log.push(format!(
                    "AUTH ok: {} (profile user {})",
                    user.username, user.name
                ));
            }
            _ => out.log.push(format!(
                "AUTH refused for {} (profile user {}), as the profile says",
                user.username, user.name
            )),
        }
        out.reply(&user.reply);
    }

    /// An XOAUTH2 (`user=U^Aauth=Bearer T^A^A`) or OAUTHBEARER (`n,a=U,^A...auth=Bearer
    /// T^A^A`) response, checked against the profile's test tokens. A refused token gets the
    /// profile's JSON challenge (then its final reply after the client's answer), or the final
    /// reply at once. The token is never logged, only the test token's name.
    fn finish_oauth(&mut self, blob: &[u8], out: &mut Outbox) {
        let account = self.account.clone();
        let Some(profile) = account.config.profile.as_deref() else {
            return;
        };
        let decoded = B64.decode(blob).ok().map(Zeroizing::new);
        let parsed = decoded
            .as_ref()
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(oauth_fields);
        let Some((username, token)) = parsed else {
            out.log.push("AUTH with a malformed OAuth response".into());
            return out.reply(&profile.unknown_token.1);
        };
        let (challenge, reply, login) = if let Some(t) = profile.token_for(&username, &token) {
            out.log
                .push(format!("OAuth token \"{}\" for {}", t.name, t.username));
            let login = t
                .deliver_as
                .as_deref()
                .and_then(|name| account.config.users.iter().position(|u| u.name == name));
            (t.challenge.clone(), t.reply.clone(), login)
        } else {
            out.log
                .push("OAuth token the profile does not know (or for another user)".into());
            (
                profile.unknown_token.0.clone(),
                profile.unknown_token.1.clone(),
                None,
            )
        };
        if let Some(challenge) = challenge {
            self.mode = Mode::AuthOAuthRefused { reply };
            return out.reply(format!("334 {challenge}"));
        }
        if let Some(i) = login.filter(|_| reply.starts_with("235")) {
            self.user = Some(i);
        }
        out.reply(reply);
    }

    fn finish_data(&mut self, out: &mut Outbox) {
        let Mode::Data(reader) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        let mail_from = self.mail_from.take().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        let Some(user) = self.user else {
            return out.reply("451 Temporary service failure");
        };
        let size = reader.size();
        // An oversized body gets its 552 from the checks below, starved or not.
        if reader.starved() && size <= self.account.config.limits.max_message_bytes {
            out.log.push(format!(
                "message of {size} bytes dropped: too many bodies in flight at once"
            ));
            return out.reply("451 Temporary service failure");
        }
        let verdict = self.account.deliver(Transaction {
            user,
            peer: self.peer,
            mail_from: &mail_from,
            recipients: &recipients,
            body: reader.into_body(),
            size,
        });
        out.log.push(format!(
            "message from <{mail_from}> to {} recipient(s), {size} bytes: {}",
            recipients.len(),
            verdict.reply
        ));
        out.log.extend(verdict.note);
        out.authorization = verdict.authorization;
        if verdict.accepted.is_some() {
            self.accepted += 1;
        }
        out.accepted.extend(verdict.accepted);
        out.reply(verdict.reply);
    }
}

/// `*` cancels a SASL exchange.
fn cancelled(line: &[u8], out: &mut Outbox) -> bool {
    if line == b"*" {
        out.reply("501 Authentication canceled by client.");
        true
    } else {
        false
    }
}

/// The user name and the bearer token of an XOAUTH2 or OAUTHBEARER client response.
fn oauth_fields(text: &str) -> Option<(String, Zeroizing<String>)> {
    let mut user = None;
    let mut token = None;
    let pairs = match text.strip_prefix("n,") {
        // OAUTHBEARER: the GS2 header "n,a=user," then the key/value pairs.
        Some(rest) => {
            let (gs2, pairs) = rest.split_once(',')?;
            user = gs2
                .strip_prefix("a=")
                .map(|u| u.replace("=2C", ",").replace("=3D", "="));
            pairs
        }
        None => text,
    };
    for kv in pairs.split('\x01') {
        if let Some(u) = kv.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(t) = kv.strip_prefix("auth=") {
            let t = t
                .strip_prefix("Bearer ")
                .or_else(|| t.strip_prefix("bearer "))?;
            token = Some(Zeroizing::new(t.to_string()));
        }
    }
    Some((user?, token?))
}

fn decode_text(b64: &[u8]) -> Option<Zeroizing<String>> {
    let bytes = Zeroizing::new(B64.decode(b64).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    (!text.contains('\0')).then(|| Zeroizing::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sim::config::SimConfig;

    const GOOD_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const GOOD_PASSWORD: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";

    fn account() -> Arc<SimAccount> {
        Arc::new(SimAccount::new(SimConfig::default_demo().unwrap()))
    }

    fn conv(tls: bool) -> Conversation {
        Conversation::new(account(), "127.0.0.1:40000".parse().unwrap(), tls)
    }

    /// Feeds one line (CRLF added) and returns its replies.
    fn say(c: &mut Conversation, line: &str) -> Vec<String> {
        c.feed(format!("{line}\r\n").as_bytes()).replies
    }

    fn one(c: &mut Conversation, line: &str) -> String {
        let r = say(c, line);
        assert_eq!(r.len(), 1, "{line:?} -> {r:?}");
        r.into_iter().next().unwrap()
    }

    fn plain(user: &str, pass: &str) -> String {
        B64.encode(format!("{user}\0{user}\0{pass}"))
    }

    #[test]
    fn a_provider_profile_supplies_the_texts() {
        let mut config = SimConfig::default_demo().unwrap();
        config.set_provider("gmail").unwrap();
        let account = Arc::new(SimAccount::new(config));
        let mut c = Conversation::new(account, "127.0.0.1:40000".parse().unwrap(), false);
        assert_eq!(
            c.greeting(),
            "220 smtp.gmail.com ESMTP o13sm2119833lfg.90 - gsmtp"
        );
        assert!(one(&mut c, "EHLO client.example").contains("\r\n250-STARTTLS\r\n"));
        assert_eq!(
            one(&mut c, "AUTH LOGIN"),
            "530 5.7.0 Must issue a STARTTLS command first. m129sm2162575qkc.2 - gsmtp"
        );
        assert!(
            one(&mut c, "MAIL FROM:<a@example.com>")
                .starts_with("530-5.7.0 Authentication Required. Learn more at\r\n530 5.7.0 ")
        );
        let go = c.feed(b"STARTTLS\r\n");
        assert_eq!(go.replies, ["220 2.0.0 Ready to start TLS"]);
        assert_eq!(go.action, Action::StartTls);
        c.tls_started();
        let ehlo = one(&mut c, "EHLO client.example");
        assert!(ehlo.contains("250-AUTH LOGIN PLAIN XOAUTH2"), "{ehlo}");
        assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
        assert_eq!(
            one(
                &mut c,
                &format!("AUTH PLAIN {}", plain("wrong.sender@gmail.example", "x"))
            ),
            "535-5.7.8 Username and Password not accepted. Learn more at\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials n19-20020a05600c4f9300b0037c06fe68casm3105077wmq.44 - gsmtp"
        );
        let good = plain("good.sender@gmail.example", "demoapppasswordgm");
        assert_eq!(
            one(&mut c, &format!("AUTH PLAIN {good}")),
            "235 2.7.0 Accepted"
        );
        assert_eq!(c.user_name(), Some("good"));
    }

    fn authed() -> Conversation {
        let mut c = conv(true);
        one(&mut c, "EHLO client.example");
        assert_eq!(
            one(
                &mut c,
                &format!("AUTH PLAIN {}", plain(GOOD_KEY, GOOD_PASSWORD))
            ),
            "235 Authentication successful."
        );
        c
    }

    #[test]
    fn ehlo_before_and_after_tls() {
        let mut c = conv(false);
        assert_eq!(
            one(&mut c, "EHLO mail.example.com"),
            "250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 Ok"
        );
        let out = c.feed(b"STARTTLS\r\n");
        assert_eq!(out.replies, vec!["220 Ready to start TLS"]);
        assert_eq!(out.action, Action::StartTls);
        c.tls_started();
        assert_eq!(
            one(&mut c, "EHLO mail.example.com"),
            "250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 Ok"
        );
        assert_eq!(
            one(&mut c, "STARTTLS"),
            "454 TLS not available due to temporary reason: TLS already active"
        );
        assert_eq!(one(&mut c, "HELO x"), "250 email-smtp.amazonaws.com");
        assert_eq!(
            one(&mut c, "STARTTLS please"),
            "501 Syntax error (no parameters allowed)"
        );
    }

    #[test]
    fn bytes_after_starttls_are_not_commands() {
        let mut c = conv(false);
        let out = c.feed(b"STARTTLS\r\nAUTH PLAIN injected\r\n");
        assert_eq!(out.replies, vec!["220 Ready to start TLS"]);
        c.tls_started();
        assert_eq!(one(&mut c, "NOOP"), "250 Ok");
    }

    #[test]
    fn greeting_is_ses_shaped() {
        let g = conv(false).greeting();
        assert!(
            g.starts_with("220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-"),
            "{g}"
        );
        assert_eq!(g.rsplit(' ').next().unwrap().len(), 20);
    }

    #[test]
    fn auth_needs_tls_and_mail_needs_auth() {
        let mut c = conv(false);
        one(&mut c, "EHLO x");
        assert_eq!(
            one(
                &mut c,
                &format!("AUTH PLAIN {}", plain(GOOD_KEY, GOOD_PASSWORD))
            ),
            "530 Must issue a STARTTLS command first"
        );
        assert_eq!(
            one(&mut c, "AUTH LOGIN"),
            "530 Must issue a STARTTLS command first"
        );
        // As in the sendmail transcript: MAIL after the refused AUTH.
        assert_eq!(
            one(&mut c, "MAIL FROM:<a@example.com>"),
            "530 Authentication required"
        );
        assert_eq!(
            one(&mut c, "RCPT TO:<a@example.com>"),
            "530 Authentication required"
        );
        assert_eq!(one(&mut c, "DATA"), "530 Authentication required");
        // Authentication is checked before syntax.
        assert_eq!(one(&mut c, "MAIL FROM:<<<"), "530 Authentication required");
        let mut c = conv(true);
        assert_eq!(
            one(&mut c, "MAIL FROM:<a@example.com>"),
            "530 Authentication required"
        );
    }

    #[test]
    fn auth_plain_forms() {
        let mut c = conv(true);
        assert_eq!(one(&mut c, "AUTH PLAIN"), "334 Ok");
        assert_eq!(
            one(&mut c, &plain(GOOD_KEY, "wrong")),
            "535 Authentication Credentials Invalid"
        );
        assert_eq!(one(&mut c, "AUTH PLAIN"), "334 Ok");
        assert_eq!(
            one(&mut c, &plain(GOOD_KEY, GOOD_PASSWORD)),
            "235 Authentication successful."
        );
        assert_eq!(c.user_name(), Some("good"));
        assert_eq!(
            one(
                &mut c,
                &format!("AUTH PLAIN {}", plain(GOOD_KEY, GOOD_PASSWORD))
            ),
            "503 Refusing any other AUTH command."
        );
        // The article: a malformed blob.
        let mut c = conv(true);
        assert_eq!(
            one(&mut c, "AUTH PLAIN abcdefg"),
            "535 Authentication failed"
        );
        assert_eq!(
            one(&mut c, "AUTH PLAIN AGFiYw=="),
            "535 Authentication failed"
        );
        assert_eq!(one(&mut c, "AUTH PLAIN ="), "535 Authentication failed");
        assert_eq!(one(&mut c, "AUTH PLAIN"), "334 Ok");
        assert_eq!(one(&mut c, "*"), "501 Authentication canceled by client.");
        assert_eq!(one(&mut c, "NOOP"), "250 Ok");
    }

    #[test]
    fn auth_login_forms() {
        let mut c = conv(true);
        assert_eq!(one(&mut c, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
        assert_eq!(one(&mut c, &B64.encode(GOOD_KEY)), "334 UGFzc3dvcmQ6");
        assert_eq!(
            one(&mut c, &B64.encode(GOOD_PASSWORD)),
            "235 Authentication successful."
        );
        let mut c = conv(true);
        assert_eq!(
            one(&mut c, &format!("AUTH LOGIN {}", B64.encode(GOOD_KEY))),
            "334 UGFzc3dvcmQ6"
        );
        assert_eq!(
            one(
                &mut c,
                &B64.encode("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            ),
            "535 Authentication Credentials Invalid"
        );
        assert_eq!(one(&mut c, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
        assert_eq!(one(&mut c, "*"), "501 Authentication canceled by client.");
        assert_eq!(one(&mut c, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
        assert_eq!(one(&mut c, "!!notbase64"), "535 Authentication failed");
        assert_eq!(
            one(&mut c, "AUTH CRAM-MD5"),
            "504 The requested authentication mechanism is not supported"
        );
        assert_eq!(
            one(&mut c, "AUTH"),
            "501 Syntax: AUTH mechanism [initial-response]"
        );
    }

    #[test]
    fn sigv2_password_gets_its_own_535() {
        let mut c = conv(true);
        let cfg = SimConfig::default_demo().unwrap();
        let v2 = cfg.user("good").unwrap().legacy_v2_password();
        let reply = one(&mut c, &format!("AUTH PLAIN {}", plain(GOOD_KEY, &v2)));
        assert!(reply.starts_with("535 Signature Version 2 is deprecated for use with SES"));
    }

    #[test]
    fn a_whole_session_as_in_the_article() {
        let mut c = authed();
        assert_eq!(one(&mut c, "MAIL FROM: auth-fail@example.com"), "250 Ok");
        assert_eq!(one(&mut c, "RCPT TO: xxxxx@example.com"), "250 Ok");
        assert_eq!(one(&mut c, "DATA"), "354 End data with <CR><LF>.<CR><LF>");
        let out = c.feed(
            b"From: auth-fail@example.com\r\nTo: xxxxx@example.com\r\nSubject: from ses\r\n\r\nIm from SES\r\n.\r\n",
        );
        assert_eq!(out.replies.len(), 1);
        let re = regex::Regex::new(
            r"^250 Ok 0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$",
        )
        .unwrap();
        assert!(re.is_match(&out.replies[0]), "{}", out.replies[0]);
        assert_eq!(out.accepted.len(), 1);
        let m = &out.accepted[0];
        assert_eq!(m.recipients, vec!["xxxxx@example.com"]);
        assert!(m.data.ends_with(b"Im from SES\r\n"));
        assert!(out.replies[0].ends_with(&m.id));
        assert_eq!(one(&mut c, "QUIT"), "221 Bye");
        assert!(c.feed(b"NOOP\r\n").replies.is_empty(), "closed after QUIT");
    }

    #[test]
    fn sequence_errors() {
        let mut c = authed();
        assert_eq!(
            one(&mut c, "RCPT TO:<a@example.com>"),
            "503 Error: need MAIL command"
        );
        assert_eq!(one(&mut c, "DATA"), "503 Error: need MAIL command");
        assert_eq!(one(&mut c, "MAIL FROM:<a@example.com>"), "250 Ok");
        assert_eq!(
            one(&mut c, "MAIL FROM:<a@example.com>"),
            "503 Sender already specified."
        );
        assert_eq!(one(&mut c, "DATA"), "503 Error: need RCPT command");
        assert_eq!(one(&mut c, "RCPT TO:<b@example.com>"), "250 Ok");
        assert_eq!(one(&mut c, "RSET"), "250 Ok");
        assert_eq!(one(&mut c, "DATA"), "503 Error: need MAIL command");
        assert_eq!(
            one(&mut c, "MAIL FROM: SES (<user1@example. com>)"),
            "501 Invalid MAIL FROM address provided"
        );
        assert_eq!(one(&mut c, "MAIL FROM:<a@example.com>"), "250 Ok");
        assert_eq!(
            one(&mut c, "RCPT TO: User2"),
            "501 Invalid RCPT TO address provided"
        );
        // EHLO starts the transaction over.
        one(&mut c, "EHLO again");
        assert_eq!(
            one(&mut c, "RCPT TO:<b@example.com>"),
            "503 Error: need MAIL command"
        );
    }

    #[test]
    fn other_commands() {
        let mut c = conv(false);
        assert_eq!(one(&mut c, "VRFY root"), "502 VRFY command is disabled");
        assert_eq!(one(&mut c, "EXPN staff"), "502 EXPN command is disabled");
        assert_eq!(one(&mut c, "NOOP"), "250 Ok");
        assert_eq!(one(&mut c, "RSET"), "250 Ok");
        assert_eq!(
            one(&mut c, "BDAT 10 LAST"),
            "500 Error: command not implemented"
        );
        assert_eq!(one(&mut c, ""), "500 Error: bad syntax");
        assert_eq!(one(&mut c, "EHLO"), "501 Syntax: EHLO hostname");
        assert_eq!(one(&mut c, "HELO"), "501 Syntax: HELO <hostname>");
        assert_eq!(
            IDLE_TIMEOUT_REPLY,
            "451 4.4.2 Timeout waiting for data from client."
        );
        assert_eq!(
            TOO_MANY_CONNECTIONS_REPLY,
            "421 Too many concurrent SMTP connections"
        );
    }

    #[test]
    fn bare_lf_and_cr_games_close_the_connection() {
        let mut c = conv(false);
        // A bare LF does not end the line: nothing happens until a CRLF arrives.
        let out = c.feed(b"NOOP\n");
        assert!(out.replies.is_empty());
        assert_eq!(out.action, Action::Continue);
        let out = c.feed(b"\r\n");
        assert_eq!(
            out.replies,
            vec![
                "501 Syntax error at character position 4. CR and LF must be CRLF paired.  See RFC 2821 #2.7.1."
            ]
        );
        assert_eq!(out.action, Action::Close);
        assert!(c.feed(b"NOOP\r\n").replies.is_empty());

        let mut c = conv(false);
        let out = c.feed(b"NOOP\rRSET\r\n");
        assert_eq!(out.action, Action::Close);
        assert!(out.replies[0].starts_with("501 Syntax error at character position 4."));
    }

    #[test]
    fn overlong_lines_and_binary_garbage() {
        let mut c = conv(false);
        let mut long = b"NOOP ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 5000));
        long.extend_from_slice(b"\r\n");
        let out = c.feed(&long);
        assert_eq!(out.replies, vec!["501 Input line length is too long!"]);
        assert_eq!(out.action, Action::Close);

        let mut c = conv(false);
        let out = c.feed(b"\0\x01\x02\xff\xfe\r\n\x16\x03\x01\x00\xa5\x01\r\nNOOP\r\n");
        assert_eq!(
            out.replies,
            vec!["500 Error: bad syntax", "500 Error: bad syntax", "250 Ok"]
        );
        // Random bytes never panic, whatever state they land in.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut c = authed();
        for _ in 0..2000 {
            if c.closed {
                c = authed();
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 64) as usize;
            let chunk: Vec<u8> = (0..len)
                .map(|i| {
                    let b = (seed >> (i % 8 * 8)).to_le_bytes()[0];
                    if b.is_multiple_of(5) {
                        b'\r'
                    } else if b.is_multiple_of(7) {
                        b'\n'
                    } else {
                        b
                    }
                })
                .collect();
            let _ = c.feed(&chunk);
        }
    }

    #[test]
    fn pipelined_commands_get_replies_in_order() {
        let mut c = authed();
        let out = c.feed(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\nNOOP\r\n",
        );
        assert_eq!(out.replies.len(), 6, "{:?}", out.replies);
        assert_eq!(out.replies[0], "250 Ok");
        assert_eq!(out.replies[2], "354 End data with <CR><LF>.<CR><LF>");
        assert!(out.replies[3].starts_with("250 Ok 0100"));
        assert_eq!(out.replies[5], "221 Bye");
        assert_eq!(out.action, Action::Close);
        assert_eq!(out.wire().iter().filter(|&&b| b == b'\n').count(), 6);
    }

    #[test]
    fn end_of_data_errors() {
        let mut c = authed();
        one(&mut c, "MAIL FROM:<a@example.com>");
        for i in 0..51 {
            one(&mut c, &format!("RCPT TO:<r{i}@example.com>"));
        }
        one(&mut c, "DATA");
        assert_eq!(
            c.feed(b"Subject: many\r\n\r\n.\r\n").replies,
            vec!["554 Transaction failed: Recipient count exceeds 50."]
        );
        one(&mut c, "MAIL FROM:<a@example.com>");
        one(&mut c, "RCPT TO:<b@example.com>");
        one(&mut c, "DATA");
        let big = vec![b'x'; c.account.config.limits.max_message_bytes + 10];
        assert!(c.feed(&big).replies.is_empty());
        assert_eq!(
            c.feed(b"\r\n.\r\n").replies,
            vec!["552 Message is too long."]
        );
        // The transaction is over after any end-of-data reply.
        assert_eq!(one(&mut c, "DATA"), "503 Error: need MAIL command");
    }

    #[test]
    fn bodies_over_the_shared_budget_get_451() {
        let account = Arc::new(
            SimAccount::new(SimConfig::default_demo().unwrap()).with_data_budget(1024 * 1024),
        );
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut a = Conversation::new(account.clone(), peer, true);
        let mut b = Conversation::new(account.clone(), peer, true);
        for c in [&mut a, &mut b] {
            one(c, &format!("AUTH PLAIN {}", plain(GOOD_KEY, GOOD_PASSWORD)));
            one(c, "MAIL FROM:<a@example.com>");
            one(c, "RCPT TO:<b@example.com>");
            one(c, "DATA");
        }
        let half = vec![b'x'; 700 * 1024];
        assert!(a.feed(&half).replies.is_empty());
        assert!(b.feed(&half).replies.is_empty());
        assert_eq!(
            b.feed(b"\r\n.\r\n").replies,
            vec!["451 Temporary service failure"]
        );
        let r = a.feed(b"\r\n.\r\n").replies;
        assert!(r[0].starts_with("250 Ok "), "{r:?}");
        assert_eq!(account.data_budget.in_use(), 0);
    }

    #[test]
    fn wrong_password_user_then_mail_gets_530() {
        let mut c = conv(true);
        one(&mut c, "EHLO x");
        assert_eq!(
            one(
                &mut c,
                &format!("AUTH PLAIN {}", plain("AKIAEXAMPLEWRONGPW01", "not-it"))
            ),
            "535 Authentication Credentials Invalid"
        );
        assert_eq!(
            one(&mut c, "MAIL FROM: auth-fail@example.com"),
            "530 Authentication required"
        );
    }

    #[test]
    fn logs_never_hold_the_password() {
        // Fields swapped: the password arrives as the user name.
        let mut c = conv(true);
        let out = c.feed(format!("AUTH PLAIN {}\r\n", plain(GOOD_PASSWORD, GOOD_KEY)).as_bytes());
        assert_eq!(out.replies, vec!["535 Authentication Credentials Invalid"]);
        let log = out.log.join("\n");
        assert!(!log.contains(GOOD_PASSWORD), "{log}");
        assert!(
            log.contains("not an access key ID (44 characters)"),
            "{log}"
        );

        let mut c = conv(true);
        let out = c.feed(format!("AUTH PLAIN {}\r\n", plain(GOOD_KEY, GOOD_PASSWORD)).as_bytes());
        let log = out.log.join("\n");
        assert!(log.contains(GOOD_KEY));
        assert!(!log.contains(GOOD_PASSWORD));
        assert!(!format!("{c:?}").contains(GOOD_PASSWORD));
    }
}
