//! The worker loop: requests in, jobs out, timers, and the outcomes of jobs. Each
//! connection's state moves only through crate::state::machine (see `Conn::apply`).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::conn::{Conn, Due};
use super::jobs::JobOutcome;
use super::{DeviceCodeView, Event, Request, WorkerOptions};
use crate::config::Config;
use crate::oauth::HttpClient;
use crate::state::machine::Input;
use crate::store::TokenStore;
use crate::token;

/// What finished, for which connection (by name: a reload may move it) and which
/// generation of it.
pub(super) struct Finished {
    pub name: String,
    pub generation: u64,
    /// The request that asked for it, if one did (`Event::Finished`).
    pub id: Option<u64>,
    pub outcome: JobOutcome,
    /// How long the job ran.
    pub took: Duration,
}

/// The jobs in flight by task id: whose, which generation, which request. A job that
/// panics or is aborted returns no `Finished`; this is how it still ends, and says so.
#[derive(Default)]
pub(super) struct Tasks(HashMap<tokio::task::Id, (String, u64, Option<u64>)>);

impl Tasks {
    pub fn spawn(
        &mut self,
        jobs: &mut JoinSet<Finished>,
        name: &str,
        generation: u64,
        id: Option<u64>,
        job: impl std::future::Future<Output = Finished> + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let handle = jobs.spawn(job);
        self.0
            .insert(handle.id(), (name.to_owned(), generation, id));
        handle
    }
}

pub(super) struct Worker {
    pub conns: Vec<Conn>,
    pub tasks: Tasks,
    /// The last generation of each connection a reload removed (see `reload`).
    pub retired: HashMap<String, u64>,
    pub by_name: HashMap<String, usize>,
    pub store: TokenStore,
    pub http: HttpClient,
    pub opts: WorkerOptions,
    pub events: mpsc::UnboundedSender<Event>,
    pub permits: Arc<Semaphore>,
    /// What `opts.auto_refresh` was asked to be; it is off while a `watch` holds the store.
    pub schedules: bool,
    /// The pid of the `watch` holding the store (with `opts.yield_to_watch` only).
    pub watched: Option<u32>,
    /// A `watch.lock` event that showed no change yet: when to look again, and how many
    /// more times (worker/changed.rs).
    pub lock_recheck: Option<(Instant, u8)>,
}

