//! The probe: after each refresh or sign-in the worker asks the resource (here the demo IdP's
//! Graph stand-in, `/v1.0/me`) whether it accepts the new token. A token that is "valid" but
//! refused shows as such, with the resource's own error; a CAE claims challenge is kept and
//! sent with the next sign-in, which then satisfies it.

use std::process::Command;

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::idp::DemoIdp;
use connwatch::diagnose::Cause;
use connwatch::worker::Request;

const GRAPH_MAIL: &str = "https://graph.microsoft.com/Mail.Read";

fn with_probe(cfg: &connwatch::config::Config, base: &str) -> connwatch::config::Config {
    let text =
        std::fs::read_to_string(&cfg.path).unwrap() + &format!("probe = \"{base}/v1.0/me\"\n");
    std::fs::write(&cfg.path, text).unwrap();
    connwatch::config::Config::load(&cfg.path).unwrap()
}

/// The demo IdP, a Graph connection probing `/v1.0/me` at `probe_base` (the IdP's own
/// stand-in when `None`) and seeded tokens. The directory holds config and store.
async fn seeded_graph(
    probe_base: Option<&str>,
) -> (DemoIdp, tempfile::TempDir, connwatch::config::Config) {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = probe_base.map_or_else(|| idp.base_url(), str::to_owned);
    let cfg = with_probe(&config(dir.path(), &idp.base_url(), &[graph_conn()]), &base);
    seed_graph(&idp, &cfg);
    (idp, dir, cfg)
}

fn graph_conn() -> Conn<'static> {
    Conn {
        name: "graph",
        tenant: "contoso.onmicrosoft.com",
        scopes: &[GRAPH_MAIL, "offline_access"],
        refresh_before: "5m",
    }
}

