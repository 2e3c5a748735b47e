//! Token endpoint answers. Success responses are parsed by hand around the quirks
//! (Entra v1 sends `expires_in` as a string); error bodies keep every field.
use serde::Deserialize;
use serde_json::Value;

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: Secret,
    pub token_type: Option<String>,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub scope: Option<String>,
}

impl TokenResponse {
    pub fn parse(body: &[u8]) -> Result<TokenResponse, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let access_token = text("access_token").ok_or("no access_token in the response")?;
        // Tokens are printable ASCII without spaces (RFC 6750 b64token, RFC 6749 VSCHAR): one
        // with a line break once went verbatim to a mail client through `token`, and would
        // split an Authorization header or a SASL line. Refused whole, never trimmed (the
        // old tokens stay; the message names no part of the token).
        for (k, t) in [
            ("access_token", Some(access_token)),
            ("refresh_token", text("refresh_token")),
            ("id_token", text("id_token")),
        ] {
            if let Some(t) = t
                && !t.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(format!(
                    "the {k} holds a space, a line break, a control or a non-ASCII character"
                ));
            }
        }
        Ok(TokenResponse {
            access_token: Secret::new(access_token),
            token_type: text("token_type").map(str::to_owned),
            // Clamped (crate::limits): i64::MAX would overflow the expiry arithmetic and
            // leave the token with no known expiry, never refreshed.
            expires_in: obj
                .get("expires_in")
                .and_then(lenient_int)
                .map(crate::limits::token_lifetime_s),
            refresh_token: text("refresh_token").map(Secret::new),
            id_token: text("id_token").map(Secret::new),
            scope: text("scope").map(str::to_owned),
        })
    }

    pub fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// An integer sent as a number or as a string ("3599").
pub(crate) fn lenient_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn lenient_int_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(lenient_int))
}

/// An OAuth error body (RFC 6749 §5.2) with Entra's extra fields, and anything else the
/// provider sent in `extra`, so nothing it said is lost.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_uri: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<i64>,
    #[serde(default)]
    pub suberror: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub claims: Option<String>,
    /// RFC 8628 does not define it in errors, but keep it when a server sends one.
    #[serde(default, deserialize_with = "lenient_int_opt")]
    pub interval: Option<i64>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_with_a_line_break_or_a_control_is_refused() {
        for bad in ["abc\r\nX-Evil: 1", "abc def", "abc\u{1b}[2J", "abcé"] {
            let body = serde_json::json!({ "access_token": bad, "expires_in": 60 }).to_string();
            let e = TokenResponse::parse(body.as_bytes()).unwrap_err();
            assert!(e.contains("access_token") && !e.contains("abc"), "{e}");
        }
        let body = serde_json::json!({ "access_token": "ok", "refresh_token": "r\nx" }).to_string();
        assert!(
            TokenResponse::parse(body.as_bytes())
                .unwrap_err()
                .contains("refresh_token")
        );
    }

    #[test]
    fn v1_string_numbers() {
        let r = TokenResponse::parse(
            br#"{"access_token":"a","expires_in":"3599","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(r.expires_in, Some(3599));
        assert_eq!(r.refresh_token, None);
    }

    #[test]
    fn html_is_an_error_not_a_panic() {
        assert!(TokenResponse::parse(b"<html>502 Bad Gateway</html>").is_err());
        assert!(TokenResponse::parse(br#"{"access_token":"#).is_err());
        assert!(TokenResponse::parse(br#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn error_body_keeps_everything() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS53003: Blocked.","error_codes":[53003],
            "timestamp":"2026-11-24 19:30:00Z","trace_id":"t","correlation_id":"c","suberror":"x",
            "claims":"{}","error_uri":"u","x_vendor":1}"#;
        let e: TokenErrorBody = serde_json::from_slice(body).unwrap();
        assert_eq!(e.error_codes, vec![53003]);
        assert_eq!(e.trace_id.as_deref(), Some("t"));
        assert_eq!(e.correlation_id.as_deref(), Some("c"));
        assert_eq!(e.suberror.as_deref(), Some("x"));
        assert_eq!(e.claims.as_deref(), Some("{}"));
        assert_eq!(e.extra.get("x_vendor"), Some(&Value::from(1)));
    }
}
