//! `connwatch watch` through the real binary against the demo IdP on 127.0.0.1: one round
//! with `--once` (exit codes, notify_command once per episode with what to do and never a
//! token), and the long-running process: /healthz and /metrics (parsed; `promtool check
//! metrics` when installed), one watch per store, SIGHUP picks up an added connection, a
//! config that no longer parses is survived, SIGTERM exits 0.
use crate::support::dbus;
use crate::support::watch as kit;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use connwatch::config::Config;
use connwatch::demo::idp::DemoIdp;
use kit::*;

fn watch(cfg: &Config, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_connwatch"));
    c.arg("--config")
        .arg(&cfg.path)
        .arg("watch")
        .args(args)
        .env("NO_COLOR", "1")
        // Never the developer's desktop: a bus that does not exist, unless a test brings one.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/connwatch-test-bus",
        )
        .env_remove("CONNWATCH_CONFIG");
    c
}

/// Add `notify_command` writing each notice's environment as one line to `log`.
fn with_notify(cfg: &Config, log: &std::path::Path) -> Config {
    with_top_line(cfg, notify_command_line(log).trim_end());
    Config::load(&cfg.path).unwrap()
}

/// Put a top-level `line` at the head of `cfg`'s file.
fn with_top_line(cfg: &Config, line: &str) {
    let text = format!("{line}\n{}", std::fs::read_to_string(&cfg.path).unwrap());
    std::fs::write(&cfg.path, text).unwrap();
}

