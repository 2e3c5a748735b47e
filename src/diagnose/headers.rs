//! What the response headers say: `Retry-After` (RFC 9110 §10.2.3), the `WWW-Authenticate`
//! challenge of resources (RFC 6750 §3, CAE claims challenges) and Entra's `x-ms-clitelem`.
use jiff::Timestamp;

/// The headers of one answer, looked up by name in any case.
pub(super) struct Headers<'a>(pub &'a [(String, String)]);

impl Headers<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds from `now`; an HTTP-date in the past is 0.
    pub fn retry_after_s(&self, now: Timestamp) -> Option<u64> {
        retry_after(self.get("retry-after")?, now)
    }

    /// An auth-param of the `WWW-Authenticate` challenge (`error`, `claims`, …).
    pub fn challenge(&self, param: &str) -> Option<String> {
        auth_param(self.get("www-authenticate")?, param).filter(|v| !v.is_empty())
    }

    /// Entra repeats the AADSTS number in `x-ms-clitelem: 1,<code>,0,,` — the only place
    /// it survives when a proxy swallows the body.
    pub fn clitelem_code(&self) -> Option<u32> {
        let v = self.get("x-ms-clitelem")?;
        let mut parts = v.split(',');
        parts.next()?;
        parts.next()?.trim().parse().ok().filter(|n| *n != 0)
    }
}

/// One auth-param of a challenge (RFC 9110 §11.2), quoted or not. A quoted value may hold
/// commas and escaped quotes.
pub(super) fn auth_param(header: &str, name: &str) -> Option<String> {
    let mut rest = header;
    while let Some(i) = find_ignore_case(rest, name) {
        let before = rest[..i].chars().last();
        let after = rest[i + name.len()..].trim_start();
        if before.is_none_or(|c| c == ' ' || c == ',') && after.starts_with('=') {
            let value = after[1..].trim_start();
            return Some(match value.strip_prefix('"') {
                Some(q) => unquote(q),
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

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    // ASCII lowercasing keeps byte offsets, so the index is valid in `haystack`.
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// The rest of a quoted-string after its opening quote, up to the closing one.
fn unquote(q: &str) -> String {
    let mut out = String::new();
    let mut chars = q.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

/// `Retry-After` as delay-seconds or an HTTP-date.
pub(super) fn retry_after(value: &str, now: Timestamp) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?;
    Some(u64::try_from(at.as_second().saturating_sub(now.as_second())).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now: Timestamp = "2026-11-24T19:33:15Z".parse().unwrap();
        assert_eq!(retry_after("120", now), Some(120));
        assert_eq!(retry_after("Tue, 24 Nov 2026 19:34:15 GMT", now), Some(60));
        assert_eq!(retry_after("Tue, 24 Nov 2026 19:00:00 GMT", now), Some(0));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn challenge_params_quoted_unquoted_any_case() {
        let h = vec![(
            "WWW-Authenticate".to_owned(),
            r#"Bearer realm="", Error="insufficient_claims", claims="eyJh", error_description="a, \"b\"""#
                .to_owned(),
        )];
        let h = Headers(&h);
        assert_eq!(h.challenge("error").as_deref(), Some("insufficient_claims"));
        assert_eq!(h.challenge("claims").as_deref(), Some("eyJh"));
        assert_eq!(
            h.challenge("error_description").as_deref(),
            Some(r#"a, "b""#)
        );
        assert_eq!(h.challenge("realm"), None);
        let t = vec![("X-MS-CliTelem".to_owned(), "1,50173,0,,".to_owned())];
        assert_eq!(Headers(&t).clitelem_code(), Some(50173));
    }
}
