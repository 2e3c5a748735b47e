//! The sign-in forecast: when the current tokens will stop renewing and someone must sign in
//! again, from what the provider revealed — never a guessed lifetime. Pure: tokens, the
//! learned sign-in frequency and the provider in; an instant and the reason out.
//!
//! What counts (the earliest wins):
//! - a sign-in frequency the tenant revealed (AADSTS70043's "maximum allowed lifetime … N"),
//!   counted from the sign-in of the current tokens (the ID token's `auth_time`, else when
//!   connwatch completed the sign-in);
//! - no refresh token: the access token's expiry;
//! - Entra: a refresh token unused for 90 days expires (AADSTS700082), counted from its last
//!   use.
use jiff::{SignedDuration, Timestamp};

use crate::config::ProviderKind;
use crate::store::TokenSet;

/// Entra's refresh-token inactivity limit (reference: identity-providers.md, [RT]).
const ENTRA_INACTIVITY: SignedDuration = SignedDuration::from_hours(90 * 24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Sign in before this instant.
    pub by: Timestamp,
    /// Why, in words: "fabrikam asks for a sign-in every 15 min".
    pub reason: String,
}

/// The forecast for one connection's tokens.
pub fn sign_in_by(
    provider: ProviderKind,
    realm: Option<&str>,
    tokens: &TokenSet,
    frequency_s: Option<u64>,
) -> Option<Forecast> {
    let mut all = Vec::new();
    if let (Some(f), Some(at)) = (frequency_s, tokens.signed_in_at)
        && let Ok(by) = at.checked_add(SignedDuration::from_secs(f.min(i64::MAX as u64) as i64))
    {
        all.push(Forecast {
            by,
            reason: format!(
                "{} asks for a sign-in every {}",
                short_realm(realm),
                crate::diagnose::human_duration(f)
            ),
        });
    }
    match (&tokens.refresh_token, tokens.expires_at) {
        (None, Some(exp)) => all.push(Forecast {
            by: exp,
            reason: "no refresh token: the access token cannot be renewed".into(),
        }),
        (Some(_), _) if provider == ProviderKind::Entra => {
            if let Ok(by) = tokens.obtained_at.checked_add(ENTRA_INACTIVITY) {
                all.push(Forecast {
                    by,
                    reason: "an Entra refresh token expires after 90 days unused".into(),
                });
            }
        }
        _ => {}
    }
    all.into_iter().min_by_key(|f| f.by)
}

/// A tenant's sign-in frequency, learned by any of its connections, holds for all of them
/// (the shortest when they disagree). `known` is each connection's realm and what it learned;
/// the answer is what each should use, in the same order (a connection without a realm keeps
/// its own). Shared by the worker and `status`.
pub fn share_by_realm(known: &[(Option<&str>, Option<u64>)]) -> Vec<Option<u64>> {
    let mut by_realm: std::collections::HashMap<&str, u64> = Default::default();
    for &(realm, f) in known {
        if let (Some(r), Some(f)) = (realm, f) {
            let e = by_realm.entry(r).or_insert(f);
            *e = (*e).min(f);
        }
    }
    known
        .iter()
        .map(|&(realm, own)| realm.and_then(|r| by_realm.get(r).copied()).or(own))
        .collect()
}

/// `fabrikam.onmicrosoft.com` → `fabrikam`; other names as they are.
pub fn short_realm(realm: Option<&str>) -> String {
    match realm {
        Some(r) => r
            .strip_suffix(".onmicrosoft.com")
            .unwrap_or(r)
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned(),
        None => "the tenant".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_795_548_800 + s).unwrap()
    }

    fn tokens(rt: bool, signed_in: Option<i64>) -> TokenSet {
        TokenSet {
            version: 1,
            access_token: Secret::new("at"),
            refresh_token: rt.then(|| Secret::new("rt")),
            id_token: None,
            expires_at: Some(t(3600)),
            granted_scopes: vec![],
            obtained_at: t(0),
            signed_in_at: signed_in.map(t),
        }
    }

    #[test]
    fn a_revealed_frequency_counts_from_the_sign_in() {
        let f = sign_in_by(
            ProviderKind::Entra,
            Some("fabrikam.onmicrosoft.com"),
            &tokens(true, Some(-100)),
            Some(900),
        )
        .unwrap();
        assert_eq!(f.by, t(800));
        assert_eq!(f.reason, "fabrikam asks for a sign-in every 15 min");
    }

    #[test]
    fn unknown_stays_unknown() {
        // No frequency learned, a refresh token, not Entra: nothing to forecast.
        assert_eq!(
            sign_in_by(ProviderKind::Google, None, &tokens(true, Some(0)), None),
            None
        );
        // A frequency but no known sign-in time (tokens from before connwatch kept it).
        assert_eq!(
            sign_in_by(ProviderKind::Google, None, &tokens(true, None), Some(900)),
            None
        );
    }

    #[test]
    fn a_frequency_is_shared_by_the_tenant() {
        let known = [
            (Some("fabrikam"), None),
            (Some("fabrikam"), Some(900)),
            (Some("fabrikam"), Some(3600)),
            (Some("contoso"), None),
            (None, Some(60)),
        ];
        assert_eq!(
            share_by_realm(&known),
            [Some(900), Some(900), Some(900), None, Some(60)]
        );
    }

    #[test]
    fn the_earliest_limit_wins() {
        let no_rt = sign_in_by(ProviderKind::Entra, None, &tokens(false, None), None).unwrap();
        assert_eq!(no_rt.by, t(3600));
        assert!(no_rt.reason.starts_with("no refresh token"));
        let entra = sign_in_by(ProviderKind::Entra, None, &tokens(true, None), None).unwrap();
        assert_eq!(entra.by, t(90 * 86_400));
        let sif = sign_in_by(
            ProviderKind::Entra,
            None,
            &tokens(true, Some(0)),
            Some(43_200),
        );
        assert_eq!(
            sif.unwrap().reason,
            "the tenant asks for a sign-in every 12 h"
        );
    }
}
