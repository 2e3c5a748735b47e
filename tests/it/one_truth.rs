//! One truth, across processes (DESIGN.md, "How a state is decided"). A dashboard's worker
//! in this process, a real `connwatch watch` serving /metrics, and `connwatch status --json`
//! run fresh at each step: through a scripted scenario — sign-in, revoke, a failed `token`,
//! a re-authorization left pending, its approval, a probe refused, a purge — all three say
//! the same state, cause, code and fix_by at every step.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use crate::support::watch::{Running, free_port, get};
use connwatch::config::Config;
use connwatch::connection::ConnState;
use connwatch::demo::idp::{DemoIdp, IdpOptions};
use connwatch::worker::{ConnectionView, Event, Request, WorkerOptions};

/// State, cause, code and fix_by: what every process must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Truth {
    state: String,
    cause: Option<String>,
    code: Option<String>,
    fix_by: Option<String>,
}

fn of_view(v: &ConnectionView) -> Truth {
    let d = v.last_error.as_ref();
    Truth {
        state: v.state.to_string(),
        cause: d.map(|d| d.cause.to_string()),
        code: d.and_then(|d| d.code.clone()),
        fix_by: d.map(|d| d.fix_by.to_string()),
    }
}

fn connwatch(cfg: &Config, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CONNWATCH_CONFIG")
        .output()
        .unwrap()
}

fn of_status(cfg: &Config) -> (Truth, serde_json::Value) {
    let out = connwatch(cfg, &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = doc["connections"][0].clone();
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let e = &c["last_error"];
    let truth = Truth {
        state: s(&c["state"]).unwrap(),
        cause: s(&e["cause"]),
        code: s(&e["code"]),
        fix_by: s(&e["fix_by"]),
    };
    (truth, c)
}

fn of_metrics(body: &str) -> Option<Truth> {
    let label = |line: &str, key: &str| {
        let start = line.find(&format!("{key}=\""))? + key.len() + 2;
        let end = start + line[start..].find('"')?;
        Some(line[start..end].to_owned())
    };
    let state = body
        .lines()
        .find(|l| {
            l.starts_with("connwatch_connection_state{connection=\"graph\"") && l.ends_with(" 1")
        })
        .and_then(|l| label(l, "state"))?;
    let error = body
        .lines()
        .find(|l| l.starts_with("connwatch_last_error_info{connection=\"graph\""));
    Some(Truth {
        state,
        cause: error.and_then(|l| label(l, "cause")),
        code: error
            .and_then(|l| label(l, "code"))
            .filter(|c| !c.is_empty()),
        fix_by: error.and_then(|l| label(l, "fix_by")),
    })
}

/// `status --json` says `expect`; the dashboard's worker and the watch come to say exactly
/// what it says (each follows the store; bounded). The status document, for more checks.
async fn agree(
    h: &mut Harness,
    cfg: &Config,
    port: u16,
    step: &str,
    expect: ConnState,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (truth, doc) = of_status(cfg);
        let dashboard = h.views.get("graph").map(of_view);
        let metrics = match get(&format!("http://127.0.0.1:{port}/metrics")).await {
            Some((200, body)) => of_metrics(&body),
            _ => None,
        };
        if truth.state == expect.as_str()
            && dashboard.as_ref() == Some(&truth)
            && metrics.as_ref() == Some(&truth)
        {
            return doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{step}: status says {truth:?} (expected {expect}), the dashboard {dashboard:?}, watch {metrics:?}"
        );
        // Let the dashboard's worker report what it followed meanwhile.
        let _ = tokio::time::timeout(Duration::from_millis(50), h.next()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_the_dashboard_and_watch_say_the_same_at_every_step() {
    let idp = DemoIdp::start(IdpOptions {
        // Short-lived access tokens: `token` renews them, and so meets the revocation.
        access_token_lifetime: Duration::from_secs(50),
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &idp.base_url(),
        &[Conn {
            name: "graph",
            tenant: "contoso.onmicrosoft.com",
            scopes: &["https://graph.microsoft.com/Mail.Read", "offline_access"],
            refresh_before: "5m",
        }],
    );
    let text = std::fs::read_to_string(&cfg.path).unwrap()
        + &format!(
            "probe = \"{}/v1.0/me\"\nmin_refresh_interval = \"1s\"\n",
            idp.base_url()
        );
    std::fs::write(&cfg.path, text).unwrap();
    let cfg = Config::load(&cfg.path).unwrap();

    let port = free_port();
    let _watch = Running {
        child: Command::new(env!("CARGO_BIN_EXE_connwatch"))
            .arg("--config")
            .arg(&cfg.path)
            .args(["watch", "--metrics", &format!("127.0.0.1:{port}")])
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/connwatch-test-bus",
            )
            .env_remove("CONNWATCH_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let (opts, _) = worker_opts();
    let mut h = spawn(
        &cfg,
        WorkerOptions {
            yield_to_watch: true,
            ..opts
        },
    );
    agree(
        &mut h,
        &cfg,
        port,
        "before any sign-in",
        ConnState::SignedOut,
    )
    .await;

    // Sign in from the dashboard.
    h.send(Request::SignIn {
        name: "graph".into(),
    });
    let code = h
        .wait_for(|e| match e {
            Event::DeviceCode(c) => Some(c.user_code.clone()),
            _ => None,
        })
        .await;
    assert!(idp.approve(&code));
    agree(&mut h, &cfg, port, "signed in", ConnState::Connected).await;

    // The grant is revoked (a password change); `connwatch token` meets it and fails.
    idp.change_password("alice@contoso.com");
    // `token` prints a still-valid token obtained under min_refresh_interval (1 s) ago
    // as it is (worker::schedule): the renewal it must attempt comes after that.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = connwatch(&cfg, &["token", "graph"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The access token in hand still works for its last seconds: printed, the refusal said.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("run: connwatch login graph"), "{stderr}");
    let doc = agree(&mut h, &cfg, port, "token refused", ConnState::NeedsReauth).await;
    assert_eq!(doc["last_error"]["fix_by"], "user");

    // Re-authorize from the dashboard, and leave the code waiting.
    h.send(Request::SignIn {
        name: "graph".into(),
    });
    let code = h
        .wait_for(|e| match e {
            Event::DeviceCode(c) => Some(c.user_code.clone()),
            _ => None,
        })
        .await;
    let doc = agree(
        &mut h,
        &cfg,
        port,
        "re-authorization pending",
        ConnState::NeedsReauth,
    )
    .await;
    assert_eq!(doc["activity"]["kind"], "sign_in", "{doc}");
    assert_eq!(doc["activity"]["pid"], std::process::id());
    let out = connwatch(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(2), "pending is not OK: {out:?}");

    // Approved.
    assert!(idp.approve(&code));
    let doc = agree(&mut h, &cfg, port, "re-authorized", ConnState::Connected).await;
    assert!(doc["activity"].is_null(), "{doc}");

    // The resource refuses the token (a claims challenge): `connwatch probe` says so.
    idp.challenge_claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1795548800"}}}"#);
    let out = connwatch(&cfg, &["probe", "graph"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc = agree(&mut h, &cfg, port, "probe refused", ConnState::NeedsReauth).await;
    assert_eq!(doc["last_error"]["cause"], "claims_challenge");

    // Purged.
    let out = connwatch(&cfg, &["purge", "graph", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    agree(&mut h, &cfg, port, "purged", ConnState::SignedOut).await;
    h.shutdown().await;
}
