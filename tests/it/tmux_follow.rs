//! A dashboard in a real terminal (tmux) follows what other shells do to its store, without a
//! key press: a `connwatch watch` started after it is named in its header (and forgotten when
//! it ends), and a `purge` and a `login` run elsewhere show on its rows. The latencies are
//! printed; the wait for each is bounded (targets live in benchmarks, not in tests).
#![cfg(unix)]
use crate::support::tmux;
use crate::support::watch as kit;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use connwatch::demo::idp::{DemoIdp, IdpOptions};
use kit::Running;
use tmux::Tmux;

fn connwatch(cfg: &connwatch::config::Config) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_connwatch"));
    c.arg("--config")
        .arg(&cfg.path)
        .env("NO_COLOR", "1")
        .env("CONNWATCH_NO_BROWSER", "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/connwatch-test-bus",
        )
        .env_remove("CONNWATCH_CONFIG");
    c
}

/// The row of connection `name` on the screen.
fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or("")
}

/// Wait for `pred` on the screen and say how long it took since `since`.
fn shows(t: &Tmux, what: &str, since: Instant, pred: impl Fn(&str) -> bool) -> String {
    let s = t.wait(what, pred);
    eprintln!("{what}: on screen after {:?}", since.elapsed());
    s
}

#[test]
fn an_open_dashboard_follows_a_watch_a_purge_and_a_sign_in_from_other_shells() {
    let Some(t) = Tmux::start("follow") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp = rt
        .block_on(DemoIdp::start(IdpOptions {
            device_interval_s: 1,
            auto_approve_after: Some(Duration::ZERO),
            ..fast_idp()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m"), calendar("5m")]);
    seed_mail(&idp, &cfg, 3600);
    seed_cal(&idp, &cfg);

    let bin = env!("CARGO_BIN_EXE_connwatch");
    t.text(&format!(
        "clear; NO_COLOR=1 DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent {bin} --config {}",
        cfg.path.display()
    ));
    t.keys(&["Enter"]);
    t.wait("the dashboard", |s| {
        row(s, "mail").contains("connected") && row(s, "cal").contains("connected")
    });
    assert!(!t.screen().contains("watched by"));

    // A watch started after the dashboard: the header names it.
    let since = Instant::now();
    let watch = Running {
        child: connwatch(&cfg)
            .arg("watch")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let header = format!("watched by connwatch watch (pid {})", watch.child.id());
    shows(&t, "the running watch", since, |s| {
        s.lines().next().is_some_and(|l| l.contains(&header))
    });

    // `connwatch purge mail --yes` in another shell.
    let since = Instant::now();
    let out = connwatch(&cfg)
        .args(["purge", "mail", "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = shows(&t, "the purge", since, |s| {
        row(s, "mail").contains("signed_out")
    });
    assert!(row(&s, "cal").contains("connected"), "{s}");

    // `connwatch login mail --device` there too (the demo IdP approves at once).
    let since = Instant::now();
    let out = connwatch(&cfg)
        .args(["login", "mail", "--device"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let since_saved = Instant::now();
    shows(&t, "the sign-in", since_saved, |s| {
        row(s, "mail").contains("connected")
    });
    eprintln!("(login itself took {:?})", since_saved - since);

    // The watch ends: the header forgets it, and the dashboard keeps its store itself again.
    let since = Instant::now();
    drop(watch);
    shows(&t, "the end of the watch", since, |s| {
        !s.contains("watched by")
    });

    t.text("q");
    t.assert_restored("after-q");
    rt.block_on(idp.shutdown());
}
