//! Which connections `watch` has alerted about, kept in `<store>/watch-alerts.json` so that
//! an episode is announced once — across `watch --once` runs from cron, restarts and reloads —
//! and reminded every `remind_every` while it lasts (pizauth's `auth_notify_interval`).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// When the episode started (the first notice).
    pub since: Timestamp,
    /// When the last notice or reminder went out.
    pub notified: Timestamp,
}

#[derive(Debug, Default)]
pub struct Alerts {
    path: PathBuf,
    open: BTreeMap<String, Alert>,
}

impl Alerts {
    /// The alerts on disk (none if the file is missing or unreadable: at worst an episode is
    /// announced again).
    pub fn load(root: &Path) -> Alerts {
        let path = root.join("watch-alerts.json");
        let open = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Alerts { path, open }
    }

    fn save(&self) {
        let bytes = serde_json::to_vec_pretty(&self.open).unwrap_or_default();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if let Err(e) = crate::store::write_atomic(dir, &self.path, &bytes) {
            tracing::warn!("cannot save {}: {e}", self.path.display());
        }
    }

    /// A connection needs attention at `now`: true when this starts an episode (notify).
    pub fn open(&mut self, name: &str, now: Timestamp) -> bool {
        if self.open.contains_key(name) {
            return false;
        }
        self.open.insert(
            name.to_owned(),
            Alert {
                since: now,
                notified: now,
            },
        );
        self.save();
        true
    }

    /// A connection is connected: true when that ends an episode (say it recovered).
    pub fn close(&mut self, name: &str) -> bool {
        let closed = self.open.remove(name).is_some();
        if closed {
            self.save();
        }
        closed
    }

    /// Connections whose reminder is due at `now`, marked as reminded.
    pub fn due(&mut self, now: Timestamp, every: Duration) -> Vec<String> {
        let Ok(every) = jiff::SignedDuration::try_from(every) else {
            return Vec::new();
        };
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, a)| a.notified.checked_add(every).is_ok_and(|at| at <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &due {
            if let Some(a) = self.open.get_mut(n) {
                a.notified = now;
            }
        }
        if !due.is_empty() {
            self.save();
        }
        due
    }

    /// When the next reminder is due.
    pub fn next_due(&self, every: Duration) -> Option<Timestamp> {
        let every = jiff::SignedDuration::try_from(every).ok()?;
        self.open
            .values()
            .filter_map(|a| a.notified.checked_add(every).ok())
            .min()
    }

    /// Forget connections no longer configured.
    pub fn retain(&mut self, names: &[String]) {
        let before = self.open.len();
        self.open.retain(|n, _| names.contains(n));
        if self.open.len() != before {
            self.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_survive_a_restart_and_remind_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let t0: Timestamp = "2026-12-02T08:00:00Z".parse().unwrap();
        let h = |n: i64| t0.checked_add(jiff::SignedDuration::from_hours(n)).unwrap();
        let every = Duration::from_secs(4 * 3600);
        let mut a = Alerts::load(dir.path());
        assert!(a.open("cal", t0));
        assert!(!a.open("cal", h(1)));
        let mut again = Alerts::load(dir.path());
        assert!(
            !again.open("cal", h(2)),
            "a restart does not announce it again"
        );
        assert_eq!(again.next_due(every), Some(h(4)));
        assert!(again.due(h(3), every).is_empty());
        assert_eq!(again.due(h(4), every), ["cal"]);
        assert_eq!(again.next_due(every), Some(h(8)));
        assert!(again.close("cal"));
        assert!(!again.close("cal"));
        assert!(Alerts::load(dir.path()).next_due(every).is_none());
    }
}
