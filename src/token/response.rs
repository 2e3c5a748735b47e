//! A whole token *success* response, as users paste it: what came back, and whether a
//! refresh token is missing (no `offline_access`, or Google without `access_type=offline`).
use serde::Serialize;
use serde_json::Value;

use super::{Finding, FindingKind, Severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseReport {
    pub token_type: Option<String>,
    pub expires_in_s: Option<i64>,
    pub scopes: Vec<String>,
    pub has_refresh_token: bool,
    pub has_id_token: bool,
    pub findings: Vec<Finding>,
}

/// `None` when `text` is not a token success response (no `access_token`).
pub fn inspect_response(text: &str) -> Option<ResponseReport> {
    let v: Value = serde_json::from_str(text.trim()).ok()?;
    let obj = v.as_object()?;
    obj.get("access_token")?.as_str()?;
    let scopes: Vec<String> = obj
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let has_refresh_token = obj
        .get("refresh_token")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let mut findings = Vec::new();
    if !has_refresh_token {
        let asked = scopes.iter().any(|s| s == "offline_access");
        findings.push(Finding {
            kind: FindingKind::MissingOfflineAccess,
            severity: Severity::Error,
            message: if asked {
                "no refresh token although offline_access was granted: the access token cannot be renewed (Google: add access_type=offline and prompt=consent)".into()
            } else {
                "no refresh token: offline_access was not requested, so the access token cannot be renewed; add it to the scopes and sign in again".into()
            },
        });
    }
    Some(ResponseReport {
        token_type: obj
            .get("token_type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        // Entra v1 sends numbers as strings.
        expires_in_s: obj
            .get("expires_in")
            .and_then(|e| e.as_i64().or_else(|| e.as_str()?.trim().parse().ok())),
        scopes,
        has_refresh_token,
        has_id_token: obj.get("id_token").is_some(),
        findings,
    })
}
