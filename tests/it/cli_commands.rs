//! `login`, `refresh`, `purge`, `status` and `check` through the real binary against the demo
//! IdP on 127.0.0.1: success, each failure class, exit codes, the stdout/stderr split, and
//! that none of them ever prints a token.

use std::time::Duration;

use crate::common::*;
use assert_cmd::Command;
use connwatch::config::Config;
use connwatch::demo::idp::{DemoIdp, DevicePollReply, IdpOptions};

fn run(cfg: &Config, args: &[&str]) -> Run {
    run_connwatch(&cfg.path, args)
}

/// Nothing the IdP ever issued (tokens, device codes) appears in what a command printed.
fn assert_no_secret(idp: &DemoIdp, r: &Run) {
    for s in idp.issued_secrets() {
        assert!(!r.stdout.contains(&s), "stdout leaks a secret");
        assert!(!r.stderr.contains(&s), "stderr leaks a secret");
    }
}

fn quick_device_idp() -> IdpOptions {
    IdpOptions {
        device_interval_s: 1,
        auto_approve_after: Some(Duration::ZERO),
        ..fast_idp()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_prints_the_code_on_stderr_and_the_result_on_stdout() {
    let idp = DemoIdp::start(quick_device_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let r = run(&cfg, &["login", "mail", "--device"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("mail: signed in; access token expires in "),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1);
    let url = format!("  open: {}/devicelogin", idp.base_url());
    assert!(r.stderr.contains(&url), "{}", r.stderr);
    assert!(r.stderr.contains("  code: "), "{}", r.stderr);
    assert_no_secret(&idp, &r);
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    assert!(idp.refresh_token_is_live(saved.refresh_token.unwrap().expose()));

    let status = run(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["connections"][0]["state"], "connected");
    assert_eq!(v["connections"][0]["has_refresh_token"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_login_fails_with_the_reason_and_keeps_nothing_half_done() {
    let idp = DemoIdp::start(IdpOptions {
        device_interval_s: 1,
        ..fast_idp()
    })
    .await
    .unwrap();
    idp.script_device_polls(vec![DevicePollReply::Declined]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let r = run(&cfg, &["login", "mail"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("mail: sign-in failed: access_denied"),
        "{}",
        r.stderr
    );
    assert!(store(&cfg).load("mail").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_saves_the_rotated_token_and_reports_a_refusal_with_its_fix() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m"), calendar("5m")]);
    let old = seed_mail(&idp, &cfg, 3600);
    let cal_before = seed_cal(&idp, &cfg);

    let r = run(&cfg, &["refresh", "mail"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("mail: refreshed (refresh token rotated); access token expires in"),
        "{}",
        r.stdout
    );
    let new = store(&cfg).load("mail").unwrap().unwrap();
    assert_ne!(new.refresh_token, old.refresh_token);

    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    let r = run(&cfg, &["refresh", "--all"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout.lines().count(),
        1,
        "mail still refreshes: {}",
        r.stdout
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("cal: conditional_access (AADSTS53003): ")
            && r.stderr.trim_end().ends_with("run: connwatch login cal"),
        "{}",
        r.stderr
    );
    assert_no_secret(&idp, &r);
    assert_eq!(
        store(&cfg).load("cal").unwrap().unwrap(),
        cal_before,
        "a refused refresh keeps the tokens"
    );

    // status and check see the refusal, with the provider's ids, and no token.
    let s = run(&cfg, &["status", "--json", "cal"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let c = &v["connections"][0];
    assert_eq!(c["state"], "needs_reauth");
    assert_eq!(c["last_error"]["code"], "AADSTS53003");
    assert!(c["last_error"]["trace_id"].is_string());
    assert!(c["last_error"]["correlation_id"].is_string());
    assert_no_secret(&idp, &s);
    let chk = run(&cfg, &["check"]);
    assert_eq!(chk.code, 2, "{}", chk.stdout);
    assert!(
        chk.stdout
            .starts_with("CONNWATCH CRITICAL - cal needs_reauth (AADSTS53003); 1 OK | "),
        "{}",
        chk.stdout
    );
    let table = run(&cfg, &["status"]);
    assert!(
        table
            .stdout
            .contains("cal: Blocked by a Conditional Access policy"),
        "{}",
        table.stdout
    );
    assert_no_secret(&idp, &table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_without_tokens_or_with_a_dead_idp_fails_and_loses_nothing() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let r = run(&cfg, &["refresh", "mail"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "mail: not signed in; run: connwatch login mail\n");
    assert_eq!(run(&cfg, &["refresh"]).code, 2, "no names and no --all");
    assert_eq!(run(&cfg, &["refresh", "nope"]).code, 2);

    let before = seed_mail(&idp, &cfg, 3600);
    idp.shutdown().await;
    let r = run(&cfg, &["refresh", "mail"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("mail: network"), "{}", r.stderr);
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
    // The access token still works, so the connection is up but failing to refresh.
    let chk = run(&cfg, &["check"]);
    assert_eq!(chk.code, 1, "{}", chk.stdout);
    assert!(
        chk.stdout
            .starts_with("CONNWATCH WARNING - mail failing to refresh"),
        "{}",
        chk.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_needs_yes_off_a_terminal_then_forgets_the_tokens() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let r = run(&cfg, &["purge", "mail"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert!(store(&cfg).load("mail").unwrap().is_some(), "kept");

    let r = run(&cfg, &["purge", "mail", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "mail: tokens purged; sign in again with: connwatch login mail\n"
    );
    assert!(store(&cfg).load("mail").unwrap().is_none());
    let r = run(&cfg, &["purge", "mail", "--yes"]);
    assert_eq!(r.stdout, "mail: nothing to purge (not signed in)\n");

    let s = run(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["connections"][0]["state"], "signed_out");
    let chk = run(&cfg, &["check"]);
    assert_eq!(chk.code, 2);
    assert!(chk.stdout.contains("mail not signed in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_follows_the_schema_and_prometheus_parses() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m"), calendar("5m")]);
    // The mailbox probes the Exchange stand-in: IMAP accepts, SMTP refuses (no SMTP.Send).
    let cfg = with_probes(&cfg, "mail", &stand_in_probes(&idp));
    seed_mail(&idp, &cfg, 3600);
    seed_cal(&idp, &cfg);
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    assert_eq!(run(&cfg, &["refresh", "cal"]).code, 1);
    let pr = run(&cfg, &["probe", "mail"]);
    assert_eq!(pr.code, 1, "{}{}", pr.stdout, pr.stderr);
    assert!(
        pr.stdout.contains("accepted") && pr.stdout.contains("535 5.7.3"),
        "{}",
        pr.stdout
    );
    assert_no_secret(&idp, &pr);

    let s = run(&cfg, &["status", "--json"]);
    assert_eq!(s.code, 0);
    assert_no_secret(&idp, &s);
    let doc: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/status.schema.json");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let schema = compiler.compile(schema_path, &mut schemas).unwrap();
    if let Err(e) = schemas.validate(&doc, schema) {
        panic!("status --json does not match the schema: {e:#}");
    }
    let probes = doc["connections"][0]["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2, "{doc}");
    assert_eq!(
        (probes[0]["ok"].as_bool(), probes[1]["ok"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(probes[1]["diagnosis"]["code"], "535 5.7.3");
    // Exchange says only 5.7.3; the token says why: no SMTP.Send, and the config never asks.
    assert_eq!(probes[1]["diagnosis"]["cause"], "missing_scope");
    assert!(
        probes[1]["diagnosis"]["action"]
            .as_str()
            .unwrap()
            .contains("SMTP.Send")
    );
    // The schema is not vacuous: a wrong state is rejected.
    let mut bad = doc.clone();
    bad["connections"][0]["state"] = "fine".into();
    assert!(schemas.validate(&bad, schema).is_err());

    let p = run(&cfg, &["status", "--prometheus"]);
    assert_eq!(p.code, 0);
    assert_no_secret(&idp, &p);
    let lines = p.stdout.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let state = |conn: &str, st: &str| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "connwatch_connection_state"
                    && s.labels.get("connection") == Some(conn)
                    && s.labels.get("state") == Some(st)
            })
            .map(|s| s.value.clone())
    };
    assert_eq!(
        state("mail", "misconfigured"),
        Some(prometheus_parse::Value::Gauge(1.0))
    );
    let probe_ok: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "connwatch_probe_success")
        .filter_map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(probe_ok, [1.0, 0.0]);
    assert_eq!(
        state("cal", "needs_reauth"),
        Some(prometheus_parse::Value::Gauge(1.0))
    );
    assert_eq!(
        state("cal", "connected"),
        Some(prometheus_parse::Value::Gauge(0.0))
    );
    let failures = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "connwatch_failures_total" && s.labels.get("connection") == Some("cal")
        })
        .unwrap();
    assert_eq!(failures.value, prometheus_parse::Value::Counter(1.0));
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "connwatch_last_error_info"
                && s.labels.get("code") == Some("AADSTS53003"))
    );
}

#[test]
fn check_says_unknown_when_the_config_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[[connection]]\nname = 3\n").unwrap();
    let out = Command::cargo_bin("connwatch")
        .unwrap()
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("CONNWATCH UNKNOWN - "), "{stdout}");
    assert!(stdout.contains("config.toml:2:"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1);
}

/// AADSTS50057 (account disabled): only the tenant's admin can fix it, so the connection is
/// `blocked` — not needs_reauth — in status (version 2) and CRITICAL in check, and the
/// refresh token is kept for when the admin has acted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_blocks_the_connection_until_the_admin_acts() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let before = seed_mail(&idp, &cfg, 3600);
    idp.inject(
        connwatch::demo::idp::Fault::Refuse {
            code: 50057,
            text: "The user account is disabled. The user object in Active Directory backing this account has been disabled.".into(),
        },
        1,
    );
    let r = run(&cfg, &["refresh", "mail"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS50057"), "{}", r.stderr);
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);

    let s = run(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["version"], 2);
    let c = &v["connections"][0];
    assert_eq!(c["state"], "blocked", "{}", s.stdout);
    assert_eq!(c["last_error"]["fix_by"], "admin");
    assert_eq!(c["last_error"]["needs_reauth"], false);
    let chk = run(&cfg, &["check"]);
    assert_eq!(chk.code, 2, "{}", chk.stdout);
    assert!(
        chk.stdout
            .starts_with("CONNWATCH CRITICAL - mail blocked (AADSTS50057); 0 OK | "),
        "{}",
        chk.stdout
    );
    assert!(chk.stdout.contains("blocked=1;;;0;1"), "{}", chk.stdout);

    // The admin enabled the account: the next refresh works and the block is over.
    let r = run(&cfg, &["refresh", "mail"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = run(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["connections"][0]["state"], "connected", "{}", s.stdout);
}
