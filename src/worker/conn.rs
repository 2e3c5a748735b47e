//! One connection as the worker holds it, and the view it sends out. Its state is never
//! stored here: `facts` go through the one machine (crate::state::machine) and the view's
//! state is `crate::state::decide` of them, as `status` decides it from the store.
use std::sync::Arc;

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::ConnectionView;
use crate::config::Connection;
use crate::probe::ProbeResult;
use crate::provider::Endpoints;
use crate::state::machine::{self, Effect, Input};
use crate::state::{self, Decided, Facts};
use crate::store::{HistoryEntry, StatusRecord, TokenSet};

/// When something falls due, by both clocks: the wall clock (what the user means, and what
/// still moves while the machine sleeps) and the monotonic one (what an injected test clock
/// cannot stop). It is reached when either says so (ARCHITECTURE.md, Refresh schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Due {
    pub wall: Timestamp,
    pub mono: Instant,
}

impl Due {
    pub fn at(now: Timestamp, wall: Timestamp) -> Due {
        let wait = Duration::try_from(wall.duration_since(now)).unwrap_or(Duration::ZERO);
        let start = Instant::now();
        let mono = start
            .checked_add(wait)
            .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 86_400));
        Due { wall, mono }
    }

    pub fn after(now: Timestamp, wait: Duration) -> Due {
        Due::at(now, now.checked_add(wait).unwrap_or(Timestamp::MAX))
    }

    pub fn reached(&self, now: Timestamp) -> bool {
        self.wall <= now || self.mono <= Instant::now()
    }
}

pub(super) struct Conn {
    pub cfg: Connection,
    /// Resolved once (templates, or discovery for oidc), shared with jobs.
    pub endpoints: Arc<OnceCell<Endpoints>>,
    /// The secrets; `facts.tokens` says what they are (kept in step by `set_tokens`).
    pub tokens: Option<TokenSet>,
    pub facts: Facts,
    /// What happened here that the facts do not say (a failed purge).
    pub local_note: Option<String>,
    pub history: Vec<HistoryEntry>,
    /// When to act next on our own (wall-clock time): refresh before expiry, or retry.
    pub due: Option<Due>,
    /// When the state changes by time alone (the access token expires): say so then.
    pub expiry: Option<Due>,
    /// Consecutive transient failures (for backoff).
    pub attempt: u32,
    /// Bumped by purge and sign-in so results of superseded jobs are ignored.
    pub generation: u64,
    pub busy: bool,
    pub sign_in: Option<tokio::task::AbortHandle>,
    /// Where text pasted back for the current browser sign-in goes.
    pub pasted: Option<tokio::sync::mpsc::UnboundedSender<crate::secret::Secret>>,
    /// The last answer of each probe, in the order of the connection's probe URLs.
    pub probes: Vec<ProbeResult>,
    /// When to probe next on our own (`probe_every`, or a retry after a transient answer).
    pub probe_due: Option<Due>,
    /// Consecutive transient probe failures (for backoff).
    pub probe_attempt: u32,
    /// Another process wrote this connection's files while a job of ours ran: looked at
    /// again once the job ends (worker/changed.rs).
    pub missed: bool,
    /// A forced sign-in period the tenant revealed (for this or another connection of the
    /// same tenant), in seconds.
    pub sign_in_frequency_s: Option<u64>,
}

impl Conn {
    pub fn new(cfg: Connection, record: Option<StatusRecord>) -> Self {
        let sign_in_frequency_s = record.as_ref().and_then(|r| r.sign_in_frequency_s);
        let (facts, history, probes) = match record {
            Some(r) => (r.facts(), r.history, r.probes),
            None => (Facts::default(), Vec::new(), Vec::new()),
        };
        Conn {
            cfg,
            endpoints: Arc::new(OnceCell::new()),
            tokens: None,
            facts,
            local_note: None,
            history,
            due: None,
            expiry: None,
            attempt: 0,
            generation: 0,
            busy: false,
            sign_in: None,
            pasted: None,
            probes,
            probe_due: None,
            probe_attempt: 0,
            missed: false,
            sign_in_frequency_s,
        }
    }

    /// Hold `set` (or none); the facts follow.
    pub fn set_tokens(&mut self, set: Option<TokenSet>) {
        self.facts.tokens = set.as_ref().map(TokenSet::facts);
        self.facts.store_problem = None;
        self.tokens = set;
    }

    /// One step of the machine; what happened goes into the history.
    pub fn apply(&mut self, input: Input, now: Timestamp) -> Vec<Effect> {
        let code = match &input {
            Input::RefreshFailed(d) | Input::ProbeRefused(d) | Input::SignInFailed(d) => {
                Some(d.code.clone().unwrap_or_else(|| d.cause.to_string()))
            }
            _ => None,
        };
        // Another process's claim ends with that process's own outcome, not ours.
        let foreign = self.facts.activity.filter(|a| a.pid != std::process::id());
        let facts = std::mem::take(&mut self.facts);
        let (facts, effects) = machine::step(facts, input, now);
        self.facts = facts;
        if self.facts.activity.is_none() && self.tokens.is_some() {
            self.facts.activity = foreign;
        }
        if let Some(code) = code {
            let state = self.decided(now).state;
            self.remember(now, format!("{state}: {code}"));
        }
        effects
    }

