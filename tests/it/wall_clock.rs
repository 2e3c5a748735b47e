//! Due times are wall-clock times (ARCHITECTURE.md, Refresh schedule). A laptop's suspend
//! stops the monotonic clock while the wall clock goes on; a clock step moves the wall
//! clock alone. Either way a refresh due at wall time T happens within `wall_check` of T.
//! Here the wall clock jumps 20 minutes while the monotonic clock stands still.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use connwatch::clock::SteppedClock;
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::worker::Event;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_due_during_a_suspend_happens_on_waking() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An hour-long token; with refresh_before = 5m the refresh is due in ~55 min.
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let clock = Arc::new(SteppedClock::default());
    let (mut opts, _) = worker_opts();
    opts.clock = clock.clone();
    opts.wall_check = Some(Duration::from_millis(100));
    let mut w = spawn(&cfg, opts);
    let v = w.wait_state("mail", ConnState::Connected).await;
    let due = v.next_attempt_at.expect("a refresh is scheduled");
    assert!(due > jiff::Timestamp::now() + jiff::SignedDuration::from_secs(40 * 60));
    assert_eq!(idp.token_requests(), 0);

    // The lid closes; an hour passes on the wall clock, none on the monotonic one.
    clock.step(3600 - 4 * 60);
    let started = std::time::Instant::now();
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v)
                if v.name == "mail"
                    && !v.busy
                    && v.history.iter().any(|h| h.what.starts_with("refreshed")) =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(v.state, ConnState::Connected);
    assert_eq!(idp.token_requests(), 1);
    w.shutdown().await;
}

/// A renewal that falls due while a probe is still waiting for its server is not lost (nor
/// retried in a loop while the probe runs): it happens as soon as the probe ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_due_during_a_slow_probe_happens_after_it() {
    // A resource that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let text = std::fs::read_to_string(&cfg.path).unwrap()
        + &format!("probe = \"http://127.0.0.1:{port}/\"\nprobe_every = \"1h\"\n");
    std::fs::write(&cfg.path, text).unwrap();
    let cfg = connwatch::config::Config::load(&cfg.path).unwrap();
    seed_mail(&idp, &cfg, 3600);
    let clock = Arc::new(SteppedClock::default());
    let (mut opts, _) = worker_opts();
    opts.clock = clock.clone();
    opts.wall_check = Some(Duration::from_millis(50));
    opts.http_timeout = Duration::from_millis(1500);
    let mut w = spawn(&cfg, opts);
    // The start-up probe is under way; the renewal falls due meanwhile.
    w.wait_for(|ev| match ev {
        Event::Connection(v) if v.name == "mail" && v.busy => Some(()),
        _ => None,
    })
    .await;
    clock.step(3600 - 4 * 60);
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v)
                if v.name == "mail"
                    && !v.busy
                    && v.history.iter().any(|h| h.what.starts_with("refreshed")) =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(idp.token_requests(), 1, "one renewal, after the probe");
    assert!(v.next_attempt_at.is_some(), "and the next one is planned");
    w.shutdown().await;
    server.abort();
}
