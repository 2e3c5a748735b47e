//! Colours and symbols. Every state has a symbol and a word, so it reads without colour.
use ratatui::style::{Color, Modifier, Style};

use crate::connection::ConnState;

pub fn symbol(s: ConnState) -> &'static str {
    match s {
        ConnState::Connected => "✓",
        ConnState::Refreshing => "↻",
        ConnState::Authorizing => "…",
        ConnState::Disconnected => "!",
        ConnState::NeedsReauth => "✗",
        ConnState::Blocked => "⊘",
        ConnState::Misconfigured => "⚙",
        ConnState::SignedOut => "○",
    }
}

pub fn state(s: ConnState) -> Style {
    let c = match s {
        ConnState::Connected => Color::Green,
        ConnState::Refreshing | ConnState::Authorizing => Color::Cyan,
        ConnState::Disconnected => Color::Yellow,
        ConnState::NeedsReauth | ConnState::Misconfigured => Color::Red,
        ConnState::Blocked => Color::Magenta,
        ConnState::SignedOut => Color::Gray,
    };
    Style::new().fg(c)
}

pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

pub fn key() -> Style {
    Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan)
}

pub fn flash() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn code() -> Style {
    Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow)
}
