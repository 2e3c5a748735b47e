//! One connection as the worker holds it, and the view it sends out.
use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::ConnectionView;
use crate::config::Connection;
use crate::connection::ConnState;
use crate::diagnose::Diagnosis;
use crate::probe::ProbeResult;
use crate::provider::Endpoints;
use crate::store::{HISTORY_LEN, HistoryEntry, StatusRecord, TokenSet};

pub(super) struct Conn {
    pub cfg: Connection,
    /// Resolved once (templates, or discovery for oidc), shared with jobs.
    pub endpoints: Arc<OnceCell<Endpoints>>,
    pub tokens: Option<TokenSet>,
    pub state: ConnState,
    pub note: Option<String>,
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub failures: u64,
    pub history: Vec<HistoryEntry>,
    /// When to act next on our own: refresh before expiry, retry, or notice expiry.
    pub due: Option<(Instant, Timestamp)>,
    /// Consecutive transient failures (for backoff).
    pub attempt: u32,
    /// Bumped by purge and sign-in so results of superseded jobs are ignored.
    pub generation: u64,
    pub busy: bool,
    pub sign_in: Option<tokio::task::AbortHandle>,
    /// Where text pasted back for the current browser sign-in goes.
    pub pasted: Option<tokio::sync::mpsc::UnboundedSender<crate::secret::Secret>>,
    /// The state when the current sign-in started, restored if it is cancelled.
    pub before_sign_in: Option<ConnState>,
    /// The last answer of each probe, in the order of the connection's probe URLs.
    pub probes: Vec<ProbeResult>,
    /// When to probe next on our own (`probe_every`, or a retry after a transient answer).
    pub probe_due: Option<(Instant, Timestamp)>,
    /// Consecutive transient probe failures (for backoff).
    pub probe_attempt: u32,
    /// The state the status record gave at start-up (another process's verdict).
    pub recorded_state: Option<ConnState>,
    /// A forced sign-in period the tenant revealed (for this or another connection of the
    /// same tenant), in seconds.
    pub sign_in_frequency_s: Option<u64>,
}

impl Conn {
    pub fn new(cfg: Connection, record: Option<StatusRecord>) -> Self {
        let recorded_state = record.as_ref().map(|r| r.state);
        let sign_in_frequency_s = record.as_ref().and_then(|r| r.sign_in_frequency_s);
        let (last_error, last_error_at, last_success, failures, history, probes) = match record {
            Some(r) => (
                r.last_error,
                r.last_error_at,
                r.last_success,
                r.failures,
                r.history,
                r.probes,
            ),
            None => (None, None, None, 0, Vec::new(), Vec::new()),
        };
        Conn {
            cfg,
            endpoints: Arc::new(OnceCell::new()),
            tokens: None,
            state: ConnState::SignedOut,
            note: None,
            last_error,
            last_error_at,
            last_success,
            failures,
            history,
            due: None,
            attempt: 0,
            generation: 0,
            busy: false,
            sign_in: None,
            pasted: None,
            before_sign_in: None,
            probes,
            probe_due: None,
            probe_attempt: 0,
            recorded_state,
            sign_in_frequency_s,
        }
    }

    pub fn remember(&mut self, at: Timestamp, what: impl Into<String>) {
        self.history.push(HistoryEntry {
            at,
            what: what.into(),
        });
        let excess = self.history.len().saturating_sub(HISTORY_LEN);
        self.history.drain(..excess);
    }

    pub fn fail(&mut self, at: Timestamp, d: Diagnosis, state: ConnState) {
        let code = d.code.clone().unwrap_or_else(|| d.cause.to_string());
        self.remember(at, format!("{state}: {code}"));
        self.state = state;
        self.last_error = Some(d);
        self.last_error_at = Some(at);
        self.failures += 1;
    }

    /// Keep `results` as the latest answers: one per URL, in the order of the config (an
    /// answer for a URL no longer configured is dropped).
    pub fn keep_probes(&mut self, results: Vec<ProbeResult>) {
        let urls: Vec<String> = crate::provider::probe_targets(&self.cfg)
            .into_iter()
            .map(|t| t.url)
            .collect();
        let mut merged: Vec<ProbeResult> = Vec::with_capacity(urls.len());
        for u in &urls {
            if let Some(r) = results
                .iter()
                .find(|r| &r.url == u)
                .or_else(|| self.probes.iter().find(|r| &r.url == u))
            {
                merged.push(r.clone());
            }
        }
        self.probes = merged;
    }

    pub fn record(&self) -> StatusRecord {
        StatusRecord {
            state: self.state,
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            last_success: self.last_success,
            failures: self.failures,
            history: self.history.clone(),
            probes: self.probes.clone(),
            sign_in_frequency_s: self.sign_in_frequency_s,
        }
    }

    pub fn view(&self) -> ConnectionView {
        let t = self.tokens.as_ref();
        let forecast = t.and_then(|t| {
            crate::forecast::sign_in_by(
                self.cfg.provider,
                self.cfg.realm(),
                t,
                self.sign_in_frequency_s,
            )
        });
        ConnectionView {
            name: self.cfg.name.clone(),
            kind: self.cfg.kind,
            provider: self.cfg.provider,
            account: self.cfg.account.clone(),
            realm: self.cfg.realm().map(str::to_owned),
            state: self.state,
            note: self.note.clone(),
            access_expires_at: t.and_then(|t| t.expires_at),
            has_refresh_token: t.is_some_and(|t| t.refresh_token.is_some()),
            scopes_asked: self.cfg.scopes.clone(),
            granted_scopes: t.map(|t| t.granted_scopes.clone()).unwrap_or_default(),
            obtained_at: t.map(|t| t.obtained_at),
            token_preview: t.map(|t| t.access_token.masked()),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            last_success: self.last_success,
            next_attempt_at: self.due.map(|(_, at)| at),
            busy: self.busy,
            history: self.history.clone(),
            probes: self.probes.clone(),
            sign_in_by: forecast.as_ref().map(|f| f.by),
            sign_in_by_reason: forecast.map(|f| f.reason),
        }
    }
}
