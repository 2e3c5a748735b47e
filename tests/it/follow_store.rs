//! An open dashboard (or watch) follows what other processes write to the store: a purge, a
//! sign-in and a refusal recorded elsewhere reach its worker within a second, with no polling.

use std::time::{Duration, Instant};

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::worker::Event;

#[tokio::test]
async fn another_process_purge_sign_in_and_refusal_show_within_a_second() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.wait_for(|e| match e {
        Event::Connection(v) if v.name == "mail" && v.state == ConnState::Connected => Some(()),
        _ => None,
    })
    .await;

    // `connwatch purge mail` in another shell.
    let started = Instant::now();
    store(&cfg).purge("mail").unwrap();
    let v = w
        .wait_for(|e| match e {
            Event::Connection(v) if v.name == "mail" && v.state == ConnState::SignedOut => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(v.note.unwrap().contains("another process"));

    // `connwatch login mail` elsewhere: new tokens on disk.
    let started = Instant::now();
    seed_mail(&idp, &cfg, 3600);
    let v = w
        .wait_for(|e| match e {
            Event::Connection(v) if v.name == "mail" && v.state == ConnState::Connected => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(v.token_preview.is_some());

    // A refusal recorded by another process (its status record).
    let mut rec = store(&cfg).load_status("mail").unwrap();
    rec.state = ConnState::NeedsReauth;
    rec.last_error = Some(connwatch::diagnose::diagnose_text(
        "AADSTS50173",
        Default::default(),
    ));
    rec.last_error_at = Some(jiff::Timestamp::now());
    // As every writer's state machine stamps a change of verdict (crate::state::Facts).
    rec.changed_at = rec.last_error_at;
    store(&cfg).save_status("mail", &rec).unwrap();
    let v = w
        .wait_for(|e| match e {
            Event::Connection(v) if v.name == "mail" && v.state == ConnState::NeedsReauth => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(v.last_error.unwrap().code.as_deref(), Some("AADSTS50173"));
    w.shutdown().await;
}

/// A dashboard open before `connwatch watch` starts: once the watch holds the store, the
/// dashboard's worker says so and leaves scheduled refreshes to it; when the watch ends, the
/// dashboard takes them back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_yields_to_a_watch_started_after_it_and_takes_over_when_it_ends() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Refresh due at once (the seeded token has 20 min left, refresh_before is 2 h).
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("2h")]);
    let seeded = seed_cal(&idp, &cfg);
    let root = store(&cfg).paths().root.clone();
    // The watch is running (this process holds its lock, as `watch` does).
    let lock = connwatch::store::watch_lock::acquire(&root).unwrap();
    let (opts, _) = worker_opts();
    let before = idp.token_requests();
    let mut w = spawn(
        &cfg,
        connwatch::worker::WorkerOptions {
            yield_to_watch: true,
            ..opts
        },
    );
    let pid = w.watched().await;
    assert_eq!(pid, Some(std::process::id()));
    // Its keys still act: a decode answers, and by then the due refresh was left alone.
    w.send(connwatch::worker::Request::Decode { name: "cal".into() });
    w.wait_for(|e| matches!(e, Event::Decoded { .. }).then_some(()))
        .await;
    assert!(w.views["cal"].obtained_at == Some(seeded.obtained_at) && !w.views["cal"].busy);
    assert_eq!(
        idp.token_requests(),
        before,
        "the watch refreshes, not the dashboard"
    );

    // The watch ends (its lock is released, however it ends): the dashboard refreshes.
    let started = Instant::now();
    drop(lock);
    let pid = w.watched().await;
    assert_eq!(pid, None);
    eprintln!("watch end noticed after {:?}", started.elapsed());
    let v = w
        .wait_for(|e| match e {
            Event::Connection(v)
                if v.name == "cal"
                    && !v.busy
                    && v.obtained_at.is_some_and(|t| t > seeded.obtained_at) =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(v.state, ConnState::Connected);

    // A watch starting now takes the schedule from it again.
    let _lock = connwatch::store::watch_lock::acquire(&root).unwrap();
    let pid = w.watched().await;
    assert_eq!(pid, Some(std::process::id()));
    w.shutdown().await;
}

/// A `watch` killed outright (SIGKILL: no unlock of its own, the kernel closes its files)
/// still gives the schedule back: the dashboard's worker looks at the lock again until the
/// kernel has dropped it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_takes_over_from_a_killed_watch() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("5m")]);
    seed_cal(&idp, &cfg);
    let (opts, _) = worker_opts();
    let mut w = spawn(
        &cfg,
        connwatch::worker::WorkerOptions {
            yield_to_watch: true,
            ..opts
        },
    );
    w.wait_for(|e| match e {
        Event::Connection(v) if v.name == "cal" => Some(()),
        _ => None,
    })
    .await;
    let mut watch = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .arg("watch")
        .env("NO_COLOR", "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/connwatch-test-bus",
        )
        .env_remove("CONNWATCH_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = w.watched().await;
    assert_eq!(pid, Some(watch.id()));
    let started = Instant::now();
    watch.kill().unwrap(); // SIGKILL
    watch.wait().unwrap();
    let pid = w.watched().await;
    assert_eq!(pid, None);
    eprintln!("killed watch noticed after {:?}", started.elapsed());
    w.shutdown().await;
}
