//! `status --json`: the versioned document described by `assets/status.schema.json`.
//! Field names are a contract: add fields, never rename or remove them without a new
//! `version`. Version 2 (issue 15): the state `blocked` and the diagnosis' `fix_by`.
use jiff::Timestamp;
use serde::Serialize;

use super::ConnectionStatus;
use crate::connection::ConnState;
use crate::diagnose::Diagnosis;

pub const VERSION: u32 = 2;

#[derive(Debug, Serialize)]
pub struct StatusDocument<'a> {
    pub version: u32,
    pub generated_at: Timestamp,
    /// The pid of the `connwatch watch` keeping this store, if one runs.
    pub watched_by: Option<u32>,
    pub connections: Vec<ConnectionJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionJson<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub provider: &'a str,
    pub account: Option<&'a str>,
    pub realm: Option<&'a str>,
    pub state: ConnState,
    pub note: Option<&'a str>,
    /// Work in flight by a live process (additive in version 2): what and by whom.
    pub activity: Option<crate::state::Activity>,
    pub access_expires_at: Option<Timestamp>,
    pub access_expires_in_s: Option<i64>,
    pub has_refresh_token: bool,
    pub tokens_obtained_at: Option<Timestamp>,
    pub granted_scopes: &'a [String],
    pub last_success: Option<Timestamp>,
    pub failures: u64,
    pub last_error: Option<&'a Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    /// The last answer of each probe (additive in version 1).
    pub probes: Vec<ProbeJson<'a>>,
    /// The sign-in forecast (additive in version 2): sign in before this instant, and why.
    pub sign_in_by: Option<Timestamp>,
    pub sign_in_by_reason: Option<&'a str>,
}

/// One probe's answer; its diagnosis carries the masked transcript of a refusal.
#[derive(Debug, Serialize)]
pub struct ProbeJson<'a> {
    pub url: &'a str,
    pub ok: bool,
    pub checked_at: Timestamp,
    pub latency_ms: u64,
    pub diagnosis: Option<&'a Diagnosis>,
}

pub fn document(
    statuses: &[ConnectionStatus],
    now: Timestamp,
    watched_by: Option<u32>,
) -> StatusDocument<'_> {
    StatusDocument {
        version: VERSION,
        generated_at: now,
        watched_by,
        connections: statuses
            .iter()
            .map(|s| ConnectionJson {
                name: &s.name,
                kind: s.kind,
                provider: s.provider,
                account: s.account.as_deref(),
                realm: s.realm.as_deref(),
                state: s.state,
                note: s.note.as_deref(),
                activity: s.activity,
                access_expires_at: s.access_expires_at,
                access_expires_in_s: s.access_expires_in_s(now),
                has_refresh_token: s.has_refresh_token,
                tokens_obtained_at: s.tokens_obtained_at,
                granted_scopes: &s.granted_scopes,
                last_success: s.last_success,
                failures: s.failures,
                last_error: s.last_error.as_ref(),
                last_error_at: s.last_error_at,
                probes: s
                    .probes
                    .iter()
                    .map(|p| ProbeJson {
                        url: &p.url,
                        ok: p.ok,
                        checked_at: p.checked_at,
                        latency_ms: p.latency_ms,
                        diagnosis: p.diagnosis.as_ref(),
                    })
                    .collect(),
                sign_in_by: s.sign_in_by,
                sign_in_by_reason: s.sign_in_by_reason.as_deref(),
            })
            .collect(),
    }
}

/// Pretty JSON with a trailing newline.
pub fn render(statuses: &[ConnectionStatus], now: Timestamp, watched_by: Option<u32>) -> String {
    let mut out = serde_json::to_string_pretty(&document(statuses, now, watched_by))
        .unwrap_or_else(|e| format!("{{\"version\":{VERSION},\"error\":\"{e}\"}}"));
    out.push('\n');
    out
}
