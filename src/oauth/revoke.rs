//! Token revocation (RFC 7009): tell the provider to forget a token, so a purge also ends
//! the grant where it lives and not only on this machine.
use super::{Client, HttpClient, OAuthFailure};

/// POST the token to the revocation endpoint. RFC 7009 §2.2: 200 means revoked, or that the
/// token was already invalid — both end in the same place.
pub async fn revoke(
    http: &HttpClient,
    revocation_endpoint: &str,
    client: &Client<'_>,
    token: &str,
    token_type_hint: &str,
) -> Result<(), OAuthFailure> {
    http.post_form_as(
        revocation_endpoint,
        client,
        &[("token", token), ("token_type_hint", token_type_hint)],
    )
    .await
    .map(|_| ())
}
