//! A new config applied in place (`watch` on SIGHUP): the worker keeps what did not change.
use std::collections::HashMap;

use jiff::Timestamp;

use super::Event;
use super::conn::Conn;
use super::run::{Worker, share_frequencies};
use crate::config::Config;
use crate::state::machine::Input;

impl Worker {
    /// A new config, applied in place (SIGHUP): unchanged connections keep their state,
    /// jobs and sign-ins; added ones start; changed ones restart alone; removed ones stop
    /// (a refresh in flight still saves what it gets: its job holds the lock and writes the
    /// tokens before it reports).
    pub(super) fn reload(&mut self, config: &Config) {
        let now = self.now();
        let mut old: HashMap<String, Conn> = self
            .conns
            .drain(..)
            .map(|c| (c.cfg.name.clone(), c))
            .collect();
        let mut fresh = Vec::new();
        for cfg in &config.connections {
            let record = || self.store.load_status(&cfg.name);
            match old.remove(&cfg.name) {
                Some(c) if c.cfg == *cfg => self.conns.push(c),
                Some(mut c) => {
                    tracing::info!(connection = %cfg.name, "config changed: restarting it");
                    self.stop_conn(&mut c, now);
                    let mut n = Conn::new(cfg.clone(), record());
                    // Results of the old one's jobs are superseded.
                    n.generation = c.generation + 1;
                    fresh.push(self.conns.len());
                    self.conns.push(n);
                }
                None => {
                    tracing::info!(connection = %cfg.name, "added");
                    let mut n = Conn::new(cfg.clone(), record());
                    // Back after a removal: jobs of its earlier self are superseded.
                    if let Some(g) = self.retired.get(&cfg.name) {
                        n.generation = g + 1;
                    }
                    fresh.push(self.conns.len());
                    self.conns.push(n);
                }
            }
        }
        for (name, mut c) in old {
            tracing::info!(connection = %name, "removed");
            self.stop_conn(&mut c, now);
            self.retired.insert(name, c.generation);
        }
        self.by_name = self
            .conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.cfg.name.clone(), i))
            .collect();
        share_frequencies(&mut self.conns);
        for i in fresh {
            self.load(i);
            self.show(i);
        }
    }

    /// A connection leaves (removed, or replaced by its changed config): a sign-in waiting
    /// on a person ends, and says so in the record.
    fn stop_conn(&self, c: &mut Conn, now: Timestamp) {
        if let Some(h) = c.sign_in.take() {
            h.abort();
            c.apply(Input::SignInCancelled, now);
            if let Err(e) = self.store.save_status(&c.cfg.name, &c.record()) {
                tracing::warn!(connection = %c.cfg.name, "cannot save status record: {e}");
            }
            let name = c.cfg.name.clone();
            let _ = self.events.send(Event::SignInEnded { name, ok: false });
        }
    }
}
