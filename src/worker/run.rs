//! The worker loop and the state machine of each connection.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::backoff::random_unit;
use super::conn::Conn;
use super::jobs::{JobContext, JobOutcome};
use super::{DeviceCodeView, Event, Request, WorkerOptions};
use crate::config::Config;
use crate::connection::ConnState;
use crate::diagnose::{self, Cause, Diagnosis};
use crate::oauth::HttpClient;
use crate::store::{StoreError, TokenStore};
use crate::token::{self, Expectations};

/// Looks at `watch.lock` after an event that showed no change (see `Worker::lock_recheck`).
const LOCK_RECHECKS: u8 = 10;
const LOCK_RECHECK_EVERY: Duration = Duration::from_millis(50);

/// What finished, for which connection and which generation of it.
struct Finished {
    index: usize,
    generation: u64,
    outcome: JobOutcome,
}

pub(super) struct Worker {
    conns: Vec<Conn>,
    by_name: HashMap<String, usize>,
    store: TokenStore,
    http: HttpClient,
    opts: WorkerOptions,
    events: mpsc::UnboundedSender<Event>,
    permits: Arc<Semaphore>,
    /// What `opts.auto_refresh` was asked to be; it is off while a `watch` holds the store.
    schedules: bool,
    /// The pid of the `watch` holding the store (with `opts.yield_to_watch` only).
    watched: Option<u32>,
    /// A `watch.lock` event that showed no change yet: when to look again, and how many
    /// more times. Linux queues the close event of a dying `watch` before it drops the
    /// process's lock, so the first look can still see the lock held.
    lock_recheck: Option<(Instant, u8)>,
}

