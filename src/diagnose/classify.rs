//! The classification engine: which code is the most specific, what it means, and whether
//! a sign-in (MSAL's rule, reference §5) or a retry fixes it.
use jiff::Timestamp;

use super::body::{self, Said};
use super::catalogue::{self, Entry};
use super::details::{self, Details};
use super::headers::Headers;
use super::{Cause, Diagnosis, FixBy, HttpFailure, ProviderHint, exchange, google, graph, zoom};

fn blank(cause: Cause) -> Diagnosis {
    Diagnosis::of(cause, false, false, String::new(), "")
}

pub(super) fn from_http(input: &HttpFailure<'_>, now: Timestamp) -> Diagnosis {
    let headers = Headers(&input.headers);
    let mut said = body::read_body(input.body);
    // CAE: `WWW-Authenticate: Bearer …, error="insufficient_claims", claims="eyJ…"`.
    let challenge_error = headers.challenge("error");
    if let Some(c) = headers.challenge("claims") {
        said.claims = Some(c);
    }
    if said.error.is_none() {
        said.error.clone_from(&challenge_error);
    }
    if said.description.is_none() {
        said.description = headers.challenge("error_description");
    }
    if said.error_uri.is_none() {
        said.error_uri = headers.challenge("error_uri");
    }
    said.aadsts = said.aadsts.or_else(|| headers.clitelem_code());
    let status = input.status;
    let description = said.description.as_deref().unwrap_or_default();
    let details = Details::from_text(description);

    let entry = choose_entry(&said, challenge_error.as_deref(), input.provider);
    let cause = match &entry {
        Some(e) => e.cause,
        None => match status {
            Some(429) => Cause::Throttled,
            Some(408) => Cause::Network,
            Some(s) if s >= 500 => Cause::ServerError,
            _ => Cause::Unknown,
        },
    };
    let mut d = blank(cause);
    d.http_status = status;
    d.retry_after_s = headers.retry_after_s(now);
    // MSAL's rule: retry on 5xx, 429, 408 and temporarily_unavailable. A pasted body has no
    // status, so its transient causes count too. AADSTS50196 (loop detected) is "throttled"
    // but an invalid_grant: retrying it is what caused it.
    let pasted_transient = status.is_none()
        && (cause == Cause::ServerError
            || (cause == Cause::Throttled && said.aadsts != Some(50196)));
    d.retryable = cause == Cause::Network
        || status.is_some_and(|s| s >= 500 || s == 429 || s == 408)
        || said.error.as_deref() == Some("temporarily_unavailable")
        || pasted_transient;
    d.needs_reauth = !d.retryable
        && entry.as_ref().and_then(|e| e.sign_in).unwrap_or_else(|| {
            needs_sign_in(
                cause,
                said.error.as_deref(),
                said.suberror.as_deref(),
                description,
            )
        });
    // Who fixes it: the code's own rule, else the cause's. Someone else's fix is never a
    // sign-in for the user to retry (AADSTS50057: only the admin can enable the account).
    d.fix_by = entry
        .as_ref()
        .and_then(|e| e.fix_by)
        .unwrap_or_else(|| FixBy::of_cause(cause, d.retryable));
    d.needs_reauth &= d.fix_by == FixBy::User;
    d.sign_in_frequency_s = details.lifetime_s;
    d.code = said
        .aadsts
        .map(|n| format!("AADSTS{n}"))
        .or_else(|| said.other_code.clone())
        .or_else(|| said.error.clone());
    let summary = match &entry {
        Some(e) => details::render(e.summary, &details),
        // Entra's front door answers 429 in plain text ("Too Many Requests"): say what it means.
        None if cause == Cause::Throttled && said.error.is_none() => {
            let wait = d
                .retry_after_s
                .map(|s| format!("; it asked to wait {s} s"))
                .unwrap_or_default();
            format!("The provider is throttling requests (HTTP 429, too many requests){wait}.")
        }
        None => Some(body::first_line(description))
            .filter(|t| !t.is_empty())
            .or_else(|| {
                said.shape
                    .as_ref()
                    .map(|s| format!("The provider answered with {s}."))
            })
            .unwrap_or_else(|| "The provider refused the request without saying why.".into()),
    };
    d.summary = with_status(summary, status, said.shape.as_deref());
    d.action = match &entry {
        Some(e) => e.action.to_owned(),
        None => default_action(&d).to_owned(),
    };
    d.description = said.description.filter(|t| !t.trim().is_empty());
    d.error_uri = said.error_uri;
    d.error = said.error;
    d.suberror = said.suberror;
    d.trace_id = said.trace_id;
    d.correlation_id = said.correlation_id;
    d.timestamp = said.timestamp;
    d.claims = said.claims;
    d
}

