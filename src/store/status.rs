//! Status records: what the last renewal did, for `status`, `check` and a restarted
//! dashboard. No secrets in here, ever: only states, diagnoses and times.
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connection::ConnState;
use crate::diagnose::Diagnosis;

/// How many history entries a record keeps.
pub const HISTORY_LEN: usize = 20;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
    /// Work in flight and the process doing it (crate::state::Activity); `state` is the
    /// last verdict beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<crate::state::Activity>,
    /// When the verdict or error last changed (crate::state::Facts::changed_at).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Timestamp>,
}

impl StatusRecord {
    /// Write `facts` back (the tokens live in the token file).
    pub fn set_facts(&mut self, facts: &crate::state::Facts) {
        self.state = facts.verdict.state();
        self.last_error = facts.last_error.clone();
        self.last_error_at = facts.last_error_at;
        self.last_success = facts.last_success;
        self.failures = facts.failures;
        self.activity = facts.activity;
        self.changed_at = facts.changed_at;
    }

    /// The facts a record holds (the tokens come from the token file).
    pub fn facts(&self) -> crate::state::Facts {
        crate::state::Facts {
            tokens: None,
            store_problem: None,
            verdict: crate::state::Verdict::of(self.state),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            last_success: self.last_success,
            failures: self.failures,
            activity: self.activity,
            changed_at: self.changed_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub what: String,
}

/// Add `what` at `at` to `history`, keeping the last `HISTORY_LEN` entries.
pub fn push_history(history: &mut Vec<HistoryEntry>, at: Timestamp, what: String) {
    history.push(HistoryEntry { at, what });
    let excess = history.len().saturating_sub(HISTORY_LEN);
    history.drain(..excess);
}

pub(super) fn load(dir: &Path, name: &str) -> Option<StatusRecord> {
    let bytes = std::fs::read(dir.join(format!("{name}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn save(dir: &Path, name: &str, record: &StatusRecord) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    super::write_atomic(dir, &dir.join(format!("{name}.json")), &bytes)
}
