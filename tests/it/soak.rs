//! Two dashboards' workers and a loop of `connwatch refresh` and `connwatch token` processes
//! share one connection whose refresh token dies on first use (Zoom, oidc-provider), all
//! renewing it back to back. No grant may be lost: at the end the refresh token on disk is
//! live, no worker ever saw needs_reauth, and every call succeeded with output.
//!
//! Bounded by count, not by time: it ends after `CONNWATCH_SOAK_CALLS` calls (200 in `cargo
//! test`, about a second here, while the grant rotates a few hundred times);
//! `CONNWATCH_SOAK_CALLS=3000 cargo test --test it soak:: -- --nocapture` runs a longer one. A
//! run that cannot finish its calls within a minute fails.

use std::time::{Duration, Instant};

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::idp::{DemoIdp, IdpOptions};
use connwatch::worker::{Event, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dashboards_and_a_token_loop_never_lose_the_grant() {
    let calls: u32 = std::env::var("CONNWATCH_SOAK_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let idp = DemoIdp::start(IdpOptions {
        revoke_rotated: true,
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Automatic renewals are held back by the schedule's floor (worker::schedule), so the
    // contention comes from renewals people ask for, which are not: both workers are asked
    // to refresh again each time they settle (the dashboard's `r`), and every other call of
    // the loop is `connwatch refresh`; the calls between are `connwatch token`.
    let cfg = config(dir.path(), &idp.base_url(), &[mail("10m")]);
    seed_mail(&idp, &cfg, 70);

    let mut dashboards: Vec<Harness> = (0..2)
        .map(|_| {
            let (mut opts, _) = worker_opts();
            opts.backoff = connwatch::worker::Backoff {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(100),
            };
            spawn(&cfg, opts)
        })
        .collect();

    let bin = env!("CARGO_BIN_EXE_connwatch");
    let config_path = cfg.path.clone();
    let started = Instant::now();
    // A bound, not the measure: the run ends when the calls are done.
    let limit = Duration::from_secs(60).max(Duration::from_millis(50) * calls);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let loop_task = tokio::task::spawn_blocking(move || {
        let (mut ok, mut failed) = (0u32, Vec::new());
        for i in 0..calls {
            if started.elapsed() > limit {
                break;
            }
            let command = if i % 2 == 0 { "refresh" } else { "token" };
            let out = std::process::Command::new(bin)
                .arg("--config")
                .arg(&config_path)
                .args([command, "mail"])
                .output()
                .unwrap();
            if out.status.success() && !out.stdout.is_empty() {
                ok += 1;
            } else {
                failed.push(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        (ok, failed)
    });

    // Meanwhile watch both workers: neither may ever decide the grant is gone.
    let mut refreshes = 0u32;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        for h in dashboards.iter_mut() {
            if let Ok(Some(ev)) =
                tokio::time::timeout(Duration::from_millis(20), h.w.events.recv()).await
                && let Event::Connection(v) = ev
            {
                assert_ne!(
                    v.state,
                    ConnState::NeedsReauth,
                    "a worker lost the grant: {:?}",
                    v.last_error
                );
                let refreshed = v
                    .history
                    .last()
                    .is_some_and(|e| e.what.starts_with("refreshed"))
                    && !v.busy;
                refreshes += u32::from(refreshed);
                if !v.busy {
                    h.send(Request::Refresh {
                        name: "mail".into(),
                    });
                }
            }
        }
    }
    let (ok, failed) = loop_task.await.unwrap();
    let took = started.elapsed();
    for h in dashboards {
        h.shutdown().await;
    }
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    let rt = saved.refresh_token.unwrap();
    assert!(
        idp.refresh_token_is_live(rt.expose()),
        "the refresh token on disk is live"
    );
    assert!(
        failed.is_empty(),
        "{} calls failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(ok, calls, "every call ran within {limit:?}");
    assert!(refreshes > 0, "the workers refreshed while the calls ran");
    eprintln!(
        "{ok} refresh/token calls in {took:.1?}, all succeeded; {} refresh grants at the IdP; workers saw {refreshes} refreshes; grant alive",
        idp.token_requests()
    );
}
