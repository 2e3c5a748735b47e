//! From a revocation at the IdP to the notification: `cargo bench --bench revocation`.
//! The real `connwatch watch` (release binary) keeps a shared calendar whose 20 s access
//! tokens it refreshes 10 s before expiry, against the embedded demo IdP on 127.0.0.1; its
//! `notify_command` stamps each notice with the wall clock. Each round revokes the grant at a
//! random moment (the tenant now refuses it, as after an admin's revocation), then signs in
//! again so the episode ends. Two figures per round: revocation → notification (bounded by the
//! refresh schedule: a revoked grant shows when it is next used) and the refused refresh
//! reaching the IdP → notification (what connwatch itself adds).
#[path = "../tests/it/common.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use connwatch::config::Config;
use connwatch::demo::idp::{DemoIdp, IdpOptions};

const ROUNDS: usize = 8;
const TENANT: &str = "fabrikam.onmicrosoft.com";

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "revocation")
    {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp = rt
        .block_on(DemoIdp::start(IdpOptions {
            access_token_lifetime: Duration::from_secs(20),
            ..fast_idp()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("10s")]);
    let notes = dir.path().join("notes");
    let line = "echo \"$CONNWATCH_STATE $(date +%s%N)\" >> \"$0\"";
    // The connection's table is last: the 1 s floor keeps the measured schedule the 10 s
    // renewal of 20 s tokens (the default 30 s floor would make it every 30 s).
    let text = format!(
        "notify_command = [\"sh\", \"-c\", {line:?}, {:?}]\ndesktop_notifications = false\n{}min_refresh_interval = \"1s\"\n",
        notes.display().to_string(),
        std::fs::read_to_string(&cfg.path).unwrap()
    );
    std::fs::write(&cfg.path, text).unwrap();
    let cfg = Config::load(&cfg.path).unwrap();
    sign_in(&idp, &cfg);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .arg("watch")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut total = Vec::new();
    let mut tail = Vec::new();
    for round in 0..ROUNDS {
        // A random moment within one refresh period (10 s).
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_millis(u64::from(nanos % 10_000)));
        let seen = idp.token_requests();
        idp.block_existing_grants(TENANT);
        let revoked = epoch_ns();
        // The refused refresh arriving at the IdP (polled every millisecond).
        let deadline = Instant::now() + Duration::from_secs(30);
        while idp.token_requests() == seen && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let refused = epoch_ns();
        let Some(notified) = wait_note(&notes, "needs_reauth", round) else {
            eprintln!("round {round}: no notification within 30 s");
            break;
        };
        total.push(Duration::from_nanos((notified - revoked) as u64));
        tail.push(Duration::from_nanos(notified.saturating_sub(refused) as u64));
        // A new sign-in ends the episode (the watch follows the store and says so).
        sign_in(&idp, &cfg);
        if wait_note(&notes, "connected", round).is_none() {
            eprintln!("round {round}: no recovery notice");
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    report("revocation → notification", &mut total);
    report("refused refresh at the IdP → notification", &mut tail);
    rt.block_on(idp.shutdown());
}

fn sign_in(idp: &DemoIdp, cfg: &Config) {
    seed(
        idp,
        &store(cfg),
        "cal",
        "alice@contoso.com",
        TENANT,
        &[GRAPH_CAL, "offline_access"],
        20,
    );
}

fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The stamp of the `round`-th notice in `state` (bounded wait).
fn wait_note(notes: &std::path::Path, state: &str, round: usize) -> Option<u128> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(notes).unwrap_or_default();
        let stamps: Vec<u128> = text
            .lines()
            .filter_map(|l| l.strip_prefix(state)?.trim().parse().ok())
            .collect();
        if let Some(&s) = stamps.get(round) {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn report(what: &str, d: &mut [Duration]) {
    if d.is_empty() {
        println!("{what}: no rounds");
        return;
    }
    d.sort();
    println!(
        "{what}: median {:.3} s, min {:.3} s, max {:.3} s over {} rounds",
        d[d.len() / 2].as_secs_f64(),
        d[0].as_secs_f64(),
        d[d.len() - 1].as_secs_f64(),
        d.len()
    );
}
