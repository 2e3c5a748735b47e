//! `connwatch watch`: the worker with no terminal. It keeps every connection refreshed and
//! probed (`probe_every`, 15 min by default here), notifies once per episode through
//! `notify_command` (and again when the connection recovers), serves `/metrics` and
//! `/healthz`, reloads the config on SIGHUP without losing a token, and drains on
//! SIGTERM/SIGINT so a refresh in flight still saves what it got. One per store (a lock).
//! No UI imports: it speaks to the worker as the dashboard does, through Request and Event.
pub mod alerts;
pub mod metrics;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::connection::ConnState;
use crate::notify::desktop::{Buttons, Desktop, Note};
use crate::notify::{Notice, needs_attention};
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

/// What the loop remembers about each connection between its events.
struct Tracker {
    alerts: alerts::Alerts,
    store: TokenStore,
    /// Email alerts being sent (`watch --once` waits for them before it exits).
    mail: Vec<tokio::task::JoinHandle<()>>,
    /// The page of a sign-in in progress, for CONNWATCH_URL.
    sign_in_url: HashMap<String, String>,
    last: HashMap<String, ConnectionView>,
    /// Desktop notifications, when a session bus is reachable and the config wants them.
    desktop: Option<Desktop>,
    /// Connections whose sign-in was started by their notification's Re-authorize button.
    reauthorizing: std::collections::HashSet<String>,
    /// Offer the Re-authorize button (not under `--once`: nobody is left to answer it).
    buttons: bool,
    /// Each connection's sign-in forecast, to say once, ahead of time, when to sign in.
    forecasts: HashMap<String, Forecasting>,
    /// Connections this process has tried (a refresh, probe or sign-in ran). `disconnected`
    /// is only an alert once a try failed: started with an expired token, `watch` once said
    /// "cannot renew" before trying, then "connected again" — or, when the grant was in fact
    /// revoked, never sent the real alert (the episode was already open).
    tried: std::collections::HashSet<String>,
}

/// One forecast as `watch` follows it.
struct Forecasting {
    by: jiff::Timestamp,
    reason: String,
    /// When this forecast was first seen (usually just after the sign-in it counts from).
    seen: jiff::Timestamp,
    told: bool,
}

impl Forecasting {
    /// When to say it: a quarter of the forecast's span ahead, at least a minute and at most
    /// an hour (a 15-minute sign-in frequency is announced 3¾ minutes before).
    fn announce_at(&self) -> jiff::Timestamp {
        let span = self.by.duration_since(self.seen);
        let lead = (span / 4).clamp(
            jiff::SignedDuration::from_mins(1),
            jiff::SignedDuration::from_hours(1),
        );
        self.by.checked_sub(lead).unwrap_or(self.by)
    }
}

impl Tracker {
    fn new(store: &TokenStore, desktop: Option<Desktop>, buttons: bool) -> Tracker {
        Tracker {
            desktop,
            buttons,
            reauthorizing: Default::default(),
            alerts: alerts::Alerts::load(&store.paths().root),
            store: store.clone(),
            mail: Vec::new(),
            sign_in_url: HashMap::new(),
            last: HashMap::new(),
            forecasts: HashMap::new(),
            tried: Default::default(),
        }
    }

    /// Follow `v`'s forecast: a new one (a new sign-in) is said again; one already past when
    /// first seen is not (the refusal it foretells will alert by itself).
    fn track_forecast(&mut self, v: &ConnectionView) {
        let (Some(by), Some(reason)) = (v.sign_in_by, &v.sign_in_by_reason) else {
            self.forecasts.remove(&v.name);
            return;
        };
        if self.forecasts.get(&v.name).is_some_and(|f| f.by == by) {
            return;
        }
        let now = jiff::Timestamp::now();
        self.forecasts.insert(
            v.name.clone(),
            Forecasting {
                by,
                reason: reason.clone(),
                seen: now,
                told: by <= now,
            },
        );
    }

