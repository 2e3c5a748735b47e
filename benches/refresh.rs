//! Refresh 1 000 connections against the embedded demo IdP over real HTTP on 127.0.0.1, with
//! the dashboard's own loop rules running beside the worker: `cargo bench --bench refresh`.
//! Goal (issue 8): all done in ≤ 2 s, and key presses during it drawn within 50 ms (p99).
//!
//! The input latency is measured on a model of the dashboard loop (src/tui.rs): worker events
//! and key presses arrive on one task; everything ready is applied with `update`, then one
//! frame is drawn (TestBackend 160×48). A key is "pressed" every 5 ms; its latency runs from
//! the press to the end of the frame that shows it.
use std::time::{Duration, Instant};

use connwatch::app::{self, Action, State};
use connwatch::config::Config;
use connwatch::demo::{self, idp::DemoIdp, idp::IdpOptions};
use connwatch::store::{StorePaths, TokenStore};
use connwatch::worker::{self, Event, Request, WorkerOptions};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const ROWS: usize = 1_000;

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "refresh")
    {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let idp = DemoIdp::start(IdpOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("config.toml");
    // The five story rows plus generated shared mailboxes: 1 000 in all.
    std::fs::write(&path, demo::config_text(&idp, Some(&data), ROWS - 5)).unwrap();
    let config = Config::load(&path).unwrap();
    let store = TokenStore::new(StorePaths::under(&data));
    demo::seed(&idp, &store, ROWS - 5).unwrap();

    let mut w = worker::spawn(
        &config,
        store,
        WorkerOptions {
            auto_refresh: false,
            ..WorkerOptions::default()
        },
    );
    let mut state = State::new("bench", jiff::Timestamp::now());
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut seen = 0;
    while seen < ROWS {
        if let Some(e) = w.events.recv().await {
            seen += usize::from(matches!(e, Event::Connection(_)));
            app::update(&mut state, Action::Worker(e));
        }
    }
    term.draw(|f| connwatch::ui::draw(f, &state)).unwrap();

    let start = Instant::now();
    w.requests.send(Request::RefreshAll).unwrap();
    let mut busy_seen = std::collections::HashSet::new();
    let mut done = 0usize;
    let mut latencies: Vec<Duration> = Vec::new();
    let mut keys = tokio::time::interval(Duration::from_millis(5));
    let mut frames = 0u64;
    let mut down = true;
    while done < ROWS {
        let mut pressed: Option<Instant> = None;
        tokio::select! {
            e = w.events.recv() => {
                let Some(e) = e else { break };
                apply(&mut state, e, &mut busy_seen, &mut done);
            }
            _ = keys.tick() => pressed = Some(Instant::now()),
        }
        // Drain everything already there, as the real loop does, then draw once.
        while let Ok(e) = w.events.try_recv() {
            apply(&mut state, e, &mut busy_seen, &mut done);
        }
        if pressed.is_some() {
            let code = if down {
                KeyCode::Char('j')
            } else {
                KeyCode::Char('k')
            };
            down = !down;
            app::update(
                &mut state,
                Action::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            );
        }
        term.draw(|f| connwatch::ui::draw(f, &state)).unwrap();
        frames += 1;
        if let Some(at) = pressed {
            latencies.push(at.elapsed());
        }
    }
    let total = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!("refresh {ROWS} connections against the demo IdP (worker concurrency 8)\n");
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| all refreshes finished | {:.2} s (goal ≤ 2 s) |",
        total.as_secs_f64()
    );
    println!(
        "| token requests seen by the IdP | {} |",
        idp.token_requests()
    );
    println!("| frames drawn | {frames} |");
    println!(
        "| key press → frame, {} presses | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 ≤ 50 ms) |",
        latencies.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    let _ = w.requests.send(Request::Shutdown);
    idp.shutdown().await;
}

/// Apply a worker event; count a connection done when it goes busy and then idle again.
fn apply(
    state: &mut State,
    e: Event,
    busy_seen: &mut std::collections::HashSet<String>,
    done: &mut usize,
) {
    if let Event::Connection(v) = &e {
        if v.busy {
            busy_seen.insert(v.name.clone());
        } else if busy_seen.remove(&v.name) {
            *done += 1;
        }
    }
    app::update(state, Action::Worker(e));
}