fn seed_graph(idp: &DemoIdp, cfg: &connwatch::config::Config) {
    seed(
        idp,
        &store(cfg),
        "graph",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[GRAPH_MAIL, "offline_access"],
        3600,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_token_stays_connected() {
    let (_idp, _dir, cfg) = seeded_graph(None).await;
    let (mut opts, _) = worker_opts();
    opts.auto_refresh = false;
    let mut h = spawn(&cfg, opts);
    h.wait_state("graph", ConnState::Connected).await;
    h.send(Request::Refresh {
        name: "graph".into(),
    });
    let v = h
        .wait_for(|ev| match ev {
            connwatch::worker::Event::Connection(v)
                if v.name == "graph"
                    && !v.busy
                    && v.history.iter().any(|e| e.what.starts_with("refreshed")) =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(v.state, ConnState::Connected);
    assert!(v.last_error.is_none(), "{:?}", v.last_error);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_resource_is_refused_with_the_resources_error() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An IMAP (Outlook) token presented to Graph: valid, but not for this resource.
    let cfg = with_probe(
        &config(dir.path(), &idp.base_url(), &[mail("5m")]),
        &idp.base_url(),
    );
    seed_mail(&idp, &cfg, 3600);
    let out = Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(["refresh", "mail"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("InvalidAuthenticationToken"), "{stderr}");
    let rec = store(&cfg).load_status("mail").unwrap();
    assert_ne!(rec.state, ConnState::Connected);
    let d = rec.last_error.unwrap();
    assert_eq!(d.http_status, Some(401));
    assert!(
        d.summary.to_lowercase().contains("audience"),
        "{}",
        d.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_challenge_needs_a_sign_in_that_sends_the_claims() {
    let (idp, _dir, cfg) = seeded_graph(None).await;
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1795548800"}}}"#;
    idp.challenge_claims(claims);

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_connwatch"))
            .arg("--config")
            .arg(&cfg.path)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["refresh", "graph"]);
    assert_eq!(out.status.code(), Some(1));
    let rec = store(&cfg).load_status("graph").unwrap();
    assert_eq!(rec.state, ConnState::NeedsReauth);
    let d = rec.last_error.unwrap();
    assert_eq!(d.cause, Cause::ClaimsChallenge);
    assert!(d.claims.is_some(), "the challenge's claims are kept");

    // Sign in (browser, played by the test): the claims ride along, the challenge is met.
    let (code, stdout, stderr) = login_in_browser(&cfg, "graph").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(idp.authorize_requests()[0]["claims"], claims);
    let rec = store(&cfg).load_status("graph").unwrap();
    assert_eq!(rec.state, ConnState::Connected);
    assert!(rec.last_error.is_none());
}

/// The demo as `connwatch demo` runs it: within seconds `smtp-send` is refused by SMTP with
/// 535 5.7.139 while its token is valid for an hour, and `work-mail` is accepted by IMAP and
/// SMTP and stays connected.
#[tokio::test]
async fn the_demo_shows_smtp_auth_disabled_while_the_token_is_valid() {
    let idp = DemoIdp::start(connwatch::demo::demo_idp_options())
        .await
        .unwrap();
    let env = connwatch::demo::prepare(&idp, 0).unwrap();
    let (opts, _) = worker_opts();
    let mut w = spawn(&env.config, opts);
    let started = std::time::Instant::now();
    let smtp = w
        .wait_for(|e| match e {
            connwatch::worker::Event::Connection(v)
                if v.name == "smtp-send" && v.state == ConnState::Blocked =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let d = smtp.last_error.as_ref().unwrap();
    assert_eq!(d.cause, Cause::ProtocolDisabled);
    assert_eq!(d.fix_by, connwatch::diagnose::FixBy::Admin);
    assert!(!d.needs_reauth, "a sign-in does not lift it");
    assert_eq!(d.code.as_deref(), Some("535 5.7.139"));
    assert!(
        smtp.access_expires_at.unwrap()
            > jiff::Timestamp::now() + jiff::SignedDuration::from_mins(50)
    );
    let mail = w
        .wait_for(|e| match e {
            connwatch::worker::Event::Connection(v)
                if v.name == "work-mail" && v.probes.len() == 2 =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(mail.state, ConnState::Connected, "{:?}", mail.last_error);
    assert!(mail.probes.iter().all(|p| p.ok), "{:?}", mail.probes);
    w.shutdown().await;
}

/// A resource that answers a bare `401` (no `WWW-Authenticate`, no body) and then stops
/// answering at all. The 401 is a refusal of the token (`needs_reauth`, not
/// `misconfigured`); the timeout after it is not knowing, and does not overturn it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_401_needs_a_sign_in_and_a_timeout_after_it_changes_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut first = true;
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            if first {
                first = false;
                let _ = s
                    .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            } else {
                held.push(s); // silent from now on
            }
        }
    });
    let (_idp, _dir, cfg) = seeded_graph(Some(&format!("http://127.0.0.1:{port}"))).await;
    let (mut opts, _) = worker_opts();
    opts.auto_refresh = false;
    opts.http_timeout = std::time::Duration::from_millis(500);
    let mut h = spawn(&cfg, opts);
    h.wait_state("graph", ConnState::Connected).await;

    let finished = |id: u64| {
        move |ev: &connwatch::worker::Event| match ev {
            connwatch::worker::Event::Finished {
                id: i,
                outcome,
                probe_refusal,
                ..
            } if *i == Some(id) => Some((outcome.clone(), probe_refusal.clone())),
            _ => None,
        }
    };
    let id = h.w.track(Request::Probe {
        name: "graph".into(),
    });
    let (outcome, refusal) = h.wait_for(finished(id)).await;
    assert_eq!(outcome, connwatch::worker::Finish::Probed);
    assert!(
        refusal.as_ref().is_some_and(|d| d.needs_reauth),
        "{refusal:?}"
    );
    let v = h.views["graph"].clone();
    assert_eq!(v.state, ConnState::NeedsReauth, "{:?}", v.last_error);
    let d = v.last_error.unwrap();
    assert_eq!(d.http_status, Some(401));
    assert!(
        d.summary.contains("refused the token without saying why"),
        "{}",
        d.summary
    );

    // The server goes silent: the probe times out, and the refusal stands, in its words.
    let id = h.w.track(Request::Probe {
        name: "graph".into(),
    });
    let (_, refusal) = h.wait_for(finished(id)).await;
    assert!(
        refusal.as_ref().is_some_and(|d| d.cause == Cause::Network),
        "{refusal:?}"
    );
    let v = h.views["graph"].clone();
    assert_eq!(v.state, ConnState::NeedsReauth);
    assert_eq!(v.last_error.unwrap().http_status, Some(401));
    let rec = store(&cfg).load_status("graph").unwrap();
    assert_eq!(rec.state, ConnState::NeedsReauth);
    h.shutdown().await;
    server.abort();
}

/// After a night off the access token has expired: the start-up probe must not present it
/// (the resource's "expired token" would read as a refusal and stop renewals). The renewal
/// goes first and the probe asks about the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_before_it_is_probed() {
    let (_idp, _dir, cfg) = seeded_graph(None).await;
    // Two hours later by the wall clock.
    let clock = std::sync::Arc::new(connwatch::clock::SteppedClock::default());
    clock.step(2 * 3600);
    let (mut opts, _) = worker_opts();
    opts.clock = clock;
    let mut h = spawn(&cfg, opts);
    let v = h
        .wait_for(|ev| match ev {
            connwatch::worker::Event::Connection(v)
                if v.name == "graph" && !v.busy && !v.probes.is_empty() =>
            {
                Some((**v).clone())
            }
            _ => None,
        })
        .await;
    assert!(v.probes.iter().all(|p| p.ok), "{:?}", v.probes);
    assert_eq!(v.state, ConnState::Connected, "{:?}", v.last_error);
    assert!(v.history.iter().any(|e| e.what.starts_with("refreshed")));
    h.shutdown().await;
}

/// Another process records a refusal while this worker's probe is still waiting for its
/// server: when the probe ends, the refusal stands — in the view and on disk — instead of
/// being written over by the probe's outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_recorded_elsewhere_during_a_probe_is_not_written_over() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let (_idp, _dir, cfg) = seeded_graph(Some(&format!("http://127.0.0.1:{port}"))).await;
    let (mut opts, _) = worker_opts();
    opts.auto_refresh = false;
    opts.http_timeout = std::time::Duration::from_millis(1500);
    let mut h = spawn(&cfg, opts);
    h.wait_state("graph", ConnState::Connected).await;
    let id = h.w.track(Request::Probe {
        name: "graph".into(),
    });
    h.wait_for(|ev| match ev {
        connwatch::worker::Event::Connection(v) if v.name == "graph" && v.busy => Some(()),
        _ => None,
    })
    .await;
    // `connwatch token graph` elsewhere: the provider refused the renewal.
    let mut rec = store(&cfg).load_status("graph").unwrap();
    let now = jiff::Timestamp::now();
    rec.state = ConnState::NeedsReauth;
    rec.last_error = Some(connwatch::diagnose::diagnose_text(
        "AADSTS50173",
        Default::default(),
    ));
    rec.last_error_at = Some(now);
    rec.changed_at = Some(now);
    store(&cfg).save_status("graph", &rec).unwrap();
    h.wait_for(|ev| match ev {
        connwatch::worker::Event::Finished { id: Some(i), .. } if *i == id => Some(()),
        _ => None,
    })
    .await;
    let v = h.views["graph"].clone();
    assert_eq!(v.state, ConnState::NeedsReauth, "{:?}", v.last_error);
    assert_eq!(
        v.last_error.and_then(|d| d.code).as_deref(),
        Some("AADSTS50173")
    );
    let rec = store(&cfg).load_status("graph").unwrap();
    assert_eq!(rec.state, ConnState::NeedsReauth);
    h.shutdown().await;
    server.abort();
}

/// No refresh token and an expired access token: `connwatch probe` does not present it (the
/// server's refusal would hide the cause); it says what is wrong: the missing offline_access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_without_a_refresh_token_is_not_probed() {
    let (_idp, _dir, cfg) = seeded_graph(None).await;
    let mut set = store(&cfg).load("graph").unwrap().unwrap();
    set.refresh_token = None;
    set.expires_at = Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10));
    store(&cfg).save("graph", &set).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(["probe", "graph"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing_offline_access"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

/// The demo's SMTP stand-in takes a message after a good token (MAIL, RCPT, DATA), so a mail
/// client pointed at the demo sends; before authentication MAIL is refused as Exchange does.
#[tokio::test]
async fn the_smtp_stand_in_takes_a_message_after_a_good_token() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let set = seed(
        &idp,
        &store(&cfg),
        "mail",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &["https://outlook.office.com/SMTP.Send", "offline_access"],
        3600,
    );
    let (_, smtp) = idp.mail_ports();
    let sasl = connwatch::probe::sasl::initial_response(
        connwatch::probe::Mechanism::XOAuth2,
        "alice@contoso.com",
        "127.0.0.1",
        smtp,
        set.access_token.expose(),
    );
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", smtp))
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut said = Vec::new();
    let mut last = String::new();
    for send in [
        None,
        Some("EHLO client".to_owned()),
        Some("MAIL FROM:<alice@contoso.com>".to_owned()),
        Some(format!("AUTH XOAUTH2 {sasl}")),
        Some("MAIL FROM:<alice@contoso.com>".to_owned()),
        Some("RCPT TO:<bob@example.test>".to_owned()),
        Some("DATA".to_owned()),
        Some("Subject: hi\r\n\r\nHello.\r\n.".to_owned()),
        Some("QUIT".to_owned()),
    ] {
        if let Some(line) = send {
            w.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        }
        // Read the whole reply (multi-line replies have '-' after the code).
        loop {
            last.clear();
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), r.read_line(&mut last))
                .await
                .expect("the stand-in answers")
                .unwrap();
            assert!(n > 0, "closed early: {said:?}");
            if last.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        said.push(last[..3].to_owned());
    }
    assert_eq!(
        said,
        [
            "220", "250", "530", "235", "250", "250", "354", "250", "221"
        ],
        "{last}"
    );
}