/// The most specific meaning the answer carries, most specific first.
fn choose_entry(
    said: &Said,
    challenge_error: Option<&str>,
    provider: ProviderHint,
) -> Option<Entry> {
    let error = said.error.as_deref().unwrap_or_default();
    let description = said.description.as_deref().unwrap_or_default();
    let other_code = said.other_code.as_deref().unwrap_or_default();
    let zoom_ok = matches!(
        provider,
        ProviderHint::Zoom | ProviderHint::Unknown | ProviderHint::Oidc
    );
    let google_sure = provider == ProviderHint::Google;
    let google_ok = google_sure || matches!(provider, ProviderHint::Unknown | ProviderHint::Oidc);
    catalogue::device_flow_error(error)
        .or_else(|| said.aadsts.and_then(catalogue::aadsts))
        .or_else(|| {
            zoom_ok
                .then(|| zoom::token_error(error, description))
                .flatten()
        })
        .or_else(|| {
            google_ok
                .then(|| google::token_error(error, description, google_sure))
                .flatten()
        })
        // A claims challenge outranks the resource's own code: only it says what to do.
        .or_else(|| {
            (challenge_error == Some("insufficient_claims"))
                .then(|| catalogue::oauth_error("insufficient_claims"))
                .flatten()
        })
        .or_else(|| graph::resource_error(other_code, description))
        .or_else(|| zoom_ok.then(|| zoom::api_error(other_code)).flatten())
        .or_else(|| catalogue::oauth_error(error))
        .or_else(|| exchange::protocol_error(description))
}

/// MSAL's rule (MsalServiceExceptionFactory, InteractionRequiredAuthError) plus the causes
/// that only a person can fix by signing in.
fn needs_sign_in(
    cause: Cause,
    error: Option<&str>,
    suberror: Option<&str>,
    description: &str,
) -> bool {
    if matches!(
        suberror,
        Some("client_mismatch" | "protection_policy_required")
    ) {
        return false;
    }
    let by_error = matches!(
        error,
        Some("invalid_grant" | "interaction_required" | "consent_required" | "login_required")
    );
    let by_suberror = matches!(
        suberror,
        Some(
            "basic_action"
                | "additional_action"
                | "message_only"
                | "consent_required"
                | "user_password_expired"
                | "bad_token"
        )
    );
    // MSAL.js also looks for the interaction errors inside the description.
    let by_description = ["interaction_required", "consent_required", "login_required"]
        .iter()
        .any(|e| description.contains(e));
    let by_cause = match cause {
        Cause::GrantRevoked
        | Cause::RefreshTokenExpired
        | Cause::InteractionRequired
        | Cause::MfaRequired
        | Cause::ConsentRequired
        | Cause::ConditionalAccess
        | Cause::ClaimsChallenge
        | Cause::BadCredentials
        | Cause::TenantMismatch
        | Cause::DeviceCodeExpired
        | Cause::AccessDenied
        | Cause::MissingScope
        | Cause::MissingOfflineAccess => true,
        Cause::TokenExpired
        | Cause::WrongAudience
        | Cause::InvalidClient
        | Cause::InvalidRequest
        | Cause::AccountLocked
        | Cause::Throttled
        | Cause::ServerError
        | Cause::Network
        | Cause::AuthorizationPending
        | Cause::SlowDown
        | Cause::ProtocolDisabled
        | Cause::MailboxNotAccessible
        | Cause::Tls
        | Cause::Unknown => false,
    };
    by_error || by_suberror || by_description || by_cause
}

fn default_action(d: &Diagnosis) -> &'static str {
    if d.retryable {
        "Nothing to do: connwatch retries by itself with backoff."
    } else if d.needs_reauth {
        catalogue::SIGN_IN
    } else {
        "Check the connection's settings; the provider's words above say what it refused."
    }
}

fn with_status(summary: String, status: Option<u16>, shape: Option<&str>) -> String {
    match (status, shape) {
        (Some(s), Some(_)) if !(200..300).contains(&s) => format!("HTTP {s}: {summary}"),
        _ => summary,
    }
}

pub(super) fn network(detail: &str) -> Diagnosis {
    let mut d = blank(Cause::Network);
    d.retryable = true;
    let detail = body::first_line(detail);
    d.summary = if detail.is_empty() {
        "Could not reach the identity provider.".into()
    } else {
        format!("Could not reach the identity provider: {detail}")
    };
    d.action = "Check the network; connwatch retries by itself.".into();
    d
}

pub(super) fn no_refresh_token(offline_access_requested: bool) -> Diagnosis {
    let mut d = blank(Cause::MissingOfflineAccess);
    d.needs_reauth = true;
    d.summary = if offline_access_requested {
        "The provider issued no refresh token although offline_access was requested.".into()
    } else {
        "No refresh token: offline_access was not requested, so the access token cannot be renewed."
            .into()
    };
    d.action = if offline_access_requested {
        "Sign in again and accept all permissions (Google: access_type=offline and prompt=consent)."
            .into()
    } else {
        "Add \"offline_access\" to the connection's scopes, then sign in again.".into()
    };
    d
}
