//! Sending quotas as SES counts them: per recipient, not per message. A maximum send rate
//! (recipients per second, a token bucket) and a daily quota (recipients per rolling 24 h).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const DAY: Duration = Duration::from_hours(24);

/// Why a send was throttled, with SES's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    Rate,
    Daily,
}

impl Throttle {
    pub(crate) fn reply(self) -> &'static str {
        match self {
            Throttle::Rate => "454 Throttling failure: Maximum sending rate exceeded.",
            Throttle::Daily => "454 Throttling failure: Daily message quota exceeded.",
        }
    }
}

/// The counters of one account (or of one user with own limits).
#[derive(Debug)]
pub(crate) struct SendQuota {
    rate: Option<u32>,
    daily: Option<u64>,
    tokens: f64,
    refilled_at: Instant,
    sent: VecDeque<(Instant, u64)>,
    sent_total: u64,
}

impl SendQuota {
    pub(crate) fn new(rate: Option<u32>, daily: Option<u64>, now: Instant) -> SendQuota {
        SendQuota {
            rate,
            daily,
            tokens: rate.map_or(0.0, f64::from),
            refilled_at: now,
            sent: VecDeque::new(),
            sent_total: 0,
        }
    }

    /// Charges a message to `recipients` recipients, or says why it may not be sent now.
    /// The daily quota is checked first: it is the one that does not heal in a second. A
    /// refused send costs nothing.
    pub(crate) fn try_send(&mut self, recipients: u64, now: Instant) -> Result<(), Throttle> {
        while let Some(&(at, n)) = self.sent.front() {
            if now.saturating_duration_since(at) < DAY {
                break;
            }
            self.sent.pop_front();
            self.sent_total -= n;
        }
        if let Some(daily) = self.daily
            && self.sent_total.saturating_add(recipients) > daily
        {
            return Err(Throttle::Daily);
        }
        if let Some(rate) = self.rate {
            let capacity = f64::from(rate);
            let elapsed = now
                .saturating_duration_since(self.refilled_at)
                .as_secs_f64();
            self.tokens = (self.tokens + elapsed * capacity).min(capacity);
            self.refilled_at = now;
            // A message with more recipients than one second allows goes out from a full
            // bucket and leaves it in debt, so the average rate still holds.
            let needed = (recipients as f64).min(capacity);
            if self.tokens + 1e-9 < needed {
                return Err(Throttle::Rate);
            }
            self.tokens -= recipients as f64;
        }
        if self.daily.is_some() {
            self.sent.push_back((now, recipients));
            self.sent_total += recipients;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_per_recipient_and_refills() {
        let t0 = Instant::now();
        let mut q = SendQuota::new(Some(2), None, t0);
        assert_eq!(q.try_send(1, t0), Ok(()));
        assert_eq!(q.try_send(1, t0), Ok(()));
        assert_eq!(q.try_send(1, t0), Err(Throttle::Rate));
        assert_eq!(q.try_send(1, t0 + Duration::from_millis(500)), Ok(()));
        assert_eq!(
            q.try_send(2, t0 + Duration::from_millis(600)),
            Err(Throttle::Rate)
        );
        assert_eq!(q.try_send(2, t0 + Duration::from_millis(1600)), Ok(()));
    }

    #[test]
    fn big_messages_go_out_from_a_full_bucket_then_wait() {
        let t0 = Instant::now();
        let mut q = SendQuota::new(Some(1), None, t0);
        assert_eq!(q.try_send(5, t0), Ok(()));
        // 4 tokens of debt: the next recipient has to wait 5 seconds.
        assert_eq!(
            q.try_send(1, t0 + Duration::from_secs(4)),
            Err(Throttle::Rate)
        );
        assert_eq!(q.try_send(1, t0 + Duration::from_secs(6)), Ok(()));
    }

    #[test]
    fn daily_quota_is_rolling_and_refusals_cost_nothing() {
        let t0 = Instant::now();
        let mut q = SendQuota::new(None, Some(3), t0);
        assert_eq!(q.try_send(2, t0), Ok(()));
        assert_eq!(q.try_send(2, t0), Err(Throttle::Daily));
        assert_eq!(q.try_send(1, t0 + Duration::from_mins(1)), Ok(()));
        assert_eq!(
            q.try_send(1, t0 + Duration::from_secs(61)),
            Err(Throttle::Daily)
        );
        assert_eq!(q.try_send(2, t0 + DAY), Ok(()));
    }

    #[test]
    fn daily_is_checked_before_rate() {
        let t0 = Instant::now();
        let mut q = SendQuota::new(Some(1), Some(1), t0);
        assert_eq!(q.try_send(1, t0), Ok(()));
        assert_eq!(q.try_send(1, t0), Err(Throttle::Daily));
        assert_eq!(
            Throttle::Daily.reply(),
            "454 Throttling failure: Daily message quota exceeded."
        );
        assert_eq!(
            Throttle::Rate.reply(),
            "454 Throttling failure: Maximum sending rate exceeded."
        );
    }

    #[test]
    fn unlimited_never_throttles() {
        let t0 = Instant::now();
        let mut q = SendQuota::new(None, None, t0);
        for _ in 0..10_000 {
            assert_eq!(q.try_send(50, t0), Ok(()));
        }
        assert!(q.sent.is_empty());
    }
}
