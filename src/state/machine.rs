//! The state machine of one connection: `(facts, event, now) → (facts, effects)`. No I/O:
//! the worker (and `token`, which refreshes outside it) runs the effects.
use jiff::Timestamp;

use super::{Activity, ActivityKind, Facts, TokenFacts, Verdict};
use crate::connection::ConnState;
use crate::diagnose::{Cause, Diagnosis};

/// Something that happened to a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Work began (a sign-in, a refresh, a probe) in process `pid`.
    Started(Activity),
    /// New tokens were saved: a refresh or a sign-in succeeded, here or in another process.
    Renewed(TokenFacts),
    /// The IdP did not renew the tokens.
    RefreshFailed(Diagnosis),
    /// Every probe of the resource accepted the current token.
    ProbesAccepted,
    /// A probe of the resource did not accept it (refused, or no answer).
    ProbeRefused(Diagnosis),
    /// An interactive sign-in ended without tokens.
    SignInFailed(Diagnosis),
    SignInCancelled,
    /// Work ended without an outcome of its own (a refresh that found nothing to do).
    Idle,
    /// The tokens were deleted.
    Purged,
}

/// What the runner of the machine must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Plan the next refresh from the tokens (worker::schedule).
    Schedule,
    /// A transient failure: try again after a backoff (at least `retry_after` seconds when
    /// the provider said so).
    Retry { retry_after: Option<u64> },
    /// A transient probe failure: probe again after a backoff.
    RetryProbe,
    /// Someone must act: no timer renews it.
    Wait,
}

/// How a refusal is judged: the state it leads to, or `None` when it is transient (no
/// answer, a 5xx, throttling) and says nothing about the tokens.
pub fn refusal(d: &Diagnosis) -> Option<ConnState> {
    if d.fix_by.is_someone_else() && !d.retryable {
        // The admin or the app's owner must act: a sign-in or a retry will not help.
        Some(ConnState::Blocked)
    } else if matches!(d.cause, Cause::InvalidClient | Cause::InvalidRequest) && !d.needs_reauth {
        Some(ConnState::Misconfigured)
    } else if d.needs_reauth {
        Some(ConnState::NeedsReauth)
    } else {
        None
    }
}

/// A resource's refusal of a token: a claims challenge or a refused token needs a sign-in;
/// an expired one needs a renewal (transient here); what is not transient and not the
/// token's is the probe's own configuration.
pub fn probe_refusal(d: &Diagnosis) -> Option<ConnState> {
    if d.cause == Cause::TokenExpired {
        // The access token ran out (clock skew, or probed at its very end): the renewal
        // answers, not the resource.
        None
    } else if d.needs_reauth || d.cause == Cause::ClaimsChallenge {
        Some(ConnState::NeedsReauth)
    } else if d.fix_by.is_someone_else() && !d.retryable {
        Some(ConnState::Blocked)
    } else if d.retryable {
        None
    } else {
        Some(ConnState::Misconfigured)
    }
}

