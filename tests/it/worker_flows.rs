//! Every Foundation flow against the demo IdP, over real HTTP on 127.0.0.1.

use std::time::Duration;

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::idp::{DemoIdp, DevicePollReply, IdpOptions};
use connwatch::diagnose::Cause;
use connwatch::worker::{Event, Request};

#[tokio::test]
async fn device_sign_in_honours_pending_and_slow_down() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let (opts, waits) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.wait_state("mail", ConnState::SignedOut).await;

    idp.script_device_polls(vec![DevicePollReply::Pending, DevicePollReply::SlowDown]);
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert_eq!(code.user_code.len(), 9);
    assert!(code.verification_uri.starts_with(&idp.base_url()));
    assert!(idp.approve(&code.user_code));
    let v = w.wait_state("mail", ConnState::Connected).await;
    assert!(v.has_refresh_token);
    assert!(v.last_error.is_none());
    // 5 s (pending), 5 s (slow_down: +5 s from now on), 10 s (approved).
    let secs: Vec<u64> = waits
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(secs, vec![5, 5, 10]);
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    assert!(saved.refresh_token.is_some());
}

#[tokio::test]
async fn declined_device_code_ends_the_sign_in() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert!(idp.deny(&code.user_code));
    let ok = w
        .wait_for(|ev| match ev {
            Event::SignInEnded { ok, .. } => Some(*ok),
            _ => None,
        })
        .await;
    assert!(!ok);
    let v = w.wait_state("mail", ConnState::SignedOut).await;
    assert_eq!(
        v.last_error.unwrap().error.as_deref(),
        Some("authorization_declined")
    );
}

