//! `smtpscope sim`: an SMTP server on loopback that speaks like Amazon SES's SMTP interface,
//! word for word where the reply catalog knows SES's text.
//!
//! It authenticates configured IAM users by their derived SMTP passwords, evaluates their
//! IAM policies after the final "." (with the connection's source address, or a configured
//! stand-in), applies sandbox verification, size, recipient and quota limits, and keeps
//! accepted messages in a mailbox. Nothing is ever relayed.
//!
//! Map: [`config`] (TOML), [`conversation`] (the per-connection state machine, pure),
//! [`parse`] (command lines), [`profile`] (another provider's texts), [`lines`] (bounded framing), [`delivery`] (end-of-data checks),
//! [`account`] (shared state), [`quota`], [`mailbox`], [`tls`], [`server`] (sockets).

pub mod account;
pub(crate) mod config;
pub(crate) mod conversation;
pub(crate) mod delivery;
pub(crate) mod ids;
pub(crate) mod lines;
pub(crate) mod mailbox;
pub(crate) mod parse;
pub(crate) mod profile;
pub(crate) mod quota;
pub(crate) mod server;
pub(crate) mod tls;

pub use config::{ConfigError, Limits, ListenConfig, MailboxConfig, SimConfig, SimUser};
pub use conversation::{Action, Conversation, Outbox};
pub use parse::{ClientCommand, ParseError, parse_command};
pub use profile::{ProfileToken, ProfileUser, ProviderProfile};
pub use server::{RunningSim, SimEvent, SimStats, start};
pub(crate) use tls::TlsSetupError;

/// Why the simulator could not start (or write its CA file).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write the CA certificate to {path}: {source}")]
    WriteCa {
        path: String,
        source: std::io::Error,
    },
}
