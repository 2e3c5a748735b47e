//! Keys and the mouse. Table keys go through the keymap; popups and the filter line have
//! their own few fixed keys, shown in the footer.
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::{Command, Effects, Popup, Progress, State, layout, view};
use crate::worker::Request;

pub(super) fn on_key(state: &mut State, key: KeyEvent) -> Effects {
    let mut fx = Effects::draw();
    if key.kind == KeyEventKind::Release {
        fx.dirty = false;
        return fx;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        state.quit = true;
        return fx;
    }
    if state.filtering {
        on_filter_key(state, key.code);
        return fx;
    }
    if let Some(Popup::SignIn {
        code: Some(c),
        name,
        ..
    }) = &state.popup
        && c.paste.is_some()
    {
        let name = name.clone();
        on_paste_key(state, name, key, &mut fx);
        return fx;
    }
    if let Some(popup) = state.popup.clone() {
        on_popup_key(state, popup, key.code, &mut fx);
        return fx;
    }
    state.flash = None;
    if key.code == KeyCode::Esc {
        // Esc steps back: the detail pane, then the filter. It never quits.
        if state.detail {
            state.detail = false;
            state.detail_report = None;
        } else if !state.filter.is_empty() {
            state.filter.clear();
            view::refresh(state);
        } else {
            fx.dirty = false;
        }
        return fx;
    }
    match state.keymap.command(&key) {
        Some(cmd) => run(state, cmd, &mut fx),
        None => fx.dirty = false,
    }
    fx
}

fn page(state: &State) -> usize {
    let size = Rect::new(0, 0, state.size.0, state.size.1);
    layout::table_rows(layout::areas(size, state.detail).table)
}

fn run(state: &mut State, cmd: Command, fx: &mut Effects) {
    let last = state.visible.len().saturating_sub(1);
    let name = state.selected_row().map(|r| r.name.clone());
    match cmd {
        Command::Down => move_to(state, (state.selected + 1).min(last), fx),
        Command::Up => move_to(state, state.selected.saturating_sub(1), fx),
        Command::Top => move_to(state, 0, fx),
        Command::Bottom => move_to(state, last, fx),
        Command::PageDown => move_to(state, (state.selected + page(state)).min(last), fx),
        Command::PageUp => move_to(state, state.selected.saturating_sub(page(state)), fx),
        Command::Details => {
            state.detail = !state.detail;
            state.detail_report = None;
            state.detail_scroll = 0;
            if state.detail {
                decode_selected(state, fx);
            }
        }
        Command::ScrollDown | Command::ScrollUp if state.detail => {
            let by = if cmd == Command::ScrollDown { 1 } else { -1 };
            scroll_detail(state, by, fx);
        }
        Command::ScrollDown | Command::ScrollUp => fx.dirty = false,
        Command::Refresh => {
            if let Some(name) = name {
                fx.requests.push(Request::Refresh { name });
            }
        }
        Command::Probe => {
            if let Some(name) = name {
                fx.requests.push(Request::Probe { name });
            }
        }
        Command::RefreshAll => {
            let pending: std::collections::HashSet<String> = state
                .rows
                .iter()
                .filter(|r| r.token_preview.is_some() && !r.busy)
                .map(|r| r.name.clone())
                .collect();
            if pending.is_empty() {
                state.flash = Some("nothing to refresh: no connection has tokens".into());
            } else {
                state.refresh_all = Some(Progress {
                    total: pending.len(),
                    pending,
                    ..Progress::default()
                });
                fx.requests.push(Request::RefreshAll);
            }
        }
        Command::SignIn | Command::SignInBrowser => {
            if let Some(name) = name {
                fx.requests.push(if cmd == Command::SignIn {
                    Request::SignIn { name: name.clone() }
                } else {
                    Request::SignInBrowser { name: name.clone() }
                });
                state.popup = Some(Popup::SignIn {
                    name,
                    code: None,
                    input: super::PasteField::default(),
                });
            }
        }
        Command::Purge => {
            if let Some(name) = name {
                state.popup = Some(Popup::ConfirmPurge { name });
            }
        }
        Command::Decode => match state.selected_row() {
            Some(r) if r.token_preview.is_some() => fx.requests.push(Request::Decode {
                name: r.name.clone(),
            }),
            Some(r) => state.flash = Some(format!("{}: no token to decode", r.name)),
            None => {}
        },
        Command::Filter => state.filtering = true,
        Command::Sort => {
            state.sort = state.sort.next();
            view::refresh(state);
            state.flash = Some(format!("sorted by {}", state.sort.label()));
        }
        Command::Help => {
            state.popup = Some(Popup::Help);
            state.popup_scroll = 0;
        }
        Command::Quit => state.quit = true,
    }
}

