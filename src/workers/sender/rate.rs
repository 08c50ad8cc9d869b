//! Outbound rate limits: token buckets per app and per recipient. A send reserves its token
//! and learns how long to wait for it, so concurrent senders queue up fairly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::apps::RateLimit;

/// Recipients remembered before idle (full) buckets are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        // One second's worth may go at once, and at least one message.
        let burst = rate.max(1.0);
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes a token, possibly one not yet earned; returns how long until it is.
    fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

pub struct Limiter {
    limits: RateLimit,
    app: Mutex<Option<Bucket>>,
    recipients: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(limits: RateLimit) -> Limiter {
        Limiter {
            limits,
            app: Mutex::new(None),
            recipients: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one send to `recipient`; the caller waits the returned time before sending.
    pub fn reserve(&self, recipient: &str, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(rate) = self.limits.per_app {
            let mut app = self.app.lock();
            wait = app
                .get_or_insert_with(|| Bucket::new(rate, now))
                .reserve(now);
        }
        if let Some(rate) = self.limits.per_recipient {
            let mut map = self.recipients.lock();
            if map.len() > PRUNE_ABOVE {
                map.retain(|_, b| !b.is_full(now));
            }
            let bucket = map
                .entry(recipient.to_owned())
                .or_insert_with(|| Bucket::new(rate, now));
            wait = wait.max(bucket.reserve(now));
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u64 {
        d.as_millis() as u64
    }

    #[test]
    fn unlimited_never_waits() {
        let l = Limiter::new(RateLimit::default());
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(l.reserve("a", now), Duration::ZERO);
        }
    }

    #[test]
    fn per_recipient_spaces_one_recipients_messages_only() {
        let l = Limiter::new(RateLimit {
            per_app: None,
            per_recipient: Some(2.0),
        });
        let t0 = Instant::now();
        // A burst of two per second, then one every 500 ms, queued in order.
        assert_eq!(ms(l.reserve("a", t0)), 0);
        assert_eq!(ms(l.reserve("a", t0)), 0);
        assert_eq!(ms(l.reserve("a", t0)), 500);
        assert_eq!(ms(l.reserve("a", t0)), 1000);
        assert_eq!(ms(l.reserve("b", t0)), 0);
        // Time earns tokens back.
        assert_eq!(ms(l.reserve("a", t0 + Duration::from_secs(3))), 0);
    }

    #[test]
    fn per_app_limits_everyone_together() {
        let l = Limiter::new(RateLimit {
            per_app: Some(1.0),
            per_recipient: None,
        });
        let t0 = Instant::now();
        assert_eq!(ms(l.reserve("a", t0)), 0);
        assert_eq!(ms(l.reserve("b", t0)), 1000);
        assert_eq!(ms(l.reserve("c", t0 + Duration::from_millis(500))), 1500);
    }

    #[test]
    fn idle_recipients_are_forgotten_when_many() {
        let l = Limiter::new(RateLimit {
            per_app: None,
            per_recipient: Some(1.0),
        });
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            l.reserve(&i.to_string(), t0);
        }
        l.reserve("late", t0 + Duration::from_secs(5));
        assert_eq!(l.recipients.lock().len(), 1);
    }
}
