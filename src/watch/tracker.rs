//! What `watch` remembers about each connection between the worker's events: episodes
//! and reminders, sign-in forecasts, and the notifications (command, desktop, email) they
//! send. No UI imports.
use std::collections::HashMap;
use std::time::Duration;

use super::{alerts, email::email, metrics};
use crate::config::Config;
use crate::connection::ConnState;
use crate::notify::desktop::{Desktop, Note};
use crate::notify::{Notice, needs_attention};
use crate::store::TokenStore;
use crate::worker::{self, ConnectionView, Request, WorkerHandle};

/// What the loop remembers about each connection between its events.
pub(super) struct Tracker {
    pub(super) alerts: alerts::Alerts,
    pub(super) store: TokenStore,
    /// Email alerts being sent (`watch --once` waits for them before it exits).
    pub(super) mail: Vec<tokio::task::JoinHandle<()>>,
    /// The page of a sign-in in progress, for CONNWATCH_URL.
    pub(super) sign_in_url: HashMap<String, String>,
    pub(super) last: HashMap<String, ConnectionView>,
    /// Desktop notifications, when a session bus is reachable and the config wants them.
    pub(super) desktop: Option<Desktop>,
    /// Connections whose sign-in was started by their notification's Re-authorize button.
    pub(super) reauthorizing: std::collections::HashSet<String>,
    /// Offer the Re-authorize button (not under `--once`: nobody is left to answer it).
    pub(super) buttons: bool,
    /// Each connection's sign-in forecast, to say once, ahead of time, when to sign in.
    forecasts: HashMap<String, Forecasting>,
    /// Connections this process has tried (a refresh, probe or sign-in ran). `disconnected`
    /// is only an alert once a try failed: started with an expired token, `watch` once said
    /// "cannot renew" before trying, then "connected again" — or, when the grant was in fact
    /// revoked, never sent the real alert (the episode was already open).
    pub(super) tried: std::collections::HashSet<String>,
}

/// One forecast as `watch` follows it.
struct Forecasting {
    pub(super) by: jiff::Timestamp,
    pub(super) reason: String,
    /// When this forecast was first seen (usually just after the sign-in it counts from).
    pub(super) seen: jiff::Timestamp,
    pub(super) told: bool,
}

impl Forecasting {
    /// When to say it: a quarter of the forecast's span ahead, at least a minute and at most
    /// an hour (a 15-minute sign-in frequency is announced 3¾ minutes before).
    pub(super) fn announce_at(&self) -> jiff::Timestamp {
        let span = self.by.duration_since(self.seen);
        let lead = (span / 4).clamp(
            jiff::SignedDuration::from_mins(1),
            jiff::SignedDuration::from_hours(1),
        );
        self.by.checked_sub(lead).unwrap_or(self.by)
    }
}

impl Tracker {
    pub(super) fn new(store: &TokenStore, desktop: Option<Desktop>, buttons: bool) -> Tracker {
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
    pub(super) fn track_forecast(&mut self, v: &ConnectionView) {
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
    pub(super) fn until_forecast(&self) -> Option<Duration> {
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

    pub(super) fn connected(&self, name: &str) -> bool {
        self.last
            .get(name)
            .is_some_and(|v| v.state == ConnState::Connected && !v.busy)
    }

    /// Say every forecast whose time has come: "sign in before 09:00 so … does not drop".
    pub(super) fn forecast_due(&mut self, cfg: &Config) {
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

    pub(super) fn notify(&mut self, cfg: &Config, n: &Notice) {
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
    pub(super) fn reauthorize(&mut self, name: String, handle: &WorkerHandle) {
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
    pub(super) fn sign_in_waiting(&mut self, c: &worker::DeviceCodeView) {
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
    pub(super) fn sign_in_ended(&mut self, name: &str, ok: bool) {
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
    pub(super) fn remind(&mut self, cfg: &Config) {
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
    pub(super) fn until_reminder(&self, cfg: &Config) -> Option<Duration> {
        let at = self.alerts.next_due(cfg.reminder_interval()?)?;
        Some(
            Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO),
        )
    }

    /// A job ended: its duration and outcome for `/metrics` — new tokens (a refresh or
    /// sign-in that worked, whatever its probes said) or the failure's cause; a probe alone
    /// has its own series.
    pub(super) fn on_finished(
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

    pub(super) fn on_view(&mut self, v: &ConnectionView, cfg: &Config) {
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
