//! Every transient fault of the token endpoint, injected in the demo IdP over real HTTP:
//! the connection shows the right state and diagnosis, the retry is scheduled by the backoff
//! rules (Retry-After obeyed), no token is lost or changed, nothing panics, and once the
//! fault clears the connection recovers by itself.
//!
//! The worker's clock is fixed, so the scheduled retry (`next_attempt_at - now`) is exactly
//! the backoff delay the worker chose; the backoff base is small so automatic retries happen
//! within a fraction of a second of real time.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use connwatch::clock::FixedClock;
use connwatch::connection::ConnState;
use connwatch::demo::idp::{DemoIdp, Fault};
use connwatch::diagnose::Cause;
use connwatch::worker::{Backoff, ConnectionView, Event, Request, WorkerOptions};

/// The worker's "now": two minutes ahead of the wall clock, so a token minted for 60 s is
/// expired from its point of view (the IdP does not care about the client's clock).
fn clock_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(120))
        .unwrap()
}

fn opts(now: jiff::Timestamp) -> WorkerOptions {
    let (mut o, _) = worker_opts();
    o.clock = Arc::new(FixedClock(now));
    o.http_timeout = Duration::from_millis(800);
    o.backoff = Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(400),
    };
    o
}

/// The first settled view of `mail` that carries an error.
async fn first_failure(h: &mut Harness) -> ConnectionView {
    h.wait_for(|ev| match ev {
        Event::Connection(v) if v.name == "mail" && !v.busy && v.last_error.is_some() => {
            Some((**v).clone())
        }
        _ => None,
    })
    .await
}

fn scheduled_delay(v: &ConnectionView, now: jiff::Timestamp) -> Duration {
    let at = v.next_attempt_at.expect("a retry is scheduled");
    Duration::try_from(at.duration_since(now)).unwrap()
}

struct Expect {
    cause: Cause,
    code: Option<&'static str>,
    /// The shortest and longest retry delay the backoff may choose.
    delay: (Duration, Duration),
    /// Words the summary must contain.
    summary: Option<&'static str>,
}

