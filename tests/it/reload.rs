//! A new config applied in place (what `watch` does on SIGHUP): unchanged connections keep
//! their state and their sign-ins, added ones start, changed ones restart alone, removed
//! ones stop. And a sign-in in progress is a fact on disk: another process reading the
//! store shows the last verdict beside "sign-in in progress (pid N)".

use std::sync::Arc;

use crate::common::*;
use connwatch::config::Config;
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::state::ActivityKind;
use connwatch::worker::{Event, NewConfig, Request};

fn status_of(cfg: &Config, name: &str) -> connwatch::report::ConnectionStatus {
    connwatch::report::collect(cfg, &store(cfg), jiff::Timestamp::now())
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_survives_a_reload_and_shows_in_status_meanwhile() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let (opts, _) = worker_opts();
    let mut w = spawn(&first, opts);
    w.wait_state("mail", ConnState::SignedOut).await;
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let code = w
        .wait_for(|e| match e {
            Event::DeviceCode(c) if c.name == "mail" => Some(c.clone()),
            _ => None,
        })
        .await;

    // Another process (`status`) reads the store: the verdict, and the sign-in beside it.
    let s = status_of(&first, "mail");
    assert_eq!(s.state, ConnState::SignedOut);
    let a = s.activity.expect("the sign-in is on record");
    assert_eq!((a.kind, a.pid), (ActivityKind::SignIn, std::process::id()));
    assert_eq!(
        s.note.as_deref(),
        Some(
            format!(
                "sign-in in progress (pid {}); not signed in",
                std::process::id()
            )
            .as_str()
        )
    );

    // SIGHUP with a connection added: the sign-in goes on, the new one starts.
    let second = config(dir.path(), &idp.base_url(), &[mail("5m"), calendar("5m")]);
    seed_cal(&idp, &second);
    w.send(Request::Reload(NewConfig(Arc::new(second.clone()))));
    w.wait_state("cal", ConnState::Connected).await;
    assert!(idp.approve(&code.user_code));
    let ok = w
        .wait_for(|e| match e {
            Event::SignInEnded { name, ok } if name == "mail" => Some(*ok),
            _ => None,
        })
        .await;
    assert!(ok, "the sign-in begun before the reload completed");
    w.wait_state("mail", ConnState::Connected).await;
    let s = status_of(&second, "mail");
    assert_eq!(s.state, ConnState::Connected);
    assert_eq!(s.activity, None);

    // A changed connection restarts alone; a removed one stops; mail is untouched.
    let mail_before = w.views["mail"].clone();
    let third = config(dir.path(), &idp.base_url(), &[calendar("10m")]);
    w.send(Request::Reload(NewConfig(Arc::new(third))));
    let cal = w
        .wait_for(|e| match e {
            Event::Connection(v) if v.name == "cal" && !v.busy => Some((**v).clone()),
            _ => None,
        })
        .await;
    assert_eq!(cal.state, ConnState::Connected);
    w.send(Request::Refresh {
        name: "mail".into(),
    });
    w.send(Request::Decode { name: "cal".into() });
    w.wait_for(|e| matches!(e, Event::Decoded { .. }).then_some(()))
        .await;
    assert_eq!(
        w.views["mail"], mail_before,
        "a removed connection takes no requests"
    );
    w.shutdown().await;
}

/// A process that claimed a sign-in and died: its claim is ignored.
#[test]
fn a_dead_processs_claim_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "http://127.0.0.1:9", &[mail("5m")]);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let rec = connwatch::store::StatusRecord {
        activity: Some(connwatch::state::Activity {
            kind: ActivityKind::SignIn,
            pid,
            since: jiff::Timestamp::now(),
        }),
        ..Default::default()
    };
    store(&cfg).save_status("mail", &rec).unwrap();
    let s = status_of(&cfg, "mail");
    assert_eq!(s.activity, None);
    assert_eq!(s.note.as_deref(), Some("not signed in"));
}
