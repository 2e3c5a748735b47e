//! The classification engine: which shape the answer has (OAuth error, Graph error, Zoom
//! error, HTML from a gateway, plain text), which code is the most specific, and whether
//! a sign-in (MSAL's rule) or a retry fixes it.
use jiff::Timestamp;
use serde_json::Value;

use super::catalogue::{self, Entry};
use super::{Cause, Diagnosis, HttpFailure};

/// Longest provider text kept in a one-line summary.
const SUMMARY_MAX: usize = 160;

fn blank(cause: Cause) -> Diagnosis {
    Diagnosis::of(cause, false, false, String::new(), "")
}

/// What the body said, whatever its shape.
#[derive(Default)]
struct Said {
    error: Option<String>,
    description: Option<String>,
    aadsts: Option<u32>,
    suberror: Option<String>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
    timestamp: Option<String>,
    claims: Option<String>,
    /// A non-OAuth code (Graph's `error.code`, Zoom's numeric `code`).
    other_code: Option<String>,
    /// What kind of body it was when it was not JSON ("an HTML page", "an empty body").
    shape: Option<String>,
}

pub(super) fn from_http(input: &HttpFailure<'_>, now: Timestamp) -> Diagnosis {
    let header = |name: &str| {
        input
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let mut said = read_body(input.body);
    // CAE: `WWW-Authenticate: Bearer …, error="insufficient_claims", claims="eyJ…"`.
    if let Some(www) = header("www-authenticate") {
        if let Some(e) = auth_param(www, "error") {
            said.error.get_or_insert(e);
        }
        if let Some(c) = auth_param(www, "claims") {
            said.claims = Some(c);
        }
    }
    let retry_after_s = header("retry-after").and_then(|v| retry_after(v, now));
    let status = input.status;

    let entry = said
        .aadsts
        .and_then(catalogue::aadsts)
        .or_else(|| said.error.as_deref().and_then(catalogue::oauth_error))
        .or_else(|| {
            resource_error(
                status,
                said.other_code.as_deref(),
                said.description.as_deref(),
            )
        });
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
    d.retry_after_s = retry_after_s;
    // MSAL's rule: retry on 5xx, 429, 408 and temporarily_unavailable only. AADSTS50196
    // (loop detected) is "throttled" but an invalid_grant: retrying it is what caused it.
    d.retryable = cause == Cause::Network
        || status.is_some_and(|s| s >= 500 || s == 429 || s == 408)
        || said.error.as_deref() == Some("temporarily_unavailable");
    d.needs_reauth =
        !d.retryable && needs_sign_in(cause, said.error.as_deref(), said.suberror.as_deref());
    d.code = said
        .aadsts
        .map(|n| format!("AADSTS{n}"))
        .or_else(|| said.other_code.clone())
        .or_else(|| said.error.clone());
    let provider_text = said
        .description
        .as_deref()
        .map(first_line)
        .filter(|t| !t.is_empty());
    let (summary, action) = match entry {
        Some(Entry {
            summary, action, ..
        }) => (
            named_scopes(said.description.as_deref())
                .filter(|_| cause == Cause::MissingScope)
                .map(|s| format!("The token lacks the scopes the resource needs: {s}."))
                .unwrap_or_else(|| catalogue::fill(summary, said.description.as_deref())),
            action.to_owned(),
        ),
        None => (
            provider_text
                .clone()
                .or_else(|| {
                    said.shape
                        .clone()
                        .map(|s| format!("The provider answered with {s}."))
                })
                .unwrap_or_else(|| {
                    "The provider refused the request without saying why.".to_owned()
                }),
            default_action(&d).to_owned(),
        ),
    };
    d.summary = with_status(summary, status, said.shape.as_deref());
    d.action = action;
    d.error = said.error;
    d.suberror = said.suberror;
    d.trace_id = said.trace_id;
    d.correlation_id = said.correlation_id;
    d.timestamp = said.timestamp;
    d.claims = said.claims;
    d
}

/// MSAL's rule (MsalServiceExceptionFactory, InteractionRequiredAuthError) plus the causes
/// that only a person can fix by signing in.
fn needs_sign_in(cause: Cause, error: Option<&str>, suberror: Option<&str>) -> bool {
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
    let by_cause = matches!(
        cause,
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
            | Cause::MissingOfflineAccess
    );
    by_error || by_suberror || by_cause
}

fn default_action(d: &Diagnosis) -> &'static str {
    if d.retryable {
        "Nothing to do: connwatch retries by itself with backoff."
    } else if d.needs_reauth {
        "Sign in again (press a in the dashboard, or run connwatch login NAME)."
    } else {
        "Check the connection's settings; run connwatch explain on the error for details."
    }
}

/// Resource servers: Microsoft Graph `{"error":{"code":…}}`, Zoom `{"code":124,…}`.
fn resource_error(status: Option<u16>, code: Option<&str>, message: Option<&str>) -> Option<Entry> {
    let msg = message.unwrap_or_default().to_ascii_lowercase();
    let (cause, summary, action) = match (status, code?) {
        (_, "InvalidAuthenticationToken") if msg.contains("audience") => (
            Cause::WrongAudience,
            "The resource rejected the token: it was issued for another audience.",
            "Request scopes of this resource (e.g. https://graph.microsoft.com/…) and sign in again.",
        ),
        (_, "InvalidAuthenticationToken") if msg.contains("continuous access evaluation") => (
            Cause::ClaimsChallenge,
            "Continuous Access Evaluation revoked the token; the resource demands a fresh sign-in.",
            "Sign in again (press a in the dashboard, or run connwatch login NAME).",
        ),
        (_, "InvalidAuthenticationToken" | "124") => (
            Cause::TokenExpired,
            "The resource rejected the access token as expired or invalid.",
            "Refresh the token (press r); if that fails, sign in again.",
        ),
        (_, "ErrorAccessDenied" | "4711") => (
            Cause::MissingScope,
            "The token lacks a permission the resource needs (e.g. Mail.Read).",
            "Add the missing scope to the connection and sign in again.",
        ),
        (_, "Authorization_RequestDenied") => (
            Cause::MissingScope,
            "Insufficient privileges: the permission needs an admin's consent.",
            "Ask an admin to grant the permission, then sign in again.",
        ),
        (_, "ApplicationThrottled" | "TooManyRequests") => (
            Cause::Throttled,
            "The resource is throttling this app.",
            "Nothing to do: connwatch waits as the resource asks (Retry-After).",
        ),
        _ => return None,
    };
    Some(Entry {
        cause,
        summary,
        action,
    })
}

