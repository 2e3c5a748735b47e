//! Microsoft Graph (and Outlook REST) resource errors:
//! `{"error":{"code":"InvalidAuthenticationToken","message":"…","innerError":{…}}}`.
use super::catalogue::{Entry, SIGN_IN};
use super::{Cause, FixBy};

pub(super) fn resource_error(code: &str, message: &str) -> Option<Entry> {
    let msg = message.to_ascii_lowercase();
    let entry = match code {
        "InvalidAuthenticationToken" if msg.contains("audience") => Entry::new(
            Cause::WrongAudience,
            "The resource rejected the token: it was issued for another audience.",
            "Request scopes of this resource (e.g. https://graph.microsoft.com/Mail.Read), then sign in again.",
        ),
        "InvalidAuthenticationToken" if msg.contains("continuous access evaluation") => {
            Entry::new(
                Cause::ClaimsChallenge,
                "Continuous Access Evaluation revoked the token; the resource demands a fresh sign-in.",
                SIGN_IN,
            )
        }
        "InvalidAuthenticationToken" | "AuthenticationError" | "ExpiredAuthenticationToken" => {
            Entry::new(
                Cause::TokenExpired,
                "The resource rejected the access token as expired or not yet valid.",
                "Refresh the token; if that fails, sign in again.",
            )
        }
        // Outlook workloads (mail, calendar) answer this when `scp` lacks the permission.
        "ErrorAccessDenied" | "AccessDenied" => Entry::new(
            Cause::MissingScope,
            "Access denied: the token lacks the permission for this mailbox or calendar (e.g. Mail.Read, Calendars.Read).",
            "Add the permission to the connection's scopes, then sign in again.",
        )
        .signing_in_fixes_it(),
        "Authorization_RequestDenied" => Entry::new(
            Cause::MissingScope,
            "Insufficient privileges: the permission needs an admin's consent.",
            "Ask the tenant's admin to grant the permission, then sign in again.",
        )
        .fixed_by(FixBy::Admin),
        "ApplicationThrottled" | "TooManyRequests" | "activityLimitReached" => Entry::new(
            Cause::Throttled,
            "The resource is throttling this app (too many requests or concurrent connections).",
            "Nothing to do: connwatch waits as long as the resource asks (Retry-After).",
        ),
        "ServiceNotAvailable" | "serviceNotAvailable" | "generalException" => Entry::new(
            Cause::ServerError,
            "The resource is temporarily unavailable.",
            "Nothing to do: connwatch retries by itself with backoff.",
        ),
        _ => return None,
    };
    Some(entry)
}
