//! Interop with a real, OpenID Certified identity provider: panva's `oidc-provider` (pinned in
//! tests/interop/package-lock.json), run with node on 127.0.0.1 by tests/interop/server.mjs.
//! The real binary signs in with the device flow and the browser flow (the test plays the
//! user and the browser with plain HTTP and a cookie jar), refreshes and sees rotation, sees
//! a revoked grant become needs_reauth, and revokes on purge.
//!
//! Needs node and npm: when either is missing the tests say so and pass without running;
//! when they are present any failure (npm ci included) fails the test.
//! Run alone: `cargo test --test it interop::`.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

mod aerc;
mod clients;
mod dovecot;
mod mutt_reads;
use crate::support::paste_login;
mod watch;

const PINNED: &str = "\"version\": \"9.13.3\"";

/// The node project, installed once per target dir (npm ci from the committed lock file).
fn node_project() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    DIR.get_or_init(|| {
        let have = |cmd: &str| {
            Command::new(cmd)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !have("node") || !have("npm") {
            assert!(
                std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
                "CONNWATCH_REQUIRE_SUITES is set but node/npm are not installed (apt-get install -y nodejs npm)"
            );
            eprintln!(
                "interop: node/npm NOT FOUND — SKIPPING the oidc-provider interop tests (install node 20 and npm)"
            );
            return None;
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-node");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["package.json", "package-lock.json", "server.mjs"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let installed =
            std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
                .is_ok_and(|t| t.contains(PINNED));
        if !installed {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(dir)
    })
    .clone()
}

/// The running IdP; killed on drop.
struct Idp {
    child: Child,
    issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_idp(dir: &Path) -> Idp {
    start_idp_with(dir, 3600)
}

/// The IdP, its access tokens living `ttl_s` seconds.
fn start_idp_with(dir: &Path, ttl_s: u32) -> Idp {
    let mut child = Command::new("node")
        .arg("server.mjs")
        .env("ACCESS_TOKEN_TTL", ttl_s.to_string())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuer = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("the IdP did not start: {line:?}"))
        .to_owned();
    Idp { child, issuer }
}

struct Env {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
}

fn env(idp: &Idp) -> Env {
    env_with(
        "kind = \"integration\"\nscopes = [\"openid\", \"offline_access\", \"api:read\"]\nexpect = { audience = \"https://api.example/\", scopes = [\"api:read\"] }\n",
        idp,
    )
}

/// A throw-away config and store with the connection `sso` (alice at the interop IdP's
/// `connwatch` client) completed by `rest`, which may add keys and further connections.
fn env_with(rest: &str, idp: &Idp) -> Env {
    env_top("", rest, idp)
}

/// `env_with`, with top-level keys `top` before the connection.
fn env_top(top: &str, rest: &str, idp: &Idp) -> Env {
    env_client(top, "connwatch", rest, idp)
}

/// `env_top` for another of the interop IdP's clients (`connwatch-paste`).
fn env_client(top: &str, client_id: &str, rest: &str, idp: &Idp) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "{top}data_dir = {:?}\n[[connection]]\nname = \"sso\"\nprovider = \"oidc\"\nissuer = {:?}\nclient_id = {client_id:?}\naccount = \"alice\"\n{rest}",
            data.display().to_string(),
            idp.issuer
        ),
    )
    .unwrap();
    Env {
        _tmp: tmp,
        config,
        data,
    }
}

fn connwatch(env: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_connwatch"));
    c.arg("--config")
        .arg(&env.config)
        .args(args)
        .env("NO_COLOR", "1")
        .env("CONNWATCH_NO_BROWSER", "1");
    c
}

fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = connwatch(env, args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn xsrf(html: &str) -> String {
    let at = html
        .find("name=\"xsrf\" value=\"")
        .unwrap_or_else(|| panic!("no xsrf field in {html}"))
        + "name=\"xsrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// `login --device`, approving the code as the user would, through oidc-provider's pages.
async fn device_login(env: &Env) -> (i32, String, String) {
    let mut child = connwatch(env, &["login", "sso", "--device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (uri, code, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let (mut uri, mut code) = (None, None);
        for l in lines.by_ref() {
            let l = l.unwrap();
            if let Some(u) = l.trim().strip_prefix("open: ") {
                uri = Some(u.to_owned());
            }
            if let Some(c) = l.trim().strip_prefix("code: ") {
                code = Some(c.to_owned());
            }
            if uri.is_some() && code.is_some() {
                break;
            }
        }
        (
            uri.expect("a URL on stderr"),
            code.expect("a code on stderr"),
            lines,
        )
    })
    .await
    .unwrap();
    approve_device(&uri, &code).await;
    let out = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = rest.map_while(Result::ok).collect();
        (child.wait_with_output().unwrap(), rest.join("\n"))
    })
    .await
    .unwrap();
    (
        out.0.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.0.stdout).into_owned(),
        out.1,
    )
}

