//! The zoom and google presets against small stand-ins of their token endpoints on 127.0.0.1
//! (same paths, same client authentication, same answer shapes): Zoom's HTTP Basic client and
//! refresh tokens that die on use, Google's `client_secret` in the form and refresh answers
//! without a new refresh token. Secrets come from a command or the environment.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use connwatch::secret::Secret;
use connwatch::store::{StorePaths, TokenSet, TokenStore};
use serde_json::json;

#[derive(Default)]
struct Fake {
    /// Live refresh tokens.
    live: Vec<String>,
    issued: u32,
    /// What each token request authenticated with: "basic:<id>:<secret>" or "form:<id>:<secret>".
    auth: Vec<String>,
    revoked: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn basic(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let v = headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    Some(format!("basic:{}", String::from_utf8(raw).ok()?))
}

/// Zoom: `/oauth/token` with Basic auth; every refresh rotates and kills the old token.
async fn zoom_token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    let who = basic(&headers).unwrap_or_default();
    f.auth.push(who.clone());
    if who != "basic:zoom-app:s3cret" {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
            ),
        )
            .into_response();
    }
    let rt = p.get("refresh_token").cloned().unwrap_or_default();
    let Some(i) = f.live.iter().position(|t| *t == rt) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"reason": "Invalid Token!", "error": "invalid_grant"})),
        )
            .into_response();
    };
    f.live.remove(i);
    f.issued += 1;
    let new_rt = format!("zoom-rt-{}", f.issued);
    f.live.push(new_rt.clone());
    axum::Json(json!({
        "access_token": format!("zoom-at-{}", f.issued),
        "token_type": "bearer",
        "refresh_token": new_rt,
        "expires_in": 3599,
        "scope": "meeting:read user:read",
    }))
    .into_response()
}

async fn zoom_revoke(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    if basic(&headers).as_deref() != Some("basic:zoom-app:s3cret") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let token = p.get("token").cloned().unwrap_or_default();
    f.live.retain(|t| *t != token);
    f.revoked.push(token);
    axum::Json(json!({"status": "success"})).into_response()
}

