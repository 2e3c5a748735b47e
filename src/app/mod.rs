//! The dashboard's state and the pure `update` that turns actions into state changes and
//! requests for the worker. No terminal, no network, no clock reads: all of it is passed in.

mod keys;

pub use keys::TABLE_KEYS;

use jiff::Timestamp;
use ratatui::crossterm::event::KeyEvent;

use crate::connection::ConnState;
use crate::token::TokenReport;
use crate::worker::{ConnectionView, DeviceCodeView, Event, Request};

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// Waiting for a device code, then showing it until the sign-in ends.
    SignIn {
        name: String,
        code: Option<DeviceCodeView>,
    },
    ConfirmPurge {
        name: String,
    },
    Decoded {
        name: String,
        report: Box<TokenReport>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub rows: Vec<ConnectionView>,
    pub selected: usize,
    pub popup: Option<Popup>,
    /// The instant the screen shows; advanced by ticks, so rendering never reads a clock.
    pub now: Timestamp,
    /// A one-line message in the footer (what just happened).
    pub flash: Option<String>,
    pub title: String,
    /// Colours on screen; off with `--no-color`, `NO_COLOR` or `TERM=dumb`. Symbols and
    /// words carry every state, so nothing is lost without them.
    pub color: bool,
    pub quit: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Worker(Event),
    Tick(Timestamp),
    Resize,
}

/// What `update` asks of the outside world.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// The screen must be drawn again.
    pub dirty: bool,
    pub requests: Vec<Request>,
}

impl State {
    pub fn new(title: impl Into<String>, now: Timestamp) -> Self {
        State {
            rows: Vec::new(),
            selected: 0,
            popup: None,
            now,
            flash: None,
            title: title.into(),
            color: true,
            quit: false,
        }
    }

    pub fn selected_row(&self) -> Option<&ConnectionView> {
        self.rows.get(self.selected)
    }

    /// Whether anything on screen counts down, so a 1 Hz tick is worth having.
    pub fn counting_down(&self) -> bool {
        let live = |t: Option<Timestamp>| t.is_some_and(|t| t > self.now);
        let rows = self.rows.iter().any(|r| {
            (matches!(
                r.state,
                ConnState::Connected | ConnState::Refreshing | ConnState::Disconnected
            ) && live(r.access_expires_at))
                || live(r.next_attempt_at)
                || r.busy
        });
        let popup = matches!(&self.popup, Some(Popup::SignIn { code: Some(c), .. }) if live(Some(c.expires_at)));
        rows || popup
    }
}

pub fn update(state: &mut State, action: Action) -> Effects {
    match action {
        Action::Key(key) => keys::on_key(state, key),
        Action::Worker(event) => on_event(state, event),
        Action::Tick(now) => {
            let changed = now.as_second() != state.now.as_second();
            state.now = now;
            Effects {
                dirty: changed,
                requests: vec![],
            }
        }
        Action::Resize => Effects {
            dirty: true,
            requests: vec![],
        },
    }
}

fn on_event(state: &mut State, event: Event) -> Effects {
    match event {
        Event::Connection(view) => {
            let selected_name = state.selected_row().map(|r| r.name.clone());
            match state.rows.iter_mut().find(|r| r.name == view.name) {
                Some(row) => *row = *view,
                None => state.rows.push(*view),
            }
            // Keep the selection on the same connection when rows change.
            if let Some(name) = selected_name
                && let Some(i) = state.rows.iter().position(|r| r.name == name)
            {
                state.selected = i;
            }
        }
        Event::DeviceCode(code) => {
            if let Some(Popup::SignIn { name, code: slot }) = &mut state.popup
                && *name == code.name
            {
                *slot = Some(code);
            } else {
                state.flash = Some(format!(
                    "{}: enter code {} at {}",
                    code.name, code.user_code, code.verification_uri
                ));
            }
        }
        Event::SignInEnded { name, ok } => {
            if matches!(&state.popup, Some(Popup::SignIn { name: n, .. }) if *n == name) {
                state.popup = None;
            }
            state.flash = Some(if ok {
                format!("{name}: signed in")
            } else {
                format!("{name}: sign-in did not complete")
            });
        }
        Event::Decoded { name, report } => {
            state.popup = Some(Popup::Decoded { name, report });
        }
    }
    Effects {
        dirty: true,
        requests: vec![],
    }
}

#[cfg(test)]
mod tests;