fn read_body(body: &[u8]) -> Said {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let mut said = Said::default();
    if trimmed.is_empty() {
        said.shape = Some("an empty body".into());
        return said;
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(obj)) => {
            let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
            match obj.get("error") {
                Some(Value::String(e)) => said.error = Some(e.clone()),
                // Microsoft Graph: {"error":{"code":"…","message":"…","innerError":{…}}}
                Some(Value::Object(g)) => {
                    said.other_code = g.get("code").and_then(Value::as_str).map(str::to_owned);
                    said.description = g.get("message").and_then(Value::as_str).map(str::to_owned);
                    if let Some(inner) = g.get("innerError").or_else(|| g.get("innererror")) {
                        said.trace_id = inner
                            .get("request-id")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        said.correlation_id = inner
                            .get("client-request-id")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        said.timestamp =
                            inner.get("date").and_then(Value::as_str).map(str::to_owned);
                    }
                }
                _ => {}
            }
            // Zoom's token endpoint says `reason`; its API says `code` + `message`.
            said.description = said
                .description
                .take()
                .or_else(|| s("error_description"))
                .or_else(|| s("reason"))
                .or_else(|| s("message"));
            if said.other_code.is_none() {
                said.other_code = obj
                    .get("code")
                    .and_then(|c| c.as_i64().map(|n| n.to_string()));
            }
            said.suberror = s("suberror");
            said.claims = s("claims");
            said.aadsts = obj
                .get("error_codes")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            let desc = said.description.clone().unwrap_or_default();
            said.aadsts = said.aadsts.or_else(|| aadsts_in(&desc));
            said.trace_id = s("trace_id")
                .or(said.trace_id.take())
                .or_else(|| line_value(&desc, "Trace ID:"));
            said.correlation_id = s("correlation_id")
                .or(said.correlation_id.take())
                .or_else(|| line_value(&desc, "Correlation ID:"));
            said.timestamp = s("timestamp")
                .or(said.timestamp.take())
                .or_else(|| line_value(&desc, "Timestamp:"));
        }
        Ok(_) => said.shape = Some("JSON that is not an error object".into()),
        Err(_) if trimmed.starts_with('<') => {
            let title = between(trimmed, "<title>", "</title>")
                .map(|t| format!(" (\"{}\")", first_line(t)));
            said.shape = Some(format!("an HTML page{}", title.unwrap_or_default()));
        }
        Err(_) if trimmed.starts_with('{') || trimmed.starts_with('[') => {
            said.shape = Some("truncated or invalid JSON".into());
        }
        Err(_) => {
            said.description = Some(trimmed.to_owned());
            said.aadsts = aadsts_in(trimmed);
        }
    }
    said
}

/// The scopes a resource says are missing: Zoom's "does not contain scopes:[a, b]".
fn named_scopes(text: Option<&str>) -> Option<String> {
    let t = text?;
    let start = t.find("scopes:[")? + "scopes:[".len();
    let len = t[start..].find(']')?;
    Some(t[start..start + len].trim().to_owned()).filter(|s| !s.is_empty())
}

/// `AADSTS70043` anywhere in a text.
pub(super) fn aadsts_in(text: &str) -> Option<u32> {
    let at = text.find("AADSTS")? + 6;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The value after `label` on its own line ("Trace ID: 0b6a…").
fn line_value(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(open)? + open.len();
    let len = lower[start..].find(close)?;
    Some(text[start..start + len].trim())
}

/// The first line, without Entra's "AADSTSnnnn: " prefix, cut to a table cell's length.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    let line = match line.split_once(": ") {
        Some((code, rest)) if code.starts_with("AADSTS") => rest,
        _ => line,
    };
    if line.chars().count() > SUMMARY_MAX {
        let cut: String = line.chars().take(SUMMARY_MAX - 1).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

fn with_status(summary: String, status: Option<u16>, shape: Option<&str>) -> String {
    match (status, shape) {
        (Some(s), Some(_)) if !(200..300).contains(&s) => format!("HTTP {s}: {summary}"),
        _ => summary,
    }
}

/// One auth-param of a `WWW-Authenticate` challenge (RFC 9110 §11.2), quoted or not.
fn auth_param(header: &str, name: &str) -> Option<String> {
    let mut rest = header;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().last();
        let after = rest[i + name.len()..].trim_start();
        if before.is_none_or(|c| c == ' ' || c == ',') && after.starts_with('=') {
            let value = after[1..].trim_start();
            return Some(match value.strip_prefix('"') {
                Some(q) => q.split('"').next().unwrap_or_default().to_owned(),
                None => value
                    .split([',', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(value: &str, now: Timestamp) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?;
    Some(u64::try_from(at.as_second() - now.as_second()).unwrap_or(0))
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
