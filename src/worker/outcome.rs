//! What a finished job means for its connection: one machine step (crate::state::machine)
//! and the timers its effects ask for.
use std::time::Duration;

use jiff::Timestamp;

use super::backoff::random_unit;
use super::conn::Due;
use super::jobs::JobOutcome;
use super::run::{Finished, Worker};
use super::{Event, Finish};
use crate::state::machine::{Effect, Input};

impl Worker {
    pub(super) fn finish(&mut self, done: Finished) {
        let Some(&i) = self.by_name.get(&done.name) else {
            // Removed by a reload; its job saved what it got. Whoever asked hears the end.
            if done.id.is_some() {
                self.ended(done.id, done.name, Finish::Superseded, done.took);
            }
            return;
        };
        let now = self.now();
        let c = &mut self.conns[i];
        if done.generation != c.generation {
            // Superseded by a purge or a newer sign-in: whoever asked hears so.
            let name = c.cfg.name.clone();
            self.ended(done.id, name, Finish::Superseded, done.took);
            return;
        }
        c.busy = false;
        let was_sign_in = c.sign_in.take().is_some();
        c.pasted = None;
        // What other processes wrote while the job ran (worker/changed.rs).
        self.catch_up_record(i, now);
        let c = &mut self.conns[i];
        let outcome = match done.outcome {
            JobOutcome::Tokens { set, what, probes } => {
                tracing::info!(connection = %c.cfg.name, "{what}");
                c.remember(now, what);
                let facts = set.facts();
                c.set_tokens(Some(set));
                c.local_note = None;
                let fx = c.apply(Input::Renewed(facts), now);
                self.effects(i, fx, now);
                self.probed(i, now, probes);
                Finish::Renewed
            }
            JobOutcome::Probed(probes) => {
                self.probed(i, now, probes);
                // A renewal that fell due while the probe ran was left for now (run_due).
                if self.conns[i].due.is_none() {
                    self.plan(i, now);
                }
                Finish::Probed
            }
            JobOutcome::Purged(Ok(_)) => {
                tracing::info!(connection = %c.cfg.name, "purged");
                c.set_tokens(None);
                c.local_note = Some("tokens purged".into());
                c.attempt = 0;
                c.expiry = None;
                c.probe_due = None;
                c.remember(now, "purged");
                let fx = c.apply(Input::Purged, now);
                self.effects(i, fx, now);
                Finish::Purged
            }
            JobOutcome::Purged(Err(e)) => {
                tracing::warn!(connection = %c.cfg.name, "purge failed: {e}");
                c.local_note = Some(format!("purge failed: {e}"));
                self.plan(i, now);
                Finish::Failed(Box::new(super::jobs::local_failure(format!(
                    "purge failed: {e}"
                ))))
            }
            JobOutcome::Failed(d) => {
                // Logged on one line, defused: a code with a newline once forged a log line.
                let code = crate::sanitize::line(d.code.as_deref().unwrap_or(d.cause.as_str()))
                    .into_owned();
                tracing::warn!(connection = %c.cfg.name, cause = %d.cause, code = %code, "request failed");
                if let Some(f) = d.sign_in_frequency_s {
                    self.learn_frequency(i, f);
                }
                let failure = Finish::Failed(Box::new(d.clone()));
                let input = if was_sign_in {
                    Input::SignInFailed(d)
                } else {
                    Input::RefreshFailed(d)
                };
                let fx = self.conns[i].apply(input, now);
                self.effects(i, fx, now);
                failure
            }
        };
        // Scheduled probes go on after any job (a sign-in that failed probed nothing).
        let c = &mut self.conns[i];
        if self.opts.auto_refresh
            && c.probe_due.is_none()
            && c.tokens.is_some()
            && let Some(every) = c.cfg.probe_interval()
        {
            c.probe_due = Some(Due::after(now, every));
        }
        self.catch_up_tokens(i, now);
        if was_sign_in {
            let ok = self.conns[i].decided(now).state == crate::connection::ConnState::Connected;
            let _ = self.events.send(Event::SignInEnded {
                name: self.conns[i].cfg.name.clone(),
                ok,
            });
        }
        self.emit(i);
        let probe_refusal = match outcome {
            Finish::Renewed | Finish::Probed => self.conns[i].probe_failure().map(Box::new),
            _ => None,
        };
        let _ = self.events.send(Event::Finished {
            id: done.id,
            name: self.conns[i].cfg.name.clone(),
            outcome,
            probe_refusal,
            took: done.took,
        });
    }

