//! What each provider code means, in plain words, and the one action that fixes it.
//! Facts from shared/reference/identity-providers.md (Microsoft's AADSTS reference).
use super::{Cause, FixBy};

pub(super) struct Entry {
    pub cause: Cause,
    /// A template for `details::render`: `{tenant}`, `{account}`, `[… optional …]`.
    pub summary: &'static str,
    pub action: &'static str,
    /// Whether a sign-in fixes it, when the entry knows better than MSAL's rule on the
    /// `error` string (a device flow to restart, a Zoom code to redeem anew).
    pub sign_in: Option<bool>,
    /// Who fixes it, when not what the cause says (`FixBy::of_cause`).
    pub fix_by: Option<FixBy>,
}

impl Entry {
    pub const fn new(cause: Cause, summary: &'static str, action: &'static str) -> Entry {
        Entry {
            cause,
            summary,
            action,
            sign_in: None,
            fix_by: None,
        }
    }

    pub const fn fixed_by(mut self, who: FixBy) -> Entry {
        self.fix_by = Some(who);
        self
    }

    pub const fn signing_in_fixes_it(mut self) -> Entry {
        self.sign_in = Some(true);
        self
    }
}

/// Actions are name-free and fit both the dashboard and the CLI: callers that know the
/// connection add how to sign in (`Diagnosis::action_for`).
pub(super) const SIGN_IN: &str = "Sign in again.";
const WAIT: &str = "Nothing to do: connwatch retries by itself with backoff.";
const FIX_CONFIG: &str = "Fix the connection's settings (client_id, tenant, scopes) in the config.";
const RESTART_DEVICE: &str = "Start the sign-in again and enter the new code.";