/// `watch --once` on `cfg`, off the async threads.
async fn once(cfg: &Config) -> std::process::Output {
    let mut c = watch(cfg, &["--once"]);
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_refreshes_probes_and_notifies_each_episode_once() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar("5m");
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m"), cal]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    seed_mail(&idp, &cfg, 3600);
    seed_cal(&idp, &cfg);

    let out = once(&cfg).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lines_of(&notes).is_empty());

    // The other tenant now refuses: one notice, with the code and the fix, and only once.
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    for _ in 0..2 {
        let out = once(&cfg).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("mail: connected")
                && stdout.contains("cal: conditional_access (AADSTS53003)"),
            "{stdout}"
        );
        for s in idp.issued_secrets() {
            assert!(!stdout.contains(&s) && !String::from_utf8_lossy(&out.stderr).contains(&s));
        }
    }
    // Two runs (as from cron), one episode: one notice (the store remembers it).
    let got = wait_lines(&notes, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let f: Vec<&str> = got[0].split('|').collect();
    assert_eq!(
        &f[..4],
        ["cal", "needs_reauth", "conditional_access", "AADSTS53003"]
    );
    assert!(f[4].contains("connwatch login cal"), "{}", f[4]);

    // A new sign-in (a fresh grant the policy accepts): the next round says it recovered.
    seed_cal(&idp, &cfg);
    let out = once(&cfg).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = wait_lines(&notes, 2).await;
    assert!(
        got.len() == 2 && got[1].starts_with("cal|connected|"),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_episode_is_reminded_every_remind_every() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar("2h");
    let cfg = config(dir.path(), &idp.base_url(), &[cal]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    with_top_line(&cfg, "remind_every = \"1s\"");
    seed_cal(&idp, &cfg);
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    let w = Running {
        child: watch(&cfg, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines_of(&notes).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "no reminders: {:?}",
            lines_of(&notes)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&w.child, libc::SIGTERM);
    let got = lines_of(&notes);
    assert!(
        got.iter().all(|l| l.starts_with("cal|needs_reauth|")),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_running_watch_serves_metrics_reloads_and_stops_cleanly() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let port = free_port();
    let mut w = Running {
        child: watch(&cfg, &["--metrics", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let body = metrics_until(port, "the mailbox", |b| {
        b.contains("connwatch_connection_state{connection=\"mail\",state=\"connected\"} 1")
    })
    .await;
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/healthz"))
            .await
            .map(|r| r.0),
        Some(200)
    );
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "process_start_time_seconds")
    );
    for s in idp.issued_secrets() {
        assert!(!body.contains(&s), "/metrics serves a token");
    }
    promtool_check(&body);

    // One watch per store: the second names the first.
    let second = watch(&cfg, &[]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("pid {}", w.child.id())), "{err}");

    // SIGHUP with a connection added: it shows up, the mailbox's tokens untouched.
    let before = std::fs::read(store(&cfg).paths().tokens_dir.join("mail.json")).unwrap();
    let text = std::fs::read_to_string(&cfg.path).unwrap();
    let block = &text[text.find("[[connection]]").unwrap()..];
    let both = format!(
        "{text}\n{}",
        block.replacen("name = \"mail\"", "name = \"mail2\"", 1)
    );
    std::fs::write(&cfg.path, &both).unwrap();
    signal(&w.child, libc::SIGHUP);
    metrics_until(port, "the added connection", |b| {
        b.contains("connection=\"mail2\"")
    })
    .await;
    assert_eq!(
        std::fs::read(store(&cfg).paths().tokens_dir.join("mail.json")).unwrap(),
        before
    );

    // A config that no longer parses: reported, the running one kept.
    std::fs::write(&cfg.path, "this is [not toml").unwrap();
    signal(&w.child, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "watch exited on a bad reload"
    );
    metrics_until(port, "both connections still", |b| {
        b.contains("connection=\"mail2\"")
    })
    .await;

    signal(&w.child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = w.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    w.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("the config no longer parses"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "ANSI colour in a log that is not a terminal"
    );
    for s in idp.issued_secrets() {
        assert!(!log.contains(&s), "the log has a token");
    }
}

/// A real Prometheus scrapes `watch --metrics` and answers a PromQL query about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_watch_and_answers_a_query() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
            "CONNWATCH_REQUIRE_SUITES is set but prometheus is not installed (apt-get install -y prometheus)"
        );
        eprintln!(
            "prometheus: NOT FOUND — skipping the scrape test (apt-get install -y prometheus)"
        );
        return;
    }
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let port = free_port();
    let _w = Running {
        child: watch(&cfg, &["--metrics", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    metrics_until(port, "the mailbox", |b| b.contains("connection=\"mail\"")).await;
    let prom_port = free_port();
    let prom_conf = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_conf,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: connwatch\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let _prom = Running {
        child: Command::new("prometheus")
            .arg(format!("--config.file={}", prom_conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let query = "connwatch_connection_state{connection=\"mail\",state=\"connected\"}";
    let url = format!(
        "http://127.0.0.1:{prom_port}/api/v1/query?query={}",
        url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, body)) = get(&url).await {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(sample) = v["data"]["result"].get(0) {
                assert_eq!(sample["value"][1], "1", "{v}");
                assert_eq!(sample["metric"]["job"], "connwatch");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered the query"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Under systemd (Type=notify): READY=1 once running, WATCHDOG=1 within the watchdog period,
/// STOPPING=1 on SIGTERM — over a real notification socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 3600);
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let w = Running {
        child: watch(&cfg, &[])
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "400000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let mut heard: Vec<String> = Vec::new();
    let mut buf = [0u8; 512];
    let recv = |heard: &mut Vec<String>, buf: &mut [u8]| {
        let n = sock.recv(buf).expect("a notification within 10 s");
        heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    };
    while !heard.iter().any(|m| m.contains("WATCHDOG=1")) {
        recv(&mut heard, &mut buf);
    }
    assert!(heard[0].contains("READY=1"), "{heard:?}");
    signal(&w.child, libc::SIGTERM);
    while !heard.iter().any(|m| m.contains("STOPPING=1")) {
        recv(&mut heard, &mut buf);
    }
}

/// The shipped alerting rules load in Prometheus (`promtool check rules`).
#[test]
fn the_example_alert_rules_are_valid() {
    let Ok(out) = Command::new("promtool")
        .args(["check", "rules", "assets/connwatch-alerts.yml"])
        .output()
    else {
        assert!(
            std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
            "CONNWATCH_REQUIRE_SUITES is set but promtool is not installed"
        );
        eprintln!("promtool: NOT FOUND — skipping `promtool check rules`");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// On a real session bus: the alert is a critical desktop notification with a Re-authorize
/// button; pressing it starts the device sign-in, whose code replaces the alert in place; once
/// the code is approved the same notification says the connection is back. No token in any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_notification_re_authorizes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bus) = dbus::SessionBus::start(dir.path()) else {
        return;
    };
    let server = dbus::NotificationServer::register(&bus.address).await;
    let idp = DemoIdp::start(connwatch::demo::idp::IdpOptions {
        device_interval_s: 1,
        ..fast_idp()
    })
    .await
    .unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("2h")]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    seed_cal(&idp, &cfg);
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    let mut w = Running {
        child: watch(&cfg, &[])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("CONNWATCH_NO_BROWSER", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let within = Duration::from_secs(15);
    let alert = server
        .wait_for("that cal needs a sign-in", within, |n| {
            n.summary == "cal needs a sign-in"
        })
        .await;
    assert_eq!(alert.app_name, "connwatch");
    assert_eq!(alert.urgency, Some(2), "{alert:?}");
    assert_eq!(alert.actions, ["reauthorize", "Re-authorize"]);
    assert!(
        alert.body.contains("AADSTS53003") && alert.body.contains("connwatch login cal"),
        "{alert:?}"
    );

    let (code, user_code) = server.reauthorize(&alert, "cal", within).await;
    assert!(
        code.body.contains(&user_code) && code.body.contains("http"),
        "{code:?}"
    );
    assert!(code.actions.is_empty());
    assert!(idp.approve(&user_code), "the IdP does not know {user_code}");
    let back = server
        .wait_for("that cal is back", within, |n| {
            n.replaces_id == alert.id && n.summary == "cal is connected again"
        })
        .await;
    assert!(back.body.contains("Signed in"), "{back:?}");
    // notify_command saw the episode once and its end once, beside the desktop.
    let got = wait_lines(&notes, 2).await;
    assert!(
        got.len() == 2
            && got[0].starts_with("cal|needs_reauth|")
            && got[1].starts_with("cal|connected|"),
        "{got:?}"
    );

    signal(&w.child, libc::SIGTERM);
    let _ = w.child.wait();
    let mut log = String::new();
    w.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    for s in idp.issued_secrets() {
        assert!(!log.contains(&s), "the log has a token");
        for n in server.calls() {
            assert!(
                !n.body.contains(&s) && !n.summary.contains(&s),
                "a notification has a token"
            );
        }
    }
}

/// `desktop_notifications = false`: nothing reaches the bus, notify_command still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_notifications_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bus) = dbus::SessionBus::start(dir.path()) else {
        return;
    };
    let server = dbus::NotificationServer::register(&bus.address).await;
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("5m")]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    with_top_line(&cfg, "desktop_notifications = false");
    seed_cal(&idp, &cfg);
    idp.block_existing_grants("fabrikam.onmicrosoft.com");
    let mut c = watch(&cfg, &["--once"]);
    c.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(wait_lines(&notes, 1).await.len(), 1);
    assert!(server.calls().is_empty(), "{:?}", server.calls());

    // On again (the default), `--once` shows the alert too, without a button nobody could
    // press once the process has ended.
    let text = std::fs::read_to_string(&cfg.path).unwrap().replacen(
        "desktop_notifications = false\n",
        "",
        1,
    );
    std::fs::write(&cfg.path, text).unwrap();
    std::fs::remove_file(store(&cfg).paths().root.join("watch-alerts.json")).unwrap();
    let mut c = watch(&cfg, &["--once"]);
    c.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let n = server
        .wait_for("from --once", Duration::from_secs(5), |n| {
            n.summary == "cal needs a sign-in"
        })
        .await;
    assert!(n.actions.is_empty(), "{n:?}");
}

/// A tenant that asks for a sign-in every minute: the refusal (AADSTS70043) teaches watch the
/// frequency; after a new sign-in it says, once and ahead of time, when to sign in next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forecast_sign_in_is_announced_once_ahead_of_time() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[calendar("5m")]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    let cal_scopes = [GRAPH_CAL, "offline_access"];
    let fabrikam = "fabrikam.onmicrosoft.com";
    // A token due for refresh (2 min left, refreshed 5 min ahead), from a sign-in an hour
    // ago: the refresh meets the policy.
    seed(
        &idp,
        &store(&cfg),
        "cal",
        "alice@contoso.com",
        fabrikam,
        &cal_scopes,
        120,
    );
    idp.require_sign_in_every(fabrikam, Duration::from_secs(60));
    idp.backdate_sign_ins(fabrikam, Duration::from_secs(3600));
    let w = Running {
        child: watch(&cfg, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let got = wait_lines(&notes, 1).await;
    assert!(
        got[0].starts_with("cal|needs_reauth|conditional_access|AADSTS70043|"),
        "{got:?}"
    );

    // The user signs in again (elsewhere): connected, and the next sign-in is forecast one
    // minute after this one — announced at once, since a quarter of a minute is below the
    // one-minute lead.
    seed_signed_in(
        &idp,
        &store(&cfg),
        "cal",
        "alice@contoso.com",
        fabrikam,
        &cal_scopes,
        3600,
        Some(jiff::Timestamp::now()),
    );
    let got = wait_lines(&notes, 3).await;
    signal(&w.child, libc::SIGTERM);
    assert_eq!(got.len(), 3, "once: {got:?}");
    // Each notice is its own notify_command process: the recovery and the forecast, run
    // a moment apart, may append in either order.
    let recovered = got[1..]
        .iter()
        .filter(|l| l.starts_with("cal|connected|||"))
        .count();
    assert_eq!(recovered, 1, "{got:?}");
    let forecast = got[1..]
        .iter()
        .find(|l| l.contains("|sign_in_forecast|"))
        .unwrap_or_else(|| panic!("no forecast: {got:?}"));
    let f: Vec<&str> = forecast.split('|').collect();
    assert_eq!(&f[..3], ["cal", "connected", "sign_in_forecast"], "{got:?}");
    assert!(
        f[4].starts_with("Sign in before ") && f[4].contains("connwatch login cal"),
        "{}",
        f[4]
    );
}

/// Started with an expired access token whose grant was revoked meanwhile: the first and
/// only alert is the revocation (needs_reauth, with its code), never a "cannot renew" said
/// before the renewal was tried (which opened the episode and swallowed the real alert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_started_on_an_expired_token_alerts_what_the_renewal_found() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let notes = dir.path().join("notes");
    let cfg = with_notify(&cfg, &notes);
    seed_mail(&idp, &cfg, -60);
    idp.change_password("alice@contoso.com");
    let mut w = Running {
        child: watch(&cfg, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let got = wait_lines(&notes, 1).await;
    assert!(
        got.len() == 1 && got[0].starts_with("mail|needs_reauth|"),
        "{got:?}"
    );
    signal(&w.child, libc::SIGTERM);
    let _ = w.child.wait();
}