impl Worker {
    pub fn new(
        config: &Config,
        store: TokenStore,
        http: HttpClient,
        opts: WorkerOptions,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let mut conns: Vec<Conn> = config
            .connections
            .iter()
            .map(|c| Conn::new(c.clone(), store.load_status(&c.name)))
            .collect();
        let by_name = conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.cfg.name.clone(), i))
            .collect();
        share_frequencies(&mut conns);
        let permits = Arc::new(Semaphore::new(opts.max_concurrency.max(1)));
        let schedules = opts.auto_refresh;
        Worker {
            conns,
            tasks: Tasks::default(),
            retired: HashMap::new(),
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

    pub fn now(&self) -> Timestamp {
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
            self.show(i);
        }
        // A kernel timer on the wall clock, when the clock is the system's: then nothing
        // polls the wall clock; else it is looked at every `poll` (ARCHITECTURE.md,
        // Refresh schedule).
        let wall = match self.opts.wall_check {
            None if self.opts.clock.is_system() => super::WallTimer::new(),
            _ => None,
        };
        let poll = match wall {
            Some(_) => None,
            None => Some(self.opts.wall_check.unwrap_or(super::WALL_CHECK)),
        };
        loop {
            let wake = self.next_wake(poll);
            let wall_at = wall.as_ref().and_then(|_| self.next_wall());
            tokio::select! {
                req = requests.recv() => match req {
                    None | Some(Request::Shutdown) => break,
                    Some(Request::Tracked { id, request }) => self.handle(Some(id), *request, &mut jobs, &code_tx),
                    Some(Request::Reload(config)) => self.reload(&config.0),
                    Some(req) => self.handle(None, req, &mut jobs, &code_tx),
                },
                Some(done) = jobs.join_next_with_id(), if !jobs.is_empty() => self.joined(done),
                Some(code) = code_rx.recv() => {
                    let _ = self.events.send(Event::DeviceCode(code));
                },
                () = sleep_until(wake), if wake.is_some() => self.run_due(&mut jobs),
                () = super::wall_timer_sleep(wall.as_ref(), wall_at), if wall_at.is_some() => self.run_due(&mut jobs),
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

    /// When the monotonic clock says the next timer is due. Due times are wall-clock times,
    /// and a monotonic timer stands still while the machine sleeps: without a wall-clock
    /// timer (`next_wall`) a sleep is never longer than `poll`, so a wake-up after a
    /// suspend (or a clock step) finds what fell due meanwhile (ARCHITECTURE.md, Refresh
    /// schedule).
    fn next_wake(&self, poll: Option<Duration>) -> Option<Instant> {
        let next = self.timers().map(|d| d.mono).min()?;
        Some(poll.map_or(next, |p| next.min(Instant::now() + p)))
    }

    /// When the wall clock says the next timer is due.
    fn next_wall(&self) -> Option<Timestamp> {
        self.timers().map(|d| d.wall).min()
    }

    fn timers(&self) -> impl Iterator<Item = Due> + '_ {
        self.conns
            .iter()
            .flat_map(|c| [c.due, c.probe_due, c.expiry])
            .flatten()
    }

    /// Stop without losing a grant. A refresh in flight may already have spent a rotating
    /// refresh token at the provider: aborting it before it saves the new one would sign the
    /// connection out (Zoom, oidc-provider). So sign-ins waiting on a person are cancelled,
    /// and every other job gets to finish and save — bounded by the HTTP timeout.
    async fn drain(&mut self, jobs: &mut JoinSet<Finished>) {
        let now = self.now();
        for i in 0..self.conns.len() {
            if let Some(h) = self.conns[i].sign_in.take() {
                h.abort();
                self.conns[i].busy = false;
                self.conns[i].generation += 1;
                self.conns[i].apply(Input::SignInCancelled, now);
                self.emit(i);
            }
        }
        let deadline = Instant::now() + self.opts.http_timeout + Duration::from_secs(1);
        while !jobs.is_empty() {
            match tokio::time::timeout_at(deadline, jobs.join_next_with_id()).await {
                Ok(Some(done)) => self.joined(done),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!("shutting down with {} job(s) still running", jobs.len());
                    jobs.abort_all();
                    break;
                }
            }
        }
    }

    /// A job's task ended: with its outcome, or aborted (a sign-in cancelled or replaced)
    /// or panicked, which returns none. Either way it ends here, and whoever asked hears so.
    fn joined(&mut self, done: Result<(tokio::task::Id, Finished), tokio::task::JoinError>) {
        let (tid, failure) = match done {
            Ok((tid, finished)) => {
                self.tasks.0.remove(&tid);
                self.finish(finished);
                return;
            }
            Err(e) => (e.id(), e.is_panic()),
        };
        let Some((name, generation, id)) = self.tasks.0.remove(&tid) else {
            return;
        };
        let now = self.now();
        if let Some(&i) = self.by_name.get(&name)
            && self.conns[i].generation == generation
        {
            // Still the current job (a panic: an abort always comes with a new generation).
            tracing::error!(connection = %name, "a job ended without an outcome (a bug)");
            let c = &mut self.conns[i];
            c.busy = false;
            c.pasted = None;
            let input = if c.sign_in.take().is_some() {
                Input::SignInCancelled
            } else {
                Input::Idle
            };
            let fx = c.apply(input, now);
            self.effects(i, fx, now);
            self.emit(i);
        }
        let outcome = if failure {
            super::Finish::Failed(Box::new(super::jobs::local_failure(
                "the job ended without an outcome (a bug in connwatch; the saved tokens are untouched)".into(),
            )))
        } else {
            super::Finish::Superseded
        };
        self.ended(id, name, outcome, Duration::ZERO);
    }

    /// Start-up: read the store and decide what each connection needs.
    pub(super) fn load(&mut self, i: usize) {
        let now = self.now();
        let name = self.conns[i].cfg.name.clone();
        match self.store.load(&name) {
            Ok(None) => self.conns[i].set_tokens(None),
            Ok(Some(set)) => {
                self.conns[i].set_tokens(Some(set));
                self.plan(i, now);
                // Scheduled probes start with one at start-up: an open dashboard (or watch)
                // should know at once whether the mailbox answers.
                if self.opts.auto_refresh && self.conns[i].cfg.probe_interval().is_some() {
                    self.conns[i].probe_due = Some(Due::at(now, now));
                }
            }
            Err(e) => {
                let c = &mut self.conns[i];
                c.set_tokens(None);
                c.facts.store_problem = Some(e.to_string());
                tracing::warn!(connection = %name, "token file unusable: {e}");
            }
        }
    }

    fn handle(
        &mut self,
        id: Option<u64>,
        req: Request,
        jobs: &mut JoinSet<Finished>,
        code_tx: &mpsc::UnboundedSender<DeviceCodeView>,
    ) {
        let index = |name: &str| self.by_name.get(name).copied();
        let started = match req {
            Request::Refresh { ref name } => {
                index(name).is_some_and(|i| self.start_refresh(i, id, jobs))
            }
            Request::RefreshAll => {
                for i in 0..self.conns.len() {
                    // One that is busy already says so, so a caller counting ends hears
                    // from every connection with tokens.
                    if self.conns[i].tokens.is_some() && !self.start_refresh(i, None, jobs) {
                        let name = self.conns[i].cfg.name.clone();
                        self.ended(None, name, super::Finish::NotStarted, Duration::ZERO);
                    }
                }
                false
            }
            Request::SignIn { ref name } => index(name).is_some_and(|i| {
                let flow = self.conns[i].cfg.flow;
                self.start_sign_in(i, id, jobs, code_tx.clone(), flow);
                true
            }),
            Request::SignInBrowser { ref name } => index(name).is_some_and(|i| {
                self.start_sign_in(i, id, jobs, code_tx.clone(), crate::config::Flow::Browser);
                true
            }),
            Request::CancelSignIn { ref name } => {
                if let Some(i) = index(name) {
                    self.cancel_sign_in(i);
                }
                false
            }
            Request::Pasted { ref name, ref text } => {
                // Only a sign-in that is waiting takes it; otherwise it is dropped unseen.
                if let Some(tx) = index(name).and_then(|i| self.conns[i].pasted.as_ref()) {
                    let _ = tx.send(text.clone());
                }
                false
            }
            Request::Purge { ref name } => index(name).is_some_and(|i| {
                self.purge(i, id, jobs);
                true
            }),
            Request::Decode { ref name } => {
                if let Some(i) = index(name) {
                    let c = &self.conns[i];
                    if let Some(t) = &c.tokens {
                        let report = token::inspect(
                            t.access_token.expose(),
                            &super::expectations(&c.cfg),
                            self.now(),
                        );
                        let _ = self.events.send(Event::Decoded {
                            name: name.clone(),
                            report: Box::new(report),
                        });
                    }
                }
                false
            }
            Request::Probe { ref name } => index(name).is_some_and(|i| {
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
                    self.start_refresh(i, id, jobs)
                } else {
                    self.start_probe(i, id, jobs)
                }
            }),
            Request::Shutdown | Request::Tracked { .. } | Request::Reload(_) => false,
        };
        // A request that started nothing is finished at once, so no caller waits for it.
        if let Some(id) = id.filter(|_| !started) {
            let name = req.name().unwrap_or_default().to_owned();
            self.ended(Some(id), name, super::Finish::NotStarted, Duration::ZERO);
        }
    }

    fn run_due(&mut self, jobs: &mut JoinSet<Finished>) {
        let now = self.now();
        // Renewals first: a probe due at the same moment (start-up, after a suspend) then
        // asks about the new token, never about one that expired meanwhile.
        let due: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].due.is_some_and(|d| d.reached(now)))
            .collect();
        for i in due {
            self.conns[i].due = None;
            if self.conns[i].busy {
                // Its job's end plans the next renewal (outcome.rs, `finish`); planning now
                // would find it due again at once, and spin until the job ends.
                continue;
            }
            let has_rt = self.conns[i]
                .tokens
                .as_ref()
                .is_some_and(|t| t.refresh_token.is_some());
            if !has_rt || !self.start_refresh(i, None, jobs) {
                self.plan(i, now);
            }
        }
        let probes: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].probe_due.is_some_and(|d| d.reached(now)))
            .collect();
        for i in probes {
            self.conns[i].probe_due = None;
            if self.conns[i].busy {
                // A refresh or sign-in in flight probes its own tokens when it is done.
                continue;
            }
            self.start_probe(i, None, jobs);
        }
        // The state changes by time alone (the access token expired): say so now.
        let expired: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].expiry.is_some_and(|d| d.reached(now)))
            .collect();
        for i in expired {
            self.conns[i].expiry = None;
            self.emit(i);
        }
    }

    /// Say that work on `name` ended without a probe's verdict (`Event::Finished`).
    pub fn ended(&self, id: Option<u64>, name: String, outcome: super::Finish, took: Duration) {
        let _ = self.events.send(Event::Finished {
            id,
            name,
            outcome,
            probe_refusal: None,
            took,
        });
    }

    /// The view only, with nothing saved (the record on disk already says it).
    pub fn show(&self, i: usize) {
        let view = self.conns[i].view(self.now());
        let _ = self.events.send(Event::Connection(Box::new(view)));
    }

    pub fn emit(&self, i: usize) {
        let c = &self.conns[i];
        if let Err(e) = self.store.save_status(&c.cfg.name, &c.record()) {
            tracing::warn!(connection = %c.cfg.name, "cannot save status record: {e}");
        }
        self.show(i);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What one connection learned about its tenant's sign-in frequency holds for every
/// connection of that tenant (the shortest, when records disagree).
pub(super) fn share_frequencies(conns: &mut [Conn]) {
    let known: Vec<(Option<&str>, Option<u64>)> = conns
        .iter()
        .map(|c| (c.cfg.realm(), c.sign_in_frequency_s))
        .collect();
    let shared = crate::forecast::share_by_realm(&known);
    for (c, f) in conns.iter_mut().zip(shared) {
        c.sign_in_frequency_s = f;
    }
}
