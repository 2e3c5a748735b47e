//! `connwatch watch` against the real oidc-provider with 10 s access tokens: it refreshes
//! unattended; after the admin revokes every grant, `notify_command` runs exactly once and a
//! desktop notification with a Re-authorize button goes out on a real `dbus-daemon` session
//! bus; pressing it (the test notification server emits `ActionInvoked`) signs the connection
//! in again with the device flow the notification shows; `/metrics` shows each state and
//! passes `promtool check metrics`; SIGHUP loads an added connection; a second watch refuses;
//! SIGTERM exits 0.
use std::process::Stdio;
use std::time::Duration;

use super::{
    approve_device, connwatch, device_login, env_top, node_project, saved, start_idp_with,
};

use crate::support::dbus;
use crate::support::watch as kit;

use kit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_refreshes_alerts_on_the_desktop_and_re_authorizes_from_the_button() {
    let Some(dir) = node_project() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let Some(bus) = dbus::SessionBus::start(tmp.path()) else {
        return;
    };
    let server = dbus::NotificationServer::register(&bus.address).await;
    let idp = start_idp_with(&dir, 10);
    let notes = tmp.path().join("notes");
    // 10 s tokens renewed at half-life (refresh_before 8 s is more than half of 10 s;
    // worker::schedule), with a 1 s floor instead of the default 30 s: every ~5 s.
    let env = env_top(
        &notify_command_line(&notes),
        "kind = \"integration\"\nscopes = [\"openid\", \"offline_access\", \"api:read\"]\nrefresh_before = \"8s\"\nmin_refresh_interval = \"1s\"\n",
        &idp,
    );
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    let first = saved(&env, "access_token");

    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let mut w = Running {
        child: connwatch(&env, &["watch", "--metrics", &metrics])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    // Unattended: a refresh that worked, counted, and new tokens on disk.
    let body = metrics_until(port, "a refresh", |b| {
        b.contains("connwatch_refreshes_total{connection=\"sso\",outcome=\"ok\"}")
    })
    .await;
    assert!(
        body.contains("connwatch_connection_state{connection=\"sso\",state=\"connected\"} 1"),
        "{body}"
    );
    promtool_check(&body);
    assert_ne!(saved(&env, "access_token"), first);

    // The admin revokes every grant (password changed): the next refresh is refused.
    super::revoke_grants(&idp).await;
    let within = Duration::from_secs(30);
    let alert = server
        .wait_for("that sso needs a sign-in", within, |n| {
            n.summary == "sso needs a sign-in"
        })
        .await;
    assert_eq!(alert.actions, ["reauthorize", "Re-authorize"]);
    assert_eq!(alert.urgency, Some(2));
    assert!(alert.body.contains("invalid_grant"), "{alert:?}");
    let body = metrics_until(port, "needs_reauth", |b| {
        b.contains("connwatch_connection_state{connection=\"sso\",state=\"needs_reauth\"} 1")
    })
    .await;
    promtool_check(&body);
    let got = wait_lines(&notes, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("sso|needs_reauth|") && got[0].contains("|invalid_grant|"),
        "{got:?}"
    );

    // The button: the device flow starts, its page and code replace the alert in place.
    let (shown, user_code) = server.reauthorize(&alert, "sso", within).await;
    let page = shown
        .body
        .strip_prefix("Open ")
        .and_then(|b| b.split(' ').next())
        .unwrap()
        .to_owned();
    approve_device(&page, &user_code).await;
    server
        .wait_for("that sso is back", within, |n| {
            n.replaces_id == alert.id && n.summary == "sso is connected again"
        })
        .await;
    metrics_until(port, "connected again", |b| {
        b.contains("connwatch_connection_state{connection=\"sso\",state=\"connected\"} 1")
    })
    .await;
    // One notice for the episode and one for its end: exactly once each.
    let got = wait_lines(&notes, 2).await;
    assert!(
        got.len() == 2 && got[1].starts_with("sso|connected|"),
        "{got:?}"
    );

    // One watch per store.
    let second = connwatch(&env, &["watch"]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains(&format!("pid {}", w.child.id())),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    // SIGHUP with a connection added: it shows, signed out, beside sso.
    let text = std::fs::read_to_string(&env.config).unwrap();
    let block = &text[text.find("[[connection]]").unwrap()..];
    std::fs::write(
        &env.config,
        format!(
            "{text}\n{}",
            block.replacen("name = \"sso\"", "name = \"sso2\"", 1)
        ),
    )
    .unwrap();
    signal(&w.child, libc::SIGHUP);
    let body = metrics_until(port, "the added connection", |b| {
        b.contains("connwatch_connection_state{connection=\"sso2\",state=\"signed_out\"} 1")
    })
    .await;
    promtool_check(&body);

    signal(&w.child, libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || {
        let s = w.child.wait().unwrap();
        let mut log = String::new();
        use std::io::Read;
        w.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (s, log)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0), "{}", status.1);
    let token = saved(&env, "access_token");
    assert!(!status.1.contains(&token), "the log has a token");
    for n in server.calls() {
        assert!(!n.body.contains(&token) && !n.summary.contains(&token));
    }
}
