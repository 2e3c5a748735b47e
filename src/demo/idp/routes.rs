//! HTTP routes of the demo IdP (Entra v2 paths).
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::errors::EntraError;
use super::model::{parse_scopes, resolve_tenant, unknown_tenant};
use super::{Shared, faults};

type Params = HashMap<String, String>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(super::authorize::authorize),
        )
        .route("/v1.0/me", get(super::resource::me))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/devicelogin", get(devicelogin_get).post(devicelogin_post))
        .with_state(shared)
}

fn missing(name: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

async fn devicecode(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(p): Form<Params>,
) -> Response {
    let Some(tid) = resolve_tenant(&tenant) else {
        return unknown_tenant(&tenant).into_response(&s.base_url);
    };
    let (Some(client_id), Some(scope)) = (p.get("client_id"), p.get("scope")) else {
        return missing(if p.contains_key("client_id") {
            "scope"
        } else {
            "client_id"
        })
        .into_response(&s.base_url);
    };
    let mut m = s.model();
    // A sign-in that answers the claims challenge clears it (tokens issued after it satisfy it).
    if p.contains_key("claims") && p.get("claims") == m.claims_challenge.as_ref() {
        m.claims_challenge = None;
    }
    let result = m.start_device(tid, client_id, parse_scopes(scope), &s.base_url);
    drop(m);
    respond(&s, result)
}

async fn token(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(p): Form<Params>,
) -> Response {
    let (delay, fault) = {
        let mut m = s.model();
        m.token_requests += 1;
        (m.token_delay, m.faults.pop_front())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault.map(|f| faults::action(&f, &s.base_url)) {
        Some(faults::Action::Respond(r)) => return r,
        Some(faults::Action::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    if resolve_tenant(&tenant).is_none() {
        return unknown_tenant(&tenant).into_response(&s.base_url);
    }
    let Some(client_id) = p.get("client_id") else {
        return missing("client_id").into_response(&s.base_url);
    };
    let result = match p.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => match p.get("device_code") {
            Some(dc) => s.model().poll_device(dc, client_id),
            None => Err(missing("device_code")),
        },
        Some("authorization_code") => match p.get("code") {
            Some(code) => s.model().redeem_code(
                code,
                client_id,
                p.get("redirect_uri").map(String::as_str),
                p.get("code_verifier").map(String::as_str),
            ),
            None => Err(missing("code")),
        },
        Some("refresh_token") => match p.get("refresh_token") {
            Some(rt) => s
                .model()
                .refresh(rt, client_id, p.get("scope").map(String::as_str)),
            None => Err(missing("refresh_token")),
        },
        Some(other) => Err(EntraError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
        None => Err(missing("grant_type")),
    };
    respond(&s, result)
}

fn respond(s: &Shared, result: Result<serde_json::Value, EntraError>) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => {
            tracing::debug!(error = e.error, code = e.code, "demo IdP answers an error");
            e.into_response(&s.base_url)
        }
    }
}

async fn discovery(State(s): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    let Some(tid) = resolve_tenant(&tenant) else {
        return unknown_tenant(&tenant).into_response(&s.base_url);
    };
    let b = &s.base_url;
    axum::Json(json!({
        "issuer": format!("{b}/{tid}/v2.0"),
        "token_endpoint": format!("{b}/{tenant}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/devicecode"),
        "authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{b}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "EU",
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.model().key.jwks()).into_response()
}

const PAGE: &str = "<!doctype html><title>Demo sign-in</title><h1>Enter code</h1>\
<p>Enter the code displayed on your app or device.</p>\
<form method=post><input name=user_code autofocus><button>Next</button></form>";

async fn devicelogin_get(State(s): State<Arc<Shared>>, Query(q): Query<Params>) -> Response {
    match q.get("user_code") {
        Some(code) => approved_page(&s, code),
        None => Html(PAGE).into_response(),
    }
}

async fn devicelogin_post(State(s): State<Arc<Shared>>, Form(p): Form<Params>) -> Response {
    approved_page(&s, p.get("user_code").map_or("", String::as_str))
}

fn approved_page(s: &Shared, code: &str) -> Response {
    if s.model().approve(code, true) {
        Html("<!doctype html><title>Signed in</title><p>You have signed in to the demo application on your device. You may now close this window.</p>").into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "{PAGE}<p>That code didn't work. Check the code and try again.</p>"
            )),
        )
            .into_response()
    }
}