/// Entra ID (eSTS) codes, by number. Every code of the reference's table (§1) is here.
pub(super) fn aadsts(code: u32) -> Option<Entry> {
    use Cause::*;
    let (cause, summary, action) = match code {
        50173 => (
            GrantRevoked,
            "The grant was revoked[ on {revoked_at}]: the password was changed or reset, or an admin revoked the sessions.",
            "Sign in again with the current password.",
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
            "Conditional Access sign-in frequency[ of tenant {tenant}] requires a fresh sign-in[ (every {lifetime})].",
            "Sign in again; how often is set by the tenant's policy, not by connwatch.",
        ),
        70008 => (
            RefreshTokenExpired,
            "The refresh token or authorization code expired from inactivity.",
            SIGN_IN,
        ),
        50076 => (
            MfaRequired,
            "Multi-factor authentication is required[ to access {resource}] (admin policy or a new location).",
            "Sign in again interactively and complete the MFA prompt.",
        ),
        50079 => (
            MfaRequired,
            "The account[ {account}] must register for multi-factor authentication.",
            "Register MFA (https://aka.ms/mfasetup), then sign in again.",
        ),
        53003 => (
            ConditionalAccess,
            "Blocked by a Conditional Access policy of [tenant {tenant}|the tenant that owns the resource]: it does not allow token issuance.",
            "Sign in again from a compliant device or network; if it still fails, ask that tenant's admin which policy blocks you.",
        ),
        65001 => (
            ConsentRequired,
            "Nobody consented to the app[ {app}] using the requested permissions.",
            "Sign in again and accept the permissions, or ask an admin to grant consent for the tenant.",
        ),
        65004 => (
            AccessDenied,
            "The user declined to consent to the app[ {app}].",
            "Sign in again and accept the requested permissions.",
        ),
        50020 => (
            TenantMismatch,
            "The account[ {account}][ (from {idp})] is not a member or guest of [tenant {tenant}|the resource's tenant].",
            "Sign in with an account of that tenant, or ask its admin to invite you as a guest.",
        ),
        90072 => (
            TenantMismatch,
            "The external account[ {account}] is not in [tenant {tenant}|the resource's tenant], so it cannot satisfy that tenant's MFA.",
            "Sign in with an account of that tenant, or ask its admin to invite you as a guest.",
        ),
        700016 => (
            InvalidClient,
            "The application[ {app}] (client_id) was not found in [tenant {tenant}|the tenant].",
            "Check client_id and tenant in the config; the app may not be consented in that tenant.",
        ),
        7000215 => (
            InvalidClient,
            "The client secret is invalid (the secret's value is needed, not its ID).",
            "Put the secret's value (not its ID) in the connection's client secret, or create a new secret.",
        ),
        7000218 => (
            InvalidClient,
            "The tenant treats the app as confidential: a client secret or assertion is required.",
            "Enable 'Allow public client flows' on the app registration, or configure a client secret.",
        ),
        50126 => (
            BadCredentials,
            "Invalid username or password[ for {account}].",
            "Sign in again with the right password.",
        ),
        50053 => (
            AccountLocked,
            "The account[ {account}] is locked after too many failed sign-ins (or sign-ins from a suspicious address).",
            "Wait for the lockout to end, then sign in again with the right password.",
        ),
        50057 => (
            AccountLocked,
            "The user account[ {account}] is disabled[ in tenant {tenant}].",
            "Ask the tenant's admin to enable the account; signing in again will not help until then.",
        ),
        50105 => (
            AccessDenied,
            "The account[ {account}] is not assigned to the application[ {app}] in [tenant {tenant}|the tenant].",
            "Ask the tenant's admin to assign you to the app (Enterprise applications → Users and groups).",
        ),
        7000112 => (
            InvalidClient,
            "The application[ {app}] is disabled in [tenant {tenant}|the tenant].",
            "Ask the tenant's admin to enable the app (Enterprise applications → Properties).",
        ),
        90094 | 90095 => (
            ConsentRequired,
            "Only an admin may grant the permissions the app[ {app}] asks for[ in tenant {tenant}].",
            "Ask the tenant's admin to grant admin consent for the app, then sign in again.",
        ),
        7000222 => (
            InvalidClient,
            "The client secret[ of {app}] has expired.",
            "The app registration's owner must create a new client secret; then put its value in the connection's client secret.",
        ),
        70000 => (
            InteractionRequired,
            "The grant is invalid, or the requested scopes are unauthorized or expired for it.",
            "Sign in again and grant the requested permissions (or request only granted scopes).",
        ),
        70011 => (
            InvalidRequest,
            "The scope parameter is invalid or malformed (mixed .default, a bad URI, or a missing openid).",
            FIX_CONFIG,
        ),
        54005 => (
            InvalidRequest,
            "The authorization code was already redeemed.",
            SIGN_IN,
        ),
        90002 => (
            InvalidRequest,
            "The tenant[ {tenant}] was not found (typo, deleted tenant, or the wrong cloud).",
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
            "Register the exact redirect URI (e.g. http://localhost) on the app registration.",
        ),
        500011 => (
            InvalidRequest,
            "The resource[ {resource}] named by the scopes was not found in [tenant {tenant}|the tenant].",
            "Fix the scopes' resource in the config, or ask the admin to provision that service.",
        ),
        70016 => (
            AuthorizationPending,
            "The user has not finished the device-code sign-in yet.",
            "Enter the code on the verification page; connwatch keeps polling.",
        ),
        70018 => (
            InvalidRequest,
            "The device or user code is not valid.",
            RESTART_DEVICE,
        ),
        70019 | 70020 => (
            DeviceCodeExpired,
            "The device code expired before the sign-in finished.",
            RESTART_DEVICE,
        ),
        50196 => (
            Throttled,
            "Loop detected: the same failing request was sent too often.",
            "Stop retrying for a few minutes, then sign in again; connwatch will not loop on it.",
        ),
        90033 | 50087 | 90006 | 90090 => (
            ServerError,
            "The identity provider is temporarily unavailable.",
            WAIT,
        ),
        53005 => (
            ConditionalAccess,
            "The tenant requires an app protected by Intune app protection policies.",
            "Sign in through an approved, policy-managed app (a broker such as Authenticator or Company Portal), or ask the admin for an exception.",
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
        70002 => (
            InvalidClient,
            "The provider could not validate the client's credentials.",
            FIX_CONFIG,
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
    let mut entry = Entry::new(cause, summary, action);
    entry.fix_by = super::fix_by::of_aadsts(code);
    // Restarting a device flow is a new sign-in, whatever `error` came with the code.
    Some(if code == 70018 {
        entry.signing_in_fixes_it()
    } else {
        entry
    })
}

/// RFC 8628 §3.5: for device-flow polling the `error` string is what a client must react
/// to, so it wins over the AADSTS number that comes with it.
pub(super) fn device_flow_error(error: &str) -> Option<Entry> {
    use Cause::*;
    let entry = match error {
        "authorization_pending" => Entry::new(
            AuthorizationPending,
            "The user has not finished the sign-in yet.",
            "Finish the sign-in in the browser; connwatch keeps polling.",
        ),
        "slow_down" => Entry::new(
            SlowDown,
            "The provider asked to poll less often.",
            "Nothing to do: connwatch polls 5 seconds slower from now on.",
        ),
        "authorization_declined" => Entry::new(
            AccessDenied,
            "The sign-in was declined on the second device.",
            "Start the sign-in again and approve it.",
        ),
        "expired_token" => Entry::new(
            DeviceCodeExpired,
            "The device code expired before the sign-in finished.",
            RESTART_DEVICE,
        ),
        "bad_verification_code" => Entry::new(
            InvalidRequest,
            "The device code is not recognised.",
            RESTART_DEVICE,
        )
        .signing_in_fixes_it(),
        _ => return None,
    };
    Some(entry)
}

/// The OAuth `error` string (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8628 §3.5, Entra's additions).
pub(super) fn oauth_error(error: &str) -> Option<Entry> {
    use Cause::*;
    if let Some(e) = device_flow_error(error) {
        return Some(e);
    }
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
            "Sign in again and accept the permissions, or ask an admin to grant consent.",
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
        "access_denied" => (
            AccessDenied,
            "The sign-in was declined or denied.",
            "Start the sign-in again and approve it.",
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
            "Refresh the token; if that fails, sign in again.",
        ),
        "insufficient_scope" => (
            MissingScope,
            "The access token lacks a permission the resource needs[: {scopes}].",
            "Add the missing scope to the connection, then sign in again.",
        ),
        _ => return None,
    };
    Some(Entry::new(cause, summary, action))
}
