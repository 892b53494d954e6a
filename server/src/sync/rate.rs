//! A connection's limits of rate: a token bucket, and when to say so.

use std::time::Instant;

/// A token bucket: `per_sec` tokens a second, at most `burst` saved up.
pub(super) struct Rate {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    /// When the peer was last told it is over the rate: at most once a second.
    told: Option<Instant>,
}

impl Rate {
    pub(super) fn new(per_sec: u32, burst: usize) -> Self {
        let burst = (burst as f64).max(1.0);
        Self {
            per_sec: f64::from(per_sec),
            burst,
            tokens: burst,
            at: Instant::now(),
            told: None,
        }
    }

    /// Takes a token if there is one.
    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether to tell the peer it is over the rate now (once a second).
    pub(super) fn tell(&mut self, now: Instant) -> bool {
        let due = self
            .told
            .is_none_or(|told| now.saturating_duration_since(told).as_secs() >= 1);
        if due {
            self.told = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_spent_then_the_rate_refills_it() {
        let start = Instant::now();
        let mut rate = Rate::new(2, 5);
        let taken = (0..10).filter(|_| rate.take(start)).count();
        assert_eq!(taken, 5, "the burst, then nothing");
        let later = start + Duration::from_millis(1_500);
        let taken = (0..10).filter(|_| rate.take(later)).count();
        assert_eq!(taken, 3, "1.5 s at 2 a second");
        let much_later = later + Duration::from_secs(60);
        let taken = (0..10).filter(|_| rate.take(much_later)).count();
        assert_eq!(taken, 5, "never more than the burst saved up");
    }

    #[test]
    fn the_peer_is_told_at_most_once_a_second() {
        let start = Instant::now();
        let mut rate = Rate::new(1, 1);
        assert!(rate.tell(start));
        assert!(!rate.tell(start + Duration::from_millis(500)));
        assert!(rate.tell(start + Duration::from_millis(1_000)));
    }
}