/// Google: `/token` with the secret in the form; refresh answers carry no refresh token.
async fn google_token(State(s): State<Shared>, Form(p): Form<HashMap<String, String>>) -> Response {
    let mut f = s.lock().unwrap();
    let who = format!(
        "form:{}:{}",
        p.get("client_id").cloned().unwrap_or_default(),
        p.get("client_secret").cloned().unwrap_or_default()
    );
    f.auth.push(who);
    let rt = p.get("refresh_token").cloned().unwrap_or_default();
    if !f.live.contains(&rt) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
        )
            .into_response();
    }
    f.issued += 1;
    axum::Json(json!({
        "access_token": format!("ya29.google-at-{}", f.issued),
        "expires_in": 3599,
        "scope": "https://mail.google.com/",
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn seed(data: &std::path::Path, name: &str, rt: &str) {
    let now = jiff::Timestamp::now();
    TokenStore::new(StorePaths::under(data))
        .save(
            name,
            &TokenSet {
                version: 1,
                access_token: Secret::new("old-at"),
                refresh_token: Some(Secret::new(rt)),
                id_token: None,
                expires_at: Some(now - jiff::SignedDuration::from_secs(10)),
                granted_scopes: vec![],
                obtained_at: now - jiff::SignedDuration::from_secs(3600),
                signed_in_at: None,
            },
        )
        .unwrap();
}

fn load(data: &std::path::Path, name: &str) -> TokenSet {
    TokenStore::new(StorePaths::under(data))
        .load(name)
        .unwrap()
        .unwrap()
}

fn run(config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoom_refreshes_with_basic_auth_rotates_and_revokes() {
    let fake: Shared = Arc::default();
    fake.lock().unwrap().live.push("zoom-rt-0".into());
    let base = serve(
        Router::new()
            .route("/oauth/token", post(zoom_token))
            .route("/oauth/revoke", post(zoom_revoke))
            .with_state(fake.clone()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[connection]]\nname = \"zoom\"\nkind = \"integration\"\nprovider = \"zoom\"\nauthority_host = {base:?}\nclient_id = \"zoom-app\"\nclient_secret_command = [\"printf\", \"s3cret\"]\nscopes = [\"meeting:read\", \"user:read\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    seed(&data, "zoom", "zoom-rt-0");

    let (code, stdout, stderr) = run(&config, &["refresh", "zoom"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("refresh token rotated"), "{stdout}");
    assert_eq!(fake.lock().unwrap().auth, ["basic:zoom-app:s3cret"]);
    let saved = load(&data, "zoom");
    assert_eq!(saved.refresh_token.as_ref().unwrap().expose(), "zoom-rt-1");
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"));

    // Two processes with the old token: Zoom's rotation makes the second one invalid.
    seed(&data, "zoom", "zoom-rt-0");
    let (code, _, stderr) = run(&config, &["refresh", "zoom"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("invalid_grant") && stderr.contains("run: connwatch login zoom"),
        "{stderr}"
    );

    // purge --revoke revokes at Zoom with the same client authentication.
    seed(&data, "zoom", "zoom-rt-1");
    let (code, stdout, stderr) = run(&config, &["purge", "zoom", "--revoke", "--yes"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("refresh_token revoked at the provider"),
        "{stdout}"
    );
    let f = fake.lock().unwrap();
    assert_eq!(f.revoked, ["zoom-rt-1"]);
    assert!(f.live.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_a_config_problem_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[connection]]\nname = \"zoom\"\nprovider = \"zoom\"\nauthority_host = \"http://127.0.0.1:9\"\nclient_id = \"zoom-app\"\nclient_secret_env = \"CONNWATCH_TEST_NO_SUCH_SECRET\"\nscopes = [\"meeting:read\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    seed(&data, "zoom", "zoom-rt-0");
    let (code, _, stderr) = run(&config, &["refresh", "zoom"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("invalid_client") && stderr.contains("CONNWATCH_TEST_NO_SUCH_SECRET"),
        "{stderr}"
    );
    assert_eq!(
        load(&data, "zoom").refresh_token.unwrap().expose(),
        "zoom-rt-0",
        "nothing spent, nothing lost"
    );
    let (_, out, _) = run(&config, &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["connections"][0]["state"], "misconfigured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_sends_the_secret_in_the_form_and_keeps_its_refresh_token() {
    let fake: Shared = Arc::default();
    fake.lock().unwrap().live.push("1//google-rt".into());
    let base = serve(
        Router::new()
            .route("/token", post(google_token))
            .with_state(fake.clone()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[connection]]\nname = \"gmail\"\nprovider = \"google\"\nauthority_host = {base:?}\nclient_id = \"123.apps.googleusercontent.com\"\nclient_secret_env = \"CONNWATCH_TEST_GOOGLE_SECRET\"\nscopes = [\"https://mail.google.com/\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    seed(&data, "gmail", "1//google-rt");
    let env = [("CONNWATCH_TEST_GOOGLE_SECRET", "GOCSPX-test")];
    let (code, stdout, stderr) = run(&config, &["token", "gmail"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "ya29.google-at-1");
    assert_eq!(
        fake.lock().unwrap().auth,
        ["form:123.apps.googleusercontent.com:GOCSPX-test"]
    );
    let saved = load(&data, "gmail");
    assert_eq!(
        saved.refresh_token.unwrap().expose(),
        "1//google-rt",
        "Google sends no new refresh token: the old one is kept"
    );
    // Revoked at Google: "Token has been expired or revoked." → needs_reauth.
    fake.lock().unwrap().live.clear();
    seed(&data, "gmail", "1//google-rt");
    let (code, _, stderr) = run(&config, &["refresh", "gmail"], &env);
    assert_eq!(code, 1);
    assert!(stderr.contains("run: connwatch login gmail"), "{stderr}");
}
