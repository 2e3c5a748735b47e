//! The dashboard's state and the pure `update` that turns actions into state changes and
//! requests for the worker. No terminal, no network, no clock reads: all of it is passed in,
//! and everything the outside world must do (draw, ring, copy, open, notify) comes back as
//! `Effects`.

mod events;
mod keys;
pub mod layout;
mod view;

pub use crate::keymap::{Command, Key, Keymap};
pub use view::Sort;

use std::collections::HashSet;

use jiff::Timestamp;
use ratatui::crossterm::event::{KeyEvent, MouseEvent};

use crate::connection::ConnState;
use crate::token::TokenReport;
use crate::worker::{ConnectionView, DeviceCodeView, Event, Request};

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// Waiting for a device code (or a browser page), then showing it until the sign-in ends.
    SignIn {
        name: String,
        code: Option<DeviceCodeView>,
        /// What is being pasted back, when the redirect is not on this machine.
        input: PasteField,
    },
    ConfirmPurge {
        name: String,
    },
    Decoded {
        name: String,
        report: Box<TokenReport>,
    },
    /// Every key, from the keymap.
    Help,
}

/// Text pasted into the sign-in popup. It holds an authorization code, so `Debug` shows only
/// its length and the screen a masked form (`ui::popup`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PasteField(pub String);

impl std::fmt::Debug for PasteField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasteField({} chars)", self.0.chars().count())
    }
}

/// Progress of a refresh-all (`R`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    pub total: usize,
    pub failed: usize,
    /// Not finished yet (each ends with its own `Event::Finished`).
    pub pending: HashSet<String>,
}

impl Progress {
    pub fn done(&self) -> usize {
        self.total - self.pending.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub rows: Vec<ConnectionView>,
    /// Indices into `rows` in display order: the filter and the sort applied.
    pub visible: Vec<usize>,
    /// Position in `visible`.
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
    pub keymap: Keymap,
    /// Case-insensitive text matched against name, account, tenant and state.
    pub filter: String,
    /// Keys go into the filter (after `/`, until Enter or Esc).
    pub filtering: bool,
    pub sort: Sort,
    /// The detail pane is open.
    pub detail: bool,
    /// Decoded claims of the connection the detail pane shows.
    pub detail_report: Option<(String, Box<TokenReport>)>,
    /// Lines the detail pane is scrolled down by (reset when the selection changes).
    pub detail_scroll: usize,
    /// Lines the decode popup is scrolled down by.
    pub popup_scroll: usize,
    /// How far each can scroll, as the last frame found (the renderer measures, `update`
    /// clamps; the terminal edge copies it over after each draw).
    pub scroll_limits: ScrollLimits,
    pub refresh_all: Option<Progress>,
    /// Connections in a needs-attention episode, notified once each.
    attention: crate::notify::Episodes,
    /// The selected name while the filter shows nothing.
    anchor: Option<String>,
    /// Terminal size (columns, rows), for paging and mouse hit-testing.
    pub size: (u16, u16),
    /// The pid of the `connwatch watch` keeping this store: it notifies, so we do not.
    pub watched_by: Option<u32>,
}

/// How many lines below the fold the detail pane and the popup hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrollLimits {
    pub detail: usize,
    pub popup: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Worker(Event),
    Tick(Timestamp),
    Resize(u16, u16),
    /// Text the terminal pasted in one piece (bracketed paste).
    Paste(String),
}

pub use crate::notify::Notice;

/// What `update` asks of the outside world.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// The screen must be drawn again.
    pub dirty: bool,
    pub requests: Vec<Request>,
    /// Ring the terminal bell.
    pub bell: bool,
    pub notices: Vec<Notice>,
    /// Put this text on the clipboard (OSC 52).
    pub copy: Option<String>,
    /// Open this page in the system browser.
    pub open: Option<String>,
}

impl Effects {
    fn draw() -> Self {
        Effects {
            dirty: true,
            ..Effects::default()
        }
    }
}

impl State {
    pub fn new(title: impl Into<String>, now: Timestamp) -> Self {
        State {
            rows: Vec::new(),
            visible: Vec::new(),
            selected: 0,
            popup: None,
            now,
            flash: None,
            title: title.into(),
            color: true,
            quit: false,
            keymap: Keymap::default(),
            filter: String::new(),
            filtering: false,
            sort: Sort::Config,
            detail: false,
            detail_report: None,
            detail_scroll: 0,
            popup_scroll: 0,
            scroll_limits: ScrollLimits::default(),
            refresh_all: None,
            attention: crate::notify::Episodes::default(),
            anchor: None,
            size: (120, 30),
            watched_by: None,
        }
    }

    pub fn selected_row(&self) -> Option<&ConnectionView> {
        self.visible.get(self.selected).map(|&i| &self.rows[i])
    }

    /// Select a connection by name (when it is visible).
    pub fn select(&mut self, name: &str) {
        if let Some(p) = self.visible.iter().position(|&i| self.rows[i].name == name) {
            self.selected = p;
        }
    }

    fn busy(&self) -> bool {
        self.refresh_all.is_some() || self.rows.iter().any(|r| r.busy)
    }

    /// How often the screen must change by itself: fast while a spinner turns, once a
    /// second while a countdown is on screen, never otherwise (no fixed-rate redraw).
    pub fn tick_every(&self) -> Option<std::time::Duration> {
        if self.busy() {
            return Some(std::time::Duration::from_millis(125));
        }
        self.counting_down()
            .then_some(std::time::Duration::from_secs(1))
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
                || live(r.sign_in_by)
                || r.busy
        });
        let popup = matches!(&self.popup, Some(Popup::SignIn { code: Some(c), .. }) if live(Some(c.expires_at)));
        rows || popup
    }

    /// Frame of the busy spinner, from the tick's instant.
    pub fn spinner(&self) -> &'static str {
        const FRAMES: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];
        FRAMES[(self.now.subsec_millisecond() / 125) as usize % FRAMES.len()]
    }
}

pub fn update(state: &mut State, action: Action) -> Effects {
    match action {
        Action::Key(key) => keys::on_key(state, key),
        Action::Mouse(m) => keys::on_mouse(state, m),
        Action::Worker(event) => events::on_event(state, event),
        Action::Tick(now) => {
            let changed = now.as_second() != state.now.as_second() || state.busy();
            state.now = now;
            Effects {
                dirty: changed,
                ..Effects::default()
            }
        }
        Action::Resize(w, h) => {
            state.size = (w, h);
            Effects::draw()
        }
        Action::Paste(text) => keys::on_paste(state, &text),
    }
}

#[cfg(test)]
mod tests;
