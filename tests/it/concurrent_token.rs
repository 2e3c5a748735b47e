//! 50 `connwatch token` processes at the same moment against one rotating refresh token that
//! dies on first use (Zoom, oidc-provider): the per-connection lock must make exactly one of
//! them refresh, the others adopt what it saved, and the grant must survive.

use std::process::{Command, Stdio};

use crate::common::*;
use connwatch::demo::idp::{DemoIdp, IdpOptions};

const PROCESSES: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_token_processes_spend_one_rotating_refresh_token_once() {
    let idp = DemoIdp::start(IdpOptions {
        revoke_rotated: true,
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    // An hour-long grant whose current access token expires within the minute: every
    // process decides to refresh; the refreshed token lives an hour.
    let mut old = seed_mail(&idp, &cfg, 3600);
    old.expires_at = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30));
    old.obtained_at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3570);
    store(&cfg).save("mail", &old).unwrap();
    let requests_before = idp.token_requests();

    let bin = env!("CARGO_BIN_EXE_connwatch");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(bin)
                .arg("--config")
                .arg(&cfg.path)
                .args(["token", "mail"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let saved = store(&cfg).load("mail").unwrap().unwrap();
    let mut printed = 0;
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            assert_eq!(
                stdout.trim(),
                saved.access_token.expose(),
                "everyone got the new token"
            );
            assert!(stderr.is_empty(), "{stderr}");
            printed += 1;
        } else {
            // Allowed only with a reason on one line; never a half-printed token.
            assert!(stdout.is_empty());
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    }
    assert_eq!(printed, PROCESSES, "every call succeeded");
    assert_eq!(
        idp.token_requests() - requests_before,
        1,
        "exactly one refresh: the others adopted the saved token under the lock"
    );
    let rt = saved.refresh_token.as_ref().unwrap().expose();
    assert!(
        idp.refresh_token_is_live(rt),
        "the one refresh token on disk is live"
    );
    assert!(!idp.refresh_token_is_live(old.refresh_token.as_ref().unwrap().expose()));
}
