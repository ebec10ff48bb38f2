//! AUTH exchanges: the secret lines are sent, only their redacted forms are recorded.

use super::{Credentials, InputError, Mechanism, Redacted, Reply, Session, SessionError, Verb};
use crate::engine::oauth::OAuthError;

impl Session {
    /// Runs an AUTH exchange. Secrets are sent but only their redacted form is recorded.
    pub async fn auth(
        &mut self,
        mechanism: Mechanism,
        creds: &Credentials,
        initial_response: bool,
    ) -> Result<Reply, SessionError> {
        self.warn_before_auth(mechanism);
        if mechanism.is_oauth() || creds.is_token() {
            return self.oauth(mechanism, creds, initial_response).await;
        }
        self.check_password_credentials(creds);
        let user = creds.user.clone();
        match mechanism {
            Mechanism::Plain if initial_response => {
                let (line, redacted) = plain_initial(creds);
                self.send_secret(&line, redacted, Verb::Auth).await?;
                let reply = self.read_and_record(Verb::Auth).await?;
                self.after_last_response(reply).await
            }
            Mechanism::Plain => {
                self.send_line(b"AUTH PLAIN\r\n", "AUTH PLAIN".into(), Verb::Auth, None)
                    .await?;
                let challenge = self.read_and_record(Verb::Auth).await?;
                if challenge.code != 334 {
                    return Ok(challenge);
                }
                let line = zeroize::Zeroizing::new(format!("{}\r\n", creds.plain_blob().as_str()));
                let redacted = Redacted::PlainBlob {
                    initial: false,
                    user: user.clone(),
                    authzid: creds.authzid.clone(),
                };
                self.send_secret(line.as_bytes(), redacted, Verb::AuthResponse)
                    .await?;
                let reply = self.read_and_record(Verb::AuthResponse).await?;
                self.after_last_response(reply).await
            }
            Mechanism::Xoauth2 | Mechanism::Oauthbearer => {
                self.oauth(mechanism, creds, initial_response).await
            }
            Mechanism::Login => {
                self.send_line(b"AUTH LOGIN\r\n", "AUTH LOGIN".into(), Verb::Auth, None)
                    .await?;
                let first = self.read_and_record(Verb::Auth).await?;
                if first.code != 334 {
                    return Ok(first);
                }
                let line = format!("{}\r\n", creds.login_user());
                self.send_secret(
                    line.as_bytes(),
                    Redacted::LoginUser { user: user.clone() },
                    Verb::AuthResponse,
                )
                .await?;
                let second = self.read_and_record(Verb::AuthResponse).await?;
                if second.code != 334 {
                    return Ok(second);
                }
                let line =
                    zeroize::Zeroizing::new(format!("{}\r\n", creds.login_password().as_str()));
                self.send_secret(line.as_bytes(), Redacted::LoginPassword, Verb::AuthResponse)
                    .await?;
                let reply = self.read_and_record(Verb::AuthResponse).await?;
                self.after_last_response(reply).await
            }
        }
    }

    /// XOAUTH2 or OAUTHBEARER: lint the token, send it (as the initial response, or after
    /// the server's empty `334`), and when the server answers with its JSON error challenge,
    /// record what it says and acknowledge it as the mechanism requires, so that the server
    /// sends its final reply.
    async fn oauth(
        &mut self,
        mechanism: Mechanism,
        creds: &Credentials,
        initial_response: bool,
    ) -> Result<Reply, SessionError> {
        if !(mechanism.is_oauth() && creds.is_token()) {
            let why = if creds.is_token() {
                "an OAuth access token is sent only with AUTH XOAUTH2 or OAUTHBEARER (--auth xoauth2 or oauthbearer)"
            } else {
                "AUTH XOAUTH2 and OAUTHBEARER send an OAuth access token, not a password: give one with --auth xoauth2 (or oauthbearer) and SMTPSCOPE_OAUTH_TOKEN, --token-file or --token-command"
            };
            return Err(self.fail(SessionError::Input(InputError::WrongSecret {
                mechanism: mechanism.name(),
                why,
            })));
        }
        let now = chrono::Utc::now().timestamp();
        for w in crate::engine::oauth::lint_token(creds.password(), &creds.user, now) {
            self.warn_lint(w.code, w.message);
        }
        self.scrubber.add(creds);
        let blob = match mechanism {
            Mechanism::Oauthbearer => creds.oauthbearer_blob(&self.cfg.host, self.cfg.port),
            _ => creds.xoauth2_blob(),
        };
        self.scrubber.add_form(&blob);
        let name = mechanism.name();
        let redacted = |initial| Redacted::OAuthToken {
            mechanism,
            initial,
            user: creds.user.clone(),
        };
        let reply = if initial_response {
            let line = zeroize::Zeroizing::new(format!("AUTH {name} {}\r\n", blob.as_str()));
            self.send_secret(line.as_bytes(), redacted(true), Verb::Auth)
                .await?;
            self.read_and_record(Verb::Auth).await?
        } else {
            let line = format!("AUTH {name}\r\n");
            self.send_line(line.as_bytes(), format!("AUTH {name}"), Verb::Auth, None)
                .await?;
            let challenge = self.read_and_record(Verb::Auth).await?;
            if challenge.code != 334 {
                return Ok(challenge);
            }
            let line = zeroize::Zeroizing::new(format!("{}\r\n", blob.as_str()));
            self.send_secret(line.as_bytes(), redacted(false), Verb::AuthResponse)
                .await?;
            self.read_and_record(Verb::AuthResponse).await?
        };
        if reply.code != 334 {
            return Ok(reply);
        }
        let Some(error) = OAuthError::from_challenge(&reply.last_text()) else {
            return self.after_last_response(reply).await;
        };
        self.info(format!(
            "the server's error for the token decodes to {}: {}",
            error.json,
            error.reason()
        ));
        let (ack, shown) = match mechanism {
            Mechanism::Oauthbearer => (
                crate::engine::oauth::OAUTHBEARER_ACK,
                "AQ== (%x01: ends the exchange, as RFC 7628 asks)",
            ),
            _ => (
                crate::engine::oauth::XOAUTH2_ACK,
                "(empty line: ends the exchange, as XOAUTH2 asks)",
            ),
        };
        self.send_line(
            format!("{ack}\r\n").as_bytes(),
            shown.into(),
            Verb::AuthResponse,
            None,
        )
        .await?;
        let last = self.read_and_record(Verb::AuthResponse).await?;
        self.after_last_response(last).await
    }

