//! What another process wrote to the store, and `watch` taking or leaving it. Our own
//! writes come back here too: they match what we hold and change nothing.
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::Event;
use super::follow::Changed;
use super::run::Worker;
use crate::state::machine::Input;

/// Looks at `watch.lock` after an event that showed no change (see `Worker::lock_recheck`).
/// Linux queues the close event of a dying `watch` before it drops the process's lock, so
/// the first look can still see the lock held.
const LOCK_RECHECKS: u8 = 10;
const LOCK_RECHECK_EVERY: Duration = Duration::from_millis(50);

impl Worker {
    pub(super) fn changed(&mut self, ch: Changed) {
        let now = self.now();
        match ch {
            Changed::WatchLock => self.watch_changed(now, LOCK_RECHECKS),
            Changed::Tokens(name) => {
                let Some(&i) = self.by_name.get(&name) else {
                    return;
                };
                if self.conns[i].busy {
                    // Our own job may be writing; what another process wrote meanwhile is
                    // looked at when the job ends (`catch_up`).
                    self.conns[i].missed = true;
                    return;
                }
                self.tokens_changed(i, now);
            }
            Changed::Status(name) => {
                let Some(&i) = self.by_name.get(&name) else {
                    return;
                };
                if self.conns[i].busy {
                    self.conns[i].missed = true;
                    return;
                }
                self.status_changed(i, now);
            }
        }
    }

    /// Before a job's outcome is applied: a later verdict another process recorded while
    /// the job ran (`connwatch token` met a refusal). Our outcome then steps from it, so a
    /// transient failure of ours does not write over it.
    pub(super) fn catch_up_record(&mut self, i: usize, now: Timestamp) {
        if self.conns[i].missed {
            self.status_changed(i, now);
        }
    }

    /// After a job's outcome: the token file as another process left it — newer tokens (a
    /// sign-in elsewhere, after which a failure of ours was about the old ones) or none (a
    /// purge elsewhere, after our save: it took the lock after us).
    pub(super) fn catch_up_tokens(&mut self, i: usize, now: Timestamp) {
        if std::mem::take(&mut self.conns[i].missed) {
            self.tokens_changed(i, now);
        }
    }

    fn tokens_changed(&mut self, i: usize, now: Timestamp) {
        let name = self.conns[i].cfg.name.clone();
        match self.store.load(&name) {
            Ok(None) => {
                let c = &mut self.conns[i];
                if c.tokens.is_some() {
                    c.set_tokens(None);
                    c.remember(now, "purged elsewhere");
                    c.local_note = Some("tokens purged (by another process)".into());
                    let fx = c.apply(Input::Purged, now);
                    c.probe_due = None;
                    self.effects(i, fx, now);
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
                let newer = c
                    .tokens
                    .as_ref()
                    .is_none_or(|t| set.obtained_at >= t.obtained_at);
                if same || !newer {
                    return;
                }
                // A sign-in or refresh elsewhere: whatever was wrong with the old tokens is
                // over, and so is the work that wrote them (its claim ends with it). The
                // record that process writes says the rest.
                let facts = set.facts();
                c.set_tokens(Some(set));
                c.local_note = None;
                c.remember(now, "new tokens (from another process)");
                // Not busy: any claim held is another process's, and its work just ended.
                c.facts.activity = None;
                let fx = c.apply(Input::Renewed(facts), now);
                c.facts.last_success = Some(facts.obtained_at);
                self.effects(i, fx, now);
                // The view only: the record is the writer's to write (its verdict and
                // claims; `connwatch token` renews without touching another's sign-in
                // claim), and every reader judges these tokens afresh from their file.
                self.show(i);
            }
            Err(_) => {}
        }
    }

    fn status_changed(&mut self, i: usize, now: Timestamp) {
        let name = self.conns[i].cfg.name.clone();
        let Some(r) = self.store.load_status(&name) else {
            return;
        };
        let c = &mut self.conns[i];
        if r == c.record() {
            return;
        }
        // A claim in our name that we do not hold (a stale copy another process wrote
        // back): only we can say so, on disk too.
        let stale_claim = r.activity.is_some_and(|a| a.pid == std::process::id())
            && c.facts.activity != r.activity;
        let (changed, verdict) = c.adopt(&r);
        if !changed && !stale_claim {
            return;
        }
        if verdict {
            // A refusal (or its end) decided elsewhere: the timers follow it.
            self.plan(i, now);
        }
        if stale_claim {
            self.emit(i);
        } else {
            // The record on disk already says it: tell the UI, write nothing.
            self.show(i);
        }
    }

    /// A `watch` took the store or let it go. While one holds it, it refreshes and probes on
    /// schedule and this worker only follows (and acts on requests); when it ends, this worker
    /// takes the schedule back at once, so nothing is left unwatched.
    /// `rechecks`: how many more looks, 50 ms apart, while the lock still seems held.
    pub(super) fn watch_changed(&mut self, now: Timestamp, rechecks: u8) {
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
                self.plan(i, now);
                if self.schedules && self.conns[i].cfg.probe_interval().is_some() {
                    self.conns[i].probe_due = Some(super::conn::Due::at(now, now));
                }
                self.show(i);
            }
        }
    }
}
