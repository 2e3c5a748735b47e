//! What `status` and `check` say about each connection, from the store alone (no network):
//! the token file for what we hold, the status record for what the last attempt found.
//! The record can be older than the tokens (a `token` command refreshed since, or another
//! machine's sign-in was copied in); a failure recorded before the tokens were obtained no
//! longer describes them.
pub mod check;
pub mod json;
pub mod prometheus;
pub mod table;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{Config, Connection};
use crate::connection::ConnState;
use crate::diagnose::Diagnosis;
use crate::store::{StatusRecord, StoreError, TokenSet, TokenStore};

/// One connection as `status` reports it. Never holds a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub kind: &'static str,
    pub provider: &'static str,
    pub account: Option<String>,
    /// Tenant (entra) or issuer (oidc).
    pub realm: Option<String>,
    pub state: ConnState,
    /// Why the state is what it is when no provider error says it; work in progress by a
    /// live process is named first ("sign-in in progress (pid 4242)").
    pub note: Option<String>,
    /// Work in flight by a live process, beside the state.
    pub activity: Option<crate::state::Activity>,
    pub access_expires_at: Option<Timestamp>,
    pub has_refresh_token: bool,
    pub tokens_obtained_at: Option<Timestamp>,
    pub granted_scopes: Vec<String>,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    pub failures: u64,
    /// The token file exists but cannot be read (permissions, I/O): `check` says UNKNOWN.
    pub unreadable: bool,
    /// The last answer of each probe (from the status record).
    pub probes: Vec<crate::probe::ProbeResult>,
    /// Sign in before this instant, or the connection stops renewing (`crate::forecast`).
    pub sign_in_by: Option<Timestamp>,
    pub sign_in_by_reason: Option<String>,
}

impl ConnectionStatus {
    /// This status with every outside text (the provider's and servers' words, the
    /// account and realm an ID token named) made one safe line (crate::sanitize), for the
    /// table and the plugin line; `--json` uses the exact one.
    pub fn for_display(&self) -> ConnectionStatus {
        let l = |s: &String| crate::sanitize::line(s).into_owned();
        let mut s = self.clone();
        s.account = s.account.as_ref().map(l);
        s.realm = s.realm.as_ref().map(l);
        s.note = s.note.as_ref().map(l);
        s.sign_in_by_reason = s.sign_in_by_reason.as_ref().map(l);
        s.last_error = s.last_error.as_ref().map(Diagnosis::for_display);
        s.probes = s
            .probes
            .iter()
            .map(crate::probe::ProbeResult::for_display)
            .collect();
        s
    }

    /// Seconds until the access token expires (negative once it has).
    pub fn access_expires_in_s(&self, now: Timestamp) -> Option<i64> {
        self.access_expires_at
            .map(|at| at.as_second() - now.as_second())
    }
}

/// Every connection of the config (or the named ones, in config order), read from the store.
pub fn collect(config: &Config, store: &TokenStore, now: Timestamp) -> Vec<ConnectionStatus> {
    let records: Vec<Option<StatusRecord>> = config
        .connections
        .iter()
        .map(|c| store.load_status(&c.name))
        .collect();
    let known: Vec<(Option<&str>, Option<u64>)> = config
        .connections
        .iter()
        .zip(&records)
        .map(|(c, r)| (c.realm(), r.as_ref().and_then(|r| r.sign_in_frequency_s)))
        .collect();
    let shared = crate::forecast::share_by_realm(&known);
    config
        .connections
        .iter()
        .zip(records)
        .zip(shared)
        .map(|((c, mut r), f)| {
            if let Some(rec) = r.as_mut() {
                rec.sign_in_frequency_s = f;
            }
            derive(c, store.load(&c.name), r, now)
        })
        .collect()
}

/// The pure part: one connection's status from what the store gave back, decided by the
/// one rule every process uses (crate::state::decide).
pub fn derive(
    cfg: &Connection,
    tokens: Result<Option<TokenSet>, StoreError>,
    record: Option<StatusRecord>,
    now: Timestamp,
) -> ConnectionStatus {
    derive_with(cfg, tokens, record, now, &crate::state::process_alive)
}

/// `derive`, with `alive` saying which processes still run (tests).
pub fn derive_with(
    cfg: &Connection,
    tokens: Result<Option<TokenSet>, StoreError>,
    record: Option<StatusRecord>,
    now: Timestamp,
    alive: &dyn Fn(u32) -> bool,
) -> ConnectionStatus {
    let mut facts = record.as_ref().map(StatusRecord::facts).unwrap_or_default();
    let mut s = ConnectionStatus {
        name: cfg.name.clone(),
        kind: cfg.kind.as_str(),
        provider: cfg.provider.as_str(),
        account: cfg.account.clone(),
        realm: cfg.realm().map(str::to_owned),
        state: ConnState::SignedOut,
        note: None,
        activity: None,
        access_expires_at: None,
        has_refresh_token: false,
        tokens_obtained_at: None,
        granted_scopes: Vec::new(),
        last_success: facts.last_success,
        last_error: None,
        last_error_at: None,
        failures: facts.failures,
        unreadable: false,
        probes: record
            .as_ref()
            .map(|r| r.probes.clone())
            .unwrap_or_default(),
        sign_in_by: None,
        sign_in_by_reason: None,
    };
    let frequency = record.as_ref().and_then(|r| r.sign_in_frequency_s);
    match &tokens {
        Ok(Some(t)) => {
            facts.tokens = Some(t.facts());
            s.access_expires_at = t.expires_at;
            s.has_refresh_token = t.refresh_token.is_some();
            s.tokens_obtained_at = Some(t.obtained_at);
            s.granted_scopes = t.granted_scopes.clone();
            s.last_success = s.last_success.max(Some(t.obtained_at));
            if let Some(f) = crate::forecast::sign_in_by(cfg.provider, cfg.realm(), t, frequency) {
                s.sign_in_by = Some(f.by);
                s.sign_in_by_reason = Some(f.reason);
            }
        }
        Ok(None) => {}
        Err(e) => {
            s.unreadable = matches!(e, StoreError::Io { .. });
            facts.store_problem = Some(e.to_string());
        }
    }
    let cx = crate::state::Context {
        asks_offline_access: cfg.asks_offline_access(),
        no_refresh_token_note: cfg.no_refresh_token_note(),
    };
    let d = crate::state::decide(&facts, now, cx, alive);
    s.state = d.state;
    s.note = d.note;
    s.activity = d.activity;
    s.last_error = d.last_error;
    s.last_error_at = d.last_error_at;
    s
}

#[cfg(test)]
mod tests;
