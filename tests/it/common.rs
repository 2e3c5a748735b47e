//! Shared helpers for tests that run the worker against the demo IdP over real HTTP.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use connwatch::config::Config;
use connwatch::connection::ConnState;
use connwatch::demo::CLIENT_ID;
use connwatch::demo::idp::{DemoIdp, IdpOptions, MintSpec};
use connwatch::oauth::{Pacer, TokenResponse};
use connwatch::store::{StorePaths, TokenSet, TokenStore};
use connwatch::worker::{self, ConnectionView, Event, Request, WorkerHandle, WorkerOptions};

pub const IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
pub const GRAPH_CAL: &str = "https://graph.microsoft.com/Calendars.Read";

/// One `[[connection]]` of a test config.
pub struct Conn<'a> {
    pub name: &'a str,
    pub tenant: &'a str,
    pub scopes: &'a [&'a str],
    pub refresh_before: &'a str,
}

/// The usual test connection: alice's IMAP mailbox in contoso, with a refresh token.
pub fn mail(refresh_before: &str) -> Conn<'_> {
    Conn {
        name: "mail",
        tenant: "contoso.onmicrosoft.com",
        scopes: &[IMAP, "offline_access"],
        refresh_before,
    }
}

/// Alice's calendar shared from fabrikam (Graph), the other tenant of the demo IdP.
pub fn calendar(refresh_before: &str) -> Conn<'_> {
    Conn {
        name: "cal",
        tenant: "fabrikam.onmicrosoft.com",
        scopes: &[GRAPH_CAL, "offline_access"],
        refresh_before,
    }
}

/// Seed `mail` (see `mail`) with a token living `lifetime_s` seconds.
pub fn seed_mail(idp: &DemoIdp, config: &Config, lifetime_s: i64) -> TokenSet {
    seed(
        idp,
        &store(config),
        "mail",
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        &[IMAP, "offline_access"],
        lifetime_s,
    )
}

