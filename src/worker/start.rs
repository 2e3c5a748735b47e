//! Starting work on a connection: refresh, probe, sign-in, purge. Each claims the
//! connection (crate::state::Activity, with this process's pid) before its job runs.
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::DeviceCodeView;
use super::jobs::{JobContext, JobOutcome};
use super::run::{Finished, Worker};
use crate::state::machine::Input;
use crate::state::{Activity, ActivityKind};

impl Worker {
    fn claim(&mut self, i: usize, kind: ActivityKind) {
        let now = self.now();
        let activity = Activity {
            kind,
            pid: std::process::id(),
            since: now,
        };
        self.conns[i].apply(Input::Started(activity), now);
    }

    /// Refresh now (if it holds tokens and nothing runs): whether it started.
    pub fn start_refresh(
        &mut self,
        i: usize,
        id: Option<u64>,
        jobs: &mut JoinSet<Finished>,
    ) -> bool {
        let c = &self.conns[i];
        if c.busy || c.tokens.is_none() {
            return false;
        }
        let ctx = self.context(i);
        let known = c
            .tokens
            .as_ref()
            .map(|t| t.access_token.expose().to_owned());
        self.spawn_permitted(i, id, jobs, ctx.refresh(known));
        let c = &mut self.conns[i];
        c.busy = true;
        c.due = None;
        tracing::info!(connection = %c.cfg.name, "refreshing");
        self.claim(i, ActivityKind::Refresh);
        self.emit(i);
        true
    }

    /// Probe the current tokens (no refresh): whether it started. Without tokens or probes
    /// there is nothing to ask.
    pub fn start_probe(&mut self, i: usize, id: Option<u64>, jobs: &mut JoinSet<Finished>) -> bool {
        let c = &self.conns[i];
        if c.busy {
            return false;
        }
        let Some(set) = c.tokens.clone() else {
            return false;
        };
        if crate::provider::probe_targets(&c.cfg).is_empty() {
            return false;
        }
        // An expired access token tells nothing about the resource: a refusal would hide
        // the real cause. Renew it (the renewal probes the new one), or, without a refresh
        // token, the state already says what is wrong (crate::state::decide).
        if set.expires_at.is_some_and(|e| e <= self.now()) {
            return set.refresh_token.is_some() && self.start_refresh(i, id, jobs);
        }
        let ctx = self.context(i);
        self.spawn_permitted(i, id, jobs, ctx.probe_only(set));
        let c = &mut self.conns[i];
        c.busy = true;
        c.probe_due = None;
        tracing::info!(connection = %c.cfg.name, "probing");
        self.claim(i, ActivityKind::Probe);
        self.emit(i);
        true
    }

    pub fn start_sign_in(
        &mut self,
        i: usize,
        id: Option<u64>,
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
        let name = c.cfg.name.clone();
        let browser = flow == crate::config::Flow::Browser;
        let (paste_tx, paste_rx) = mpsc::unbounded_channel();
        c.pasted = browser.then_some(paste_tx);
        let label = name.clone();
        let handle = self.tasks.spawn(jobs, &label, generation, id, async move {
            let started = Instant::now();
            let outcome = if browser {
                ctx.browser_sign_in(code_tx, paste_rx).await
            } else {
                ctx.device_sign_in(code_tx).await
            };
            Finished {
                name,
                generation,
                id,
                outcome,
                took: started.elapsed(),
            }
        });
        let c = &mut self.conns[i];
        c.sign_in = Some(handle);
        c.busy = true;
        c.due = None;
        let how = if browser { "browser" } else { "device code" };
        c.remember(now, format!("sign-in started ({how})"));
        tracing::info!(connection = %c.cfg.name, "sign-in started ({how})");
        self.claim(i, ActivityKind::SignIn);
        self.emit(i);
    }

    /// Back to where it was before the sign-in started: a connection that was fine stays
    /// fine, one that needed a sign-in still does.
    pub fn cancel_sign_in(&mut self, i: usize) {
        let now = self.now();
        let c = &mut self.conns[i];
        let Some(h) = c.sign_in.take() else { return };
        h.abort();
        c.pasted = None;
        c.generation += 1;
        c.busy = false;
        c.remember(now, "sign-in cancelled");
        let fx = c.apply(Input::SignInCancelled, now);
        let name = c.cfg.name.clone();
        let _ = self
            .events
            .send(super::Event::SignInEnded { name, ok: false });
        self.effects(i, fx, now);
        self.emit(i);
    }

    /// Purge under the connection's lock, so a refresh in flight (which holds it) finishes
    /// writing first and its file is deleted too, never resurrected after the purge.
    pub fn purge(&mut self, i: usize, id: Option<u64>, jobs: &mut JoinSet<Finished>) {
        let store = self.store.clone();
        let now = self.now();
        let c = &mut self.conns[i];
        if let Some(h) = c.sign_in.take() {
            // The sign-in waiting ends here, and says so (the popup, the record's claim).
            h.abort();
            c.apply(Input::SignInCancelled, now);
            let name = c.cfg.name.clone();
            let _ = self
                .events
                .send(super::Event::SignInEnded { name, ok: false });
        }
        let c = &mut self.conns[i];
        c.pasted = None;
        c.generation += 1;
        c.busy = true;
        c.due = None;
        let generation = c.generation;
        let name = c.cfg.name.clone();
        let owned = name.clone();
        let label = name.clone();
        self.tasks.spawn(jobs, &label, generation, id, async move {
            let started = Instant::now();
            let removed = tokio::task::spawn_blocking(move || {
                let _lock = store.lock(&owned)?;
                store.purge(&owned)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|e| e.to_string());
            Finished {
                name,
                generation,
                id,
                outcome: JobOutcome::Purged(removed),
                took: started.elapsed(),
            }
        });
        self.emit(i);
    }

    /// Run `job` for connection `i` once one of the bounded permits is free.
    fn spawn_permitted(
        &mut self,
        i: usize,
        id: Option<u64>,
        jobs: &mut JoinSet<Finished>,
        job: impl std::future::Future<Output = JobOutcome> + Send + 'static,
    ) {
        let generation = self.conns[i].generation;
        let name = self.conns[i].cfg.name.clone();
        let permits = self.permits.clone();
        self.tasks
            .spawn(jobs, &name.clone(), generation, id, async move {
                let _permit = permits.acquire_owned().await;
                let started = Instant::now();
                let outcome = job.await;
                Finished {
                    name,
                    generation,
                    id,
                    outcome,
                    took: started.elapsed(),
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
                .facts
                .last_error
                .as_ref()
                .and_then(|d| d.claims.as_deref())
                .map(super::context::claims_param),
        }
    }
}
