//! The terminal: set-up and restore on every exit path, and the event loop.
//! The loop draws only when something changed; it ticks at 1 Hz on the second boundary only
//! while a countdown is on screen (8 Hz while a spinner turns), so an idle dashboard costs
//! (almost) nothing.
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent, EventStream,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::time::Instant;

use crate::app::{self, Action, State};
use crate::clock::Clock;
use crate::worker::{Event, Request, WorkerHandle};

/// How the dashboard looks and behaves (from the config and the command line).
pub struct Options {
    pub title: String,
    pub color: bool,
    pub keymap: crate::app::Keymap,
    /// Ring the terminal bell when a connection starts needing attention.
    pub bell: bool,
    /// Run this then, with CONNWATCH_NAME, CONNWATCH_STATE and CONNWATCH_CAUSE set.
    pub notify_command: Option<Vec<String>>,
}

/// Run the dashboard until the user quits or a signal arrives.
pub async fn run(
    worker: WorkerHandle,
    clock: Arc<dyn Clock>,
    opts: Options,
) -> std::io::Result<()> {
    // ratatui::init installs a panic hook that restores the terminal before the message;
    // ours first turns mouse reporting off, which ratatui does not know about.
    let mut terminal = ratatui::try_init()?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste
        );
        previous(info);
    }));
    // Bracketed paste: a pasted sign-in address arrives whole, not as a stream of keys.
    execute!(std::io::stdout(), EnableMouseCapture, EnableBracketedPaste)?;
    let mut worker = worker;
    let result = event_loop(&mut terminal, &mut worker, clock, opts).await;
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste
    );
    ratatui::restore();
    // The terminal is back; now let a refresh in flight save its rotated refresh token
    // (the worker bounds this by its HTTP timeout) before the runtime goes away.
    let _ = worker.requests.send(Request::Shutdown);
    if tokio::time::timeout(Duration::from_millis(200), &mut worker.task)
        .await
        .is_err()
    {
        // Only when a provider is slow: say why the prompt does not come back yet.
        eprintln!(
            "connwatch: waiting for a refresh in flight to save its tokens (Ctrl-C quits now)"
        );
        tokio::select! {
            _ = &mut worker.task => {}
            _ = tokio::signal::ctrl_c() => {}
            () = tokio::time::sleep(Duration::from_secs(35)) => {}
        }
    }
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    worker: &mut WorkerHandle,
    clock: Arc<dyn Clock>,
    opts: Options,
) -> std::io::Result<()> {
    let mut state = State::new(opts.title.clone(), clock.now());
    state.color = opts.color;
    state.keymap = opts.keymap.clone();
    let size = terminal.size()?;
    state.size = (size.width, size.height);
    let mut keys = EventStream::new();
    let mut signals = Signals::new()?;
    let mut dirty = true;
    loop {
        if dirty {
            draw(terminal, &mut state)?;
            dirty = false;
        }
        let tick = state.tick_every().map(|every| {
            if every >= Duration::from_secs(1) {
                next_second(clock.as_ref())
            } else {
                Instant::now() + every
            }
        });
        let action = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Action::Key(k),
                Some(Ok(TermEvent::Mouse(m))) => Action::Mouse(m),
                Some(Ok(TermEvent::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(TermEvent::Paste(text))) => Action::Paste(text),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(ev) = worker.events.recv() => Action::Worker(ev),
            () = sleep_until(tick), if tick.is_some() => Action::Tick(clock.now()),
            () = signals.recv() => break,
        };
        dirty |= apply(&mut state, action, worker, &opts);
        // Drain whatever else is ready so a burst of events costs one frame.
        while let Ok(ev) = worker.events.try_recv() {
            dirty |= apply(&mut state, Action::Worker(ev), worker, &opts);
        }
        if state.quit {
            break;
        }
    }
    Ok(())
}

fn apply(state: &mut State, action: Action, worker: &WorkerHandle, opts: &Options) -> bool {
    // A browser sign-in's page is opened here, at the edge, so `update` stays pure.
    if let Action::Worker(Event::DeviceCode(c)) = &action
        && c.user_code.is_empty()
        && c.refused.is_none()
    {
        let _ = crate::commands::open_browser(&c.verification_uri);
    }
    let fx = app::update(state, action);
    for r in fx.requests {
        let _ = worker.requests.send(r);
    }
    let mut out = std::io::stdout();
    if fx.bell && opts.bell {
        let _ = out.write_all(b"\x07");
    }
    if let Some(text) = &fx.copy {
        // OSC 52: the terminal puts it on the clipboard, over ssh and tmux too.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let _ = write!(out, "\x1b]52;c;{b64}\x07");
    }
    let _ = out.flush();
    if let Some(url) = &fx.open {
        let _ = crate::commands::open_browser(url);
    }
    if let Some(cmd) = &opts.notify_command {
        for n in &fx.notices {
            crate::notify::run_command(cmd, n, None);
        }
    }
    fx.dirty
}

fn draw(terminal: &mut ratatui::DefaultTerminal, state: &mut State) -> std::io::Result<()> {
    // Synchronized updates: the terminal shows the frame whole, never half drawn.
    execute!(std::io::stdout(), BeginSynchronizedUpdate)?;
    let mut limits = state.scroll_limits;
    terminal.draw(|f| limits = crate::ui::draw_measured(f, state))?;
    // What the frame measured, for `update` to clamp scrolling to. When it changed (a pane
    // or popup just opened), draw once more so the footer's scroll keys match it.
    if limits != state.scroll_limits {
        state.scroll_limits = limits;
        terminal.draw(|f| {
            crate::ui::draw_measured(f, state);
        })?;
    }
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

/// SIGTERM, SIGHUP and SIGINT end the dashboard like `q` does (the terminal is restored).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    /// `kill -INT` (in raw mode Ctrl-C arrives as a key, not as this).
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
                int: signal(SignalKind::interrupt())?,
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
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
