//! Keys of the dashboard. Each binding has a description: the footer is built from it.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Effects, Popup, State};
use crate::worker::Request;

/// (keys, what it does) for the footer, in the table context.
pub const TABLE_KEYS: &[(&str, &str)] = &[
    ("↑↓/jk", "select"),
    ("r", "refresh"),
    ("a", "re-authorize"),
    ("d", "decode"),
    ("p", "purge"),
    ("q", "quit"),
];

pub(super) fn on_key(state: &mut State, key: KeyEvent) -> Effects {
    let mut fx = Effects {
        dirty: true,
        requests: vec![],
    };
    if key.kind == KeyEventKind::Release {
        fx.dirty = false;
        return fx;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        state.quit = true;
        return fx;
    }
    if let Some(popup) = state.popup.clone() {
        on_popup_key(state, popup, key.code, &mut fx);
        return fx;
    }
    state.flash = None;
    let name = state.selected_row().map(|r| r.name.clone());
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => state.quit = true,
        KeyCode::Down | KeyCode::Char('j') => {
            state.selected = (state.selected + 1).min(state.rows.len().saturating_sub(1));
        }
        KeyCode::Up | KeyCode::Char('k') => state.selected = state.selected.saturating_sub(1),
        KeyCode::Char('r') => {
            if let Some(name) = name {
                fx.requests.push(Request::Refresh { name });
            }
        }
        KeyCode::Char('a') => {
            if let Some(name) = name {
                fx.requests.push(Request::SignIn { name: name.clone() });
                state.popup = Some(Popup::SignIn { name, code: None });
            }
        }
        KeyCode::Char('p') => {
            if let Some(name) = name {
                state.popup = Some(Popup::ConfirmPurge { name });
            }
        }
        KeyCode::Char('d') => match state.selected_row() {
            Some(r) if r.token_preview.is_some() => fx.requests.push(Request::Decode {
                name: r.name.clone(),
            }),
            Some(r) => state.flash = Some(format!("{}: no token to decode", r.name)),
            None => {}
        },
        _ => fx.dirty = false,
    }
    fx
}

fn on_popup_key(state: &mut State, popup: Popup, code: KeyCode, fx: &mut Effects) {
    match (popup, code) {
        (Popup::ConfirmPurge { name }, KeyCode::Char('y' | 'Y')) => {
            fx.requests.push(Request::Purge { name: name.clone() });
            state.flash = Some(format!("{name}: tokens purged"));
            state.popup = None;
        }
        (Popup::ConfirmPurge { .. }, KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc) => {
            state.popup = None
        }
        (Popup::SignIn { name, .. }, KeyCode::Esc | KeyCode::Char('q')) => {
            fx.requests
                .push(Request::CancelSignIn { name: name.clone() });
            state.flash = Some(format!("{name}: sign-in cancelled"));
            state.popup = None;
        }
        (Popup::Decoded { .. }, KeyCode::Esc | KeyCode::Char('q' | 'd') | KeyCode::Enter) => {
            state.popup = None
        }
        _ => fx.dirty = false,
    }
}
