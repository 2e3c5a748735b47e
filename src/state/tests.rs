//! The one rule and the machine: a test per transition, and random event sequences held to
//! the invariants of DESIGN.md ("How a state is decided").
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::machine::{Effect, Input, step};
use super::*;
use crate::diagnose::Cause;

const PID: u32 = 4242;

fn t0() -> Timestamp {
    "2026-12-04T10:00:00Z".parse().unwrap()
}

fn at(s: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(s)
}

fn cx() -> Context<'static> {
    Context {
        asks_offline_access: true,
        no_refresh_token_note: "no refresh token",
    }
}

fn tokens(obtained: i64, life: i64, rt: bool) -> TokenFacts {
    TokenFacts {
        obtained_at: at(obtained),
        expires_at: Some(at(obtained + life)),
        has_refresh_token: rt,
    }
}

fn revoked() -> Diagnosis {
    Diagnosis::of(
        Cause::GrantRevoked,
        false,
        true,
        "revoked".into(),
        "Sign in again.",
    )
}

fn timeout() -> Diagnosis {
    Diagnosis::of(Cause::Network, true, false, "timed out".into(), "Wait.")
}

fn admin() -> Diagnosis {
    Diagnosis::of(
        Cause::ProtocolDisabled,
        false,
        false,
        "off".into(),
        "Ask an admin.",
    )
}

fn probed(mut d: Diagnosis) -> Diagnosis {
    d.probe = Some("imaps://127.0.0.1:993".into());
    d
}

fn state(f: &Facts, now: Timestamp) -> ConnState {
    decide(f, now, cx(), &|_| true).state
}

fn connected(life: i64) -> Facts {
    step(
        Facts::default(),
        Input::Renewed(tokens(0, life, true)),
        at(0),
    )
    .0
}

#[test]
fn no_tokens_is_signed_out() {
    let d = decide(&Facts::default(), t0(), cx(), &|_| true);
    assert_eq!(d.state, ConnState::SignedOut);
    assert_eq!(d.note.as_deref(), Some("not signed in"));
}

#[test]
fn renewed_is_connected_until_expiry_then_disconnected() {
    let f = connected(3600);
    assert_eq!(state(&f, at(10)), ConnState::Connected);
    let d = decide(&f, at(3600), cx(), &|_| true);
    assert_eq!(d.state, ConnState::Disconnected);
    assert!(d.note.unwrap().contains("expired"));
}

#[test]
fn expired_without_refresh_token_needs_reauth_with_the_reason() {
    let f = step(
        Facts::default(),
        Input::Renewed(tokens(0, 60, false)),
        at(0),
    )
    .0;
    assert_eq!(state(&f, at(30)), ConnState::Connected);
    let d = decide(&f, at(61), cx(), &|_| true);
    assert_eq!(d.state, ConnState::NeedsReauth);
    assert!(d.last_error.is_some());
}

#[test]
fn refused_refresh_needs_reauth_and_waits() {
    let (f, fx) = step(connected(3600), Input::RefreshFailed(revoked()), at(100));
    assert_eq!(fx, vec![Effect::Wait]);
    assert_eq!(state(&f, at(100)), ConnState::NeedsReauth);
    assert_eq!(f.failures, 1);
}

#[test]
fn transient_refresh_failure_keeps_a_valid_token_connected_and_retries() {
    let mut d = timeout();
    d.retry_after_s = Some(7);
    let (f, fx) = step(connected(3600), Input::RefreshFailed(d), at(100));
    assert_eq!(
        fx,
        vec![Effect::Retry {
            retry_after: Some(7)
        }]
    );
    let shown = decide(&f, at(100), cx(), &|_| true);
    assert_eq!(shown.state, ConnState::Connected);
    assert_eq!(shown.last_error.unwrap().cause, Cause::Network);
    assert_eq!(state(&f, at(3600)), ConnState::Disconnected);
}

#[test]
fn a_timeout_does_not_overturn_a_refusal() {
    let (f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(100));
    let (f, fx) = step(f, Input::RefreshFailed(timeout()), at(200));
    assert_eq!(fx, vec![Effect::Wait]);
    let (f, _) = step(f, Input::ProbeRefused(probed(timeout())), at(300));
    let d = decide(&f, at(300), cx(), &|_| true);
    assert_eq!(d.state, ConnState::NeedsReauth);
    assert_eq!(d.last_error.unwrap().cause, Cause::GrantRevoked);
}

