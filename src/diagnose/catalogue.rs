//! What each provider code means, in plain words, and the one action that fixes it.
//! Facts from shared/reference/identity-providers.md (Microsoft's AADSTS reference).
use super::Cause;

pub(super) struct Entry {
    pub cause: Cause,
    /// May hold `{q}`: the first name the provider quoted ('…'), when it quoted one.
    pub summary: &'static str,
    pub action: &'static str,
}

/// Fill `{q}` with the first '…'-quoted name of the provider's text, or drop it.
pub(super) fn fill(summary: &str, provider_text: Option<&str>) -> String {
    if !summary.contains("{q}") {
        return summary.to_owned();
    }
    let quoted = provider_text.and_then(|t| {
        let start = t.find('\'')? + 1;
        let len = t[start..].find('\'')?;
        Some(&t[start..start + len]).filter(|q| !q.is_empty())
    });
    match quoted {
        Some(q) => summary.replace("{q}", &format!("'{q}'")),
        None => summary.replace(" {q}", ""),
    }
}

const SIGN_IN: &str = "Sign in again (press a in the dashboard, or run connwatch login NAME).";
const WAIT: &str = "Nothing to do: connwatch retries by itself with backoff.";
const FIX_CONFIG: &str = "Fix the connection's settings (client_id, tenant, scopes) in the config.";

/// Entra ID (eSTS) codes, by number.
pub(super) fn aadsts(code: u32) -> Option<Entry> {
    use Cause::*;
    let (cause, summary, action) = match code {
        50173 => (
            GrantRevoked,
            "The grant was revoked: the password was changed or reset, or an admin revoked the sessions.",
            "Sign in again with the current password (press a, or run connwatch login NAME).",
        ),
        700082 => (
            RefreshTokenExpired,
            "The refresh token expired after 90 days without use.",
            SIGN_IN,
        ),
        700084 => (
            RefreshTokenExpired,
            "The refresh token of a single-page app reached its fixed 24-hour lifetime.",
            SIGN_IN,
        ),
        70043 => (
            ConditionalAccess,
            "The tenant's Conditional Access sign-in frequency requires a fresh sign-in.",
            "Sign in again; how often is set by the tenant's policy, not by connwatch.",
        ),
        70008 => (
            RefreshTokenExpired,
            "The refresh token or code expired from inactivity.",
            SIGN_IN,
        ),
        50076 => (
            MfaRequired,
            "Multi-factor authentication is required to access {q} (new location or admin policy).",
            "Sign in interactively and complete MFA (press a).",
        ),
        50079 => (
            MfaRequired,
            "The user must register for multi-factor authentication.",
            "Register MFA, then sign in again (press a).",
        ),
        53003 => (
            ConditionalAccess,
            "Blocked by a Conditional Access policy of the tenant that owns the resource.",
            "Sign in again from a compliant device or network; if it still fails, ask that tenant's admin which policy blocks you.",
        ),
        65001 => (
            ConsentRequired,
            "The app {q} has no consent for the requested permissions.",
            "Sign in again and accept the permissions, or ask an admin to grant consent.",
        ),
        65004 => (
            AccessDenied,
            "The user declined to consent to the app.",
            "Sign in again and accept the requested permissions.",
        ),
        50020 | 90072 => (
            TenantMismatch,
            "The account {q} is not a member or guest of the resource's tenant.",
            "Use an account of that tenant, or ask its admin to invite you as a guest.",
        ),
        700016 => (
            InvalidClient,
            "The application {q} (client_id) was not found in the tenant.",
            "Check client_id and tenant in the config; the app may not be consented in that tenant.",
        ),
        7000215 => (
            InvalidClient,
            "The client secret is invalid (the secret's value is needed, not its ID).",
            "Update the client secret.",
        ),
        7000218 => (
            InvalidClient,
            "The tenant treats the app as confidential: a client secret or assertion is required.",
            "Enable 'Allow public client flows' on the app registration, or configure a secret.",
        ),
        50126 => (
            BadCredentials,
            "Invalid username or password.",
            "Sign in again with the right password (press a).",
        ),
        50053 => (
            AccountLocked,
            "The account is locked after too many failed sign-ins.",
            "Wait for the lockout to end, then sign in with the right password.",
        ),
        50057 => (
            AccountLocked,
            "The user account is disabled.",
            "Ask an admin to enable the account.",
        ),
        70000 => (
            InteractionRequired,
            "The requested scopes are not authorized or have expired for this grant.",
            SIGN_IN,
        ),
        70011 => (
            InvalidRequest,
            "The scope parameter is invalid or malformed.",
            FIX_CONFIG,
        ),
        54005 => (
            InvalidRequest,
            "The authorization code was already redeemed.",
            SIGN_IN,
        ),
        90002 => (
            InvalidRequest,
            "The tenant {q} was not found (typo, deleted tenant, or the wrong cloud).",
            "Fix the tenant (or authority_host for sovereign clouds) in the config.",
        ),
        50058 => (
            InteractionRequired,
            "A silent sign-in found no session.",
            SIGN_IN,
        ),
        50011 => (
            InvalidRequest,
            "The redirect URI is not registered on the app.",
            "Register the exact redirect URI on the app registration.",
        ),
        500011 => (
            InvalidRequest,
            "The resource {q} named in the scopes was not found in the tenant.",
            FIX_CONFIG,
        ),
        70016 => (
            AuthorizationPending,
            "The user has not finished the device-code sign-in yet.",
            "Enter the code on the verification page; connwatch keeps polling.",
        ),
        70018 => (
            InvalidRequest,
            "The device or user code is not valid.",
            "Start the sign-in again (press a).",
        ),
        70019 | 70020 => (
            DeviceCodeExpired,
            "The device code expired before the sign-in finished.",
            "Start the sign-in again and enter the new code (press a).",
        ),
        50196 => (
            Throttled,
            "Loop detected: the same request was sent too often.",
            "Wait a few minutes; connwatch backs off by itself.",
        ),
        90033 | 50087 | 90006 | 90090 => (
            ServerError,
            "The identity provider is temporarily unavailable.",
            WAIT,
        ),
        9002313 => (
            GrantRevoked,
            "The refresh token is malformed or not valid any more.",
            SIGN_IN,
        ),
        28000 => (
            InvalidRequest,
            "The scopes name more than one resource; one token is for one resource.",
            "Split the scopes: one connection per resource (e.g. Outlook and Graph).",
        ),
        900144 => (
            InvalidRequest,
            "A required request parameter is missing.",
            FIX_CONFIG,
        ),
        70003 => (
            InvalidRequest,
            "The app asked for a grant type the tenant does not support.",
            FIX_CONFIG,
        ),
        _ => return None,
    };
    Some(Entry {
        cause,
        summary,
        action,
    })
}