/// A device authorization whose `interval` is longer than the code's life once kept `login`
/// waiting for ever: the wait ends with the code, and the sign-in says it expired.
#[tokio::test]
async fn an_interval_longer_than_the_code_ends_with_the_code() {
    let idp = DemoIdp::start(IdpOptions {
        device_interval_s: 1_000_000_000,
        device_expires_in_s: 2,
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let (opts, waits) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let ok = w
        .wait_for(|ev| match ev {
            Event::SignInEnded { ok, .. } => Some(*ok),
            _ => None,
        })
        .await;
    assert!(!ok);
    let v = w.wait_state("mail", ConnState::SignedOut).await;
    assert_eq!(v.last_error.unwrap().cause, Cause::DeviceCodeExpired);
    assert!(waits.lock().unwrap().is_empty(), "no poll was waited for");
}

/// A device code "valid" for i64::MAX seconds once overflowed the deadline: it is shown with
/// at most an hour (connwatch::limits), and the sign-in goes on normally.
#[tokio::test]
async fn a_device_code_lifetime_of_i64_max_is_an_hour() {
    let idp = DemoIdp::start(IdpOptions {
        device_expires_in_s: i64::MAX as u64,
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    let left = code.expires_at.duration_since(jiff::Timestamp::now());
    assert!(
        left <= jiff::SignedDuration::from_secs(3600)
            && left > jiff::SignedDuration::from_secs(3000),
        "{left:?}"
    );
    assert!(idp.approve(&code.user_code));
    w.wait_state("mail", ConnState::Connected).await;
}

/// The refresh storm: tokens living no longer than `refresh_before` (Keycloak's 300 s against
/// the 5 min default; 1 s; `expires_in` 0) once made every refresh due the moment it ended,
/// ~1 150 token requests in 10 s. Now one refresh, and the next is scheduled inside the
/// token's life and never sooner than the 30 s floor (worker::schedule).
#[tokio::test]
async fn short_lived_tokens_do_not_make_a_refresh_storm() {
    for (lifetime_s, earliest_s) in [(300, 135), (1, 30), (0, 30)] {
        let idp = DemoIdp::start(fast_idp()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
        // Connections written by the tests get no min_refresh_interval: the default floor.
        assert_eq!(
            cfg.connections[0].min_refresh_interval,
            Duration::from_secs(30)
        );
        // The grant's tokens live `lifetime_s` (the demo IdP keeps a grant's lifetime); the
        // seeded one is due at once.
        seed_mail(&idp, &cfg, lifetime_s);
        let (opts, _) = worker_opts();
        let mut w = spawn(&cfg, opts);
        let v = w
            .wait_for(|ev| match ev {
                Event::Connection(v) if v.last_success.is_some() && !v.busy => Some((**v).clone()),
                _ => None,
            })
            .await;
        let next = v.next_attempt_at.expect("the next refresh is scheduled");
        let after = next.duration_since(v.obtained_at.unwrap());
        assert!(
            after >= jiff::SignedDuration::from_secs(earliest_s),
            "{lifetime_s} s tokens: next refresh {after:?} after the last"
        );
        assert_eq!(idp.token_requests(), 1, "{lifetime_s} s tokens");
        w.shutdown().await;
    }
}

#[tokio::test]
async fn refresh_rotates_and_the_new_refresh_token_is_on_disk() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("1m")]);
    let old = seed_mail(&idp, &cfg, 3600);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.wait_state("mail", ConnState::Connected).await;
    w.send(Request::Refresh {
        name: "mail".into(),
    });
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v) if v.history.iter().any(|h| h.what.contains("rotated")) => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(v.state, ConnState::Connected);
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    let new_rt = saved.refresh_token.unwrap();
    assert_ne!(Some(&new_rt), old.refresh_token.as_ref());
    assert!(idp.refresh_token_is_live(new_rt.expose()));
    assert_ne!(saved.access_token, old.access_token);
}

#[tokio::test]
async fn automatic_refresh_before_expiry() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Expires in 3 s, renewed 2 s before: the worker refreshes after ~1 s on its own.
    let cfg = config(dir.path(), &idp.base_url(), &[mail("2s")]);
    let old = seed_mail(&idp, &cfg, 3);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v) if v.last_success.is_some() && v.state == ConnState::Connected => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(v.access_expires_at.unwrap() > old.expires_at.unwrap());
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn scenario_rows_reach_their_states_with_the_providers_codes() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[
            Conn {
                name: "cal",
                tenant: "fabrikam.onmicrosoft.com",
                scopes: &[GRAPH_CAL, "offline_access"],
                refresh_before: "1h",
            },
            Conn {
                name: "zoom",
                tenant: "contoso.onmicrosoft.com",
                scopes: &[GRAPH_CAL, "offline_access"],
                refresh_before: "1h",
            },
            Conn {
                name: "legacy",
                tenant: "contoso.onmicrosoft.com",
                scopes: &[IMAP],
                refresh_before: "1h",
            },
        ],
    );
    let s = store(&cfg);
    seed(
        &idp,
        &s,
        "cal",
        "alice@contoso.com",
        "fabrikam.onmicrosoft.com",
        &[GRAPH_CAL, "offline_access"],
        600,
    );
    seed(
        &idp,
        &s,
        "zoom",
        "scheduling@contoso.com",
        "contoso.onmicrosoft.com",
        &[GRAPH_CAL, "offline_access"],
        600,
    );
    seed(
        &idp,
        &s,
        "legacy",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[IMAP],
        2,
    );
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    idp.change_password("scheduling@contoso.com");
    let before = s.load("cal").unwrap().unwrap();

    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let cal = w.wait_state("cal", ConnState::NeedsReauth).await;
    let d = cal.last_error.unwrap();
    assert_eq!(d.code.as_deref(), Some("AADSTS53003"));
    assert!(d.needs_reauth);
    assert!(d.trace_id.is_some() && d.correlation_id.is_some());
    let zoom = w.wait_state("zoom", ConnState::NeedsReauth).await;
    assert_eq!(
        zoom.last_error.unwrap().code.as_deref(),
        Some("AADSTS50173")
    );
    // The refused refresh token is kept: only the user's purge or a new sign-in replaces it.
    assert_eq!(s.load("cal").unwrap().unwrap(), before);

    let legacy = w.wait_state("legacy", ConnState::NeedsReauth).await;
    assert!(!legacy.has_refresh_token);
    assert_eq!(
        legacy.last_error.unwrap().cause,
        Cause::MissingOfflineAccess
    );

    // Re-authorizing the calendar satisfies the other tenant's policy.
    w.send(Request::SignIn { name: "cal".into() });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    idp.approve(&code.user_code);
    let cal = w.wait_state("cal", ConnState::Connected).await;
    assert!(cal.last_error.is_none());
    w.send(Request::Refresh { name: "cal".into() });
    let cal = w
        .wait_for(|ev| match ev {
            Event::Connection(v)
                if v.name == "cal"
                    && !v.busy
                    && v.history.iter().any(|h| h.what.starts_with("refreshed")) =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(cal.state, ConnState::Connected);
}

#[tokio::test]
async fn purge_forgets_tokens_and_a_restart_finds_saved_ones_without_the_network() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[
            Conn {
                name: "keep",
                tenant: "contoso.onmicrosoft.com",
                scopes: &[IMAP, "offline_access"],
                refresh_before: "5m",
            },
            Conn {
                name: "drop",
                tenant: "contoso.onmicrosoft.com",
                scopes: &[IMAP, "offline_access"],
                refresh_before: "5m",
            },
        ],
    );
    let s = store(&cfg);
    seed(
        &idp,
        &s,
        "keep",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[IMAP, "offline_access"],
        3600,
    );
    seed(
        &idp,
        &s,
        "drop",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[IMAP, "offline_access"],
        3600,
    );
    {
        let (opts, _) = worker_opts();
        let mut w = spawn(&cfg, opts);
        w.wait_state("keep", ConnState::Connected).await;
        w.send(Request::Purge {
            name: "drop".into(),
        });
        let v = w.wait_state("drop", ConnState::SignedOut).await;
        assert_eq!(v.token_preview, None);
        assert!(!s.token_path("drop").exists());
        w.shutdown().await;
    }
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let keep = w.wait_state("keep", ConnState::Connected).await;
    assert!(keep.has_refresh_token);
    let drop = w.wait_state("drop", ConnState::SignedOut).await;
    assert!(
        drop.history.iter().any(|h| h.what == "purged"),
        "history survives a restart"
    );
    assert_eq!(
        idp.token_requests(),
        0,
        "valid saved tokens need no network"
    );
}

