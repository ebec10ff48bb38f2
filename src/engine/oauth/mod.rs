//! OAuth 2.0 for SMTP: getting the access token that XOAUTH2 and OAUTHBEARER send.
//!
//! - [`provider`]: Microsoft's, Google's or a custom server's endpoints and default scopes;
//! - [`grant`]: the device authorization, refresh and client credentials grants (through the
//!   `oauth2` crate), with errors in plain words that never hold a token;
//! - [`cache`]: the private file that keeps the refresh token between runs;
//! - [`http`]: the bounded HTTP client they talk through.

pub mod cache;
pub mod grant;
pub mod http;
pub mod provider;