    /// Said before any AUTH: credentials in the clear, or a mechanism the server did not offer.
    fn warn_before_auth(&mut self, mechanism: Mechanism) {
        if !self.in_tls() && self.conn.is_some() {
            self.warn("sending credentials over a connection WITHOUT TLS: anyone on the path can read them");
        }
        if let Some(caps) = &self.model.capabilities()
            && !caps.offers_auth(mechanism.name())
        {
            self.warn(format!(
                "the server did not offer AUTH {} in EHLO; sending it anyway",
                mechanism.name()
            ));
        }
    }

    /// Before a password goes out: the credential lint's warnings (SES keys), and the
    /// scrubber learns the secret so that no later output can show it.
    fn check_password_credentials(&mut self, creds: &Credentials) {
        let warnings = if let Some(lint) = self.cfg.ses_lint.clone() {
            // A secret exported for another key (AWS API credentials for a different user,
            // say) says nothing about this password.
            let same_key = lint
                .access_key_id
                .as_deref()
                .is_none_or(|id| id == creds.user);
            let secret = lint
                .secret_access_key
                .as_deref()
                .map(String::as_str)
                .filter(|_| same_key);
            crate::engine::ses::lint_credentials(
                &creds.user,
                creds.password(),
                lint.region.as_deref(),
                secret,
            )
        } else if self.model.conn.as_ref().is_some_and(|c| c.ses) {
            // No SES host name or --region, but the greeting or EHLO said SES.
            crate::engine::ses::lint_credentials_region_unknown(&creds.user, creds.password())
        } else {
            Vec::new()
        };
        for w in warnings {
            self.warn_lint(w.code, w.message);
        }
        self.scrubber.add(creds);
    }

    /// AUTH PLAIN with its initial response as the first command of a PIPELINING group,
    /// which RFC 4954 §4 allows for a mechanism that completes in one round trip: the usual
    /// warnings and lint, then the bytes to send and their redacted form.
    pub(super) fn plain_for_group(
        &mut self,
        creds: &Credentials,
    ) -> (zeroize::Zeroizing<Vec<u8>>, Redacted) {
        self.warn_before_auth(Mechanism::Plain);
        self.check_password_credentials(creds);
        plain_initial(creds)
    }

    /// Every credential has gone out; a further 334 asks for something this client will not
    /// send. RFC 4954 §4: cancel with `*`, read the server's answer, then stop. The
    /// credentials are never sent twice.
    async fn after_last_response(&mut self, reply: Reply) -> Result<Reply, SessionError> {
        if reply.code != 334 {
            return Ok(reply);
        }
        self.send_line(b"*\r\n", "*".into(), Verb::AuthResponse, None)
            .await?;
        self.read_and_record(Verb::AuthResponse).await?;
        Err(self.fail(SessionError::Unexpected {
            after: Verb::AuthResponse,
            code: 334,
            why: "the server asked for more after the last credential; the exchange was cancelled with \"*\" and nothing was sent again",
        }))
    }

    pub(super) async fn send_secret(
        &mut self,
        bytes: &[u8],
        redacted: Redacted,
        verb: Verb,
    ) -> Result<(), SessionError> {
        let shown = redacted.render(false);
        self.send_line(bytes, shown, verb, Some(redacted)).await
    }
}

/// `AUTH PLAIN <initial response>` as sent, and its redacted form.
fn plain_initial(creds: &Credentials) -> (zeroize::Zeroizing<Vec<u8>>, Redacted) {
    let wire = format!("AUTH PLAIN {}\r\n", creds.plain_blob().as_str()).into_bytes();
    let redacted = Redacted::PlainBlob {
        initial: true,
        user: creds.user.clone(),
        authzid: creds.authzid.clone(),
    };
    (zeroize::Zeroizing::new(wire), redacted)
}
