//! The sign-in forecast against the demo IdP: a tenant whose Conditional Access asks for a
//! sign-in every 15 minutes refuses the silent renewal with AADSTS70043 and its number; the
//! worker learns it for the tenant, and after a new sign-in forecasts the next forced one
//! exactly that long after the sign-in — in the view, `status --json` and `check --warn`.

use std::time::Duration;

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::worker::{Event, Request};

fn connwatch(cfg: &connwatch::config::Config, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CONNWATCH_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revealed_sign_in_frequency_forecasts_the_next_sign_in() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The calendar's refresh is due at once; a second fabrikam connection shares the policy.
    let mut other = calendar("5m");
    other.name = "cal2";
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("2h"), other]);
    seed_cal(&idp, &cfg);
    idp.require_sign_in_every("fabrikam.onmicrosoft.com", Duration::from_secs(900));
    idp.backdate_sign_ins("fabrikam.onmicrosoft.com", Duration::from_secs(3600));
    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);

    let refused = w.wait_state("cal", ConnState::NeedsReauth).await;
    let d = refused.last_error.unwrap();
    assert_eq!(d.code.as_deref(), Some("AADSTS70043"));
    assert_eq!(d.sign_in_frequency_s, Some(900));
    assert!(d.needs_reauth, "the user's own sign-in fixes it");

    w.send(Request::SignIn { name: "cal".into() });
    let code = w
        .wait_for(|ev| match ev {
            Event::DeviceCode(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert!(idp.approve(&code.user_code));
    let v = w.wait_state("cal", ConnState::Connected).await;
    let saved = store(&cfg).load("cal").unwrap().unwrap();
    let signed_in = saved.signed_in_at.expect("the sign-in time is kept");
    assert_eq!(
        v.sign_in_by,
        Some(signed_in + jiff::SignedDuration::from_secs(900))
    );
    assert_eq!(
        v.sign_in_by_reason.as_deref(),
        Some("fabrikam asks for a sign-in every 15 min")
    );
    w.shutdown().await;

    // From the store alone: status and check say the same.
    let out = connwatch(&cfg, &["status", "--json", "cal"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &doc["connections"][0];
    assert_eq!(c["state"], "connected");
    let by: jiff::Timestamp = c["sign_in_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(by, signed_in + jiff::SignedDuration::from_secs(900));
    assert_eq!(
        c["sign_in_by_reason"],
        "fabrikam asks for a sign-in every 15 min"
    );
    let ok = connwatch(&cfg, &["check", "cal", "--warn", "10m"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let warn = connwatch(&cfg, &["check", "cal", "--warn", "1h"]);
    let line = String::from_utf8_lossy(&warn.stdout).into_owned();
    assert_eq!(warn.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with("CONNWATCH WARNING - cal needs a sign-in by ")
            && line.contains("(fabrikam asks for a sign-in every 15 min)"),
        "{line}"
    );
    // Known for the tenant, not only the connection that was refused: cal2's record has it
    // (its own tokens carry no sign-in time, so it forecasts nothing it cannot know).
    let rec = store(&cfg).load_status("cal2");
    assert_eq!(rec.and_then(|r| r.sign_in_frequency_s), Some(900));
}