/// Enter `code` at the device page `uri` and confirm, as the user does in a browser.
async fn approve_device(uri: &str, code: &str) {
    let b = browser();
    let page = b
        .get(format!("{uri}?user_code={code}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let confirm = b
        .post(uri)
        .form(&[("xsrf", xsrf(&page).as_str()), ("user_code", code)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done = b
        .post(uri)
        .form(&[
            ("xsrf", xsrf(&confirm).as_str()),
            ("user_code", code),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success(), "{:?}", done.status());
}

/// Present a refresh token at the provider directly, as a second client would.
async fn replay_refresh_token(idp: &Idp, rt: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/token", idp.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "connwatch"),
            ("refresh_token", rt),
        ])
        .send()
        .await
        .unwrap()
}

fn saved_rt(env: &Env) -> String {
    saved(env, "refresh_token")
}

/// A field of sso's token file (`access_token`, `refresh_token`).
fn saved(env: &Env, field: &str) -> String {
    let text = std::fs::read_to_string(env.data.join("tokens/sso.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in the token file"))
        .to_owned()
}

/// The admin revokes every grant at the interop IdP (a password change).
async fn revoke_grants(idp: &Idp) {
    let r = reqwest::Client::new()
        .post(format!("{}/test/revoke-grants", idp.issuer))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "revoke-grants: {}", r.status());
}

fn status_json(env: &Env) -> serde_json::Value {
    let (code, out, _) = run(env, &["status", "--json"]);
    assert_eq!(code, 0);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["connections"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_refresh_rotation_and_a_revoked_grant() {
    let Some(dir) = node_project() else { return };
    let idp = start_idp(&dir);
    let env = env(&idp);

    let (code, stdout, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("sso: signed in;"), "{stdout}");
    let first_rt = saved_rt(&env);

    // The JWT access token is for the default resource, with the scope asked for.
    let (code, token, _) = run(&env, &["token", "sso"]);
    assert_eq!(code, 0);
    let out = connwatch(&env, &["decode", "--connection", "sso", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(token.trim().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audience"], "https://api.example/", "{report}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{report}"
    );

    // Refresh: a new refresh token, and the old one is dead at the provider.
    let (code, stdout, stderr) = run(&env, &["refresh", "sso"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("refresh token rotated"), "{stdout}");
    let second_rt = saved_rt(&env);
    assert_ne!(first_rt, second_rt);
    let replay = replay_refresh_token(&idp, first_rt.as_str()).await;
    assert_eq!(
        replay.status().as_u16(),
        400,
        "the rotated-out refresh token is refused"
    );
    // oidc-provider then revokes the whole grant (reuse detection): connwatch must see it.
    let (code, _, stderr) = run(&env, &["refresh", "sso"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("sso: ") && stderr.contains("invalid_grant"),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("run: connwatch login sso"),
        "{stderr}"
    );
    let s = status_json(&env);
    assert_eq!(s["state"], "needs_reauth", "{s}");
    assert_eq!(s["last_error"]["error"], "invalid_grant");
    assert_eq!(
        saved_rt(&env),
        second_rt,
        "the refused refresh token is kept, not deleted"
    );

    // Sign in again, then the admin revokes every grant (password changed).
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(status_json(&env)["state"], "connected");
    revoke_grants(&idp).await;
    let (code, _, stderr) = run(&env, &["refresh", "sso"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(status_json(&env)["state"], "needs_reauth");
    let (code, out, _) = run(&env, &["check"]);
    assert_eq!(code, 2);
    assert!(
        out.starts_with("CONNWATCH CRITICAL - sso needs_reauth (invalid_grant)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flow_with_pkce_then_purge_revokes_at_the_provider() {
    let Some(dir) = node_project() else { return };
    let idp = start_idp(&dir);
    // The client registered http://127.0.0.1/callback only (any port): the default
    // http://127.0.0.1/ would be refused, this one is served on its path.
    let env = env_with(
        "kind = \"integration\"\nscopes = [\"openid\", \"offline_access\", \"api:read\"]\nredirect_uri = \"http://127.0.0.1/callback\"\nauth_params = { ui_locales = \"de-CH\" }\n",
        &idp,
    );

    // stderr is read to the end (not dropped after the page): a login writing to a closed
    // pipe would fail for that reason alone.
    let login = paste_login::spawn(connwatch(&env, &["login", "sso", "--browser"])).await;
    let url = login.url.clone();
    assert!(url.contains("code_challenge_method=S256") && url.contains("prompt=consent"));
    assert!(
        url.contains("ui_locales=de-CH"),
        "auth_params are sent: {url}"
    );
    // OpenID: a nonce is sent, and the sign-in below only completes if the ID token that
    // oidc-provider issues carries it back (BrowserAuth::check_nonce).
    assert!(url.contains("&nonce="), "{url}");
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A") && url.contains("%2Fcallback&"),
        "{url}"
    );
    // The browser: through the interaction (login, consent) back to the loopback redirect.
    let page = browser().get(&url).send().await.unwrap();
    let final_url = page.url().to_string();
    let body = page.text().await.unwrap();
    assert!(body.contains("Signed in"), "{final_url}: {body}");
    let (code, stdout, stderr) = login.finish(Duration::from_secs(60)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("sso: signed in;"), "{stdout}");
    let rt = saved_rt(&env);
    // oidc-provider put the nonce sent back into the ID token, which connwatch checked.
    let sent = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        connwatch::token::id_token_nonce(&saved(&env, "id_token")),
        Some(sent)
    );
    let (code, token, _) = run(&env, &["token", "sso"]);
    assert_eq!(code, 0);
    assert!(token.trim().starts_with("ey"), "a JWT access token");

    // purge --revoke: revoked at the provider (the refresh token no longer works), then
    // forgotten here.
    let (code, stdout, stderr) = run(&env, &["purge", "sso", "--revoke", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("refresh_token revoked at the provider"),
        "{stdout}"
    );
    assert!(!env.data.join("tokens/sso.json").exists());
    let replay = replay_refresh_token(&idp, rt.as_str()).await;
    assert_eq!(replay.status().as_u16(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

/// A config for the `connwatch-paste` client, whose only redirect is
/// https://localhost/callback: nothing here listens there, so the address is pasted back.
fn paste_env(idp: &Idp) -> Env {
    env_client(
        "",
        "connwatch-paste",
        "kind = \"integration\"\nscopes = [\"openid\", \"offline_access\", \"api:read\"]\nflow = \"browser\"\nredirect_uri = \"https://localhost/callback\"\n",
        idp,
    )
}

/// `login --browser` for a paste-back redirect: the test is the browser (through
/// oidc-provider's interaction, stopping where it would go to https://localhost) and the
/// person, who pastes `paste(final address)` on stdin. Returns (exit code, stdout, stderr).
async fn paste_login(env: &Env, paste: impl FnOnce(&str) -> String) -> (i32, String, String) {
    let login = paste_login::spawn(connwatch(env, &["login", "sso", "--browser"])).await;
    let url = login.url.clone();
    assert!(
        url.contains("redirect_uri=https%3A%2F%2Flocalhost%2Fcallback"),
        "{url}"
    );
    // Follow the sign-in, but not onto https://localhost: that is where a real browser shows
    // "this site can't be reached" with the code in its address bar.
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::custom(|a| {
            if a.url().host_str() == Some("localhost") || a.previous().len() > 10 {
                a.stop()
            } else {
                a.follow()
            }
        }))
        .build()
        .unwrap();
    let r = b.get(&url).send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect at the end: {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with("https://localhost/callback?"),
        "{location}"
    );
    login
        .paste(&[paste(&location)], Duration::from_secs(60))
        .await
}

/// A client registered with https://localhost/callback only: signing in completes once the
/// final address is pasted on stdin; an address with another state is refused, its code never
/// used, and the tokens saved before stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_back_signs_in_and_refuses_another_state() {
    let Some(dir) = node_project() else { return };
    let idp = start_idp(&dir);
    let env = paste_env(&idp);
    let (code, stdout, stderr) = paste_login(&env, str::to_owned).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("sso: signed in;"), "{stdout}");
    let rt = saved_rt(&env);
    let (code, token, _) = run(&env, &["token", "sso"]);
    assert_eq!(code, 0);
    assert!(token.trim().starts_with("ey"), "a JWT access token");
    assert!(!stderr.contains(&rt) && !stderr.contains(token.trim()));

    let (code, stdout, stderr) = paste_login(&env, |location| {
        let mut u = url::Url::parse(location).unwrap();
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" { "not-ours".into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u.to_string()
    })
    .await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("state_mismatch"), "{stderr}");
    assert_eq!(saved_rt(&env), rt, "the tokens saved before are kept");
}
