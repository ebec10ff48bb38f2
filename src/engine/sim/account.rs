//! The simulated SES account: the configuration plus what all connections share (the
//! derived SMTP passwords, the sending quotas, the mailbox, the greeting's build tag).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use zeroize::Zeroizing;

use super::config::SimConfig;
use super::ids;
use super::lines::DataBudget;
use super::mailbox::Mailbox;
use super::quota::{SendQuota, Throttle};

/// SES's reply to a pre-2019 (`SigV2`) SMTP password, as seen in the wild.
pub(crate) const SIGV2_DEPRECATED: &str = "535 Signature Version 2 is deprecated for use with SES from March 26, 2021. From that date on, we are progressively rejecting such requests. To resolve the issue, you must migrate to Signature Version 4. If you created your SMTP credentials in the SES Console, please create new credentials and replace the former ones. If you are deriving Signature Version 2 credentials from a IAM user, please start using the Signature Version 4 algorithm: https://docs.aws.amazon.com/ses/latest/DeveloperGuide/smtp-credentials.html";

/// Memory for message bodies being received at once, over all connections. A body that
/// would exceed it gets `451 Temporary service failure` (SES's "local processing error").
pub(crate) const DATA_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// The outcome of checking a user name and password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthCheck {
    /// The index of the user in [`SimConfig::users`].
    Valid(usize),
    /// Unknown access key, or the wrong password (SES does not say which).
    Invalid,
    /// The right key with its legacy `SigV2` password.
    SigV2,
}

/// Everything connections share.
pub struct SimAccount {
    pub config: SimConfig,
    passwords: Vec<Zeroizing<String>>,
    legacy_passwords: Vec<Zeroizing<String>>,
    build_id: String,
    account_quota: Mutex<SendQuota>,
    user_quotas: Mutex<HashMap<usize, SendQuota>>,
    pub mailbox: Mailbox,
    pub data_budget: std::sync::Arc<DataBudget>,
}

impl std::fmt::Debug for SimAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimAccount")
            .field("config", &self.config)
            .field("passwords", &"<redacted>")
            .field("build_id", &self.build_id)
            .field("mailbox", &self.mailbox)
            .finish()
    }
}

impl SimAccount {
    pub fn new(config: SimConfig) -> SimAccount {
        let passwords = config
            .users
            .iter()
            .map(|u| u.smtp_password(&config.region))
            .collect();
        let legacy_passwords = config
            .users
            .iter()
            .map(super::config::SimUser::legacy_v2_password)
            .collect();
        let now = Instant::now();
        SimAccount {
            account_quota: Mutex::new(SendQuota::new(
                config.limits.max_send_rate,
                config.limits.daily_quota,
                now,
            )),
            user_quotas: Mutex::new(HashMap::new()),
            mailbox: Mailbox::new(&config.mailbox),
            data_budget: std::sync::Arc::new(DataBudget::new(DATA_BUDGET_BYTES)),
            build_id: ids::build_id(),
            passwords,
            legacy_passwords,
            config,
        }
    }

    /// Replaces the memory budget for bodies in flight (default [`DATA_BUDGET_BYTES`]).
    #[cfg(test)]
    pub(crate) fn with_data_budget(mut self, bytes: usize) -> SimAccount {
        self.data_budget = std::sync::Arc::new(DataBudget::new(bytes));
        self
    }

    /// `220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-XXXXXXXXX <session id>`
    pub(crate) fn greeting(&self, session_id: &str) -> String {
        format!(
            "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-{} {session_id}",
            self.build_id
        )
    }

    /// Checks SMTP credentials: the user name is an access key ID, the password must be the
    /// one derived from that key's secret for the configured region.
    pub(crate) fn authenticate(&self, username: &str, password: &str) -> AuthCheck {
        let Some(index) = self
            .config
            .users
            .iter()
            .position(|u| u.access_key_id == username)
        else {
            return AuthCheck::Invalid;
        };
        if constant_time_eq(self.passwords[index].as_bytes(), password.as_bytes()) {
            AuthCheck::Valid(index)
        } else if constant_time_eq(self.legacy_passwords[index].as_bytes(), password.as_bytes()) {
            AuthCheck::SigV2
        } else {
            AuthCheck::Invalid
        }
    }

    /// Charges a send of `recipients` recipients by user `user` to its quota (its own when
    /// it has own limits, the account's otherwise).
    pub(crate) fn charge(
        &self,
        user: usize,
        recipients: u64,
        now: Instant,
    ) -> Result<(), Throttle> {
        let Some(u) = self.config.users.get(user) else {
            return Ok(());
        };
        if u.max_send_rate.is_some() || u.daily_quota.is_some() {
            let mut quotas = self
                .user_quotas
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            quotas
                .entry(user)
                .or_insert_with(|| SendQuota::new(u.max_send_rate, u.daily_quota, now))
                .try_send(recipients, now)
        } else {
            self.account_quota
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .try_send(recipients, now)
        }
    }
}

/// Compares without an early exit, so timing does not tell how much of a password matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticates_with_the_derived_password_only() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let good = account
            .config
            .users
            .iter()
            .position(|u| u.name == "good")
            .unwrap();
        assert_eq!(
            account.authenticate(
                "AKIAIOSFODNN7EXAMPLE",
                "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
            ),
            AuthCheck::Valid(good)
        );
        // The secret itself, another region's password, the IAM user name: all 535.
        assert_eq!(
            account.authenticate(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ),
            AuthCheck::Invalid
        );
        let eu = account.config.users[good].smtp_password("eu-west-1");
        assert_eq!(
            account.authenticate("AKIAIOSFODNN7EXAMPLE", &eu),
            AuthCheck::Invalid
        );
        assert_eq!(
            account.authenticate("good", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"),
            AuthCheck::Invalid
        );
        let v2 = account.config.users[good].legacy_v2_password();
        assert_eq!(
            account.authenticate("AKIAIOSFODNN7EXAMPLE", &v2),
            AuthCheck::SigV2
        );
    }

    #[test]
    fn greeting_has_the_ses_shape() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let g = account.greeting("A1b2C3d4E5f6G7h8I9j0");
        let re = regex::Regex::new(
            r"^220 email-smtp\.amazonaws\.com ESMTP SimpleEmailService-d-[A-Z0-9]{9} A1b2C3d4E5f6G7h8I9j0$",
        )
        .unwrap();
        assert!(re.is_match(&g), "{g}");
    }

    #[test]
    fn users_with_own_limits_have_own_counters() {
        let account = SimAccount::new(SimConfig::default_demo().unwrap());
        let throttled = account
            .config
            .users
            .iter()
            .position(|u| u.name == "throttled")
            .unwrap();
        let now = Instant::now();
        assert_eq!(account.charge(throttled, 1, now), Ok(()));
        assert_eq!(account.charge(throttled, 1, now), Err(Throttle::Rate));
        // The account's own bucket (14/s) is untouched.
        assert_eq!(account.charge(0, 1, now), Ok(()));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
