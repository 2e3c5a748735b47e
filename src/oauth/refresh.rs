//! The refresh-token grant (RFC 6749 §6).
use super::{Client, HttpClient, OAuthFailure, TokenResponse};

pub async fn refresh(
    http: &HttpClient,
    token_url: &str,
    client: &Client<'_>,
    refresh_token: &str,
    scopes: &[String],
) -> Result<TokenResponse, OAuthFailure> {
    let scope = scopes.join(" ");
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    // Entra needs the scope to know which resource to mint the access token for.
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let body = http.post_form_as(token_url, client, &form).await?;
    TokenResponse::parse(&body).map_err(|detail| OAuthFailure::Malformed {
        what: "the token response".into(),
        detail,
        body,
    })
}