#[tokio::test]
async fn a_corrupt_token_file_is_reported_and_kept() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let s = store(&cfg);
    connwatch::store::ensure_private_dir(&s.paths().tokens_dir).unwrap();
    std::fs::write(s.token_path("mail"), "{\"version\":1,\"access_tok").unwrap();
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let v = w.wait_state("mail", ConnState::Misconfigured).await;
    assert!(v.note.unwrap().contains("not a valid token file"));
    assert_eq!(
        std::fs::read_to_string(s.token_path("mail")).unwrap(),
        "{\"version\":1,\"access_tok"
    );
}

#[tokio::test]
async fn a_dead_idp_is_a_transient_failure_and_loses_nothing() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("1h")]);
    let before = seed_mail(&idp, &cfg, 600);
    idp.shutdown().await;
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v) if v.last_error.is_some() && !v.busy => Some((**v).clone()),
            _ => None,
        })
        .await;
    let d = v.last_error.unwrap();
    assert_eq!(d.cause, Cause::Network);
    assert!(d.retryable);
    // The access token still works for 10 minutes: keep serving it and retry later.
    assert_eq!(v.state, ConnState::Connected);
    assert!(v.next_attempt_at.is_some());
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
}

#[tokio::test]
async fn oidc_provider_finds_its_endpoints_by_discovery() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "data_dir = {:?}\n[[connection]]\nname = \"sso\"\nprovider = \"oidc\"\nissuer = \"{}/contoso.onmicrosoft.com/v2.0\"\nclient_id = \"c\"\nscopes = [\"Calendars.Read\", \"offline_access\"]\n",
        dir.path().join("data").display().to_string(),
        idp.base_url()
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = connwatch::config::Config::load(&path).unwrap();
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.send(Request::SignIn { name: "sso".into() });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    idp.approve(&code.user_code);
    let v = w.wait_state("sso", ConnState::Connected).await;
    assert!(v.has_refresh_token);
}

#[tokio::test]
async fn an_unknown_tenant_is_a_configuration_problem() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[Conn {
            name: "mail",
            tenant: "contoso.onmicrosoft.co",
            scopes: &[IMAP, "offline_access"],
            refresh_before: "5m",
        }],
    );
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let v = w
        .wait_for(|ev| match ev {
            Event::Connection(v) if v.last_error.is_some() && !v.busy => Some((**v).clone()),
            _ => None,
        })
        .await;
    let d = v.last_error.unwrap();
    assert_eq!(d.code.as_deref(), Some("AADSTS90002"));
    assert!(
        d.summary.contains("contoso.onmicrosoft.co"),
        "{}",
        d.summary
    );
}

#[tokio::test]
async fn purge_during_a_refresh_leaves_no_token_file() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    w.wait_state("mail", ConnState::Connected).await;
    // The refresh holds the lock while the slow IdP answers; the purge waits for it and
    // then deletes what the refresh wrote.
    idp.delay_token_responses(Duration::from_millis(400));
    w.send(Request::Refresh {
        name: "mail".into(),
    });
    w.wait_for(|ev| match ev {
        Event::Connection(v) if v.busy => Some(()),
        _ => None,
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.send(Request::Purge {
        name: "mail".into(),
    });
    let v = w.wait_state("mail", ConnState::SignedOut).await;
    assert_eq!(v.token_preview, None);
    assert_eq!(idp.token_requests(), 1, "the refresh reached the IdP");
    // Give a refresh that raced the purge time to (wrongly) write its file.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !store(&cfg).token_path("mail").exists(),
        "purged tokens stay purged"
    );
}
