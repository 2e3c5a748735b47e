//! First classification (MSAL's rule); the diagnosis issue deepens it with every code table.
use super::{Cause, Diagnosis, HttpFailure};

fn blank(cause: Cause) -> Diagnosis {
    Diagnosis {
        cause,
        code: None,
        error: None,
        suberror: None,
        needs_reauth: false,
        retryable: false,
        retry_after_s: None,
        summary: String::new(),
        action: String::new(),
        trace_id: None,
        correlation_id: None,
        timestamp: None,
        claims: None,
        http_status: None,
    }
}

pub(super) fn from_http(input: &HttpFailure<'_>) -> Diagnosis {
    let json: Option<serde_json::Value> = serde_json::from_slice(input.body).ok();
    let s = |k: &str| {
        json.as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let error = s("error");
    let suberror = s("suberror");
    let aadsts = json
        .as_ref()
        .and_then(|v| v.get("error_codes"))
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|n| n.as_u64())
        .map(|n| format!("AADSTS{n}"));
    let cause = match (error.as_deref(), aadsts.as_deref()) {
        (_, Some("AADSTS53003")) => Cause::ConditionalAccess,
        (_, Some("AADSTS50173")) => Cause::GrantRevoked,
        (Some("invalid_grant"), _) => Cause::InteractionRequired,
        (Some("interaction_required"), _) => Cause::InteractionRequired,
        (Some("temporarily_unavailable"), _) => Cause::ServerError,
        _ if input.status == Some(429) => Cause::Throttled,
        _ if input.status.is_some_and(|s| s >= 500) => Cause::ServerError,
        _ => Cause::Unknown,
    };
    let mut d = blank(cause);
    d.needs_reauth = matches!(
        cause,
        Cause::ConditionalAccess | Cause::GrantRevoked | Cause::InteractionRequired
    );
    d.retryable = matches!(cause, Cause::Throttled | Cause::ServerError);
    d.code = aadsts.or_else(|| error.clone());
    d.error = error;
    d.suberror = suberror;
    d.trace_id = s("trace_id");
    d.correlation_id = s("correlation_id");
    d.timestamp = s("timestamp");
    d.claims = s("claims");
    d.http_status = input.status;
    // Entra's first line is "AADSTS53003: <text>"; the code is shown on its own already.
    d.summary = s("error_description")
        .and_then(|t| {
            t.lines().next().map(|l| {
                l.split_once(": ")
                    .filter(|(c, _)| c.starts_with("AADSTS"))
                    .map_or(l, |(_, rest)| rest)
                    .to_owned()
            })
        })
        .unwrap_or_else(|| format!("the provider answered HTTP {:?}", input.status));
    d.action = if d.needs_reauth {
        "Sign in again (press a, or run connwatch login NAME).".into()
    } else {
        "Wait; connwatch retries by itself.".into()
    };
    d
}

pub(super) fn network(detail: &str) -> Diagnosis {
    let mut d = blank(Cause::Network);
    d.retryable = true;
    d.summary = format!("Could not reach the identity provider: {detail}");
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
    d.action = "Add \"offline_access\" to the connection's scopes, then sign in again.".into();
    d
}
