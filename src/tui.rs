//! The terminal: set-up and restore on every exit path, and the event loop.
//! The loop draws only when something changed; it ticks at 1 Hz on the second boundary only
//! while a countdown is on screen, so an idle dashboard costs (almost) nothing.
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ratatui::crossterm::event::{Event as TermEvent, EventStream};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::time::Instant;

use crate::app::{self, Action, State};
use crate::clock::Clock;
use crate::worker::{Event, Request, WorkerHandle};

/// Run the dashboard until the user quits or a signal arrives.
pub async fn run(
    worker: WorkerHandle,
    clock: Arc<dyn Clock>,
    title: String,
    color: bool,
) -> std::io::Result<()> {
    // ratatui::init installs a panic hook that restores the terminal before the message.
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, worker, clock, title, color).await;
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut worker: WorkerHandle,
    clock: Arc<dyn Clock>,
    title: String,
    color: bool,
) -> std::io::Result<()> {
    let mut state = State::new(title, clock.now());
    state.color = color;
    let mut keys = EventStream::new();
    let mut signals = Signals::new()?;
    let mut dirty = true;
    loop {
        if dirty {
            draw(terminal, &state)?;
            dirty = false;
        }
        let tick = state.counting_down().then(|| next_second(clock.as_ref()));
        let action = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Action::Key(k),
                Some(Ok(TermEvent::Resize(..))) => Action::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(ev) = worker.events.recv() => Action::Worker(ev),
            () = sleep_until(tick), if tick.is_some() => Action::Tick(clock.now()),
            () = signals.recv() => break,
        };
        dirty |= apply(&mut state, action, &worker);
        // Drain whatever else is ready so a burst of events costs one frame.
        while let Ok(ev) = worker.events.try_recv() {
            dirty |= apply(&mut state, Action::Worker(ev), &worker);
        }
        if state.quit {
            break;
        }
    }
    let _ = worker.requests.send(Request::Shutdown);
    Ok(())
}

fn apply(state: &mut State, action: Action, worker: &WorkerHandle) -> bool {
    // A browser sign-in's page is opened here, at the edge, so `update` stays pure.
    if let Action::Worker(Event::DeviceCode(c)) = &action
        && c.user_code.is_empty()
    {
        let _ = crate::commands::open_browser(&c.verification_uri);
    }
    let fx = app::update(state, action);
    for r in fx.requests {
        let _ = worker.requests.send(r);
    }
    fx.dirty
}

fn draw(terminal: &mut ratatui::DefaultTerminal, state: &State) -> std::io::Result<()> {
    // Synchronized updates: the terminal shows the frame whole, never half drawn.
    execute!(std::io::stdout(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| crate::ui::draw(f, state))?;
    execute!(std::io::stdout(), EndSynchronizedUpdate)?;
    std::io::stdout().flush()
}

/// The next whole second of the wall clock, so countdowns change in step.
fn next_second(clock: &dyn Clock) -> Instant {
    let nanos = clock.now().subsec_nanosecond().max(0) as u64;
    Instant::now() + Duration::from_nanos(1_000_000_000 - nanos) + Duration::from_millis(2)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM and SIGHUP end the dashboard like `q` does (the terminal is restored).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.hup.recv() => {},
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
