//! No token the IdP issued ever appears outside the token files: not in the log (at trace
//! level), not in status records, not in what the worker tells the UI, not on screen.
//!
//! Its own test binary, not a module of `tests/it`: it installs the process-wide tracing
//! subscriber, which a shared process would share with every other suite.
#[path = "it/common.rs"]
mod common;

use common::*;
use connwatch::app::{self, Action, State};
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::worker::{Event, Request};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[tokio::test]
async fn no_secret_outside_the_token_files() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[
            mail("5m"),
            Conn {
                name: "cal",
                tenant: "fabrikam.onmicrosoft.com",
                scopes: &[GRAPH_CAL, "offline_access"],
                refresh_before: "1h",
            },
            Conn {
                name: "gone",
                tenant: "contoso.onmicrosoft.com",
                scopes: &[IMAP, "offline_access"],
                refresh_before: "1h",
            },
        ],
    );
    // The mailbox probes the Exchange stand-in: IMAP accepts its token, SMTP refuses it (no
    // SMTP.Send), so accepted and refused transcripts both land in records and output.
    let cfg = with_probes(&cfg, "mail", &stand_in_probes(&idp));
    let s = store(&cfg);
    let guard = connwatch::logging::init(&s.paths().logs_dir, Some("trace")).unwrap();
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
        "gone",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[IMAP, "offline_access"],
        600,
    );
    idp.block_existing_grants("fabrikam.onmicrosoft.com");

    let (opts, _) = worker_opts();
    let mut w = spawn(&cfg, opts);
    let mut seen: Vec<Event> = Vec::new();
    let mut ui = State::new("leak test", jiff::Timestamp::now());
    // Sign in (device code), then refresh (rotation), purge and decode; meanwhile the
    // calendar's refresh is refused. Every event goes through the UI's update.
    w.send(Request::SignIn {
        name: "mail".into(),
    });
    let mut signed_in = false;
    let mut decoded = false;
    let cal_refused = |ui: &State| {
        ui.rows
            .iter()
            .any(|r| r.name == "cal" && r.state == ConnState::NeedsReauth)
    };
    while !(decoded && cal_refused(&ui)) {
        let ev = w.next().await;
        match &ev {
            Event::DeviceCode(c) => assert!(idp.approve(&c.user_code)),
            Event::SignInEnded { ok, .. } => {
                // Signed in, but SMTP refuses the token: not connected, by design.
                assert!(!ok);
                signed_in = true;
                w.send(Request::Refresh {
                    name: "mail".into(),
                });
                w.send(Request::Purge {
                    name: "gone".into(),
                });
                w.send(Request::Decode {
                    name: "mail".into(),
                });
            }
            Event::Decoded { .. } => decoded = signed_in,
            Event::Connection(_) | Event::Watched { .. } | Event::Finished { .. } => {}
        }
        app::update(&mut ui, Action::Worker(ev.clone()));
        seen.push(ev);
    }
    w.shutdown().await;
    drop(guard); // flush the log file

    let secrets = idp.issued_secrets();
    assert!(
        secrets.len() >= 5,
        "the scenario issued tokens: {}",
        secrets.len()
    );

    // The probes ran and their transcripts are kept, masked.
    let rec = s.load_status("mail").unwrap();
    assert_eq!(rec.probes.len(), 2, "{:?}", rec.probes);
    assert!(rec.probes[0].ok && !rec.probes[1].ok, "{:?}", rec.probes);
    assert!(
        rec.probes[1]
            .transcript
            .iter()
            .any(|l| l == "C: AUTH XOAUTH2 ***"),
        "{:?}",
        rec.probes[1].transcript
    );

    // Every file under the data dir except the token files themselves.
    let mut checked = 0;
    let mut stack = vec![s.paths().root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let is_token_file = p.parent() == Some(s.paths().tokens_dir.as_path())
                && p.extension().is_some_and(|x| x == "json");
            if is_token_file {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked into {}",
                    p.display()
                );
            }
            checked += 1;
        }
    }
    let log = std::fs::read_dir(&s.paths().logs_dir).unwrap().count();
    assert!(log >= 1, "the log file exists");
    assert!(
        checked >= 4,
        "logs and status records were checked ({checked})"
    );

    // What the worker told the UI, and the screen drawn from it (decode popup open).
    let events = format!("{seen:?}");
    let mut term = Terminal::new(TestBackend::new(160, 50)).unwrap();
    term.draw(|f| connwatch::ui::draw(f, &ui)).unwrap();
    let screen = term.backend().to_string();
    assert!(
        screen.contains("claims"),
        "the decode popup is on screen: {screen}"
    );
    for secret in &secrets {
        assert!(
            !events.contains(secret.as_str()),
            "a secret crossed into a UI event"
        );
        assert!(
            !screen.contains(secret.as_str()),
            "a secret reached the screen"
        );
        // Not even a recognisable prefix of a long token beyond the masked 4 characters.
        if secret.len() > 40 {
            assert!(
                !screen.contains(&secret[..20]),
                "a token prefix reached the screen"
            );
        }
    }

    // The detail pane, with the decoded claims of the signed-in mailbox.
    ui.popup = None;
    ui.select("mail");
    ui.detail = true;
    for ev in &seen {
        if let Event::Decoded { name, report } = ev {
            ui.detail_report = Some((name.clone(), report.clone()));
        }
    }
    // The pane leads with the error, so the claims are further down: every screenful of it.
    let mut detail = String::new();
    for scroll in [0, 20, 40, usize::MAX] {
        ui.detail_scroll = scroll;
        let mut term = Terminal::new(TestBackend::new(160, 50)).unwrap();
        term.draw(|f| connwatch::ui::draw(f, &ui)).unwrap();
        detail.push_str(&term.backend().to_string());
    }
    assert!(
        detail.contains("audience"),
        "the detail pane shows claims: {detail}"
    );

    // What scripts and monitoring read.
    let mut outputs = vec![detail];
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--prometheus"],
        &["check"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
            .arg("--config")
            .arg(&cfg.path)
            .args(args)
            .output()
            .unwrap();
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    for text in &outputs {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached status/check output"
            );
        }
    }

    // File modes, over the whole tree from the store's root: every directory 0700 (the root
    // itself included), every file 0600 (tokens, status records, locks, logs).
    #[cfg(unix)]
    {
        let (_, seen) = assert_private_tree(std::slice::from_ref(&s.paths().root));
        assert!(seen >= 3, "tokens and status records checked: {seen}");
    }
}

/// A token endpoint that answers with a redirect is a misconfiguration or an attack: the
/// refresh token must never be sent on to wherever it points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_never_follow_redirects() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let elsewhere = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    });
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/steal", l2.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l2, elsewhere).await.unwrap() });
    let redirector = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, target)],
            )
        }
    });
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/token", l1.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l1, redirector).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let text =
        std::fs::read_to_string(&cfg.path).unwrap() + &format!("token_url = {token_url:?}\n");
    std::fs::write(&cfg.path, text).unwrap();
    let before = seed_mail(&idp, &cfg, 30);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(["refresh", "mail"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("307"), "the redirect is reported: {stderr}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing was sent to the redirect target"
    );
    assert_eq!(store(&cfg).load("mail").unwrap().unwrap(), before);
}
