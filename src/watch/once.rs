//! `connwatch watch --once`: one round, for cron and timers.
use std::collections::HashMap;

use super::tracker::Tracker;
use super::{desktop, names, stop};
use crate::config::Config;
use crate::store::TokenStore;
use crate::worker::{self, ConnectionView, Event, Request, WorkerOptions};

/// `watch --once`: refresh (and so probe) every connection with tokens and notify as the
/// loop would; the views it ends with, in config order.
pub(super) async fn once(config: Config, store: TokenStore) -> Vec<ConnectionView> {
    // No button here: this process ends with the round, before anyone could press it. The
    // notes still go out.
    let (desktop, buttons) = desktop(&config).await.unzip();
    let mut tracker = Tracker::new(&store, desktop, false);
    tracker.alerts.retain(&names(&config));
    let mut handle = worker::spawn(
        &config,
        store,
        WorkerOptions {
            auto_refresh: false,
            follow_store: false,
            ..WorkerOptions::default()
        },
    );
    let mut views: HashMap<String, ConnectionView> = HashMap::new();
    while views.len() < config.connections.len() {
        match handle.events.recv().await {
            Some(Event::Connection(v)) => {
                views.insert(v.name.clone(), (*v).clone());
            }
            Some(_) => {}
            None => break,
        }
    }
    // Each refresh is tracked and ends with its own Event::Finished.
    let mut pending: HashMap<u64, String> = HashMap::new();
    let mut started: std::collections::HashSet<String> = std::collections::HashSet::new();
    for c in &config.connections {
        if views
            .get(&c.name)
            .is_some_and(|v| v.token_preview.is_some())
        {
            let id = handle.track(Request::Refresh {
                name: c.name.clone(),
            });
            pending.insert(id, c.name.clone());
        }
    }
    while !pending.is_empty() {
        match handle.events.recv().await {
            Some(Event::Connection(v)) => {
                views.insert(v.name.clone(), (*v).clone());
            }
            Some(Event::Finished {
                id: Some(id),
                outcome,
                ..
            }) => {
                if let Some(name) = pending.remove(&id)
                    && outcome != worker::Finish::NotStarted
                {
                    started.insert(name);
                }
            }
            Some(_) => {}
            None => break,
        }
    }
    stop(handle).await;
    let mut out = Vec::with_capacity(config.connections.len());
    // The round's refreshes are the tries; the tracker saw only their end.
    tracker.tried.extend(started.iter().cloned());
    for c in &config.connections {
        if let Some(v) = views.remove(&c.name) {
            tracker.on_view(&v, &config);
            out.push(v);
        }
    }
    tracker.remind(&config);
    // This process ends here: let the email alerts go out first (each bounded by its timeout).
    for h in tracker.mail.drain(..) {
        let _ = h.await;
    }
    if let (Some(d), Some(b)) = (tracker.desktop.take(), buttons) {
        b.flush(d).await;
    }
    // And every queued notify_command started (at most MAX_NOTIFIERS run at once).
    let _ =
        tokio::task::spawn_blocking(|| crate::notify::flush(std::time::Duration::from_secs(10)))
            .await;
    out
}
