//! When a connection's tokens are renewed (ARCHITECTURE.md, "Refresh schedule"). One rule for
//! the worker's timer, a probe that refreshes instead, the check under the lock and `token`,
//! so every process agrees. Pure: tokens and settings in, an instant out.
//!
//! `refresh_before` alone once made a refresh storm: with tokens living no longer than it
//! (Keycloak's 300 s against the 5 min default, or `expires_in` ≤ 0) every refresh was due
//! the moment it finished, ~1 150 token requests in 10 s. So the renewal is due
//! `refresh_before` ahead of expiry but never in the first half of the token's life, and never
//! sooner than `min_refresh_interval` after the tokens were obtained (by any process: the
//! token file's `obtained_at`).
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::store::TokenSet;

/// How much earlier than the rule's instant the worker's timer may fire, as a fraction of
/// the lead, so the connections of one provider do not all ask at the same second.
pub const JITTER: f64 = 0.1;

/// The latest instant the tokens should be renewed, or `None` when their expiry is unknown
/// (nothing to schedule). `random` in [0, 1) moves it earlier by up to `JITTER` of the lead,
/// never before the floor; 0 gives the rule's own instant (what every check uses).
pub fn refresh_due(
    t: &TokenSet,
    refresh_before: Duration,
    min_interval: Duration,
    random: f64,
) -> Option<Timestamp> {
    let expires = t.expires_at?;
    let lifetime = expires
        .duration_since(t.obtained_at)
        .max(SignedDuration::ZERO);
    let before = SignedDuration::try_from(refresh_before).unwrap_or(SignedDuration::MAX);
    let lead = before.min(lifetime / 2);
    let jitter = lead.mul_f64(JITTER * random.clamp(0.0, 1.0));
    let at = expires
        .checked_sub(lead.saturating_add(jitter))
        .unwrap_or(expires);
    Some(at.max(floor(t, min_interval)))
}

/// The earliest instant of an automatic renewal: `min_interval` after the tokens were
/// obtained, by any process (a person's own refresh is not held back). `connwatch token`
/// honours it too.
pub fn floor(t: &TokenSet, min_interval: Duration) -> Timestamp {
    t.obtained_at
        .checked_add(SignedDuration::try_from(min_interval).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

/// Whether the tokens are due for renewal at `now` by the rule (no jitter). Unknown expiry:
/// never due.
pub fn is_due(
    t: &TokenSet,
    refresh_before: Duration,
    min_interval: Duration,
    now: Timestamp,
) -> bool {
    refresh_due(t, refresh_before, min_interval, 0.0).is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use proptest::prelude::*;

    fn tokens(obtained: i64, lifetime: i64) -> TokenSet {
        let at = Timestamp::from_second(1_800_000_000 + obtained).unwrap();
        TokenSet {
            version: 1,
            access_token: Secret::new("a"),
            refresh_token: Some(Secret::new("r")),
            id_token: None,
            expires_at: Some(at + SignedDuration::from_secs(lifetime)),
            granted_scopes: vec![],
            obtained_at: at,
            signed_in_at: None,
        }
    }

    fn due_after(lifetime: i64, before_s: u64, min_s: u64) -> i64 {
        let t = tokens(0, lifetime);
        let due = refresh_due(
            &t,
            Duration::from_secs(before_s),
            Duration::from_secs(min_s),
            0.0,
        )
        .unwrap();
        due.duration_since(t.obtained_at).as_secs()
    }

    #[test]
    fn usual_tokens_renew_refresh_before_ahead() {
        // Entra's hour-long token, 5 min ahead.
        assert_eq!(due_after(3600, 300, 30), 3300);
    }

    #[test]
    fn short_tokens_renew_at_half_life_not_at_once() {
        // Keycloak's 300 s tokens against the 5 min default: at 150 s, not immediately.
        assert_eq!(due_after(300, 300, 30), 150);
        assert_eq!(due_after(60, 55, 30), 30);
    }

    #[test]
    fn tiny_and_dead_tokens_wait_for_the_floor() {
        assert_eq!(due_after(1, 300, 30), 30);
        assert_eq!(due_after(0, 300, 30), 30);
        assert_eq!(due_after(-100, 300, 30), 30);
    }

    #[test]
    fn unknown_expiry_is_never_due() {
        let mut t = tokens(0, 60);
        t.expires_at = None;
        assert_eq!(refresh_due(&t, Duration::ZERO, Duration::ZERO, 0.5), None);
        assert!(!is_due(&t, Duration::ZERO, Duration::ZERO, Timestamp::MAX));
    }

    /// Requests per hour for one connection over lifetimes from 1 s to 24 h: never more than
    /// 3600 / min_interval, and for any lifetime ≥ 2 × min_interval, at most 2 per lifetime.
    #[test]
    fn requests_per_hour_are_bounded() {
        for lifetime in [1, 10, 60, 300, 900, 3600, 86_400] {
            let per_hour = 3600.0 / due_after(lifetime, 300, 30) as f64;
            assert!(per_hour <= 120.0, "{lifetime}: {per_hour}");
            if lifetime >= 60 {
                assert!(
                    per_hour <= 2.0 * 3600.0 / lifetime as f64,
                    "{lifetime}: {per_hour}"
                );
            }
        }
    }

    proptest! {
        /// Whatever the numbers, the instant is inside [obtained + floor, expiry] when the
        /// token lives past the floor, never before the floor, and jitter only moves it
        /// earlier by at most a tenth of the lead.
        #[test]
        fn the_instant_is_sane(
            lifetime in -1_000_000i64..10_000_000,
            before_s in 0u64..100_000,
            min_s in 0u64..10_000,
            random in 0.0f64..1.0,
        ) {
            let t = tokens(0, lifetime);
            let (b, m) = (Duration::from_secs(before_s), Duration::from_secs(min_s));
            let plain = refresh_due(&t, b, m, 0.0).unwrap();
            let jittered = refresh_due(&t, b, m, random).unwrap();
            let floor = t.obtained_at + SignedDuration::from_secs(min_s as i64);
            prop_assert!(plain >= floor && jittered >= floor);
            prop_assert!(jittered <= plain);
            let exp = t.expires_at.unwrap();
            if exp >= floor {
                prop_assert!(plain <= exp);
                // Never in the first half of the life unless the floor says so.
                let half = t.obtained_at + exp.duration_since(t.obtained_at) / 2;
                prop_assert!(plain >= half.min(exp));
            }
        }
    }
}