    /// How long until the next forecast is to be said.
    fn until_forecast(&self) -> Option<Duration> {
        let at = self
            .forecasts
            .iter()
            .filter(|(name, f)| !f.told && self.connected(name))
            .map(|(_, f)| f.announce_at())
            .min()?;
        Some(
            Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO),
        )
    }

    fn connected(&self, name: &str) -> bool {
        self.last
            .get(name)
            .is_some_and(|v| v.state == ConnState::Connected && !v.busy)
    }

    /// Say every forecast whose time has come: "sign in before 09:00 so … does not drop".
    fn forecast_due(&mut self, cfg: &Config) {
        let now = jiff::Timestamp::now();
        let due: Vec<String> = self
            .forecasts
            .iter()
            .filter(|(name, f)| !f.told && f.announce_at() <= now && self.connected(name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let (Some(v), Some(f)) = (self.last.get(&name).cloned(), self.forecasts.get_mut(&name))
            else {
                continue;
            };
            f.told = true;
            let n = Notice::forecast(&v, f.by, &f.reason);
            tracing::warn!(connection = %name, sign_in_by = %f.by, "{}", f.reason);
            self.notify(cfg, &n);
        }
    }

    fn notify(&mut self, cfg: &Config, n: &Notice) {
        if let Some(cmd) = &cfg.notify_command {
            crate::notify::run_command(cmd, n, self.sign_in_url.get(&n.name).map(String::as_str));
        }
        let mut unsent = None;
        if let Some(e) = &cfg.notify_email {
            if e.via == n.name {
                // The connection that would carry the alert is the one failing: say so
                // rather than drop it silently.
                tracing::error!(
                    connection = %n.name,
                    "cannot email this alert to {}: notify_email goes through {} itself",
                    e.to,
                    e.via
                );
                unsent = Some(format!(
                    "No email alert was sent to {}: it would go through {} itself.",
                    e.to, e.via
                ));
            } else if let Some(via) = cfg.connection(&e.via).cloned() {
                self.mail.retain(|h| !h.is_finished());
                self.mail.push(tokio::spawn(email(
                    via,
                    self.store.clone(),
                    e.to.clone(),
                    n.clone(),
                    self.desktop.clone(),
                )));
            }
        }
        if let Some(d) = &self.desktop {
            if n.sign_in_by.is_some() {
                let body = [n.summary.as_deref(), n.action.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n");
                d.show(Note::info(n.name.clone(), n.headline(), body));
            } else if needs_attention(n.state) {
                let mut note = Note::attention(n, unsent.as_deref());
                note.reauthorize &= self.buttons;
                d.show(note);
            } else if n.state == ConnState::Connected {
                d.show(Note::recovered(&n.name, self.reauthorizing.remove(&n.name)));
            }
        }
    }

    /// The Re-authorize button of `name`'s notification was pressed: start its sign-in
    /// (the connection's flow), unless it no longer needs one or one is running.
    fn reauthorize(&mut self, name: String, handle: &WorkerHandle) {
        let Some(v) = self.last.get(&name) else {
            return;
        };
        if v.busy || !needs_attention(v.state) {
            tracing::info!(connection = %name, state = %v.state, "Re-authorize pressed; nothing to do");
            return;
        }
        tracing::info!(connection = %name, "Re-authorize pressed: starting the sign-in");
        self.reauthorizing.insert(name.clone());
        let _ = handle.requests.send(Request::SignIn { name });
    }

    /// A sign-in is waiting for the user: a device code to enter, or (no code) the browser
    /// page, which is opened. The notification shows either in place of the alert.
    fn sign_in_waiting(&mut self, c: &worker::DeviceCodeView) {
        // What the provider sent, defused for the notification and CONNWATCH_URL; the
        // browser is given the address as it came.
        let shown = c.for_display();
        self.sign_in_url
            .insert(c.name.clone(), shown.verification_uri.clone());
        if !self.reauthorizing.contains(&c.name) {
            return;
        }
        if c.user_code.is_empty()
            && let Err(e) = crate::oauth::browser::open_page(&c.verification_uri)
        {
            tracing::warn!(connection = %c.name, "cannot open the browser: {e}");
        }
        if let Some(d) = &self.desktop {
            d.show(Note::sign_in_started(
                &c.name,
                &shown.verification_uri,
                &shown.user_code,
            ));
        }
    }

    /// A sign-in ended. One the button started that did not complete puts the alert back on
    /// screen, saying so (the episode is still open, so nothing else would).
    fn sign_in_ended(&mut self, name: &str, ok: bool) {
        if ok || !self.reauthorizing.remove(name) {
            return;
        }
        if let (Some(d), Some(v)) = (&self.desktop, self.last.get(name)) {
            d.show(Note::attention(
                &Notice::of(v),
                Some("The sign-in did not complete."),
            ));
        }
    }

    /// Remind about every episode whose reminder is due.
    fn remind(&mut self, cfg: &Config) {
        let Some(every) = cfg.reminder_interval() else {
            return;
        };
        for name in self.alerts.due(jiff::Timestamp::now(), every) {
            if let Some(v) = self.last.get(&name).filter(|v| needs_attention(v.state)) {
                tracing::warn!(connection = %name, state = %v.state, "still needs attention (reminder)");
                self.notify(cfg, &Notice::of(v));
            }
        }
    }

    /// How long until the next reminder, if one is pending.
    fn until_reminder(&self, cfg: &Config) -> Option<Duration> {
        let at = self.alerts.next_due(cfg.reminder_interval()?)?;
        Some(
            Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO),
        )
    }

    /// A job ended: its duration and outcome for `/metrics` — new tokens (a refresh or
    /// sign-in that worked, whatever its probes said) or the failure's cause; a probe alone
    /// has its own series.
    fn on_finished(
        &mut self,
        name: &str,
        outcome: &worker::Finish,
        took: Duration,
        metrics: &metrics::Metrics,
    ) {
        let outcome = match outcome {
            worker::Finish::Renewed => "ok".to_owned(),
            worker::Finish::Failed(d) if d.probe.is_none() => d.cause.to_string(),
            _ => return,
        };
        metrics.observe(name, &outcome, took);
    }

    fn on_view(&mut self, v: &ConnectionView, cfg: &Config) {
        if v.busy {
            self.tried.insert(v.name.clone());
        }
        // Busy states are passing; judge the connection when it settles. A verdict from
        // someone (needs_reauth, blocked, misconfigured) stands at once; `disconnected` only
        // after this process tried.
        let judged = v.state != ConnState::Disconnected || self.tried.contains(&v.name);
        if !v.busy {
            if needs_attention(v.state) && judged {
                if self.alerts.open(&v.name, jiff::Timestamp::now()) {
                    let n = Notice::of(v);
                    tracing::warn!(
                        connection = %v.name,
                        state = %v.state,
                        code = n.code.as_deref().unwrap_or(""),
                        "needs attention: {}",
                        n.action.as_deref().unwrap_or("")
                    );
                    self.notify(cfg, &n);
                }
            } else if v.state == ConnState::Connected && self.alerts.close(&v.name) {
                tracing::info!(connection = %v.name, "connected again");
                self.notify(cfg, &Notice::of(v));
            }
        }
        if v.activity
            .is_none_or(|a| a.kind != crate::state::ActivityKind::SignIn)
        {
            self.sign_in_url.remove(&v.name);
        }
        self.track_forecast(v);
        self.last.insert(v.name.clone(), v.clone());
    }
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
        return Ok(Outcome::Once(once(config, store).await));
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
    let mut tracker = Tracker::new(&store, desktop, true);
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
    loop {
        let reminder = tracker.until_reminder(&config);
        let forecast = tracker.until_forecast();
        tokio::select! {
            // Wall-clock due times: a monotonic sleep stands still while the machine is
            // suspended, so none is longer than WALL_CHECK (ARCHITECTURE.md, Refresh schedule).
            () = sleep_for(forecast.map(|d| d.min(worker::WALL_CHECK))), if forecast.is_some() => tracker.forecast_due(&config),
            _ = tick(&mut pet), if pet.is_some() => {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
            () = sleep_for(reminder.map(|d| d.min(worker::WALL_CHECK))), if reminder.is_some() => tracker.remind(&config),
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

/// Email `n` to `to` through the connection `via`: its token (refreshed under its lock when
/// due), its SMTP server, XOAUTH2 as its account. The outcome goes to the log.
async fn email(
    via: crate::config::Connection,
    store: TokenStore,
    to: String,
    n: Notice,
    desktop: Option<Desktop>,
) {
    if let Err(why) = try_email(&via, &store, &to, &n).await {
        // It quotes the provider and the mail server: one defused line.
        let why = crate::sanitize::line(&why).into_owned();
        tracing::error!(connection = %n.name, "the email alert to {to} through {} failed: {why}", via.name);
        if let Some(d) = desktop {
            d.show(Note::info(
                format!("{}/email", n.name),
                format!("connwatch could not email the alert about {}", n.name),
                format!("To {to} through {}: {why}", via.name),
            ));
        }
    }
}

/// Send one email alert; why not, in a sentence.
async fn try_email(
    via: &crate::config::Connection,
    store: &TokenStore,
    to: &str,
    n: &Notice,
) -> Result<(), String> {
    use crate::probe::{self, Message, Protocol};
    let http = crate::oauth::HttpClient::new(Duration::from_secs(30));
    let target = crate::provider::probe_targets(via)
        .into_iter()
        .find(|t| t.protocol == Protocol::Smtp)
        .ok_or_else(|| format!("{} has no SMTP server to send through", via.name))?;
    let set = match store.load(&via.name) {
        Ok(Some(set)) => set,
        Ok(None) => return Err(format!("{} is not signed in", via.name)),
        Err(e) => return Err(format!("{}: {e}", via.name)),
    };
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
    let set = if set.expires_at.is_some_and(|e| e <= soon) {
        let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
        let known = Some(set.access_token.expose().to_owned());
        worker::refresh_connection(via, store, &http, clock, known)
            .await
            .map_err(|d| {
                format!(
                    "{} cannot renew its token ({}): {}",
                    via.name, d.cause, d.summary
                )
            })?
    } else {
        set
    };
    let ctx = worker::probe_context(via, http);
    let m = Message {
        to: to.to_owned(),
        subject: n.subject(),
        body: n.body(),
    };
    probe::send_mail(&target, &ctx, set.access_token.expose(), &m)
        .await
        .map_err(|d| {
            let code = d.code.map(|c| format!(" ({c})")).unwrap_or_default();
            format!("{}{code}: {}", d.cause, d.summary)
        })?;
    tracing::info!(connection = %n.name, "alert emailed to {to} through {}", via.name);
    Ok(())
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

/// `watch --once`: refresh (and so probe) every connection with tokens and notify as the
/// loop would; the views it ends with, in config order.
async fn once(config: Config, store: TokenStore) -> Vec<ConnectionView> {
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
