//! The worker: one tokio task that owns the HTTP client, the token store, every token and
//! every timer. It speaks `Request` in and `Event` out and imports nothing of the UI.

mod backoff;
mod changed;
mod conn;
mod context;
mod event;
mod follow;
mod jobs;
mod outcome;
mod record;
mod reload;
mod run;
pub mod schedule;
mod start;
mod wall_timer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use backoff::Backoff;
pub use context::{expectations, probe_context};
pub use event::{ConnectionView, DeviceCodeView, Event, Finish, NewConfig, Request};
pub use jobs::refresh_connection;
pub use wall_timer::WallTimer;

/// `WallTimer::sleep_until` for a `select!` branch: never, without a timer or a time.
pub async fn wall_timer_sleep(timer: Option<&WallTimer>, at: Option<jiff::Timestamp>) {
    match (timer, at) {
        (Some(t), Some(at)) => t.sleep_until(at, WALL_CHECK).await,
        _ => std::future::pending().await,
    }
}

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::oauth::{HttpClient, Pacer};
use crate::store::TokenStore;

/// Where no kernel wall-clock timer can be had (or the clock is injected), how often the
/// wall clock is looked at: how late a timer may then fire after a suspend or a clock step.
pub const WALL_CHECK: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct WorkerOptions {
    pub http_timeout: Duration,
    pub pacer: Pacer,
    pub clock: Arc<dyn Clock>,
    pub backoff: Backoff,
    /// At most this many refreshes in flight at once (a helpdesk may watch thousands).
    pub max_concurrency: usize,
    /// Refresh on start-up and before expiry without being asked.
    pub auto_refresh: bool,
    /// Follow what other processes write to the store (the dashboard, `watch`).
    pub follow_store: bool,
    /// While a `connwatch watch` holds this store, leave scheduled refreshes and probes to
    /// it (keys still act at once), and say so with `Event::Watched` (the dashboard).
    pub yield_to_watch: bool,
    /// Due times are wall-clock times, and a monotonic timer stands still while the machine
    /// sleeps (ARCHITECTURE.md, Refresh schedule). `None`: a kernel timer on the system's
    /// wall clock wakes the worker when something is due, also after a suspend or a clock
    /// step, and nothing polls. `Some(d)`: look at the clock every `d` (tests with an
    /// injected clock, which no kernel timer follows; also the fallback, with WALL_CHECK).
    pub wall_check: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            http_timeout: Duration::from_secs(30),
            pacer: Pacer::default(),
            clock: Arc::new(SystemClock),
            backoff: Backoff::default(),
            max_concurrency: 8,
            auto_refresh: true,
            follow_store: true,
            yield_to_watch: false,
            wall_check: None,
        }
    }
}

pub struct WorkerHandle {
    pub requests: mpsc::UnboundedSender<Request>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub task: tokio::task::JoinHandle<()>,
    next_id: u64,
}

impl WorkerHandle {
    /// Send `request`; its end comes back as `Event::Finished` with the id returned.
    pub fn track(&mut self, request: Request) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let _ = self.requests.send(Request::Tracked {
            id,
            request: Box::new(request),
        });
        id
    }
}

/// Start the worker on the current tokio runtime. It first reports every connection as
/// found in the store, then keeps them fresh.
pub fn spawn(config: &Config, store: TokenStore, opts: WorkerOptions) -> WorkerHandle {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let http = HttpClient::new(opts.http_timeout);
    let worker = run::Worker::new(config, store, http, opts, ev_tx);
    let task = tokio::spawn(worker.run(req_rx));
    WorkerHandle {
        requests: req_tx,
        events: ev_rx,
        task,
        next_id: 0,
    }
}