#[test]
fn probe_refusal_then_acceptance() {
    let mut refused = probed(revoked());
    refused.cause = Cause::MissingScope;
    let (f, _) = step(connected(3600), Input::ProbeRefused(refused), at(10));
    assert_eq!(state(&f, at(10)), ConnState::NeedsReauth);
    let (f, fx) = step(f, Input::ProbesAccepted, at(20));
    assert_eq!(fx, vec![Effect::Schedule]);
    assert_eq!(state(&f, at(20)), ConnState::Connected);
}

#[test]
fn a_probe_accepting_does_not_lift_the_idps_refusal() {
    let (f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(10));
    let (f, _) = step(f, Input::ProbesAccepted, at(20));
    assert_eq!(state(&f, at(20)), ConnState::NeedsReauth);
    // Nor does a probe's refusal replace it, to be lifted by the next probe's acceptance.
    let mut claims = probed(revoked());
    claims.cause = Cause::ClaimsChallenge;
    let (f, _) = step(f, Input::ProbeRefused(claims), at(30));
    assert_eq!(f.last_error.as_ref().unwrap().cause, Cause::GrantRevoked);
    let (f, _) = step(f, Input::ProbesAccepted, at(40));
    assert_eq!(state(&f, at(40)), ConnState::NeedsReauth);
}

#[test]
fn an_expired_token_refused_by_a_probe_is_for_the_renewal_to_answer() {
    let mut expired = probed(timeout());
    expired.cause = Cause::TokenExpired;
    expired.retryable = false;
    let (f, fx) = step(connected(3600), Input::ProbeRefused(expired), at(10));
    assert_eq!(fx, vec![Effect::RetryProbe]);
    assert_eq!(state(&f, at(10)), ConnState::Connected);
}

#[test]
fn someone_elses_refusal_of_a_new_sign_in_leaves_working_tokens_alone() {
    let (f, fx) = step(connected(3600), Input::SignInFailed(admin()), at(10));
    assert_eq!(fx, vec![Effect::Schedule]);
    let d = decide(&f, at(10), cx(), &|_| true);
    assert_eq!(d.state, ConnState::Connected);
    assert_eq!(d.last_error.unwrap().cause, Cause::ProtocolDisabled);
}

#[test]
fn a_refusal_about_older_tokens_is_not_brought_back_by_a_later_failure() {
    // A refusal on record, then tokens from a sign-in elsewhere (only the token file
    // changed), then a transient probe failure stamped now.
    let (mut f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(10));
    f.tokens = Some(tokens(20, 3600, true));
    let (f, _) = step(f, Input::ProbeRefused(probed(timeout())), at(30));
    assert_eq!(state(&f, at(30)), ConnState::Connected);
    assert_eq!(f.changed_at, Some(at(30)));
}

#[test]
fn transient_probe_failure_leaves_connected_and_retries_the_probe() {
    let (f, fx) = step(
        connected(3600),
        Input::ProbeRefused(probed(timeout())),
        at(10),
    );
    assert_eq!(fx, vec![Effect::RetryProbe]);
    assert_eq!(state(&f, at(10)), ConnState::Connected);
}

#[test]
fn someone_elses_refusal_is_blocked_even_without_tokens() {
    let (f, _) = step(Facts::default(), Input::SignInFailed(admin()), at(0));
    assert_eq!(state(&f, at(0)), ConnState::Blocked);
}

