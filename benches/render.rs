//! One frame of the dashboard on ratatui's TestBackend: `cargo bench --bench render`.
//! Goal (issue 8): 10 000 connections in ≤ 1 ms — only the visible rows may cost anything.
use connwatch::app::{self, Action, State};
use connwatch::config::{Kind, ProviderKind};
use connwatch::connection::ConnState;
use connwatch::worker::{ConnectionView, Event};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_795_548_800 + s).unwrap()
}

const STATES: [ConnState; 5] = [
    ConnState::Connected,
    ConnState::Refreshing,
    ConnState::Disconnected,
    ConnState::NeedsReauth,
    ConnState::SignedOut,
];

fn state(n: usize) -> State {
    let mut s = State::new("bench", t(0));
    for i in 0..n {
        let v = ConnectionView {
            name: format!("shared-{i:05}"),
            kind: Kind::Mailbox,
            provider: ProviderKind::Entra,
            account: Some(format!("user{i:05}@contoso.com")),
            realm: Some("contoso.onmicrosoft.com".into()),
            state: STATES[i % STATES.len()],
            note: None,
            access_expires_at: Some(t(60 + (i as i64 * 37) % 3600)),
            has_refresh_token: true,
            scopes_asked: vec![],
            granted_scopes: vec![],
            obtained_at: None,
            token_preview: Some("eyJ0…(1187 chars)".into()),
            last_error: None,
            last_error_at: None,
            last_success: Some(t(-8)),
            next_attempt_at: None,
            busy: false,
            history: vec![],
            probes: Vec::new(),
            sign_in_by: None,
            sign_in_by_reason: None,
            activity: None,
        };
        app::update(&mut s, Action::Worker(Event::Connection(Box::new(v))));
    }
    s
}

#[divan::bench(args = [20, 1_000, 10_000])]
fn frame_160x48(bencher: divan::Bencher, n: usize) {
    let s = state(n);
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    bencher.bench_local(|| {
        term.draw(|f| connwatch::ui::draw(f, &s)).unwrap();
    });
}

#[divan::bench(args = [10_000])]
fn frame_80x24(bencher: divan::Bencher, n: usize) {
    let s = state(n);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    bencher.bench_local(|| {
        term.draw(|f| connwatch::ui::draw(f, &s)).unwrap();
    });
}

/// A tick (1 Hz countdowns) with 10 000 rows: update + draw, what the idle dashboard pays.
#[divan::bench(args = [10_000])]
fn tick_then_frame(bencher: divan::Bencher, n: usize) {
    let mut s = state(n);
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut now = 0;
    bencher.bench_local(|| {
        now += 1;
        app::update(&mut s, Action::Tick(t(now)));
        term.draw(|f| connwatch::ui::draw(f, &s)).unwrap();
    });
}