impl Worker {
    pub fn new(
        config: &Config,
        store: TokenStore,
        http: HttpClient,
        opts: WorkerOptions,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let conns: Vec<Conn> = config
            .connections
            .iter()
            .map(|c| Conn::new(c.clone(), store.load_status(&c.name)))
            .collect();
        let by_name = conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.cfg.name.clone(), i))
            .collect();
        let mut conns = conns;
        share_frequencies(&mut conns);
        let permits = Arc::new(Semaphore::new(opts.max_concurrency.max(1)));
        let schedules = opts.auto_refresh;
        Worker {
            conns,
            by_name,
            store,
            http,
            opts,
            events,
            permits,
            schedules,
            watched: None,
            lock_recheck: None,
        }
    }

    fn now(&self) -> Timestamp {
        self.opts.clock.now()
    }

    pub async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        let mut jobs: JoinSet<Finished> = JoinSet::new();
        let (code_tx, mut code_rx) = mpsc::unbounded_channel::<DeviceCodeView>();
        let mut follower = if self.opts.follow_store {
            super::follow::StoreFollower::new(self.store.paths())
        } else {
            None
        };
        if self.opts.yield_to_watch {
            self.watched = crate::store::watch_lock::holder(&self.store.paths().root);
            self.opts.auto_refresh = self.schedules && self.watched.is_none();
            if self.watched.is_some() {
                let _ = self.events.send(Event::Watched { pid: self.watched });
            }
        }
        for i in 0..self.conns.len() {
            self.load(i);
            // Only the view: nothing happened yet, so the status record on disk (which
            // another process may be writing) stays as it is. With a helpdesk's thousand
            // connections that is also a thousand fsyncs saved at start-up.
            let _ = self
                .events
                .send(Event::Connection(Box::new(self.conns[i].view())));
        }
        loop {
            let next_due = self
                .conns
                .iter()
                .flat_map(|c| [c.due, c.probe_due])
                .filter_map(|d| d.map(|(at, _)| at))
                .min();
            tokio::select! {
                req = requests.recv() => match req {
                    None | Some(Request::Shutdown) => break,
                    Some(req) => self.handle(req, &mut jobs, &code_tx),
                },
                Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                    if let Ok(done) = done {
                        self.finish(done);
                    }
                },
                Some(code) = code_rx.recv() => {
                    let _ = self.events.send(Event::DeviceCode(code));
                },
                () = sleep_until(next_due), if next_due.is_some() => self.run_due(&mut jobs),
                () = sleep_until(self.lock_recheck.map(|(at, _)| at)), if self.lock_recheck.is_some() => {
                    let left = self.lock_recheck.take().map_or(0, |(_, n)| n);
                    let now = self.now();
                    self.watch_changed(now, left);
                }
                Some(ch) = super::follow::next_change(&mut follower), if follower.is_some() => {
                    self.changed(ch);
                }
            }
        }
        self.drain(&mut jobs).await;
    }

    /// Stop without losing a grant. A refresh in flight may already have spent a rotating
    /// refresh token at the provider: aborting it before it saves the new one would sign the
    /// connection out (Zoom, oidc-provider). So sign-ins waiting on a person are cancelled,
    /// and every other job gets to finish and save — bounded by the HTTP timeout.
    async fn drain(&mut self, jobs: &mut JoinSet<Finished>) {
        for c in &mut self.conns {
            if let Some(h) = c.sign_in.take() {
                h.abort();
            }
        }
        let deadline = Instant::now() + self.opts.http_timeout + Duration::from_secs(1);
        while !jobs.is_empty() {
            match tokio::time::timeout_at(deadline, jobs.join_next()).await {
                Ok(Some(Ok(done))) => self.finish(done),
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!("shutting down with {} job(s) still running", jobs.len());
                    jobs.abort_all();
                    break;
                }
            }
        }
    }

    /// Another process wrote (or removed) one of our connections' files. Our own writes come
    /// back here too: they match what we hold and change nothing.
    fn changed(&mut self, ch: super::follow::Changed) {
        use super::follow::Changed;
        let now = self.now();
        match ch {
            Changed::WatchLock => self.watch_changed(now, LOCK_RECHECKS),
            Changed::Tokens(name) => {
                let Some(&i) = self.by_name.get(&name) else {
                    return;
                };
                if self.conns[i].busy {
                    return; // our own job is writing; its outcome will say what happened
                }
                match self.store.load(&name) {
                    Ok(None) => {
                        let c = &mut self.conns[i];
                        if c.tokens.take().is_some() {
                            c.state = ConnState::SignedOut;
                            c.note = Some("tokens purged (by another process)".into());
                            c.last_error = None;
                            c.due = None;
                            c.probe_due = None;
                            c.remember(now, "purged elsewhere");
                            self.emit(i);
                        }
                    }
                    Ok(Some(set)) => {
                        let c = &mut self.conns[i];
                        let same = c.tokens.as_ref().is_some_and(|t| {
                            t.access_token.expose() == set.access_token.expose()
                                && t.refresh_token.as_ref().map(|r| r.expose())
                                    == set.refresh_token.as_ref().map(|r| r.expose())
                        });
                        if same {
                            return;
                        }
                        let newer = c
                            .tokens
                            .as_ref()
                            .is_none_or(|t| set.obtained_at >= t.obtained_at);
                        if !newer {
                            return;
                        }
                        c.tokens = Some(set);
                        c.remember(now, "new tokens (from another process)");
                        if c.state != ConnState::Connected {
                            // A sign-in or refresh elsewhere: whatever was wrong is over.
                            c.state = ConnState::Connected;
                            c.last_error = None;
                            c.attempt = 0;
                        }
                        self.settle(i, now);
                        self.emit(i);
                    }
                    Err(_) => {}
                }
            }
            Changed::Status(name) => {
                let Some(&i) = self.by_name.get(&name) else {
                    return;
                };
                if self.conns[i].busy {
                    return;
                }
                let Some(r) = self.store.load_status(&name) else {
                    return;
                };
                let c = &mut self.conns[i];
                if r == c.record() {
                    return;
                }
                let newer_error = r.last_error_at > c.last_error_at;
                let newer_success = r.last_success > c.last_success;
                if !newer_error && !newer_success {
                    return;
                }
                c.history = r.history;
                c.probes = r.probes;
                c.failures = c.failures.max(r.failures);
                if newer_success {
                    c.last_success = r.last_success;
                }
                if newer_error {
                    c.last_error = r.last_error;
                    c.last_error_at = r.last_error_at;
                    if r.state.needs_attention() {
                        c.state = r.state;
                        if r.state != ConnState::Disconnected {
                            c.due = None;
                        }
                    }
                } else if r.state == ConnState::Connected && r.last_error.is_none() {
                    c.last_error = None;
                    c.state = ConnState::Connected;
                }
                // The record on disk already says it: tell the UI, write nothing.
                let _ = self.events.send(Event::Connection(Box::new(c.view())));
            }
        }
    }

    /// A `watch` took the store or let it go. While one holds it, it refreshes and probes on
    /// schedule and this worker only follows (and acts on requests); when it ends, this worker
    /// takes the schedule back at once, so nothing is left unwatched.
    /// `rechecks`: how many more looks, 50 ms apart, while the lock still seems held.
    fn watch_changed(&mut self, now: Timestamp, rechecks: u8) {
        if !self.opts.yield_to_watch {
            return;
        }
        let holder = crate::store::watch_lock::holder(&self.store.paths().root);
        if holder == self.watched {
            if holder.is_some() && rechecks > 0 {
                self.lock_recheck = Some((Instant::now() + LOCK_RECHECK_EVERY, rechecks - 1));
            }
            return;
        }
        self.lock_recheck = None;
        let was_watched = self.watched.is_some();
        self.watched = holder;
        self.opts.auto_refresh = self.schedules && holder.is_none();
        let _ = self.events.send(Event::Watched { pid: holder });
        if was_watched == holder.is_some() {
            return; // one watch replaced by another: nothing to reschedule
        }
        tracing::info!(watch_pid = ?holder, "watch changed; scheduling {}", if holder.is_some() { "left to it" } else { "taken back" });
        for i in 0..self.conns.len() {
            if self.conns[i].busy {
                continue; // its outcome schedules what comes next, under the new rule
            }
            if holder.is_some() {
                self.conns[i].due = None;
                self.conns[i].probe_due = None;
            } else if self.conns[i].tokens.is_some() {
                self.settle(i, now);
                if self.schedules && self.conns[i].cfg.probe_interval().is_some() {
                    self.conns[i].probe_due = Some((Instant::now(), now));
                }
                let _ = self
                    .events
                    .send(Event::Connection(Box::new(self.conns[i].view())));
            }
        }
    }

    /// Start-up: read the store and decide what each connection needs.
    fn load(&mut self, i: usize) {
        let now = self.now();
        let name = self.conns[i].cfg.name.clone();
        match self.store.load(&name) {
            Ok(None) => {
                let c = &mut self.conns[i];
                c.state = ConnState::SignedOut;
                c.note = Some("not signed in".into());
            }
            Ok(Some(set)) => {
                let c = &mut self.conns[i];
                // A verdict recorded about these very tokens (a refusal only someone's action
                // lifts) stands, as `status` reads it: a restart does not make it connected.
                if let Some(st) = c.recorded_state.take().filter(|s| s.waits_for_someone())
                    && c.last_error_at.is_some_and(|at| at >= set.obtained_at)
                {
                    c.state = st;
                }
                c.tokens = Some(set);
                self.settle(i, now);
                // Scheduled probes start with one at start-up: an open dashboard (or watch)
                // should know at once whether the mailbox answers.
                if self.opts.auto_refresh && self.conns[i].cfg.probe_interval().is_some() {
                    self.conns[i].probe_due = Some((Instant::now(), now));
                }
            }
            Err(e) => {
                let c = &mut self.conns[i];
                c.state = match e {
                    StoreError::Corrupt { .. } => ConnState::Misconfigured,
                    StoreError::Io { .. } => ConnState::SignedOut,
                };
                c.note = Some(e.to_string());
                tracing::warn!(connection = %name, "token file unusable: {e}");
            }
        }
    }

    /// With tokens in hand: connected until the refresh point, or expired.
    fn settle(&mut self, i: usize, now: Timestamp) {
        let auto = self.opts.auto_refresh;
        let c = &mut self.conns[i];
        let Some(t) = &c.tokens else { return };
        let has_rt = t.refresh_token.is_some();
        let expired = t.expires_at.is_some_and(|e| e <= now);
        c.note = (!has_rt).then(|| c.cfg.no_refresh_token_note().to_owned());
        if expired && !has_rt {
            let d = diagnose::no_refresh_token(c.cfg.asks_offline_access());
            c.due = None;
            c.fail(now, d, ConnState::NeedsReauth);
            return;
        }
        // Only a sign-in (or the user's own refresh) gets a connection out of needs_reauth:
        // retrying a refused grant on a timer is what triggers AADSTS50196. Misconfigured
        // waits for a change too (a config fix, an admin lifting a block, the user's `r`).
        if c.state.waits_for_someone() {
            c.due = None;
            return;
        }
        c.state = if expired {
            ConnState::Disconnected
        } else {
            ConnState::Connected
        };
        c.due = match (t.expires_at, has_rt) {
            _ if !auto => None,
            (None, _) => None,
            // Without a refresh token, wake at expiry to say so.
            (Some(exp), false) => Some(due_at(now, exp)),
            // The one rule (worker::schedule): inside the token's life, never sooner than
            // min_refresh_interval after the last refresh, with a little jitter.
            (Some(exp), true) => {
                let at = super::schedule::refresh_due(
                    t,
                    c.cfg.refresh_before,
                    c.cfg.min_refresh_interval,
                    random_unit(),
                )
                .unwrap_or(exp)
                .max(now);
                Some(due_at(now, at))
            }
        };
    }

    fn handle(
        &mut self,
        req: Request,
        jobs: &mut JoinSet<Finished>,
        code_tx: &mpsc::UnboundedSender<DeviceCodeView>,
    ) {
        let index = |name: &str| self.by_name.get(name).copied();
        match req {
            Request::Refresh { name } => {
                if let Some(i) = index(&name) {
                    self.start_refresh(i, jobs);
                }
            }
            Request::RefreshAll => {
                for i in 0..self.conns.len() {
                    if self.conns[i].tokens.is_some() {
                        self.start_refresh(i, jobs);
                    }
                }
            }
            Request::SignIn { name } => {
                if let Some(i) = index(&name) {
                    let flow = self.conns[i].cfg.flow;
                    self.start_sign_in(i, jobs, code_tx.clone(), flow);
                }
            }
            Request::SignInBrowser { name } => {
                if let Some(i) = index(&name) {
                    self.start_sign_in(i, jobs, code_tx.clone(), crate::config::Flow::Browser);
                }
            }
            Request::CancelSignIn { name } => {
                if let Some(i) = index(&name) {
                    let now = self.now();
                    let c = &mut self.conns[i];
                    if let Some(h) = c.sign_in.take() {
                        h.abort();
                        c.pasted = None;
                        c.generation += 1;
                        c.busy = false;
                        c.remember(now, "sign-in cancelled");
                        // Back to where it was before the sign-in started: a connection
                        // that was fine stays fine, one that needed a sign-in still does.
                        c.state = match (c.tokens.is_some(), c.before_sign_in.take()) {
                            (false, _) => ConnState::SignedOut,
                            (true, Some(ConnState::NeedsReauth)) => ConnState::NeedsReauth,
                            (true, _) => ConnState::Connected,
                        };
                        let _ = self.events.send(Event::SignInEnded { name, ok: false });
                        self.settle(i, now);
                        self.emit(i);
                    }
                }
            }
            Request::Pasted { name, text } => {
                // Only a sign-in that is waiting takes it; otherwise it is dropped unseen.
                if let Some(tx) = index(&name).and_then(|i| self.conns[i].pasted.as_ref()) {
                    let _ = tx.send(text);
                }
            }
            Request::Purge { name } => {
                if let Some(i) = index(&name) {
                    self.purge(i, jobs);
                }
            }
            Request::Decode { name } => {
                if let Some(i) = index(&name) {
                    let c = &self.conns[i];
                    if let Some(t) = &c.tokens {
                        let report = token::inspect(
                            t.access_token.expose(),
                            &expectations(&c.cfg),
                            self.now(),
                        );
                        let _ = self.events.send(Event::Decoded {
                            name,
                            report: Box::new(report),
                        });
                    }
                }
            }
            Request::Probe { name } => {
                if let Some(i) = index(&name) {
                    let now = self.now();
                    let cfg = &self.conns[i].cfg;
                    let due = self.conns[i].tokens.as_ref().is_some_and(|t| {
                        t.refresh_token.is_some()
                            && super::schedule::is_due(
                                t,
                                cfg.refresh_before,
                                cfg.min_refresh_interval,
                                now,
                            )
                    });
                    if due {
                        // A refresh probes its new token when it is saved.
                        self.start_refresh(i, jobs);
                    } else {
                        self.start_probe(i, jobs);
                    }
                }
            }
            Request::Shutdown => {}
        }
    }

    /// Probe the current tokens (no refresh). Without tokens or probes there is nothing to ask.
    fn start_probe(&mut self, i: usize, jobs: &mut JoinSet<Finished>) {
        let c = &self.conns[i];
        if c.busy {
            return;
        }
        let Some(set) = c.tokens.clone() else {
            return;
        };
        if crate::provider::probe_targets(&c.cfg).is_empty() {
            // Say so instead of hanging a caller that waits for the probe to finish.
            self.emit(i);
            return;
        }
        let ctx = self.context(i);
        self.spawn_permitted(i, jobs, ctx.probe_only(set));
        let c = &mut self.conns[i];
        c.busy = true;
        c.probe_due = None;
        tracing::info!(connection = %c.cfg.name, "probing");
        self.emit(i);
    }

    /// Run `job` for connection `i` once one of the bounded permits is free.
    fn spawn_permitted(
        &self,
        i: usize,
        jobs: &mut JoinSet<Finished>,
        job: impl std::future::Future<Output = JobOutcome> + Send + 'static,
    ) {
        let generation = self.conns[i].generation;
        let permits = self.permits.clone();
        jobs.spawn(async move {
            let _permit = permits.acquire_owned().await;
            Finished {
                index: i,
                generation,
                outcome: job.await,
            }
        });
    }

    fn context(&self, i: usize) -> JobContext {
        let c = &self.conns[i];
        JobContext {
            http: self.http.clone(),
            store: self.store.clone(),
            clock: self.opts.clock.clone(),
            pacer: self.opts.pacer.clone(),
            cfg: c.cfg.clone(),
            endpoints: c.endpoints.clone(),
            claims: c
                .last_error
                .as_ref()
                .and_then(|d| d.claims.as_deref())
                .map(claims_param),
        }
    }

    fn start_refresh(&mut self, i: usize, jobs: &mut JoinSet<Finished>) {
        let c = &self.conns[i];
        if c.busy || c.tokens.is_none() {
            return;
        }
        let ctx = self.context(i);
        let known = c
            .tokens
            .as_ref()
            .map(|t| t.access_token.expose().to_owned());
        self.spawn_permitted(i, jobs, ctx.refresh(known));
        let c = &mut self.conns[i];
        c.busy = true;
        c.due = None;
        if matches!(c.state, ConnState::Connected | ConnState::Disconnected) {
            c.state = ConnState::Refreshing;
        }
        tracing::info!(connection = %c.cfg.name, "refreshing");
        self.emit(i);
    }

    fn start_sign_in(
        &mut self,
        i: usize,
        jobs: &mut JoinSet<Finished>,
        code_tx: mpsc::UnboundedSender<DeviceCodeView>,
        flow: crate::config::Flow,
    ) {
        if let Some(h) = self.conns[i].sign_in.take() {
            h.abort();
        }
        let ctx = self.context(i);
        let now = self.now();
        let c = &mut self.conns[i];
        c.generation += 1;
        let generation = c.generation;
        let browser = flow == crate::config::Flow::Browser;
        let (paste_tx, paste_rx) = mpsc::unbounded_channel();
        c.pasted = browser.then_some(paste_tx);
        let handle = jobs.spawn(async move {
            Finished {
                index: i,
                generation,
                outcome: if browser {
                    ctx.browser_sign_in(code_tx, paste_rx).await
                } else {
                    ctx.device_sign_in(code_tx).await
                },
            }
        });
        c.sign_in = Some(handle);
        c.busy = true;
        c.due = None;
        if c.state != ConnState::Authorizing {
            c.before_sign_in = Some(c.state);
        }
        c.state = ConnState::Authorizing;
        let how = if browser { "browser" } else { "device code" };
        c.remember(now, format!("sign-in started ({how})"));
        tracing::info!(connection = %c.cfg.name, "sign-in started ({how})");
        self.emit(i);
    }

    /// Purge under the connection's lock, so a refresh in flight (which holds it) finishes
    /// writing first and its file is deleted too, never resurrected after the purge.
    fn purge(&mut self, i: usize, jobs: &mut JoinSet<Finished>) {
        let store = self.store.clone();
        let c = &mut self.conns[i];
        if let Some(h) = c.sign_in.take() {
            h.abort();
        }
        c.pasted = None;
        c.generation += 1;
        c.busy = true;
        c.due = None;
        let generation = c.generation;
        let name = c.cfg.name.clone();
        jobs.spawn(async move {
            let removed = tokio::task::spawn_blocking(move || {
                let _lock = store.lock(&name)?;
                store.purge(&name)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|e| e.to_string());
            Finished {
                index: i,
                generation,
                outcome: JobOutcome::Purged(removed),
            }
        });
        self.emit(i);
    }

    fn run_due(&mut self, jobs: &mut JoinSet<Finished>) {
        let now_i = Instant::now();
        let probes: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].probe_due.is_some_and(|(at, _)| at <= now_i))
            .collect();
        for i in probes {
            self.conns[i].probe_due = None;
            if self.conns[i].busy {
                // A refresh or sign-in in flight probes its own tokens when it is done.
                continue;
            }
            self.start_probe(i, jobs);
        }
        let due: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].due.is_some_and(|(at, _)| at <= now_i))
            .collect();
        for i in due {
            let now = self.now();
            let c = &mut self.conns[i];
            c.due = None;
            let has_rt = c.tokens.as_ref().is_some_and(|t| t.refresh_token.is_some());
            if has_rt {
                self.start_refresh(i, jobs);
            } else {
                self.settle(i, now);
                self.emit(i);
            }
        }
    }

    fn finish(&mut self, done: Finished) {
        let i = done.index;
        let now = self.now();
        let c = &mut self.conns[i];
        if done.generation != c.generation {
            return; // superseded by a purge or a newer sign-in
        }
        c.busy = false;
        let was_sign_in = c.sign_in.take().is_some();
        c.pasted = None;
        match done.outcome {
            JobOutcome::Tokens { set, what, probes } => {
                tracing::info!(connection = %c.cfg.name, "{what}");
                c.remember(now, what);
                c.tokens = Some(set);
                c.state = ConnState::Connected;
                c.last_error = None;
                c.last_success = Some(now);
                c.attempt = 0;
                self.settle(i, now);
                self.probed(i, now, probes);
            }
            JobOutcome::Probed(probes) => {
                self.probed(i, now, probes);
            }
            JobOutcome::Purged(Ok(_)) => {
                tracing::info!(connection = %c.cfg.name, "purged");
                c.tokens = None;
                c.attempt = 0;
                c.state = ConnState::SignedOut;
                c.note = Some("tokens purged".into());
                c.last_error = None;
                c.remember(now, "purged");
            }
            JobOutcome::Purged(Err(e)) => {
                tracing::warn!(connection = %c.cfg.name, "purge failed: {e}");
                c.note = Some(format!("purge failed: {e}"));
                self.settle(i, now);
            }
            JobOutcome::Failed(d) => {
                // Logged on one line, defused: a code with a newline once forged a log line.
                let code = crate::sanitize::line(d.code.as_deref().unwrap_or(d.cause.as_str()))
                    .into_owned();
                tracing::warn!(connection = %c.cfg.name, cause = %d.cause, code = %code, "request failed");
                self.failed(i, now, d, was_sign_in);
            }
        }
        if was_sign_in {
            let ok = self.conns[i].state == ConnState::Connected;
            let _ = self.events.send(Event::SignInEnded {
                name: self.conns[i].cfg.name.clone(),
                ok,
            });
        }
        self.emit(i);
    }

    /// Keep the probes' answers and act on the first refusal. When every probe accepts and
    /// the last error was a probe's, the connection is connected again.
    fn probed(&mut self, i: usize, now: Timestamp, probes: Vec<crate::probe::ProbeResult>) {
        if probes.is_empty() {
            return;
        }
        let every = self.conns[i].cfg.probe_interval();
        let refused = probes.iter().find_map(|p| p.diagnosis.clone());
        let c = &mut self.conns[i];
        for p in &probes {
            let verdict = if p.ok { "accepted" } else { "refused" };
            tracing::info!(connection = %c.cfg.name, probe = %p.url, latency_ms = p.latency_ms, "probe {verdict}");
        }
        c.keep_probes(probes);
        c.probe_due = every.map(|e| (Instant::now() + e, now.checked_add(e).unwrap_or(now)));
        match refused {
            Some(d) => {
                let transient = d.retryable;
                self.probe_refused(i, now, d);
                let c = &mut self.conns[i];
                if transient && self.opts.auto_refresh {
                    let delay = self
                        .opts
                        .backoff
                        .delay(c.probe_attempt, None, random_unit());
                    c.probe_attempt = c.probe_attempt.saturating_add(1);
                    let delay = every.map_or(delay, |e| delay.min(e));
                    c.probe_due = Some((
                        Instant::now() + delay,
                        now.checked_add(delay).unwrap_or(now),
                    ));
                }
            }
            None => {
                c.probe_attempt = 0;
                if c.last_error.as_ref().is_some_and(|d| d.probe.is_some()) {
                    c.last_error = None;
                    c.remember(now, "every probe accepts the token again");
                    if c.state.waits_for_someone() {
                        c.state = ConnState::Connected;
                    }
                    self.settle(i, now);
                }
            }
        }
    }

    /// The resource refused a token the IdP just issued. A claims challenge or a missing
    /// permission needs a sign-in (its claims are kept for it); a transient answer leaves the
    /// connection up with the error shown; anything else is the probe's own configuration.
    fn probe_refused(&mut self, i: usize, now: Timestamp, d: Diagnosis) {
        let c = &mut self.conns[i];
        // Logged on one line, defused: a code with a newline once forged a log line.
        let code =
            crate::sanitize::line(d.code.as_deref().unwrap_or(d.cause.as_str())).into_owned();
        tracing::warn!(connection = %c.cfg.name, cause = %d.cause, code = %code, "the resource refused the new token");
        let state = if d.needs_reauth || d.cause == Cause::ClaimsChallenge {
            ConnState::NeedsReauth
        } else if d.fix_by.is_someone_else() && !d.retryable {
            ConnState::Blocked
        } else if d.retryable {
            ConnState::Connected
        } else {
            ConnState::Misconfigured
        };
        c.fail(now, d, state);
        if state != ConnState::Connected {
            c.due = None;
        }
    }

    fn failed(&mut self, i: usize, now: Timestamp, d: Diagnosis, was_sign_in: bool) {
        if let Some(f) = d.sign_in_frequency_s {
            self.learn_frequency(i, f);
        }
        let c = &mut self.conns[i];
        let expired = c
            .tokens
            .as_ref()
            .is_none_or(|t| t.expires_at.is_some_and(|e| e <= now));
        let state = if d.fix_by.is_someone_else() && !d.retryable {
            // The admin or the app's owner must act: a sign-in or a retry will not help.
            ConnState::Blocked
        } else if matches!(d.cause, Cause::InvalidClient | Cause::InvalidRequest) && !d.needs_reauth
        {
            ConnState::Misconfigured
        } else if was_sign_in {
            // A sign-in that did not complete (declined, expired, network): the user starts
            // it again; tokens from before, if any, still need it.
            if c.tokens.is_some() {
                ConnState::NeedsReauth
            } else {
                ConnState::SignedOut
            }
        } else if d.needs_reauth {
            ConnState::NeedsReauth
        } else if expired {
            ConnState::Disconnected
        } else {
            // The access token still works; keep serving it while we retry.
            ConnState::Connected
        };
        let retry = !was_sign_in && !state.waits_for_someone();
        let retry_after = d.retry_after_s.map(Duration::from_secs);
        c.fail(now, d, state);
        c.due = None;
        if retry && self.opts.auto_refresh {
            let delay = self
                .opts
                .backoff
                .delay(c.attempt, retry_after, random_unit());
            c.attempt = c.attempt.saturating_add(1);
            let at = now.checked_add(delay).unwrap_or(now);
            c.due = Some((Instant::now() + delay, at));
        }
    }

    /// The tenant of connection `i` revealed its sign-in frequency: every connection of that
    /// tenant (or issuer) forecasts with it from now on, and remembers it.
    fn learn_frequency(&mut self, i: usize, seconds: u64) {
        let realm = self.conns[i].cfg.realm().map(str::to_owned);
        for j in 0..self.conns.len() {
            let same = j == i || (realm.is_some() && self.conns[j].cfg.realm() == realm.as_deref());
            if !same || self.conns[j].sign_in_frequency_s == Some(seconds) {
                continue;
            }
            self.conns[j].sign_in_frequency_s = Some(seconds);
            if j != i {
                self.emit(j);
            }
        }
    }

    fn emit(&self, i: usize) {
        let c = &self.conns[i];
        if let Err(e) = self.store.save_status(&c.cfg.name, &c.record()) {
            tracing::warn!(connection = %c.cfg.name, "cannot save status record: {e}");
        }
        let _ = self.events.send(Event::Connection(Box::new(c.view())));
    }
}

