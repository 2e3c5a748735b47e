//! Zoom: the token endpoint answers `{"reason":"…","error":"…"}`, the API `{"code":n,"message":"…"}`.
//! Zoom changed refresh failures from 401 to 400 over time, so we key on `error`, not status.
use super::Cause;
use super::catalogue::{Entry, SIGN_IN};

/// The token endpoint's `reason`, more specific than its `error`.
pub(super) fn token_error(error: &str, reason: &str) -> Option<Entry> {
    let r = reason.to_ascii_lowercase();
    let entry = match error {
        "invalid_grant" if r.contains("invalid token") => Entry::new(
            Cause::GrantRevoked,
            "Zoom refused the refresh token: already rotated (each refresh returns a new one), revoked, or older than 90 days.",
            SIGN_IN,
        ),
        "invalid_request" | "invalid_grant" if r.contains("authorization code") => Entry::new(
            Cause::InvalidRequest,
            "Zoom refused the authorization code: already used, or older than its 5 minutes.",
            SIGN_IN,
        )
        .signing_in_fixes_it(),
        "invalid_client" => Entry::new(
            Cause::InvalidClient,
            "Zoom does not accept this client_id or client_secret.",
            "Copy the client ID and secret of the Zoom app into the connection again.",
        ),
        _ => return None,
    };
    Some(entry)
}

/// API codes (`https://api.zoom.us/v2`).
pub(super) fn api_error(code: &str) -> Option<Entry> {
    let entry = match code {
        "124" => Entry::new(
            Cause::TokenExpired,
            "Zoom rejected the access token (expired or invalid).",
            "Refresh the token; if that fails, sign in again.",
        ),
        "4711" => Entry::new(
            Cause::MissingScope,
            "The token lacks the scopes Zoom needs[: {scopes}].",
            "Add the scopes to the Zoom app and the connection, then sign in again.",
        )
        .signing_in_fixes_it(),
        "429" => Entry::new(
            Cause::Throttled,
            "Zoom's rate limit was reached.",
            "Nothing to do: connwatch waits as long as Zoom asks (Retry-After).",
        ),
        _ => return None,
    };
    Some(entry)
}

/// Numbers a user may type that are Zoom's, not Entra's.
pub(super) fn is_api_code(n: u32) -> bool {
    matches!(n, 124 | 4711)
}
