//! Google's token endpoint (`https://oauth2.googleapis.com/token`): the same `error` means
//! different things by its `error_description` (reference §1 "Google", §2).
use super::Cause;
use super::catalogue::{Entry, SIGN_IN};

/// `sure`: the answer is known to be Google's; else only Google's own wordings match.
pub(super) fn token_error(error: &str, description: &str, sure: bool) -> Option<Entry> {
    let d = description.to_ascii_lowercase();
    let entry = match error {
        "invalid_grant" if d.contains("expired or revoked") => Entry::new(
            Cause::GrantRevoked,
            "Google revoked the refresh token: access removed by the user, unused for 6 months, password changed (Gmail scopes), or an app in \"Testing\" (7-day tokens).",
            "Sign in again; if it recurs weekly, publish the OAuth app (it is in Testing).",
        ),
        "invalid_grant" if sure && d.trim() == "bad request" => Entry::new(
            Cause::InvalidRequest,
            "Google refused the grant: code reused or expired, redirect URI or PKCE mismatch, or a skewed clock.",
            "Check the computer's clock, then start the sign-in again.",
        )
        .signing_in_fixes_it(),
        "invalid_client" if d.contains("oauth client was not found") => Entry::new(
            Cause::InvalidClient,
            "Google does not know this OAuth client (deleted, or a client_id typo).",
            "Copy the client ID from the Google Cloud console into the connection again.",
        ),
        "invalid_client" if sure => Entry::new(
            Cause::InvalidClient,
            "Google does not accept this client_id or client_secret.",
            "Copy the client ID and secret from the Google Cloud console into the connection again.",
        ),
        "invalid_grant" if sure => Entry::new(
            Cause::GrantRevoked,
            "Google refused the refresh token (expired or revoked).",
            SIGN_IN,
        ),
        _ => return None,
    };
    Some(entry)
}
