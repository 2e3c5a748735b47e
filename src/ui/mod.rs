//! Pure rendering: `draw(frame, &State)`. Nothing here mutates state, reads a clock or
//! touches the network, so every screen is a snapshot test away.

pub mod format;
mod popup;
mod table;
mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};

pub use format::{countdown, relative};

use crate::app::State;
use crate::connection::ConnState;

pub fn draw(frame: &mut Frame, state: &State) {
    let [title, body, hint, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(title_line(state), title);
    table::draw(frame, body, state);
    frame.render_widget(hint_line(state), hint);
    frame.render_widget(footer_line(state), footer);
    if let Some(p) = &state.popup {
        popup::draw(frame, body, state, p);
    }
    if !state.color {
        // Keep bold, dim and reverse (the selection stays visible); drop every colour.
        for cell in frame.buffer_mut().content.iter_mut() {
            cell.set_fg(ratatui::style::Color::Reset);
            cell.set_bg(ratatui::style::Color::Reset);
        }
    }
}

fn title_line(state: &State) -> Line<'static> {
    let attention = state
        .rows
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                ConnState::NeedsReauth | ConnState::Misconfigured | ConnState::Disconnected
            )
        })
        .count();
    let mut spans = vec![
        Span::styled(" connwatch ", theme::title()),
        Span::raw(format!(
            " {} · {} connections",
            state.title,
            state.rows.len()
        )),
    ];
    if attention > 0 {
        spans.push(Span::styled(
            format!(" · {attention} need attention"),
            theme::state(ConnState::NeedsReauth),
        ));
    }
    Line::from(spans)
}

/// What to do about the selected connection: the action of its last error.
fn hint_line(state: &State) -> Line<'static> {
    let Some(r) = state.selected_row() else {
        return Line::default();
    };
    match &r.last_error {
        Some(d) => Line::from(vec![
            Span::styled(format!(" {} → ", r.name), theme::state(r.state)),
            Span::raw(d.action.clone()),
        ]),
        None => Line::default(),
    }
}

fn footer_line(state: &State) -> Line<'static> {
    if let Some(msg) = &state.flash {
        return Line::from(Span::styled(format!(" {msg}"), theme::flash()));
    }
    let keys: &[(&str, &str)] = match &state.popup {
        None => crate::app::TABLE_KEYS,
        Some(crate::app::Popup::ConfirmPurge { .. }) => &[("y", "purge"), ("n/Esc", "keep")],
        Some(crate::app::Popup::SignIn { .. }) => &[("Esc", "cancel sign-in")],
        Some(crate::app::Popup::Decoded { .. }) => &[("Esc", "close")],
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled((*k).to_owned(), theme::key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans)
}
