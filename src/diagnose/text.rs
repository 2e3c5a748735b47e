//! What people paste or type: a whole error body, a redirect's query string or fragment
//! (`error=…&error_description=…`), a bare code (`AADSTS70043`, `70043`, `invalid_grant`),
//! an HTML page or plain text.
use serde_json::{Map, Value};

use super::{Diagnosis, HttpFailure, ProviderHint, diagnose};

pub fn diagnose_text(input: &str, provider: ProviderHint) -> Diagnosis {
    let text = input.trim();
    let body = as_body(text);
    diagnose(&HttpFailure {
        status: None,
        headers: Vec::new(),
        body: body.as_deref().unwrap_or(text).as_bytes(),
        provider,
    })
}

/// Turn query strings and bare codes into the JSON error body they stand for.
fn as_body(text: &str) -> Option<String> {
    if text.starts_with('{') || text.starts_with('<') {
        return None;
    }
    // A redirect as pasted from the browser: the whole URL, or only its query/fragment.
    let query = text.rsplit_once(['?', '#']).map_or(text, |(_, q)| q);
    if query.contains("error=") {
        let obj: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Some(Value::Object(obj).to_string());
    }
    let code = text.strip_prefix("AADSTS").unwrap_or(text);
    if !code.is_empty() && code.len() <= 9 && code.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(r#"{{"error_codes":[{code}]}}"#));
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
        let d = diagnose_text("something went wrong", ProviderHint::Unknown);
        assert_eq!(d.cause, Cause::Unknown);
        assert_eq!(d.summary, "something went wrong");
    }
}
