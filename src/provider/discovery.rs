//! OIDC discovery (OpenID Connect Discovery 1.0 §4).
use super::Endpoints;
use crate::oauth::{HttpClient, OAuthFailure};

/// Fetch `<issuer>/.well-known/openid-configuration` and keep the endpoints we use.
pub async fn discover(http: &HttpClient, issuer: &str) -> Result<Endpoints, OAuthFailure> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = http.get(&url).await?;
    serde_json::from_slice::<Endpoints>(&body).map_err(|e| OAuthFailure::Malformed {
        what: format!("the discovery document at {url}"),
        detail: e.to_string(),
        body,
    })
}
