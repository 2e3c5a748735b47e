//! A stand-in for Microsoft Graph's `/v1.0/me`, so the probe has a resource to ask: it accepts
//! access tokens this IdP issued for Graph, and answers like Graph when it does not — a JSON
//! error with `innerError` ids and a `WWW-Authenticate` header, or a CAE claims challenge.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Shared;
use super::model::{GRAPH, random_uuid};

fn graph_error(status: StatusCode, code: &str, message: &str, www: String) -> Response {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    (
        status,
        [(header::WWW_AUTHENTICATE, www)],
        axum::Json(json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now,
                    "request-id": random_uuid(),
                    "client-request-id": random_uuid(),
                }
            }
        })),
    )
        .into_response()
}

pub(super) async fn me(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let base = s.base_url.clone();
    let plain = format!(
        "Bearer realm=\"\", authorization_uri=\"{base}/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""
    );
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let m = s.model();
    let Some((resource, _g)) = m.access_tokens.get(&token).cloned() else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
            plain,
        );
    };
    if resource != GRAPH {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
            plain,
        );
    }
    if let Some(claims) = &m.claims_challenge {
        let www = format!(
            "{plain}, error=\"insufficient_claims\", claims=\"{}\"",
            STANDARD.encode(claims)
        );
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
            www,
        );
    }
    axum::Json(json!({
        "@odata.context": format!("{base}/v1.0/$metadata#users/$entity"),
        "displayName": "Alice Example",
        "userPrincipalName": "alice@contoso.com",
    }))
    .into_response()
}
