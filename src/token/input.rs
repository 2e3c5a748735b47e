//! What people paste into `decode`: the token alone, or the token inside what carried it —
//! an `Authorization: Bearer …` header, a token response's `access_token`, or the base64
//! XOAUTH2 string a mail client sends (`user=…\x01auth=Bearer …\x01\x01`).
use base64::Engine;
use serde_json::Value;

/// The token inside `text` (trimmed), or `text` itself when it carries none.
pub fn token_from_input(text: &str) -> String {
    let t = text.trim();
    if t.starts_with('{')
        && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(t)
        && let Some(Value::String(at)) = o.get("access_token").or_else(|| o.get("id_token"))
    {
        return at.trim().to_owned();
    }
    let header_value = t
        .split_once(':')
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map_or(t, |(_, v)| v.trim());
    if let Some(b) = strip_bearer(header_value) {
        return b.to_owned();
    }
    if let Some(inner) = xoauth2(t) {
        return inner;
    }
    t.to_owned()
}

fn strip_bearer(t: &str) -> Option<&str> {
    let (scheme, rest) = t.split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|r| !r.is_empty())
}

/// RFC-less but universal: `base64("user=" + upn + "\x01auth=Bearer " + token + "\x01\x01")`.
fn xoauth2(t: &str) -> Option<String> {
    if t.contains('.') || t.contains(char::is_whitespace) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .or_else(|| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(t)
                .ok()
        })?;
    let text = String::from_utf8(bytes).ok()?;
    let auth = text.split('\x01').find_map(|p| p.strip_prefix("auth="))?;
    strip_bearer(auth).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_inside_what_carried_them() {
        assert_eq!(token_from_input("  a.b.c \n"), "a.b.c");
        assert_eq!(token_from_input("Bearer a.b.c"), "a.b.c");
        assert_eq!(token_from_input("Authorization: bearer a.b.c"), "a.b.c");
        assert_eq!(
            token_from_input(r#"{"token_type":"Bearer","access_token":"a.b.c"}"#),
            "a.b.c"
        );
        let sasl = base64::engine::general_purpose::STANDARD
            .encode("user=alice@contoso.com\x01auth=Bearer a.b.c\x01\x01");
        assert_eq!(token_from_input(&sasl), "a.b.c");
        assert_eq!(token_from_input("ya29.opaque"), "ya29.opaque");
        assert_eq!(token_from_input("Bearer"), "Bearer");
    }
}
