//! What the body said, whatever its shape: an OAuth error (RFC 6749 §5.2, Entra's eSTS
//! additions), Microsoft Graph's `{"error":{"code":…}}`, Zoom's `{"reason":…}` and
//! `{"code":124,…}`, an HTML page from a gateway, plain text, or nothing.
use serde_json::{Map, Value};

/// Longest provider text kept in a one-line summary.
const SUMMARY_MAX: usize = 160;

#[derive(Debug, Default)]
pub(super) struct Said {
    pub error: Option<String>,
    pub description: Option<String>,
    pub aadsts: Option<u32>,
    pub suberror: Option<String>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub timestamp: Option<String>,
    pub claims: Option<String>,
    /// A non-OAuth code (Graph's `error.code`, Zoom's numeric `code`).
    pub other_code: Option<String>,
    pub error_uri: Option<String>,
    /// What kind of body it was when it was not JSON ("an HTML page", "an empty body").
    pub shape: Option<String>,
}

pub(super) fn read_body(body: &[u8]) -> Said {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim().trim_start_matches('\u{feff}');
    let mut said = Said::default();
    if trimmed.is_empty() {
        said.shape = Some("an empty body".into());
        return said;
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(obj)) => read_object(&obj, &mut said),
        Ok(_) => said.shape = Some("JSON that is not an error object".into()),
        Err(_) if trimmed.starts_with('<') => {
            let title = between(trimmed, "<title>", "</title>")
                .map(first_line)
                .filter(|t| !t.is_empty())
                .map(|t| format!(" (\"{t}\")"));
            said.shape = Some(format!("an HTML page{}", title.unwrap_or_default()));
            // Entra's own error pages carry the code in their text.
            said.aadsts = aadsts_in(trimmed);
        }
        Err(_) if trimmed.starts_with('{') || trimmed.starts_with('[') => {
            said.shape = Some("truncated or invalid JSON".into());
            said.aadsts = aadsts_in(trimmed);
        }
        Err(_) => {
            said.description = Some(trimmed.to_owned());
            said.aadsts = aadsts_in(trimmed);
            said.trace_id = line_value(trimmed, "Trace ID:");
            said.correlation_id = line_value(trimmed, "Correlation ID:");
            said.timestamp = line_value(trimmed, "Timestamp:");
        }
    }
    said
}

fn read_object(obj: &Map<String, Value>, said: &mut Said) {
    let s = |k: &str| obj.get(k).and_then(text_of);
    match obj.get("error") {
        Some(Value::String(e)) => said.error = Some(e.clone()),
        // Microsoft Graph: {"error":{"code":"…","message":"…","innerError":{…}}}
        Some(Value::Object(g)) => {
            said.other_code = g.get("code").and_then(text_of);
            said.description = g.get("message").and_then(text_of);
            if let Some(inner) = g.get("innerError").or_else(|| g.get("innererror")) {
                said.trace_id = inner.get("request-id").and_then(text_of);
                said.correlation_id = inner.get("client-request-id").and_then(text_of);
                said.timestamp = inner.get("date").and_then(text_of);
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
    said.suberror = s("suberror").filter(|s| !s.is_empty());
    said.error_uri = s("error_uri").filter(|s| !s.is_empty());
    said.claims = s("claims").filter(|c| !c.is_empty());
    let desc = said.description.clone().unwrap_or_default();
    let codes: Vec<u32> = obj
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_u64().or_else(|| n.as_str()?.trim().parse().ok()))
                .filter_map(|n| u32::try_from(n).ok())
                .collect()
        })
        .unwrap_or_default();
    // eSTS may list a generic code before the specific one ([70002, 54005]: "error
    // validating credentials", then "code already redeemed").
    said.aadsts = codes
        .iter()
        .copied()
        .find(|&c| c != 70002)
        .or_else(|| codes.first().copied())
        .or_else(|| aadsts_in(&desc));
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

/// A string, or a number written as one (some proxies re-encode fields).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `AADSTS70043` anywhere in a text (any case).
pub(super) fn aadsts_in(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("aadsts").find_map(|(at, _)| {
        let digits: String = lower[at + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .take(9)
            .collect();
        digits.parse().ok()
    })
}

/// The value after `label` on its own line ("Trace ID: 0b6a…").
fn line_value(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    // ASCII lowercasing keeps byte offsets, so indexes found in `lower` are valid in `text`.
    let lower = text.to_ascii_lowercase();
    let start = lower.find(open)? + open.len();
    let len = lower[start..].find(close)?;
    Some(text[start..start + len].trim())
}

/// The first line, without Entra's "AADSTSnnnn: " prefix, cut to a table cell's length.
pub(super) fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(read_body(b"").shape.as_deref(), Some("an empty body"));
        let html = read_body(b"<html><head><TITLE>502 Bad Gateway</TITLE></head></html>");
        assert_eq!(
            html.shape.as_deref(),
            Some("an HTML page (\"502 Bad Gateway\")")
        );
        let g = read_body(
            br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied.","innerError":{"request-id":"r1","date":"d"}}}"#,
        );
        assert_eq!(g.other_code.as_deref(), Some("ErrorAccessDenied"));
        assert_eq!(g.trace_id.as_deref(), Some("r1"));
        let v1 = read_body(br#"{"error":"interaction_required","error_codes":["50076"]}"#);
        assert_eq!(v1.aadsts, Some(50076));
        assert_eq!(aadsts_in("see aadsts70043: x"), Some(70043));
        assert_eq!(aadsts_in("AADSTS only, then AADSTS53003"), Some(53003));
    }
}