#[test]
fn sign_in_shows_beside_the_verdict_and_ends_in_one_place() {
    let (f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(10));
    let claim = Activity {
        kind: ActivityKind::SignIn,
        pid: PID,
        since: at(20),
    };
    let (f, _) = step(f, Input::Started(claim), at(20));
    let d = decide(&f, at(21), cx(), &|_| true);
    assert_eq!(d.state, ConnState::NeedsReauth);
    assert_eq!(d.note.as_deref(), Some("sign-in in progress (pid 4242)"));
    // The process is gone: its claim is ignored.
    let gone = decide(&f, at(21), cx(), &|_| false);
    assert_eq!(gone.note, None);
    assert_eq!(gone.activity, None);
    // An hour and more later the pid is someone else's: the claim is ignored too.
    let stale = decide(&f, at(20 + 3601), cx(), &|_| true);
    assert_eq!(stale.activity, None);
    // Cancelled: where it was.
    let (c, _) = step(f.clone(), Input::SignInCancelled, at(30));
    assert_eq!(state(&c, at(30)), ConnState::NeedsReauth);
    assert_eq!(c.activity, None);
    // Completed: connected.
    let (ok, _) = step(f.clone(), Input::Renewed(tokens(40, 3600, true)), at(40));
    assert_eq!(state(&ok, at(40)), ConnState::Connected);
    // Declined: still needs it.
    let mut declined = revoked();
    declined.cause = Cause::AccessDenied;
    let (no, _) = step(f, Input::SignInFailed(declined), at(40));
    assert_eq!(state(&no, at(40)), ConnState::NeedsReauth);
}

#[test]
fn a_refresh_does_not_take_a_sign_ins_claim() {
    let sign_in = Activity {
        kind: ActivityKind::SignIn,
        pid: 1,
        since: at(0),
    };
    let refresh = Activity {
        kind: ActivityKind::Refresh,
        pid: 2,
        since: at(1),
    };
    let (f, _) = step(connected(3600), Input::Started(sign_in), at(0));
    let (f, _) = step(f, Input::Started(refresh), at(1));
    assert_eq!(f.activity, Some(sign_in));
    let (f, _) = step(f, Input::RefreshFailed(timeout()), at(2));
    assert_eq!(f.activity, Some(sign_in));
}

#[test]
fn newer_tokens_than_the_refusal_are_judged_afresh() {
    // Another process signed in after the refusal was recorded, and wrote only the tokens.
    let (mut f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(10));
    f.tokens = Some(tokens(20, 3600, true));
    assert_eq!(state(&f, at(30)), ConnState::Connected);
}

#[test]
fn purge_forgets_everything_but_the_counts() {
    let (f, _) = step(connected(3600), Input::RefreshFailed(revoked()), at(10));
    let (f, _) = step(f, Input::Purged, at(20));
    assert_eq!(state(&f, at(20)), ConnState::SignedOut);
    assert_eq!(f.failures, 1);
    assert!(f.last_error.is_none());
}

#[test]
fn old_records_saying_authorizing_read_as_no_verdict() {
    assert_eq!(
        Verdict::of(ConnState::Authorizing).state(),
        ConnState::Connected
    );
    assert_eq!(
        Verdict::of(ConnState::Refreshing).state(),
        ConnState::Connected
    );
}

