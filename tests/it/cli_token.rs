//! `connwatch token NAME` through the real binary, against the demo IdP on 127.0.0.1.

use crate::common::*;
use assert_cmd::Command;
use connwatch::demo::idp::DemoIdp;

fn token_cmd(cfg: &connwatch::config::Config, name: &str) -> assert_cmd::assert::Assert {
    Command::cargo_bin("connwatch")
        .unwrap()
        .arg("--config")
        .arg(&cfg.path)
        .args(["token", name])
        .env("NO_COLOR", "1")
        .assert()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_cached_token_is_printed_without_the_network() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let set = seed_mail(&idp, &cfg, 3600);
    let out = token_cmd(&cfg, "mail").success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("{}\n", set.access_token.expose())
    );
    assert!(out.get_output().stderr.is_empty());
    assert_eq!(idp.token_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_within_a_minute_is_refreshed_and_the_new_refresh_token_saved() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let old = seed_mail(&idp, &cfg, 30);
    let out = token_cmd(&cfg, "mail").success();
    let printed = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_owned();
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    assert_eq!(printed, saved.access_token.expose());
    assert_ne!(saved.access_token, old.access_token);
    assert_ne!(
        saved.refresh_token, old.refresh_token,
        "rotated refresh token saved"
    );
    assert_eq!(idp.token_requests(), 1);
}

/// A provider issuing 40 s tokens: the token just obtained still works, and a mail client
/// calling `token` on every fetch must not turn that into one refresh per call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_token_just_obtained_is_printed_not_refreshed_again() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let mut set = seed_mail(&idp, &cfg, 40);
    set.obtained_at = jiff::Timestamp::now();
    store(&cfg).save("mail", &set).unwrap();
    for _ in 0..3 {
        let out = token_cmd(&cfg, "mail").success();
        assert_eq!(
            String::from_utf8_lossy(&out.get_output().stdout),
            format!("{}\n", set.access_token.expose())
        );
    }
    assert_eq!(
        idp.token_requests(),
        0,
        "under min_refresh_interval old: no refresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_prints_the_still_working_token_and_says_why() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[Conn {
            name: "cal",
            tenant: "fabrikam.onmicrosoft.com",
            scopes: &[GRAPH_CAL, "offline_access"],
            refresh_before: "5m",
        }],
    );
    let before = seed(
        &idp,
        &store(&cfg),
        "cal",
        "alice@contoso.com",
        "fabrikam.onmicrosoft.com",
        &[GRAPH_CAL, "offline_access"],
        10,
    );
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    // The access token in hand still works for ~10 s: printed, the refusal on stderr.
    let out = token_cmd(&cfg, "cal").code(0);
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        before.access_token.expose()
    );
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("works for"), "{stderr}");
    // The refusal is on record: the next call does not ask the provider again.
    let asked = idp.token_requests();
    token_cmd(&cfg, "cal").code(0);
    assert_eq!(
        idp.token_requests(),
        asked,
        "a refused grant is not retried per call"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("conditional_access (AADSTS53003)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run: connwatch login cal"),
        "says how to fix it: {stderr}"
    );
    for secret in idp.issued_secrets() {
        assert!(!stderr.contains(&secret));
    }
    assert_eq!(
        store(&cfg).load("cal").unwrap().unwrap(),
        before,
        "nothing lost"
    );
    // Recorded like the dashboard's own refusals (one truth): status and check say it.
    let status = Command::cargo_bin("connwatch")
        .unwrap()
        .arg("--config")
        .arg(&cfg.path)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let c = &doc["connections"][0];
    assert_ne!(c["state"], "connected", "{c}");
    assert!(
        c["state"] == "needs_reauth" || c["state"] == "blocked",
        "{c}"
    );
    assert_eq!(c["last_error"]["code"], "AADSTS53003", "{c}");
    let check = Command::cargo_bin("connwatch")
        .unwrap()
        .arg("--config")
        .arg(&cfg.path)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2), "{check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_signed_in_unknown_name_and_dead_idp() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let out = token_cmd(&cfg, "mail").code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("mail: not signed in"));
    token_cmd(&cfg, "nope").code(2);
    let before = seed_mail(&idp, &cfg, 5);
    idp.shutdown().await;
    // 5 s left: the token still works and is printed; the unreachable IdP is said.
    let out = token_cmd(&cfg, "mail").code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("network"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        before.access_token.expose()
    );
    assert_eq!(
        store(&cfg).load("mail").unwrap().unwrap(),
        before,
        "a dead IdP loses nothing"
    );
}

/// A provider answering `expires_in: 0`: the token obtained a moment ago is already
/// expired; `token` does not refresh again on every call of a polling mail client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_expired_token_just_obtained_is_not_refreshed_per_call() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let mut set = seed_mail(&idp, &cfg, 0);
    set.obtained_at = jiff::Timestamp::now();
    store(&cfg).save("mail", &set).unwrap();
    for _ in 0..3 {
        let out = token_cmd(&cfg, "mail").code(1);
        assert!(out.get_output().stdout.is_empty());
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains("min_refresh_interval"), "{err}");
    }
    assert_eq!(idp.token_requests(), 0);
}

/// Once the access token has expired, a refusal leaves stdout empty: exit 1, the reason.
/// And a connection without a refresh token gets its still-valid token to the last second,
/// with why it will not be renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_refused_prints_nothing_and_no_refresh_token_prints_to_the_end() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 0);
    idp.change_password("alice@contoso.com");
    let out = token_cmd(&cfg, "mail").code(1);
    assert!(out.get_output().stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("AADSTS50173"), "{stderr}");
    assert!(stderr.contains("run: connwatch login mail"), "{stderr}");

    // 30 s left and no refresh token: printed, and said.
    let mut set = seed_mail(&idp, &cfg, 30);
    set.refresh_token = None;
    store(&cfg).save("mail", &set).unwrap();
    let _ = std::fs::remove_file(store(&cfg).paths().status_dir.join("mail.json"));
    let asked = idp.token_requests();
    let out = token_cmd(&cfg, "mail").code(0);
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        set.access_token.expose()
    );
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("missing_offline_access"), "{stderr}");
    assert!(stderr.contains("works for"), "{stderr}");
    assert_eq!(idp.token_requests(), asked, "nothing to renew with");
}

/// A transient failure moments ago (here a 500) is not asked again on the very next call of
/// a polling mail client: not before min_refresh_interval (or the provider's Retry-After).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_not_retried_on_every_call() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let set = seed_mail(&idp, &cfg, 30);
    idp.inject(connwatch::demo::idp::Fault::Status500, 1);
    let asked = idp.token_requests();
    let out = token_cmd(&cfg, "mail").code(0);
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        set.access_token.expose()
    );
    assert_eq!(idp.token_requests(), asked + 1);
    let out = token_cmd(&cfg, "mail").code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("server_error"), "{stderr}");
    assert_eq!(idp.token_requests(), asked + 1, "not asked again at once");
}
