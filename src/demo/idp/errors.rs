//! Entra-shaped error bodies: `error`, an `error_description` whose first line carries the
//! AADSTS code and whose last lines carry the trace id, correlation id and timestamp, plus
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri` (RFC 6749 §5.2 + Entra).
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::random_uuid;

pub(super) struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub text: String,
    pub suberror: Option<&'static str>,
}

impl EntraError {
    pub fn new(error: &'static str, code: u32, text: impl Into<String>) -> Self {
        EntraError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            text: text.into(),
            suberror: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn suberror(mut self, s: &'static str) -> Self {
        self.suberror = Some(s);
        self
    }

    pub fn body(&self, base_url: &str) -> Value {
        let trace = random_uuid();
        let corr = random_uuid();
        let ts = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let mut v = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}", self.code, self.text),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        });
        if let Some(s) = self.suberror {
            v["suberror"] = json!(s);
        }
        v
    }

    pub fn into_response(self, base_url: &str) -> Response {
        (self.status, axum::Json(self.body(base_url))).into_response()
    }
}
