//! What people paste or type: a whole error body, a raw HTTP answer (`curl -i`), a
//! redirect's query string or fragment (`error=…&error_description=…`), a bare code
//! (`AADSTS70043`, `70043`, `invalid_grant`, Zoom's `4711`), an HTML page or plain text.
use serde_json::{Map, Value};

use super::{Diagnosis, HttpFailure, ProviderHint, catalogue, diagnose, zoom};

pub fn diagnose_text(input: &str, provider: ProviderHint) -> Diagnosis {
    let text = input.trim().trim_start_matches('\u{feff}').trim();
    // JSON, an HTML page (not curl -v's "< " server lines) or raw HTTP; else mail text.
    let http_like = text.starts_with('{')
        || (text.starts_with('<') && !text.starts_with("< "))
        || text.starts_with("HTTP/");
    if !http_like {
        // connwatch's own error line (a client passed `token`'s stderr on) names the cause.
        if let Some(d) = super::client::connwatch_line(text) {
            return d;
        }
        // Mail servers' replies, transcripts and client logs.
        if let Some(d) = super::diagnose_mail_text(text) {
            return d;
        }
        // A client's own words, when no server reply is in them.
        if let Some(d) = super::desktop::outlook(text)
            .or_else(|| super::desktop::thunderbird(text))
            .or_else(|| super::client::token_command_failed(text))
            .or_else(|| super::client::unreachable(text))
            .or_else(|| super::client::quoted_imap_code(text))
            .or_else(|| super::client::client_refusal(text))
            .or_else(|| super::client::stuck_authenticating(text))
        {
            return d;
        }
        // connwatch's own code for a token without a refresh token (status, check).
        if text == "missing_offline_access" {
            return super::no_refresh_token(false);
        }
    }
    if let Some(mut answer) = raw_http(text) {
        answer.provider = provider;
        return diagnose(&answer);
    }
    let body = as_body(text, provider);
    diagnose(&HttpFailure {
        status: None,
        headers: Vec::new(),
        body: body.as_deref().unwrap_or(text).as_bytes(),
        provider,
    })
}

/// `HTTP/1.1 400 Bad Request` + headers + blank line + body, as `curl -i` prints it.
fn raw_http(text: &str) -> Option<HttpFailure<'_>> {
    if !text.starts_with("HTTP/") {
        return None;
    }
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((text, ""));
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(HttpFailure {
        status,
        headers,
        body: body.as_bytes(),
        provider: ProviderHint::Unknown,
    })
}

/// Turn query strings and bare codes into the JSON error body they stand for.
fn as_body(text: &str, provider: ProviderHint) -> Option<String> {
    if text.starts_with('{') || text.starts_with('<') {
        return None;
    }
    // A redirect as pasted from the browser: the whole URL, or only its query/fragment.
    let query = text.rsplit_once(['?', '#']).map_or(text, |(_, q)| q);
    if !text.contains(char::is_whitespace) && query.split('&').any(|p| p.starts_with("error=")) {
        let obj: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Some(Value::Object(obj).to_string());
    }
    let upper = text.to_ascii_uppercase();
    let digits = upper.strip_prefix("AADSTS").unwrap_or(&upper);
    if !digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = digits.parse().ok()?;
        let zoom_code = !upper.starts_with("AADSTS")
            && (provider == ProviderHint::Zoom
                || (zoom::is_api_code(n) && catalogue::aadsts(n).is_none()));
        return Some(if zoom_code {
            format!(r#"{{"code":{n}}}"#)
        } else {
            format!(r#"{{"error_codes":[{n}]}}"#)
        });
    }
    if !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Some(format!(r#"{{"error":"{text}"}}"#));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Cause;

    #[test]
    fn bare_codes_and_query_strings() {
        let d = diagnose_text("AADSTS70043", ProviderHint::Unknown);
        assert_eq!(
            (d.cause, d.code.as_deref()),
            (Cause::ConditionalAccess, Some("AADSTS70043"))
        );
        assert_eq!(
            diagnose_text("53003", ProviderHint::Unknown).cause,
            Cause::ConditionalAccess
        );
        assert_eq!(
            diagnose_text("aadsts50173", ProviderHint::Unknown).cause,
            Cause::GrantRevoked
        );
        let d = diagnose_text("invalid_grant", ProviderHint::Unknown);
        assert!(d.needs_reauth);
        let d = diagnose_text(
            "http://127.0.0.1:53682/?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent&state=x",
            ProviderHint::Entra,
        );
        assert_eq!(
            (d.cause, d.code.as_deref()),
            (Cause::AccessDenied, Some("AADSTS65004"))
        );
        let d = diagnose_text(
            "#error=login_required&error_description=AADSTS50058%3a+A+silent+sign-in+request+was+sent+but+no+user+is+signed+in.",
            ProviderHint::Entra,
        );
        assert_eq!(d.cause, Cause::InteractionRequired);
        assert!(d.needs_reauth);
        let d = diagnose_text("something went wrong", ProviderHint::Unknown);
        assert_eq!(d.cause, Cause::Unknown);
        assert_eq!(d.summary, "something went wrong");
    }

    #[test]
    fn zoom_codes_typed_bare() {
        let d = diagnose_text("4711", ProviderHint::Unknown);
        assert_eq!(
            (d.cause, d.code.as_deref()),
            (Cause::MissingScope, Some("4711"))
        );
        let d = diagnose_text("124", ProviderHint::Zoom);
        assert_eq!(d.cause, Cause::TokenExpired);
    }

    #[test]
    fn a_raw_http_answer() {
        let d = diagnose_text(
            "HTTP/2 429\r\nretry-after: 17\r\ncontent-type: text/plain\r\n\r\nToo Many Requests",
            ProviderHint::Entra,
        );
        assert_eq!(
            (d.cause, d.retryable, d.retry_after_s, d.http_status),
            (Cause::Throttled, true, Some(17), Some(429))
        );
    }
}
