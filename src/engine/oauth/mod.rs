//! OAuth 2.0 for SMTP: getting the access token that XOAUTH2 and OAUTHBEARER send.
//!
//! - [`provider`]: Microsoft's, Google's or a custom server's endpoints and default scopes;
//! - [`grant`]: the device authorization, refresh and client credentials grants (through the
//!   `oauth2` crate), with errors in plain words that never hold a token;
//! - [`cache`]: the private file that keeps the refresh token between runs;
//! - [`http`]: the bounded HTTP client they talk through;
//! - [`sasl`]: what is done with the token: the XOAUTH2 and OAUTHBEARER responses, the
//!   server's JSON error challenge, and the token lint before AUTH (re-exported here).

pub mod cache;
pub mod grant;
pub mod http;
pub mod provider;
pub mod sasl;

pub use sasl::*;