/// What a probe of `cfg`'s resources needs: its account, CAs, expectations and provider.
pub fn probe_context(
    cfg: &crate::config::Connection,
    http: HttpClient,
) -> crate::probe::ProbeContext {
    crate::probe::ProbeContext {
        http,
        timeout: crate::probe::DEFAULT_TIMEOUT,
        ca_file: cfg.ca_file.clone(),
        account: cfg.account.clone(),
        expect: expectations(cfg),
        scopes_asked: cfg.scopes.clone(),
        provider: crate::provider::hint(cfg.provider),
    }
}

/// The connection's expectations for decoding: `expect`, or else its own scopes.
pub fn expectations(cfg: &crate::config::Connection) -> Expectations {
    let mut e = cfg.expect.clone();
    if e.scopes.is_empty() {
        e.scopes = cfg
            .scopes
            .iter()
            .filter(|s| {
                !matches!(
                    s.as_str(),
                    "offline_access" | "openid" | "profile" | "email"
                ) && !s.ends_with("/.default")
            })
            .cloned()
            .collect();
    }
    e
}

/// The `claims` request parameter for a challenge: a `WWW-Authenticate` challenge carries the
/// claims base64-encoded, a token error body as plain JSON; the IdP wants the JSON.
fn claims_param(claims: &str) -> String {
    use base64::Engine;
    let t = claims.trim();
    if t.starts_with('{') {
        return t.to_owned();
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))
        })
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.trim_start().starts_with('{'));
    decoded.unwrap_or_else(|| t.to_owned())
}

fn due_at(now: Timestamp, at: Timestamp) -> (Instant, Timestamp) {
    let wait = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
    (Instant::now() + wait, at)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What one connection learned about its tenant's sign-in frequency holds for every
/// connection of that tenant (the shortest, when records disagree).
fn share_frequencies(conns: &mut [Conn]) {
    let known: Vec<(Option<&str>, Option<u64>)> = conns
        .iter()
        .map(|c| (c.cfg.realm(), c.sign_in_frequency_s))
        .collect();
    let shared = crate::forecast::share_by_realm(&known);
    for (c, f) in conns.iter_mut().zip(shared) {
        c.sign_in_frequency_s = f;
    }
}