/// One step. `now` stamps what is recorded.
pub fn step(mut f: Facts, input: Input, now: Timestamp) -> (Facts, Vec<Effect>) {
    let refused_now = |f: &Facts| {
        f.verdict.is_refusal()
            && match (f.tokens, f.last_error_at) {
                (Some(t), Some(at)) => at >= t.obtained_at,
                (None, _) => true,
                (Some(_), None) => false,
            }
    };
    // A refusal on record about older tokens than those held says nothing any more: a
    // failure stamped now must not bring it back.
    if f.verdict.is_refusal() && !refused_now(&f) {
        f.verdict = Verdict::of(ConnState::Connected);
    }
    if !matches!(input, Input::Started(_) | Input::Idle) {
        f.changed_at = Some(now);
    }
    let effects = match input {
        Input::Started(a) => {
            // A sign-in claims the connection over a refresh or probe in flight elsewhere.
            if f.activity
                .is_none_or(|o| a.kind == ActivityKind::SignIn || o.kind != ActivityKind::SignIn)
            {
                f.activity = Some(a);
            }
            vec![]
        }
        Input::Renewed(t) => {
            f.tokens = Some(t);
            f.store_problem = None;
            f.verdict = Verdict::of(ConnState::Connected);
            f.last_error = None;
            f.last_error_at = None;
            f.last_success = Some(now);
            f.activity = None;
            vec![Effect::Schedule]
        }
        Input::RefreshFailed(d) => {
            end_work(&mut f);
            f.failures += 1;
            match refusal(&d) {
                Some(s) => {
                    record(&mut f, d, s, now);
                    vec![Effect::Wait]
                }
                // Not knowing is not success: a refusal on record stays, with its words.
                None if refused_now(&f) => vec![Effect::Wait],
                None => {
                    let after = d.retry_after_s;
                    record(&mut f, d, ConnState::Disconnected, now);
                    vec![Effect::Retry { retry_after: after }]
                }
            }
        }
        Input::ProbesAccepted => {
            end_work(&mut f);
            // A probe's refusal is lifted by the probe accepting; the IdP's is not.
            if f.last_error.as_ref().is_some_and(|d| d.probe.is_some()) {
                f.last_error = None;
                f.last_error_at = None;
                if f.verdict.is_refusal() {
                    f.verdict = Verdict::of(ConnState::Connected);
                }
                vec![Effect::Schedule]
            } else {
                vec![]
            }
        }
        Input::ProbeRefused(d) => {
            end_work(&mut f);
            f.failures += 1;
            // The provider's own refusal of these tokens says more than any resource can
            // (a dead refresh token stays dead whatever a probe of the access token says).
            let provider_refused =
                refused_now(&f) && f.last_error.as_ref().is_some_and(|e| e.probe.is_none());
            if provider_refused {
                return (f, vec![Effect::Wait]);
            }
            match probe_refusal(&d) {
                Some(s) => {
                    record(&mut f, d, s, now);
                    vec![Effect::Wait]
                }
                None if refused_now(&f) => vec![Effect::Wait],
                None => {
                    // The token may still work: the verdict stays, the failure is shown.
                    f.last_error = Some(d);
                    f.last_error_at = Some(now);
                    vec![Effect::RetryProbe]
                }
            }
        }
        Input::SignInFailed(d) => {
            f.activity = None;
            f.failures += 1;
            // Someone else's refusal of a new sign-in says nothing about tokens that still
            // renew: it is the state only where there are none, or where they were refused.
            let applies = f.tokens.is_none() || refused_now(&f);
            match refusal(&d).filter(|s| *s != ConnState::NeedsReauth && applies) {
                Some(s) => {
                    record(&mut f, d, s, now);
                    vec![Effect::Wait]
                }
                None => {
                    // Declined, expired or unanswered: the connection is where it was before
                    // the sign-in, with the failure shown.
                    let keep = f.verdict;
                    f.last_error = Some(d);
                    f.last_error_at = Some(now);
                    f.verdict = keep;
                    if f.verdict.is_refusal() {
                        vec![Effect::Wait]
                    } else {
                        vec![Effect::Schedule]
                    }
                }
            }
        }
        Input::SignInCancelled => {
            f.activity = None;
            if refused_now(&f) {
                vec![Effect::Wait]
            } else {
                vec![Effect::Schedule]
            }
        }
        Input::Idle => {
            end_work(&mut f);
            vec![]
        }
        Input::Purged => {
            f = Facts {
                last_success: f.last_success,
                failures: f.failures,
                ..Facts::default()
            };
            vec![Effect::Wait]
        }
    };
    (f, effects)
}

/// A refresh or probe ended: its claim goes; a sign-in's stays until the sign-in ends.
fn end_work(f: &mut Facts) {
    if f.activity.is_some_and(|a| a.kind != ActivityKind::SignIn) {
        f.activity = None;
    }
}

fn record(f: &mut Facts, d: Diagnosis, state: ConnState, now: Timestamp) {
    f.verdict = Verdict::of(state);
    f.last_error = Some(d);
    f.last_error_at = Some(now);
}
