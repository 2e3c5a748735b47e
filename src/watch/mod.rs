//! `connwatch watch`: the worker with no terminal. It keeps every connection refreshed and
//! probed (`probe_every`, 15 min by default here), notifies once per episode through
//! `notify_command` (and again when the connection recovers), serves `/metrics` and
//! `/healthz`, reloads the config on SIGHUP without losing a token, and drains on
//! SIGTERM/SIGINT so a refresh in flight still saves what it got. One per store (a lock).
//! No UI imports: it speaks to the worker as the dashboard does, through Request and Event.
pub mod alerts;
mod email;
pub mod metrics;
mod once;
mod tracker;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::connection::ConnState;
use crate::notify::Notice;
use crate::notify::desktop::{Buttons, Desktop, Note};
use crate::store::TokenStore;
use crate::worker::{self, ConnectionView, Event, Request, WorkerHandle, WorkerOptions};

/// `probe_every` under `watch` when the config sets none.
pub const DEFAULT_PROBE_EVERY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub metrics: Option<SocketAddr>,
    /// One round of refresh + probe for every connection, notifications included, then exit.
    pub once: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Locked(String),
    #[error("cannot serve metrics on {addr}: {err}")]
    Metrics {
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("cannot set up signal handling: {0}")]
    Signals(std::io::Error),
}

/// The config as `watch` runs it: scheduled probes on unless a connection turned them off.
pub fn with_watch_defaults(mut config: Config) -> Config {
    for c in &mut config.connections {
        if c.probe_every.is_none() {
            c.probe_every = Some(DEFAULT_PROBE_EVERY);
        }
    }
    config
}

/// How a `watch` ended.
pub enum Outcome {
    /// SIGTERM or SIGINT: drained and stopped.
    Stopped,
    /// The worker ended by itself (a bug): the service manager should restart us.
    WorkerStopped,
    /// `--once`: every connection as the round left it, in config order.
    Once(Vec<ConnectionView>),
}