    /// The state now, by the one rule.
    pub fn decided(&self, now: Timestamp) -> Decided {
        let cx = state::Context {
            asks_offline_access: self.cfg.asks_offline_access(),
            no_refresh_token_note: self.cfg.no_refresh_token_note(),
        };
        state::decide(&self.facts, now, cx, &state::process_alive)
    }

    pub fn remember(&mut self, at: Timestamp, what: impl Into<String>) {
        crate::store::push_history(&mut self.history, at, what.into());
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
        let f = &self.facts;
        StatusRecord {
            state: f.verdict.state(),
            last_error: f.last_error.clone(),
            last_error_at: f.last_error_at,
            last_success: f.last_success,
            failures: f.failures,
            history: self.history.clone(),
            probes: self.probes.clone(),
            sign_in_frequency_s: self.sign_in_frequency_s,
            activity: f.activity,
            changed_at: f.changed_at,
        }
    }

    pub fn view(&self, now: Timestamp) -> ConnectionView {
        let t = self.tokens.as_ref();
        let forecast = t.and_then(|t| {
            crate::forecast::sign_in_by(
                self.cfg.provider,
                self.cfg.realm(),
                t,
                self.sign_in_frequency_s,
            )
        });
        let d = self.decided(now);
        ConnectionView {
            name: self.cfg.name.clone(),
            kind: self.cfg.kind,
            provider: self.cfg.provider,
            account: self.cfg.account.clone(),
            realm: self.cfg.realm().map(str::to_owned),
            state: d.state,
            note: self.local_note.clone().or(d.note),
            activity: d.activity,
            access_expires_at: t.and_then(|t| t.expires_at),
            has_refresh_token: t.is_some_and(|t| t.refresh_token.is_some()),
            scopes_asked: self.cfg.scopes.clone(),
            granted_scopes: t.map(|t| t.granted_scopes.clone()).unwrap_or_default(),
            obtained_at: t.map(|t| t.obtained_at),
            token_preview: t.map(|t| t.access_token.masked()),
            last_error: d.last_error,
            last_error_at: d.last_error_at,
            last_success: self.facts.last_success,
            next_attempt_at: self.due.map(|d| d.wall),
            busy: self.busy,
            history: self.history.clone(),
            probes: self.probes.clone(),
            sign_in_by: forecast.as_ref().map(|f| f.by),
            sign_in_by_reason: forecast.map(|f| f.reason),
        }
    }

    /// The refusal of the probes' latest answers, if one refused.
    pub fn probe_failure(&self) -> Option<crate::diagnose::Diagnosis> {
        self.probes.iter().find_map(|p| p.diagnosis.clone())
    }

    /// The verdict only someone's action lifts is on record about the current tokens.
    pub fn waits_for_someone(&self, now: Timestamp) -> bool {
        self.decided(now).state.waits_for_someone()
    }

    /// Take another process's verdict when it is newer than ours (the record it wrote), and
    /// its claim of work in flight: whether anything changed, and whether the verdict did.
    pub fn adopt(&mut self, r: &StatusRecord) -> (bool, bool) {
        let theirs = r.facts();
        let f = &mut self.facts;
        let mut changed = false;
        // What this process is doing only it knows: a claim in its name that it does not
        // hold is a stale copy; its own claim stands whatever another record says.
        let me = std::process::id();
        let activity = match (f.activity, theirs.activity) {
            (Some(mine), _) if mine.pid == me => Some(mine),
            (_, Some(stale)) if stale.pid == me => None,
            (_, other) => other,
        };
        if activity != f.activity {
            f.activity = activity;
            changed = true;
        }
        // Their verdict is later than ours (a refusal, or a refusal lifted): it holds.
        // (A record from an older connwatch has no changed_at: its newer error counts.)
        let newer = match theirs.changed_at {
            Some(_) => theirs.changed_at > f.changed_at,
            None => theirs.last_error_at > f.last_error_at.max(f.changed_at),
        };
        let newer_success = theirs.last_success > f.last_success;
        if !newer && !newer_success {
            return (changed, false);
        }
        f.failures = f.failures.max(theirs.failures);
        f.last_success = f.last_success.max(theirs.last_success);
        if newer {
            f.verdict = theirs.verdict;
            f.last_error = theirs.last_error;
            f.last_error_at = theirs.last_error_at;
            f.changed_at = theirs.changed_at;
        }
        self.history = r.history.clone();
        self.probes = r.probes.clone();
        (true, newer)
    }
}