    /// Keep the probes' answers and step the machine with them.
    fn probed(&mut self, i: usize, now: Timestamp, probes: Vec<crate::probe::ProbeResult>) {
        if probes.is_empty() {
            self.conns[i].apply(Input::Idle, now);
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
        if self.opts.auto_refresh {
            c.probe_due = every.map(|e| Due::after(now, e));
        }
        let fx = match refused {
            Some(d) => {
                // Logged on one line, defused: a code with a newline once forged a log line.
                let code = crate::sanitize::line(d.code.as_deref().unwrap_or(d.cause.as_str()))
                    .into_owned();
                tracing::warn!(connection = %c.cfg.name, cause = %d.cause, code = %code, "the resource refused the token");
                c.apply(Input::ProbeRefused(d), now)
            }
            None => {
                c.probe_attempt = 0;
                let lifted = c
                    .facts
                    .last_error
                    .as_ref()
                    .is_some_and(|d| d.probe.is_some());
                let fx = c.apply(Input::ProbesAccepted, now);
                if lifted {
                    c.remember(now, "every probe accepts the token again");
                }
                fx
            }
        };
        self.effects(i, fx, now);
    }

    /// Run the machine's effects: the timers of connection `i`.
    pub(super) fn effects(&mut self, i: usize, fx: Vec<Effect>, now: Timestamp) {
        let auto = self.opts.auto_refresh;
        for e in fx {
            let c = &mut self.conns[i];
            match e {
                Effect::Schedule => {
                    c.attempt = 0;
                    self.plan(i, now);
                }
                Effect::Wait => {
                    c.due = None;
                    self.plan(i, now);
                }
                Effect::Retry { retry_after } => {
                    c.due = None;
                    c.expiry = c
                        .tokens
                        .as_ref()
                        .and_then(|t| t.expires_at)
                        .filter(|e| *e > now)
                        .map(|e| Due::at(now, e));
                    if auto {
                        let delay = self.opts.backoff.delay(
                            c.attempt,
                            retry_after.map(Duration::from_secs),
                            random_unit(),
                        );
                        c.attempt = c.attempt.saturating_add(1);
                        c.due = Some(Due::after(now, delay));
                    }
                }
                Effect::RetryProbe => {
                    if auto {
                        let every = c.cfg.probe_interval();
                        let delay = self
                            .opts
                            .backoff
                            .delay(c.probe_attempt, None, random_unit());
                        c.probe_attempt = c.probe_attempt.saturating_add(1);
                        let delay = every.map_or(delay, |e| delay.min(e));
                        c.probe_due = Some(Due::after(now, delay));
                    }
                }
            }
        }
    }

    /// The timers of a connection holding tokens: refresh by the one rule
    /// (worker::schedule), wake at expiry to say so; none while someone must act.
    pub(super) fn plan(&mut self, i: usize, now: Timestamp) {
        let auto = self.opts.auto_refresh;
        let c = &mut self.conns[i];
        let Some(t) = &c.tokens else {
            c.due = None;
            c.expiry = None;
            return;
        };
        c.expiry = t.expires_at.filter(|e| *e > now).map(|e| Due::at(now, e));
        let waits = c.waits_for_someone(now);
        let Some(t) = &c.tokens else { return };
        c.due = match (t.expires_at, t.refresh_token.is_some()) {
            _ if !auto || waits => None,
            // Without a refresh token, only the expiry changes anything (c.expiry).
            (None, _) | (_, false) => None,
            // The one rule (worker::schedule): inside the token's life, never sooner than
            // min_refresh_interval after the last refresh, with a little jitter.
            (Some(exp), true) => Some(
                super::schedule::refresh_due(
                    t,
                    c.cfg.refresh_before,
                    c.cfg.min_refresh_interval,
                    random_unit(),
                )
                .unwrap_or(exp)
                .max(now),
            )
            .map(|at| Due::at(now, at)),
        };
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
}