/// Run `watch` until SIGTERM/SIGINT (or, with `once`, one round). `config_path` is re-read on
/// SIGHUP.
pub async fn run(
    config_path: &Path,
    config: Config,
    store: TokenStore,
    opts: WatchOptions,
) -> Result<Outcome, WatchError> {
    let _lock =
        crate::store::watch_lock::acquire(&store.paths().root).map_err(WatchError::Locked)?;
    if opts.once {
        return Ok(Outcome::Once(once::once(config, store).await));
    }
    let mut config = Arc::new(with_watch_defaults(config));
    let metrics = metrics::Metrics::new(config.clone(), store.clone());
    let _server = match opts.metrics {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|err| WatchError::Metrics { addr, err })?;
            tracing::info!(
                "serving /metrics and /healthz on {}",
                listener.local_addr().map_or(addr, |a| a)
            );
            Some(metrics::serve(listener, metrics.clone()))
        }
        None => None,
    };
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(WatchError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(WatchError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(WatchError::Signals)?;
    let mut handle = worker::spawn(&config, store.clone(), WorkerOptions::default());
    let (desktop, mut buttons) = desktop(&config).await.unzip();
    let mut tracker = tracker::Tracker::new(&store, desktop, true);
    tracker.alerts.retain(&names(&config));
    tracing::info!(
        connections = config.connections.len(),
        pid = std::process::id(),
        "watch started"
    );
    // Under systemd (Type=notify): ready now; pet the watchdog at half its period. Outside
    // systemd these are no-ops and there is no watchdog timer at all.
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut pet =
        watchdog_period().map(|p| tokio::time::interval((p / 2).max(Duration::from_millis(100))));
    // Reminders and forecasts are due at wall-clock times, and a monotonic sleep stands still
    // while the machine is suspended: a kernel timer on the wall clock wakes us for them, or
    // without one no sleep is longer than WALL_CHECK (ARCHITECTURE.md, Refresh schedule).
    let wall = worker::WallTimer::new();
    let cap = |d: Option<Duration>| match wall {
        Some(_) => d,
        None => d.map(|d| d.min(worker::WALL_CHECK)),
    };
    loop {
        let reminder = tracker.until_reminder(&config);
        let forecast = tracker.until_forecast();
        let wall_at = wall
            .as_ref()
            .and(reminder.into_iter().chain(forecast).min())
            .map(|d| {
                jiff::Timestamp::now()
                    .checked_add(d)
                    .unwrap_or(jiff::Timestamp::MAX)
            });
        tokio::select! {
            () = sleep_for(cap(forecast)), if forecast.is_some() => tracker.forecast_due(&config),
            // Each checks what is due by the wall clock itself.
            () = worker::wall_timer_sleep(wall.as_ref(), wall_at), if wall_at.is_some() => {
                tracker.forecast_due(&config);
                tracker.remind(&config);
            }
            _ = tick(&mut pet), if pet.is_some() => {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
            () = sleep_for(cap(reminder)), if reminder.is_some() => tracker.remind(&config),
            Some(name) = pressed(&mut buttons) => tracker.reauthorize(name, &handle),
            ev = handle.events.recv() => match ev {
                Some(Event::Connection(v)) => tracker.on_view(&v, &config),
                Some(Event::Finished { name, outcome, took, .. }) => {
                    tracker.on_finished(&name, &outcome, took, &metrics);
                }
                Some(Event::DeviceCode(c)) => tracker.sign_in_waiting(&c),
                Some(Event::SignInEnded { name, ok }) => tracker.sign_in_ended(&name, ok),
                Some(_) => {}
                None => {
                    tracing::error!("the worker stopped");
                    metrics.set_alive(false);
                    return Ok(Outcome::WorkerStopped);
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
                match Config::load(config_path) {
                    Ok(new) => {
                        let new = Arc::new(with_watch_defaults(new));
                        log_changes(&config, &new);
                        // In place: unchanged connections keep their state, jobs and
                        // sign-ins; added ones start; changed ones restart alone; removed
                        // ones stop (a refresh in flight still saves what it gets).
                        config = new;
                        tracker.alerts.retain(&names(&config));
                        metrics.set_config(config.clone());
                        let _ = handle
                            .requests
                            .send(Request::Reload(worker::NewConfig(config.clone())));
                    }
                    Err(e) => {
                        let why = e.one_line();
                        tracing::error!("SIGHUP: the config no longer parses; keeping the running one: {why}");
                        let n = Notice {
                            name: "config".into(),
                            state: ConnState::Misconfigured,
                            cause: Some("config".into()),
                            code: None,
                            action: Some(format!("Fix the config and send SIGHUP again: {why}")),
                            summary: Some("The config no longer parses; watch keeps running the previous one.".into()),
                            fix_by: Some(crate::diagnose::FixBy::User),
                            who: None,
                            sign_in_by: None,
                        };
                        if let Some(cmd) = &config.notify_command {
                            crate::notify::run_command(cmd, &n, None);
                        }
                        if let Some(d) = &tracker.desktop {
                            d.show(Note::info(
                                "config".into(),
                                "connwatch: the config no longer parses".into(),
                                n.action.clone().unwrap_or_default(),
                            ));
                        }
                    }
                }
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
            }
        }
    }
    tracing::info!("stopping: letting refreshes in flight save their tokens");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    metrics.set_alive(false);
    stop(handle).await;
    if let (Some(d), Some(b)) = (tracker.desktop.take(), buttons) {
        b.flush(d).await;
    }
    Ok(Outcome::Stopped)
}

/// Desktop notifications, when the config wants them and a session bus is reachable.
async fn desktop(config: &Config) -> Option<(Desktop, Buttons)> {
    if !config.desktop_notifications {
        return None;
    }
    Desktop::connect().await
}

/// The next connection whose Re-authorize button was pressed (never, without a desktop).
async fn pressed(b: &mut Option<Buttons>) -> Option<String> {
    match b {
        Some(b) => b.reauthorize.recv().await,
        None => std::future::pending().await,
    }
}

/// The watchdog period systemd asks for (`WATCHDOG_USEC`), as sd_watchdog_enabled(3) reads
/// it: `WATCHDOG_PID`, when set, must be ours (the sd-notify crate also insists it is set).
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    match std::env::var("WATCHDOG_PID") {
        Ok(pid) if pid.trim().parse::<u32>().ok() != Some(std::process::id()) => None,
        _ => (usec > 0).then(|| Duration::from_micros(usec)),
    }
}

async fn tick(i: &mut Option<tokio::time::Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn names(c: &Config) -> Vec<String> {
    c.connections.iter().map(|c| c.name.clone()).collect()
}

async fn stop(handle: WorkerHandle) {
    let _ = handle.requests.send(Request::Shutdown);
    let _ = handle.task.await;
}

fn log_changes(old: &Config, new: &Config) {
    let names =
        |c: &Config| -> Vec<String> { c.connections.iter().map(|c| c.name.clone()).collect() };
    let (o, n) = (names(old), names(new));
    let added: Vec<&String> = n.iter().filter(|x| !o.contains(x)).collect();
    let removed: Vec<&String> = o.iter().filter(|x| !n.contains(x)).collect();
    let changed: Vec<&String> = new
        .connections
        .iter()
        .filter(|c| old.connection(&c.name).is_some_and(|p| p != *c))
        .map(|c| &c.name)
        .collect();
    tracing::info!(?added, ?removed, ?changed, "SIGHUP: config reloaded");
}