fn move_to(state: &mut State, to: usize, fx: &mut Effects) {
    if to == state.selected {
        fx.dirty = false;
        return;
    }
    state.selected = to;
    state.detail_scroll = 0;
    if state.detail {
        state.detail_report = None;
        decode_selected(state, fx);
    }
}

/// Move the pane `by` lines, within what the last frame measured.
fn scroll_detail(state: &mut State, by: isize, fx: &mut Effects) {
    let to = state
        .detail_scroll
        .saturating_add_signed(by)
        .min(state.scroll_limits.detail);
    fx.dirty = to != state.detail_scroll;
    state.detail_scroll = to;
}

/// The decode popup: `by` lines, or to an end.
fn scroll_popup(state: &mut State, to: Scroll, fx: &mut Effects) {
    let max = state.scroll_limits.popup;
    let at = match to {
        Scroll::By(by) => state.popup_scroll.saturating_add_signed(by).min(max),
        Scroll::Top => 0,
        Scroll::Bottom => max,
    };
    fx.dirty = at != state.popup_scroll;
    state.popup_scroll = at;
}

enum Scroll {
    By(isize),
    Top,
    Bottom,
}

fn decode_selected(state: &State, fx: &mut Effects) {
    if let Some(r) = state.selected_row().filter(|r| r.token_preview.is_some()) {
        fx.requests.push(Request::Decode {
            name: r.name.clone(),
        });
    }
}

/// The sign-in popup's text field, while the address the browser ended on is pasted back:
/// characters go in, Backspace and Ctrl-U take them out, Enter hands the text to the worker
/// (which checks it and either finishes or says why not), Esc cancels the sign-in.
fn on_paste_key(state: &mut State, name: String, key: KeyEvent, fx: &mut Effects) {
    let Some(Popup::SignIn { input, .. }) = &mut state.popup else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            fx.requests
                .push(Request::CancelSignIn { name: name.clone() });
            state.flash = Some(format!("{name}: sign-in cancelled"));
            state.popup = None;
        }
        KeyCode::Enter if input.0.trim().is_empty() => fx.dirty = false,
        KeyCode::Enter => {
            let text = std::mem::take(&mut input.0);
            fx.requests.push(Request::Pasted {
                name: name.clone(),
                text: crate::secret::Secret::new(text),
            });
            state.flash = Some(format!("{name}: checking the pasted address…"));
        }
        KeyCode::Backspace => {
            input.0.pop();
        }
        KeyCode::Char('u') if ctrl => input.0.clear(),
        KeyCode::Char(c) if !ctrl => input.0.push(c),
        _ => fx.dirty = false,
    }
}

/// Bracketed paste: into the sign-in popup's field when it has one (line breaks dropped, so a
/// pasted trailing newline does not submit half an address), else nowhere.
pub(super) fn on_paste(state: &mut State, text: &str) -> Effects {
    let mut fx = Effects::draw();
    match &mut state.popup {
        Some(Popup::SignIn {
            code: Some(c),
            input,
            ..
        }) if c.paste.is_some() => {
            input.0.extend(text.chars().filter(|c| !c.is_control()));
        }
        _ if state.filtering => {
            state
                .filter
                .extend(text.chars().filter(|c| !c.is_control()));
            view::refresh(state);
        }
        _ => fx.dirty = false,
    }
    fx
}

