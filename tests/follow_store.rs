//! An open dashboard (or watch) follows what other processes write to the store: a purge, a
//! sign-in and a refusal recorded elsewhere reach its worker within a second, with no polling.
mod common;

use std::time::{Duration, Instant};

use common::*;
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