/// The OAuth `error` string (RFC 6749 §5.2, RFC 8628 §3.5, Entra's additions).
pub(super) fn oauth_error(error: &str) -> Option<Entry> {
    use Cause::*;
    let (cause, summary, action) = match error {
        "invalid_grant" => (
            GrantRevoked,
            "The refresh token was refused: expired, revoked or already used.",
            SIGN_IN,
        ),
        "interaction_required" | "login_required" => (
            InteractionRequired,
            "The provider needs an interactive sign-in.",
            SIGN_IN,
        ),
        "consent_required" => (
            ConsentRequired,
            "Consent is required for the requested permissions.",
            SIGN_IN,
        ),
        "invalid_client" | "unauthorized_client" => (
            InvalidClient,
            "The provider does not accept this client (client_id or secret).",
            FIX_CONFIG,
        ),
        "invalid_request"
        | "invalid_scope"
        | "unsupported_grant_type"
        | "invalid_resource"
        | "unsupported_response_type" => (
            InvalidRequest,
            "The provider rejected the request as malformed.",
            FIX_CONFIG,
        ),
        "access_denied" | "authorization_declined" => (
            AccessDenied,
            "The sign-in was declined.",
            "Start the sign-in again and approve it (press a).",
        ),
        "authorization_pending" => (
            AuthorizationPending,
            "The user has not finished the sign-in yet.",
            "Finish the sign-in in the browser; connwatch keeps polling.",
        ),
        "slow_down" => (
            SlowDown,
            "The provider asked to poll less often.",
            "Nothing to do: connwatch polls 5 seconds slower from now on.",
        ),
        "expired_token" => (
            DeviceCodeExpired,
            "The device code expired before the sign-in finished.",
            "Start the sign-in again (press a).",
        ),
        "bad_verification_code" => (
            InvalidRequest,
            "The device code is not recognised.",
            "Start the sign-in again (press a).",
        ),
        "temporarily_unavailable" | "server_error" => (
            ServerError,
            "The identity provider is temporarily unavailable.",
            WAIT,
        ),
        "insufficient_claims" => (
            ClaimsChallenge,
            "The resource demands a fresh sign-in with extra claims (Continuous Access Evaluation).",
            SIGN_IN,
        ),
        "invalid_token" => (
            TokenExpired,
            "The resource rejected the access token (expired or revoked).",
            "Refresh the token (press r).",
        ),
        "insufficient_scope" => (
            MissingScope,
            "The access token lacks a permission the resource needs.",
            "Add the missing scope to the connection and sign in again.",
        ),
        _ => return None,
    };
    Some(Entry {
        cause,
        summary,
        action,
    })
}