fn diagnosis() -> impl Strategy<Value = Diagnosis> {
    prop_oneof![
        Just(revoked()),
        Just(timeout()),
        Just(admin()),
        Just(Diagnosis::of(
            Cause::ServerError,
            true,
            false,
            "5xx".into(),
            "Wait."
        )),
        Just(Diagnosis::of(
            Cause::InvalidClient,
            false,
            false,
            "client".into(),
            "Fix."
        )),
        Just(Diagnosis::of(
            Cause::ClaimsChallenge,
            false,
            false,
            "claims".into(),
            "Sign in."
        )),
        Just(Diagnosis::of(Cause::Unknown, false, false, "?".into(), "?")),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (
            0u32..3,
            prop::sample::select(vec![
                ActivityKind::SignIn,
                ActivityKind::Refresh,
                ActivityKind::Probe
            ])
        )
            .prop_map(|(pid, kind)| Input::Started(Activity {
                kind,
                pid,
                since: t0()
            })),
        (1i64..7200, any::<bool>()).prop_map(|(life, rt)| Input::Renewed(TokenFacts {
            obtained_at: t0(),
            expires_at: Some(t0() + SignedDuration::from_secs(life)),
            has_refresh_token: rt,
        })),
        diagnosis().prop_map(Input::RefreshFailed),
        Just(Input::ProbesAccepted),
        diagnosis().prop_map(|d| Input::ProbeRefused(probed(d))),
        diagnosis().prop_map(Input::SignInFailed),
        Just(Input::SignInCancelled),
        Just(Input::Idle),
        Just(Input::Purged),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Named invariants over random event sequences, each event a few seconds apart.
    #[test]
    fn invariants_hold(events in prop::collection::vec((input(), 0i64..4000), 1..40)) {
        let mut f = Facts::default();
        let mut now = t0();
        // The last outcome about the current tokens that was a refusal, if any.
        let mut refused_since_tokens = false;
        // The IdP refused the current tokens' renewal: nothing but new tokens lifts that.
        let mut idp_refused = false;
        for (event, gap) in events {
            now += SignedDuration::from_secs(gap);
            // Tokens renewed "now" (the strategy's obtained_at is a placeholder).
            let event = match event {
                Input::Renewed(mut t) => {
                    let life = t.expires_at.unwrap().duration_since(t.obtained_at);
                    t.obtained_at = now;
                    t.expires_at = Some(now + life);
                    Input::Renewed(t)
                }
                e => e,
            };
            let before = f.clone();
            let was_refusal = match &event {
                Input::RefreshFailed(d) => super::machine::refusal(d).is_some(),
                Input::ProbeRefused(d) => super::machine::probe_refusal(d).is_some(),
                _ => false,
            };
            let transient = match &event {
                Input::RefreshFailed(d) => super::machine::refusal(d).is_none(),
                Input::ProbeRefused(d) => super::machine::probe_refusal(d).is_none(),
                _ => false,
            };
            let (next, _) = step(f, event.clone(), now);
            let shown = decide(&next, now, cx(), &|_| true);

            // A refresh token is only dropped by purge or by tokens that replace it.
            if before.tokens.is_some_and(|t| t.has_refresh_token) {
                let kept = next.tokens.is_some_and(|t| t.has_refresh_token);
                prop_assert!(kept || matches!(event, Input::Purged | Input::Renewed(_)),
                    "refresh token dropped by {event:?}");
            }
            if matches!(event, Input::Renewed(_) | Input::Purged) {
                refused_since_tokens = false;
                idp_refused = false;
            }
            if let Input::RefreshFailed(d) = &event
                && super::machine::refusal(d).is_some()
                && next.tokens.is_some()
            {
                idp_refused = true;
            }
            // Never connected while the IdP's refusal of these tokens stands.
            if idp_refused {
                prop_assert_ne!(shown.state, ConnState::Connected, "connected after the IdP refused: {:?}", next);
            }
            if was_refusal && next.tokens.is_some() {
                refused_since_tokens = true;
            }
            if matches!(event, Input::ProbesAccepted) && before.last_error.as_ref().is_some_and(|d| d.probe.is_some()) {
                refused_since_tokens = false;
            }
            // Never connected while the last refresh or probe of the current tokens was refused.
            if refused_since_tokens {
                prop_assert_ne!(shown.state, ConnState::Connected, "connected after a refusal: {:?}", next);
            }
            // Never connected past the access token's expiry.
            if next.tokens.is_some_and(|t| t.expires_at.is_some_and(|e| e <= now)) {
                prop_assert_ne!(shown.state, ConnState::Connected);
            }
            // A transient failure never turns a refusal into connected.
            if transient {
                let was = decide(&before, now, cx(), &|_| true).state;
                if was.waits_for_someone() {
                    prop_assert_eq!(shown.state, was);
                }
            }
            // A sign-in ends in exactly one of connected / the failure's state / the previous
            // state, and leaves no claim behind.
            if matches!(event, Input::SignInFailed(_) | Input::SignInCancelled) {
                prop_assert!(next.activity.is_none());
                let was = decide(&before, now, cx(), &|_| true).state;
                let failure = match &event {
                    Input::SignInFailed(d) => super::machine::refusal(d),
                    _ => None,
                };
                prop_assert!(shown.state == was || Some(shown.state) == failure,
                    "{was:?} -> {:?} on {event:?}", shown.state);
            }
            // Never an activity as a state.
            prop_assert!(!matches!(shown.state, ConnState::Authorizing | ConnState::Refreshing));
            f = next;
        }
    }
}
