//! Status records: what the last renewal did, for `status`, `check` and a restarted
//! dashboard. No secrets in here, ever: only states, diagnoses and times.
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connection::ConnState;
use crate::diagnose::Diagnosis;

/// How many history entries a record keeps.
pub const HISTORY_LEN: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub state: ConnState,
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub failures: u64,
    pub history: Vec<HistoryEntry>,
    /// The last answer of each probe (records from before probes existed have none).
    #[serde(default)]
    pub probes: Vec<crate::probe::ProbeResult>,
    /// A forced sign-in period the tenant revealed (AADSTS70043), in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_frequency_s: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub what: String,
}

pub(super) fn load(dir: &Path, name: &str) -> Option<StatusRecord> {
    let bytes = std::fs::read(dir.join(format!("{name}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn save(dir: &Path, name: &str, record: &StatusRecord) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    super::write_atomic(dir, &dir.join(format!("{name}.json")), &bytes)
}