fn on_filter_key(state: &mut State, code: KeyCode) {
    match code {
        KeyCode::Enter => state.filtering = false,
        KeyCode::Esc => {
            state.filtering = false;
            state.filter.clear();
        }
        KeyCode::Backspace => {
            state.filter.pop();
        }
        KeyCode::Char(c) => state.filter.push(c),
        _ => return,
    }
    view::refresh(state);
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
        (Popup::SignIn { code: Some(c), .. }, KeyCode::Char('c')) => {
            let text = if c.user_code.is_empty() {
                c.verification_uri.clone()
            } else {
                c.user_code.clone()
            };
            state.flash = Some(format!(
                "copied {} to the clipboard",
                if c.user_code.is_empty() {
                    "the page address"
                } else {
                    "the code"
                }
            ));
            fx.copy = Some(text);
        }
        (Popup::SignIn { code: Some(c), .. }, KeyCode::Char('o')) => {
            fx.open = Some(c.verification_uri.clone());
            state.flash = Some("opening the page in your browser".into());
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
        (Popup::Decoded { .. } | Popup::Help, KeyCode::Char('j' | 'J') | KeyCode::Down) => {
            scroll_popup(state, Scroll::By(1), fx);
        }
        (Popup::Decoded { .. } | Popup::Help, KeyCode::Char('k' | 'K') | KeyCode::Up) => {
            scroll_popup(state, Scroll::By(-1), fx);
        }
        (Popup::Decoded { .. } | Popup::Help, KeyCode::PageDown | KeyCode::Char(' ')) => {
            scroll_popup(state, Scroll::By(POPUP_PAGE), fx);
        }
        (Popup::Decoded { .. } | Popup::Help, KeyCode::PageUp) => {
            scroll_popup(state, Scroll::By(-POPUP_PAGE), fx);
        }
        (Popup::Decoded { .. } | Popup::Help, KeyCode::Char('g') | KeyCode::Home) => {
            scroll_popup(state, Scroll::Top, fx);
        }
        (Popup::Decoded { .. } | Popup::Help, KeyCode::Char('G') | KeyCode::End) => {
            scroll_popup(state, Scroll::Bottom, fx);
        }
        (Popup::Help, KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter) => {
            state.popup = None
        }
        _ => fx.dirty = false,
    }
}

/// Lines a PgDn/PgUp moves the decode popup.
const POPUP_PAGE: isize = 10;
/// Lines one notch of the wheel scrolls a pane or popup.
const WHEEL: isize = 3;

pub(super) fn on_mouse(state: &mut State, m: MouseEvent) -> Effects {
    let mut fx = Effects::draw();
    let wheel = match m.kind {
        MouseEventKind::ScrollDown => Some(WHEEL),
        MouseEventKind::ScrollUp => Some(-WHEEL),
        _ => None,
    };
    if let (Some(Popup::Decoded { .. } | Popup::Help), Some(by)) = (&state.popup, wheel) {
        scroll_popup(state, Scroll::By(by), &mut fx);
        return fx;
    }
    if state.popup.is_some() || state.filtering {
        fx.dirty = false;
        return fx;
    }
    // The wheel over the detail pane scrolls it; over the table it moves the selection.
    let size = Rect::new(0, 0, state.size.0, state.size.1);
    if let (Some(pane), Some(by)) = (layout::areas(size, state.detail).detail, wheel)
        && pane.contains(ratatui::layout::Position::new(m.column, m.row))
    {
        scroll_detail(state, by, &mut fx);
        return fx;
    }
    let last = state.visible.len().saturating_sub(1);
    match m.kind {
        MouseEventKind::ScrollDown => move_to(state, (state.selected + 1).min(last), &mut fx),
        MouseEventKind::ScrollUp => move_to(state, state.selected.saturating_sub(1), &mut fx),
        MouseEventKind::Down(MouseButton::Left) => {
            let size = Rect::new(0, 0, state.size.0, state.size.1);
            let table = layout::areas(size, state.detail).table;
            let rows = layout::table_rows(table);
            // Rows start below the top border and the header.
            let first = table.y + 2;
            let inside = m.column >= table.x && m.column < table.x + table.width;
            if inside && m.row >= first && usize::from(m.row - first) < rows {
                let offset = layout::table_offset(state.selected, rows);
                let at = offset + usize::from(m.row - first);
                if at <= last {
                    move_to(state, at, &mut fx);
                    return fx;
                }
            }
            fx.dirty = false;
        }
        _ => fx.dirty = false,
    }
    fx
}
