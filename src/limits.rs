//! Bounds on what the network can make connwatch do (ARCHITECTURE.md, "Bounds"). A server can
//! say anything: every number it sends is clamped here before it touches time arithmetic,
//! and every HTTP answer is read to at most `MAX_HTTP_BODY`. What the server said is still
//! shown as it came (diagnoses quote it); only what connwatch *does* with it is bounded.
//! Imports nothing, so every layer can use it.
use std::time::Duration;

/// The most of one HTTP answer connwatch reads (token, device, discovery, revocation and
/// HTTPS-probe responses). Real ones are a few KiB; Entra's largest error pages ~20 KiB.
pub const MAX_HTTP_BODY: usize = 1 << 20;

/// The most of a `ca_file` read (a full system bundle is ~220 KiB).
pub const MAX_CA_FILE: u64 = 4 << 20;

/// An access token's `expires_in` is taken as at most a year: no provider issues longer ones,
/// and a larger number (up to `i64::MAX`) would overflow the arithmetic that schedules the
/// refresh. A negative one means "already expired" and becomes 0.
pub const MAX_TOKEN_LIFETIME_S: i64 = 366 * 24 * 3600;

/// A device code is polled for at most an hour (Entra: 15 min, Google: 30 min).
pub const MAX_DEVICE_CODE_S: u64 = 3600;

/// The device flow's polling interval, `slow_down` included: at least a second (RFC 8628
/// allows 0, which would be a busy loop), at most a minute.
pub const MIN_DEVICE_INTERVAL_S: u64 = 1;
pub const MAX_DEVICE_INTERVAL_S: u64 = 60;

/// Work recorded in flight (crate::state::Activity) is believed for at most this long,
/// even while its pid runs: the longest sign-in (a device code) lasts an hour, and a pid
/// the system has given to another program since must not claim a sign-in for ever.
pub const MAX_ACTIVITY_S: i64 = 3600;

/// `Retry-After` is obeyed up to an hour; past that the backoff's own schedule resumes.
/// (A 429's Retry-After of 317 years was once obeyed.)
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `expires_in` of a token response, clamped to `0..=MAX_TOKEN_LIFETIME_S`.
pub fn token_lifetime_s(expires_in: i64) -> i64 {
    expires_in.clamp(0, MAX_TOKEN_LIFETIME_S)
}

/// A device code's `expires_in`, clamped to `0..=MAX_DEVICE_CODE_S`.
pub fn device_code_lifetime_s(expires_in: i64) -> u64 {
    u64::try_from(expires_in)
        .unwrap_or(0)
        .min(MAX_DEVICE_CODE_S)
}

/// A device flow polling interval, clamped to `MIN_DEVICE_INTERVAL_S..=MAX_DEVICE_INTERVAL_S`.
pub fn device_interval_s(interval: u64) -> u64 {
    interval.clamp(MIN_DEVICE_INTERVAL_S, MAX_DEVICE_INTERVAL_S)
}

/// A server's `Retry-After` in seconds, as the delay connwatch will wait.
pub fn retry_after(seconds: u64) -> Duration {
    Duration::from_secs(seconds).min(MAX_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_number_lands_in_range(n in any::<i64>(), u in any::<u64>()) {
            prop_assert!((0..=MAX_TOKEN_LIFETIME_S).contains(&token_lifetime_s(n)));
            prop_assert!(device_code_lifetime_s(n) <= MAX_DEVICE_CODE_S);
            let i = device_interval_s(u);
            prop_assert!((MIN_DEVICE_INTERVAL_S..=MAX_DEVICE_INTERVAL_S).contains(&i));
            prop_assert!(retry_after(u) <= MAX_RETRY_AFTER);
            // Whatever came in, the arithmetic that follows cannot overflow.
            let now = jiff::Timestamp::now();
            prop_assert!(now.checked_add(jiff::SignedDuration::from_secs(token_lifetime_s(n))).is_ok());
            prop_assert!(std::time::Instant::now().checked_add(retry_after(u)).is_some());
        }

        #[test]
        fn sane_numbers_pass_unchanged(n in 0i64..=86_400, u in 1u64..=60) {
            prop_assert_eq!(token_lifetime_s(n), n);
            prop_assert_eq!(device_interval_s(u), u);
            prop_assert_eq!(retry_after(u), Duration::from_secs(u));
            prop_assert_eq!(device_code_lifetime_s(n.min(3600)), n.min(3600) as u64);
        }
    }

    #[test]
    fn the_edges() {
        assert_eq!(token_lifetime_s(-5), 0);
        assert_eq!(token_lifetime_s(i64::MAX), MAX_TOKEN_LIFETIME_S);
        assert_eq!(device_code_lifetime_s(i64::MAX), MAX_DEVICE_CODE_S);
        assert_eq!(device_code_lifetime_s(-1), 0);
        assert_eq!(device_interval_s(0), 1);
        assert_eq!(retry_after(u64::MAX), MAX_RETRY_AFTER);
    }
}
