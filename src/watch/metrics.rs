//! `/metrics` and `/healthz` of `watch --metrics ADDR`. `/metrics` is what `status
//! --prometheus` prints (states, expiries, probes) plus what only a long-running process
//! knows: refresh outcomes, a refresh latency histogram, the process start time. Never a token.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::config::Config;
use crate::store::TokenStore;

/// Upper bounds of the refresh latency histogram, in seconds.
const BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Counts {
    /// (connection, outcome) → refreshes. Outcome: `ok`, or the failure's cause.
    refreshes: BTreeMap<(String, String), u64>,
    /// Per bucket (the last is +Inf).
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

pub struct Metrics {
    config: Mutex<Arc<Config>>,
    store: TokenStore,
    started: jiff::Timestamp,
    counts: Mutex<Counts>,
    /// Cleared when the worker loop stops: `/healthz` then answers 503.
    alive: std::sync::atomic::AtomicBool,
}

impl Metrics {
    pub fn new(config: Arc<Config>, store: TokenStore) -> Arc<Metrics> {
        Arc::new(Metrics {
            config: Mutex::new(config),
            store,
            started: jiff::Timestamp::now(),
            counts: Mutex::new(Counts::default()),
            alive: std::sync::atomic::AtomicBool::new(true),
        })
    }

    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn set_alive(&self, alive: bool) {
        self.alive
            .store(alive, std::sync::atomic::Ordering::Relaxed);
    }

    /// One finished refresh (or sign-in) of `name`: its outcome and how long it took.
    pub fn observe(&self, name: &str, outcome: &str, took: Duration) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.refreshes
            .entry((name.to_owned(), outcome.to_owned()))
            .or_default() += 1;
        let s = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        c.buckets[i] += 1;
        c.sum += s;
        c.count += 1;
    }

    /// The whole exposition, as of `now`.
    pub fn render(&self, now: jiff::Timestamp) -> String {
        let config = self
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let statuses = crate::report::collect(&config, &self.store, now);
        let mut out = crate::report::prometheus::render(&statuses, now);
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP connwatch_refreshes_total Refreshes and sign-ins this watch ran, by outcome (ok, or the failure's cause).\n# TYPE connwatch_refreshes_total counter\n");
        for ((name, outcome), n) in &c.refreshes {
            let _ = writeln!(
                out,
                "connwatch_refreshes_total{{connection=\"{}\",outcome=\"{}\"}} {n}",
                escape(name),
                escape(outcome)
            );
        }
        out.push_str("# HELP connwatch_refresh_duration_seconds How long refreshes took, request to saved tokens and probes.\n# TYPE connwatch_refresh_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += c.buckets[i];
            let _ = writeln!(
                out,
                "connwatch_refresh_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += c.buckets[BUCKETS.len()];
        let _ = writeln!(
            out,
            "connwatch_refresh_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(out, "connwatch_refresh_duration_seconds_sum {}", c.sum);
        let _ = writeln!(out, "connwatch_refresh_duration_seconds_count {}", c.count);
        let _ = writeln!(
            out,
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
            self.started.as_second()
        );
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let body = tokio::task::spawn_blocking(move || m.render(jiff::Timestamp::now()))
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn healthz(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    if m.alive.load(std::sync::atomic::Ordering::Relaxed) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the worker loop stopped\n")
    }
}

/// Serve on `listener` until the task is dropped.
pub fn serve(listener: tokio::net::TcpListener, m: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .route("/healthz", axum::routing::get(healthz))
        .with_state(m);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}