pub fn config(dir: &Path, base_url: &str, conns: &[Conn]) -> Config {
    let mut text = format!("data_dir = {:?}\n", dir.join("data").display().to_string());
    for c in conns {
        let scopes: Vec<String> = c.scopes.iter().map(|s| format!("{s:?}")).collect();
        text.push_str(&format!(
            "[[connection]]\nname = {:?}\nprovider = \"entra\"\ntenant = {:?}\nauthority_host = {base_url:?}\nclient_id = {CLIENT_ID:?}\naccount = \"alice@contoso.com\"\nscopes = [{}]\nrefresh_before = {:?}\n",
            c.name,
            c.tenant,
            scopes.join(", "),
            c.refresh_before
        ));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap()
}

/// `config` with `probe = [urls]` added to connection `name`, written and loaded again.
pub fn with_probes(config: &Config, name: &str, urls: &[String]) -> Config {
    let urls: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    let text = std::fs::read_to_string(&config.path).unwrap().replacen(
        &format!("name = {name:?}\n"),
        &format!("name = {name:?}\nprobe = [{}]\n", urls.join(", ")),
        1,
    );
    std::fs::write(&config.path, text).unwrap();
    Config::load(&config.path).unwrap()
}

/// The demo IdP's Exchange stand-in: its IMAP and SMTP URLs.
pub fn stand_in_probes(idp: &DemoIdp) -> Vec<String> {
    let (imap, smtp) = idp.mail_ports();
    vec![
        format!("imap://127.0.0.1:{imap}"),
        format!("smtp://127.0.0.1:{smtp}"),
    ]
}

pub fn store(config: &Config) -> TokenStore {
    TokenStore::new(StorePaths::resolve(config.data_dir.as_deref()).unwrap())
}

/// Seed `cal`, alice's calendar shared from fabrikam (Graph): an hour-long token with 20 min
/// left. Its renewal is due at once with `refresh_before` of 30 min or more (`calendar("2h")`)
/// and not before 15 min with `calendar("5m")` (worker::schedule).
pub fn seed_cal(idp: &DemoIdp, config: &Config) -> TokenSet {
    seed(
        idp,
        &store(config),
        "cal",
        "alice@contoso.com",
        "fabrikam.onmicrosoft.com",
        &[GRAPH_CAL, "offline_access"],
        1200,
    )
}

/// Seed `name` with a grant minted at the IdP, as if signed in earlier: an hour-long token
/// with `lifetime_s` left (obtained `3600 - lifetime_s` seconds ago when that is positive),
/// so the refresh schedule sees what it would see in life (worker::schedule).
pub fn seed(
    idp: &DemoIdp,
    store: &TokenStore,
    name: &str,
    upn: &str,
    tenant: &str,
    scopes: &[&str],
    lifetime_s: i64,
) -> TokenSet {
    seed_signed_in(idp, store, name, upn, tenant, scopes, lifetime_s, None)
}

/// `seed`, with the sign-in time the tokens record (a sign-in connwatch completed).
#[allow(clippy::too_many_arguments)]
pub fn seed_signed_in(
    idp: &DemoIdp,
    store: &TokenStore,
    name: &str,
    upn: &str,
    tenant: &str,
    scopes: &[&str],
    lifetime_s: i64,
    signed_in_at: Option<jiff::Timestamp>,
) -> TokenSet {
    let json = idp.mint(MintSpec {
        tenant: tenant.into(),
        upn: upn.into(),
        client_id: CLIENT_ID.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        access_lifetime_s: lifetime_s,
    });
    let resp = TokenResponse::parse(json.to_string().as_bytes()).unwrap();
    let now = jiff::Timestamp::now();
    let expires_at = now
        .checked_add(jiff::SignedDuration::from_secs(lifetime_s))
        .unwrap();
    let set = TokenSet {
        version: 1,
        expires_at: Some(expires_at),
        granted_scopes: resp.scopes(),
        access_token: resp.access_token,
        refresh_token: resp.refresh_token,
        id_token: resp.id_token,
        obtained_at: now.min(expires_at - jiff::SignedDuration::from_secs(3600)),
        signed_in_at,
    };
    store.save(name, &set).unwrap();
    set
}

pub fn fast_idp() -> IdpOptions {
    IdpOptions {
        device_interval_s: 5,
        // The client's waits are scaled down in tests; the IdP would see them as too fast.
        enforce_poll_interval: false,
        ..IdpOptions::default()
    }
}

/// Worker options for tests: device-code waits scaled to 1/100 (their nominal values are
/// recorded), short HTTP timeout.
pub fn worker_opts() -> (
    WorkerOptions,
    std::sync::Arc<std::sync::Mutex<Vec<Duration>>>,
) {
    let (pacer, log) = Pacer::scaled(0.01);
    (
        WorkerOptions {
            pacer,
            http_timeout: Duration::from_secs(5),
            ..WorkerOptions::default()
        },
        log,
    )
}

/// A worker plus what it has said so far: the latest view of each connection and the
/// events no test has consumed yet, so a test never misses an event that came early.
pub struct Harness {
    pub w: WorkerHandle,
    pub views: HashMap<String, ConnectionView>,
    backlog: VecDeque<Event>,
}

pub fn spawn(config: &Config, opts: WorkerOptions) -> Harness {
    Harness {
        w: worker::spawn(config, store(config), opts),
        views: HashMap::new(),
        backlog: VecDeque::new(),
    }
}

impl Harness {
    pub fn send(&self, r: Request) {
        self.w.requests.send(r).expect("the worker is running");
    }

    /// The next event from the worker (at most 20 s away).
    pub async fn next(&mut self) -> Event {
        let ev = tokio::time::timeout(Duration::from_secs(20), self.w.events.recv())
            .await
            .expect("timed out waiting for a worker event")
            .expect("the worker stopped");
        if let Event::Connection(v) = &ev {
            self.views.insert(v.name.clone(), (**v).clone());
        }
        ev
    }

    /// The first event `pick` accepts: from the backlog, the latest views, or new events.
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some(i) = self.backlog.iter().position(|e| pick(e).is_some()) {
            let ev = self.backlog.remove(i).unwrap();
            return pick(&ev).unwrap();
        }
        for v in self.views.values() {
            if let Some(t) = pick(&Event::Connection(Box::new(v.clone()))) {
                return t;
            }
        }
        loop {
            let ev = self.next().await;
            if let Some(t) = pick(&ev) {
                return t;
            }
            if !matches!(ev, Event::Connection(_)) {
                self.backlog.push_back(ev);
            }
        }
    }

    /// The next `Event::Watched`: the pid of the `watch` now holding the store, if any.
    pub async fn watched(&mut self) -> Option<u32> {
        self.wait_for(|e| match e {
            Event::Watched { pid } => Some(*pid),
            _ => None,
        })
        .await
    }

    /// Wait until connection `name` is in `state` with nothing in flight.
    pub async fn wait_state(&mut self, name: &str, state: ConnState) -> ConnectionView {
        self.wait_for(|ev| match ev {
            Event::Connection(v) if v.name == name && v.state == state && !v.busy => {
                Some((**v).clone())
            }
            _ => None,
        })
        .await
    }

    pub async fn shutdown(self) {
        let _ = self.w.requests.send(Request::Shutdown);
        self.w.task.await.unwrap();
    }
}

/// Run `connwatch login NAME --browser`, follow the printed URL like a browser would, and
/// return (exit code, stdout, stderr).
pub async fn login_in_browser(
    cfg: &connwatch::config::Config,
    name: &str,
) -> (i32, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(["login", name, "--browser"])
        .env("CONNWATCH_NO_BROWSER", "1")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (url, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if let Some(url) = line.trim().strip_prefix("open: ") {
                return (url.to_owned(), lines);
            }
        }
        panic!("no URL on stderr: {seen}");
    })
    .await
    .unwrap();
    // The "browser": follows the IdP's redirect to the loopback listener.
    let page = reqwest::get(&url).await.unwrap();
    let page_text = page.text().await.unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = rest.map_while(Result::ok).collect();
        let out = child.wait_with_output().unwrap();
        (out, rest.join("\n"))
    })
    .await
    .unwrap();
    let (out, stderr_rest) = out;
    assert!(!page_text.is_empty());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        format!("{url}\n{stderr_rest}"),
    )
}

/// Walk every directory under `roots` (the roots included): each must be 0700 and each file
/// 0600. Returns (directories, files) seen, so a caller can say the walk was not vacuous.
#[cfg(unix)]
pub fn assert_private_tree(roots: &[std::path::PathBuf]) -> (usize, usize) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (mut dirs, mut files) = (0, 0);
    let mut stack = roots.to_vec();
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        dirs += 1;
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    (dirs, files)
}

/// What a run of the real binary printed, and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `connwatch --config CONFIG ARGS…` with no colour, no inherited CONNWATCH_CONFIG and an
/// empty stdin (so nothing can wait on a person), bounded to a minute.
pub fn run_connwatch(config: &Path, args: &[&str]) -> Run {
    let out = assert_cmd::Command::cargo_bin("connwatch")
        .unwrap()
        .arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CONNWATCH_CONFIG")
        .write_stdin("")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
