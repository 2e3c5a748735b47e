//! The authorization endpoint and the `authorization_code` grant of the demo IdP: a headless
//! sign-in (the user named by `login_hint` when the directory knows them, else alice) that
//! redirects straight back to a loopback redirect URI with a code bound to the PKCE challenge.
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use super::Shared;
use super::errors::EntraError;
use super::model::{Model, parse_scopes, random_bytes, resolve_tenant, unknown_tenant};

/// A code waiting to be redeemed.
pub(super) struct AuthCode {
    tid: &'static str,
    upn: String,
    client_id: String,
    scopes: Vec<String>,
    redirect_uri: String,
    challenge: String,
}

/// What the next authorization request answers (tests script refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeReply {
    /// The user cancels on the consent page (AADSTS65004).
    Decline,
}

pub(super) async fn authorize(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(tid) = resolve_tenant(&tenant) else {
        return unknown_tenant(&tenant).into_response(&s.base_url);
    };
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let redirect = get("redirect_uri");
    // Only registered redirects (an open redirect would be a hole even in a demo); Entra
    // shows the mismatch on its own page, since the redirect itself cannot be trusted.
    let registered = url::Url::parse(redirect).is_ok()
        && s.model()
            .opts
            .redirect_uris
            .iter()
            .any(|r| without_loopback_port(r) == without_loopback_port(redirect));
    if !registered {
        return page(
            StatusCode::BAD_REQUEST,
            &format!(
                "AADSTS50011: The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
                html_escape(redirect),
                html_escape(get("client_id"))
            ),
        );
    }
    let back = |params: &[(&str, &str)]| {
        let mut u = url::Url::parse(redirect).expect("checked above");
        u.query_pairs_mut().extend_pairs(params);
        (StatusCode::FOUND, [(header::LOCATION, u.to_string())]).into_response()
    };
    let state = get("state");
    if get("response_type") != "code"
        || get("code_challenge").is_empty()
        || get("code_challenge_method") != "S256"
    {
        return back(&[
            ("error", "invalid_request"),
            (
                "error_description",
                "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            ),
            ("state", state),
        ]);
    }
    let mut m = s.model();
    m.authorize_requests.push(q.clone());
    if q.contains_key("claims") && q.get("claims") == m.claims_challenge.as_ref() {
        m.claims_challenge = None;
    }
    if m.authorize_script.pop_front() == Some(AuthorizeReply::Decline) {
        return back(&[
            ("error", "access_denied"),
            (
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            ),
            ("state", state),
        ]);
    }
    let upn = match get("login_hint") {
        h if Model::knows_user(h) => h.to_owned(),
        _ => "alice@contoso.com".to_owned(),
    };
    let code = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    m.issued.push(code.clone());
    m.auth_codes.insert(
        code.clone(),
        AuthCode {
            tid,
            upn,
            client_id: get("client_id").to_owned(),
            scopes: parse_scopes(get("scope")),
            redirect_uri: redirect.to_owned(),
            challenge: get("code_challenge").to_owned(),
        },
    );
    drop(m);
    back(&[("code", &code), ("state", state)])
}

/// A loopback redirect URI matches whatever its port (RFC 8252 §7.3; Entra ignores it too).
fn without_loopback_port(uri: &str) -> String {
    for host in ["http://localhost", "http://127.0.0.1", "http://[::1]"] {
        if let Some(rest) = uri.strip_prefix(host) {
            let rest = match rest.strip_prefix(':') {
                Some(p) => p.trim_start_matches(|c: char| c.is_ascii_digit()),
                None => rest,
            };
            return format!("{host}{rest}");
        }
    }
    uri.to_owned()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><title>Sign in</title><p>{text}</p>"),
    )
        .into_response()
}

impl Model {
    /// The `authorization_code` grant: one use per code, same client, same redirect URI,
    /// and the verifier must hash to the challenge (RFC 7636 §4.6).
    pub fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<serde_json::Value, EntraError> {
        let Some(c) = self.auth_codes.remove(code) else {
            return Err(EntraError::new(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        };
        if c.client_id != client_id {
            return Err(EntraError::new(
                "invalid_grant",
                70000,
                "The provided authorization code was issued to a different client.",
            ));
        }
        if redirect_uri != Some(c.redirect_uri.as_str()) {
            return Err(EntraError::new(
                "invalid_grant",
                50148,
                "The redirect_uri does not match the one used in the authorization request.",
            ));
        }
        let digest = verifier.map(crate::oauth::browser::challenge);
        if digest.as_deref() != Some(c.challenge.as_str()) {
            return Err(EntraError::new(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
        let g = self.new_grant(c.tid, &c.upn, client_id, c.scopes, None)?;
        self.issue(g, None)
    }
}
