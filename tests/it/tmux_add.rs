//! `connwatch add` at a real terminal (tmux): with no `--client-id` it asks for one, then
//! offers to sign in — Enter signs in (device code, auto-approved by the demo IdP), `n`
//! leaves the next step printed.
#![cfg(unix)]
use crate::support::tmux;

use std::time::Duration;

use crate::common::*;
use connwatch::config::Config;
use connwatch::demo::CLIENT_ID;
use connwatch::demo::idp::{CONTOSO_TID, DemoIdp, IdpOptions};
use tmux::Tmux;

#[test]
fn add_asks_for_the_client_id_and_offers_to_sign_in() {
    let Some(t) = Tmux::start("add") else {
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
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "# mine\ndata_dir = {:?}\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let run = |name: &str| {
        t.text(&format!(
            "clear; NO_COLOR=1 CONNWATCH_NO_BROWSER=1 {} --config {} add {name} --email alice@contoso.com --authority-host {}; echo rc=$?",
            env!("CARGO_BIN_EXE_connwatch"),
            path.display(),
            idp.base_url()
        ));
        t.keys(&["Enter"]);
    };

    run("work-mail");
    t.wait_for("client id (the Application (client) ID");
    t.text(CLIENT_ID);
    t.keys(&["Enter"]);
    t.wait_for("Sign in to work-mail now? [Y/n]");
    t.keys(&["Enter"]);
    let s = t.wait_for("rc=");
    assert!(
        s.contains("work-mail: signed in") && s.contains("rc=0"),
        "{s}"
    );
    let config = Config::load(&path).unwrap();
    assert_eq!(
        config.connection("work-mail").unwrap().tenant.as_deref(),
        Some(CONTOSO_TID)
    );
    assert!(store(&config).load("work-mail").unwrap().is_some());

    run("other-mail");
    t.wait_for("client id (");
    t.text(CLIENT_ID);
    t.keys(&["Enter"]);
    t.wait_for("Sign in to other-mail now? [Y/n]");
    t.text("n");
    t.keys(&["Enter"]);
    let s = t.wait_for("rc=");
    assert!(
        s.contains("next: connwatch login other-mail") && s.contains("rc=0"),
        "{s}"
    );
    let config = Config::load(&path).unwrap();
    assert!(store(&config).load("other-mail").unwrap().is_none());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("# mine\n")
    );
}