/// Seed an expired token, inject `fault` once, and follow the worker through failure and
/// automatic recovery.
async fn one_fault(fault: Fault, expect: Expect) {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let before = seed_mail(&idp, &cfg, 60);
    idp.inject(fault.clone(), 1);
    let now = clock_now();
    let mut h = spawn(&cfg, opts(now));

    let v = first_failure(&mut h).await;
    let d = v.last_error.clone().unwrap();
    assert_eq!(v.state, ConnState::Disconnected, "{fault:?}: {d:?}");
    assert_eq!(d.cause, expect.cause, "{fault:?}: {d:?}");
    assert_eq!(
        d.code.as_deref(),
        expect.code.or(d.code.as_deref()),
        "{fault:?}"
    );
    assert!(d.retryable && !d.needs_reauth, "{fault:?}: {d:?}");
    eprintln!("{fault:?}: {}", d.summary);
    if let Some(words) = expect.summary {
        assert!(d.summary.contains(words), "{fault:?}: {}", d.summary);
    }
    let delay = scheduled_delay(&v, now);
    assert!(
        delay >= expect.delay.0 && delay <= expect.delay.1,
        "{fault:?}: retry in {delay:?}, expected {:?}",
        expect.delay
    );
    assert_eq!(
        store(&cfg).load("mail").unwrap().unwrap(),
        before,
        "{fault:?}: the tokens on disk are untouched"
    );
    let rec = store(&cfg).load_status("mail").unwrap();
    assert_eq!(rec.state, ConnState::Disconnected);
    assert_eq!(rec.last_error.as_ref().map(|d| d.cause), Some(expect.cause));

    // The fault is gone: the scheduled retry succeeds without anyone asking.
    let ok = h
        .wait_for(|ev| match ev {
            Event::Connection(v)
                if v.name == "mail"
                    && v.state == ConnState::Connected
                    && v.last_error.is_none() =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(ok.has_refresh_token);
    let after = store(&cfg).load("mail").unwrap().unwrap();
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "rotated RT saved"
    );
    assert!(idp.refresh_token_is_live(after.refresh_token.unwrap().expose()));
    assert_eq!(idp.pending_faults(), 0);
    h.shutdown().await;
    idp.shutdown().await;
}

const FLOOR: Duration = Duration::from_millis(200);
const FIRST: Duration = Duration::from_millis(200); // max(base·jitter, 200 ms floor)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_is_a_server_error_retried_with_backoff() {
    one_fault(
        Fault::Status500,
        Expect {
            cause: Cause::ServerError,
            code: Some("AADSTS50000"),
            delay: (FLOOR, FIRST),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_503_with_retry_after_waits_as_told() {
    one_fault(
        Fault::Unavailable503 {
            retry_after_s: Some(1),
        },
        Expect {
            cause: Cause::ServerError,
            code: Some("AADSTS90033"),
            delay: (Duration::from_secs(1), Duration::from_secs(1)),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_plain_text_is_throttled_and_obeys_retry_after() {
    one_fault(
        Fault::TooMany429 { retry_after_s: 1 },
        Expect {
            cause: Cause::Throttled,
            code: None,
            delay: (Duration::from_secs(1), Duration::from_secs(1)),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_gateway_page_is_recognised_not_parsed_as_json() {
    one_fault(
        Fault::HtmlGateway502,
        Expect {
            cause: Cause::ServerError,
            code: None,
            delay: (FLOOR, FIRST),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_loses_nothing() {
    one_fault(
        Fault::TruncatedJson,
        Expect {
            cause: Cause::ServerError,
            code: None,
            delay: (FLOOR, FIRST),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_slower_than_the_timeout_is_a_network_failure() {
    one_fault(
        Fault::Delay(Duration::from_secs(3)),
        Expect {
            cause: Cause::Network,
            code: None,
            delay: (FLOOR, FIRST),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_a_network_failure() {
    one_fault(
        Fault::DropConnection,
        Expect {
            cause: Cause::Network,
            code: None,
            delay: (FLOOR, FIRST),
            summary: None,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_at_the_limit_and_loses_nothing() {
    one_fault(
        Fault::EndlessBody,
        Expect {
            cause: Cause::ServerError,
            code: None,
            delay: (FLOOR, FIRST),
            summary: Some("longer than 1024 KiB, the most connwatch reads"),
        },
    )
    .await;
}

/// `Retry-After: 18446744073709551615` once panicked the worker ("overflow when adding
/// duration to instant"). It is obeyed up to an hour, the worker lives on, and the user's own
/// refresh still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_u64_max_waits_an_hour_and_nothing_panics() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let before = seed_mail(&idp, &cfg, 60);
    idp.inject(
        Fault::TooMany429 {
            retry_after_s: u64::MAX,
        },
        1,
    );
    let now = clock_now();
    let mut h = spawn(&cfg, opts(now));
    let v = first_failure(&mut h).await;
    assert_eq!(v.last_error.as_ref().unwrap().cause, Cause::Throttled);
    assert_eq!(scheduled_delay(&v, now), connwatch::limits::MAX_RETRY_AFTER);
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
    h.send(Request::Refresh {
        name: "mail".into(),
    });
    let ok = h
        .wait_for(|ev| match ev {
            Event::Connection(v)
                if v.name == "mail"
                    && v.state == ConnState::Connected
                    && v.last_error.is_none() =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(ok.has_refresh_token);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_503s_is_never_hammered_and_backoff_grows() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let before = seed_mail(&idp, &cfg, 60);
    // Three 503s without Retry-After: attempts 0, 1, 2 of the full-jitter schedule.
    idp.inject(
        Fault::Unavailable503 {
            retry_after_s: None,
        },
        3,
    );
    let now = clock_now();
    let mut o = opts(now);
    o.backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(350),
    };
    let mut h = spawn(&cfg, o);
    let mut delays = Vec::new();
    while delays.len() < 3 {
        let v = h
            .wait_for(|ev| match ev {
                Event::Connection(v) if v.name == "mail" && !v.busy && v.last_error.is_some() => {
                    Some((**v).clone())
                }
                _ => None,
            })
            .await;
        delays.push(scheduled_delay(&v, now));
        assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
        // Wait for the retry to start before looking for the next failure.
        h.wait_for(|ev| match ev {
            Event::Connection(v) if v.name == "mail" && v.busy => Some(()),
            _ => None,
        })
        .await;
    }
    // Ceilings 100, 200, 350 (capped) ms, each with the 200 ms floor.
    for (d, ceiling) in delays.iter().zip([200u64, 200, 350]) {
        assert!(
            *d >= FLOOR && *d <= Duration::from_millis(ceiling),
            "{delays:?}"
        );
    }
    h.wait_state("mail", ConnState::Connected).await;
    assert_eq!(
        idp.token_requests(),
        4,
        "three failures and one success, no more"
    );
    let status = store(&cfg).load_status("mail").unwrap();
    assert_eq!(status.failures, 3);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_needs_reauth_keeps_the_tokens_and_is_not_retried() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let before = seed_mail(&idp, &cfg, 60);
    idp.change_password("alice@contoso.com");
    let now = clock_now();
    let mut h = spawn(&cfg, opts(now));
    let v = first_failure(&mut h).await;
    assert_eq!(v.state, ConnState::NeedsReauth);
    let d = v.last_error.unwrap();
    assert_eq!(d.code.as_deref(), Some("AADSTS50173"));
    assert!(d.trace_id.is_some() && d.correlation_id.is_some());
    assert!(
        v.next_attempt_at.is_none(),
        "a refused grant is not retried on a timer"
    );
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(idp.token_requests(), 1, "no retry storm (AADSTS50196)");
    h.send(Request::Shutdown);
}

/// A non-compliant provider refuses the refresh grant with a 400 or 401 and says nothing
/// (an empty body, an HTML page): the refresh token was refused all the same. Not `unknown`
/// with the state unchanged, and never retried on a timer: `needs_reauth`, in its words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_400_or_401_to_the_refresh_grant_needs_a_sign_in() {
    for (status, body) in [(400u16, ""), (401, "<html><title>Nope</title></html>")] {
        let idp = DemoIdp::start(fast_idp()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
        let before = seed_mail(&idp, &cfg, 60);
        idp.inject(
            Fault::Raw {
                status,
                body: body.into(),
            },
            1,
        );
        let now = clock_now();
        let mut h = spawn(&cfg, opts(now));
        let v = first_failure(&mut h).await;
        let d = v.last_error.clone().unwrap();
        assert_eq!(v.state, ConnState::NeedsReauth, "{status}: {d:?}");
        assert!(d.needs_reauth && !d.retryable, "{status}: {d:?}");
        assert!(
            d.summary
                .contains("The provider refused the refresh without saying why"),
            "{}",
            d.summary
        );
        assert_eq!(d.http_status, Some(status));
        assert_eq!(v.next_attempt_at, None, "{status}: no retry on a timer");
        assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
        let rec = store(&cfg).load_status("mail").unwrap();
        assert_eq!(rec.state, ConnState::NeedsReauth);
        h.shutdown().await;
        idp.shutdown().await;
    }
}
