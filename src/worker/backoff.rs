//! Retry delays after transient failures: exponential with full jitter (AWS architecture
//! blog, "Exponential Backoff And Jitter"), never shorter than the server's Retry-After up to
//! `limits::MAX_RETRY_AFTER` (a Retry-After of u64::MAX seconds once overflowed the timer).
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(5 * 60),
        }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (0-based). `random` is uniform in [0, 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, random: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.cap);
        let jittered = ceiling.mul_f64(random.clamp(0.0, 1.0));
        // A server that said when to come back is obeyed, even past our cap (it knows), up
        // to the hour of crate::limits (past that it is not a plan, and it would overflow).
        match retry_after {
            Some(ra) => jittered.max(ra.min(crate::limits::MAX_RETRY_AFTER)),
            None => jittered.max(Duration::from_millis(200)),
        }
    }
}

/// A uniform random number in [0, 1) from the OS generator.
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let b = Backoff::default();
        assert_eq!(
            b.delay(0, None, 0.999_999),
            Duration::from_secs(2).mul_f64(0.999_999)
        );
        assert_eq!(b.delay(3, None, 0.5), Duration::from_secs(8));
        assert_eq!(b.delay(30, None, 0.5), Duration::from_secs(150));
        assert_eq!(b.delay(1, None, 0.0), Duration::from_millis(200));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let b = Backoff::default();
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(60)), 0.5),
            Duration::from_secs(60)
        );
        assert_eq!(
            b.delay(10, Some(Duration::from_secs(1)), 1.0 - f64::EPSILON),
            b.cap.mul_f64(1.0 - f64::EPSILON)
        );
    }

    #[test]
    fn a_retry_after_past_an_hour_is_capped_and_never_overflows() {
        let b = Backoff::default();
        for ra in [3601, 10_000_000_000, u64::MAX] {
            let d = b.delay(0, Some(Duration::from_secs(ra)), 0.5);
            assert_eq!(d, crate::limits::MAX_RETRY_AFTER);
            assert!(std::time::Instant::now().checked_add(d).is_some());
        }
    }

    #[test]
    fn random_is_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
