//! Pure rendering: `draw(frame, &State)`. Nothing here mutates state, reads a clock or
//! touches the network, so every screen is a snapshot test away.

mod detail;
pub mod format;
mod popup;
mod table;
mod theme;
mod wrap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub use format::{countdown, relative};

use crate::app::State;
use crate::connection::ConnState;

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, state: &State) {
    draw_measured(frame, state);
}

/// Draw the whole screen; returns how far the detail pane and the popup can scroll.
pub fn draw_measured(frame: &mut Frame, state: &State) -> crate::app::ScrollLimits {
    let mut limits = crate::app::ScrollLimits::default();
    let areas = crate::app::layout::areas(frame.area(), state.detail);
    frame.render_widget(title_line(state), areas.title);
    table::draw(frame, areas.table, state);
    if let Some(d) = areas.detail {
        limits.detail = detail::draw(frame, d, state);
    }
    frame.render_widget(hint_line(state), areas.hint);
    frame.render_widget(footer_line(state), areas.footer);
    if let Some(p) = &state.popup {
        let over = Rect {
            height: areas.hint.y.saturating_sub(1),
            y: 1,
            ..frame.area()
        };
        limits.popup = popup::draw(frame, over, state, p);
    }
    if !state.color {
        // Keep bold, dim and reverse (the selection stays visible); drop every colour.
        for cell in frame.buffer_mut().content.iter_mut() {
            cell.set_fg(ratatui::style::Color::Reset);
            cell.set_bg(ratatui::style::Color::Reset);
        }
    }
    limits
}

fn title_line(state: &State) -> Line<'static> {
    let attention = state
        .rows
        .iter()
        .filter(|r| r.state.needs_attention())
        .count();
    let mut spans = vec![
        Span::styled(" connwatch ", theme::title()),
        Span::raw(if state.visible.len() == state.rows.len() {
            format!(" {} · {} connections", state.title, state.rows.len())
        } else {
            format!(
                " {} · {} of {} connections shown",
                state.title,
                state.visible.len(),
                state.rows.len()
            )
        }),
    ];
    if let Some(pid) = state.watched_by {
        spans.push(Span::raw(format!(
            " · watched by connwatch watch (pid {pid})"
        )));
    }
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
        // Someone else must act first: say whom to ask before what they must do.
        Some(d) if r.state == ConnState::Blocked => Line::from(vec![
            Span::styled(
                format!(" {} → ask {}: ", r.name, d.fix_by.who(r.realm.as_deref())),
                theme::state(r.state),
            ),
            Span::raw(d.action.clone()),
        ]),
        Some(d) => Line::from(vec![
            Span::styled(format!(" {} → ", r.name), theme::state(r.state)),
            Span::raw(d.action.clone()),
        ]),
        None => Line::default(),
    }
}

fn footer_line(state: &State) -> Line<'static> {
    use crate::app::{Command, Popup};
    if state.filtering {
        return Line::from(vec![
            Span::styled(" /", theme::key()),
            Span::raw(state.filter.clone()),
            Span::styled("▏", theme::key()),
            Span::styled("   Enter keep  Esc clear", theme::dim()),
        ]);
    }
    if let Some(msg) = &state.flash {
        return Line::from(Span::styled(format!(" {msg}"), theme::flash()));
    }
    let mut spans = vec![Span::raw(" ")];
    if let Some(p) = &state.refresh_all {
        spans.push(Span::styled(
            format!("{} refreshing {}/{} ", state.spinner(), p.done(), p.total),
            theme::key(),
        ));
    }
    if !state.filter.is_empty() {
        spans.push(Span::styled(
            format!("filter: {}  ", state.filter),
            theme::flash(),
        ));
    }
    let fixed = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, w)| ((*k).to_owned(), (*w).to_owned()))
            .collect()
    };
    let keys: Vec<(String, String)> = match &state.popup {
        None => {
            let m = &state.keymap;
            let mut cmds = vec![
                Command::Down,
                Command::Details,
                Command::Refresh,
                Command::SignIn,
            ];
            if state
                .selected_row()
                .is_some_and(|r| r.token_preview.is_some())
            {
                cmds.push(Command::Decode);
            }
            cmds.extend([Command::Filter, Command::Sort, Command::Help, Command::Quit]);
            cmds.into_iter()
                .map(|c| {
                    let label = if c == Command::Down {
                        format!("{}/{}", m.label(Command::Down), m.label(Command::Up))
                    } else {
                        m.label(c)
                    };
                    (label, c.short().to_owned())
                })
                .collect()
        }
        Some(Popup::ConfirmPurge { .. }) => fixed(&[("y", "purge"), ("n/Esc", "keep")]),
        Some(Popup::SignIn { code: Some(c), .. }) if c.paste.is_some() => fixed(&[
            ("Enter", "submit"),
            ("Ctrl-U", "clear"),
            ("Esc", "cancel sign-in"),
        ]),
        Some(Popup::SignIn { code: Some(_), .. }) => {
            fixed(&[("c", "copy"), ("o", "open page"), ("Esc", "cancel sign-in")])
        }
        Some(Popup::SignIn { .. }) => fixed(&[("Esc", "cancel sign-in")]),
        Some(Popup::Decoded { .. }) | Some(Popup::Help) if state.scroll_limits.popup > 0 => {
            fixed(&[
                ("j/k", "scroll"),
                ("PgDn/PgUp", "page"),
                ("g/G", "ends"),
                ("Esc", "close"),
            ])
        }
        Some(Popup::Decoded { .. }) | Some(Popup::Help) => fixed(&[("Esc", "close")]),
    };
    for (k, what) in keys {
        spans.push(Span::styled(k, theme::key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    if state.popup.is_none() && state.sort != crate::app::Sort::Config {
        spans.push(Span::styled(
            format!("sort: {}", state.sort.label()),
            theme::dim(),
        ));
    }
    Line::from(spans)
}
