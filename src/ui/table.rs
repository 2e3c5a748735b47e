//! The connections table.
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::{format, theme};
use crate::app::State;
use crate::connection::ConnState;
use crate::worker::ConnectionView;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let header = Row::new([
        "",
        "NAME",
        "KIND",
        "ACCOUNT / TENANT",
        "STATE",
        "EXPIRES",
        "LAST ERROR",
    ])
    .style(theme::header());
    // Virtualised: only the rows that fit are built, so a helpdesk's 10 000 connections cost
    // what a screenful costs. The window ends at the selection when it is below the fold —
    // exactly where ratatui would scroll a fresh TableState — so behaviour is unchanged.
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = (state.selected + 1).saturating_sub(visible);
    let rows = state
        .rows
        .iter()
        .skip(offset)
        .take(visible)
        .map(|r| row(r, state));
    let widths = [
        Constraint::Length(1),
        Constraint::Length(16),
        Constraint::Length(15),
        Constraint::Fill(2),
        Constraint::Length(13),
        Constraint::Length(10),
        Constraint::Fill(3),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(theme::selected())
        .block(Block::new().borders(Borders::TOP | Borders::BOTTOM));
    // A local TableState: the selection lives in `State`; this only tells ratatui.
    let mut ts = TableState::new()
        .with_selected((!state.rows.is_empty()).then_some(state.selected - offset));
    frame.render_stateful_widget(table, area, &mut ts);
}

fn row<'a>(r: &'a ConnectionView, state: &State) -> Row<'a> {
    let style = theme::state(r.state);
    let account = match (&r.account, &r.realm) {
        // The tenant's short name is enough to see that a calendar lives in another tenant.
        (Some(a), Some(t)) => format!("{a} @ {}", t.trim_end_matches(".onmicrosoft.com")),
        (Some(a), None) => a.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => "—".into(),
    };
    let state_word = if r.busy && r.state != ConnState::Authorizing {
        format!("{}…", r.state)
    } else {
        r.state.to_string()
    };
    Row::new([
        Cell::from(Span::styled(theme::symbol(r.state), style)),
        Cell::from(r.name.as_str()),
        Cell::from(r.kind.as_str()),
        Cell::from(account),
        Cell::from(Span::styled(state_word, style)),
        Cell::from(expiry(r, state)),
        Cell::from(last_error(r, state)),
    ])
}

fn expiry(r: &ConnectionView, state: &State) -> Line<'static> {
    match r.access_expires_at {
        None => Line::from(Span::styled("—", theme::dim())),
        Some(at) => {
            let text = format::countdown(at, state.now);
            let style = if at <= state.now {
                theme::state(ConnState::NeedsReauth)
            } else {
                Default::default()
            };
            Line::from(Span::styled(text, style))
        }
    }
}

fn last_error(r: &ConnectionView, state: &State) -> Line<'static> {
    if let Some(d) = &r.last_error {
        let code = d.code.clone().unwrap_or_else(|| d.cause.to_string());
        let mut spans = vec![
            Span::styled(code, theme::code()),
            Span::raw(format!(" {}", d.summary)),
        ];
        if let Some(at) = r.next_attempt_at.filter(|at| *at > state.now) {
            spans.push(Span::styled(
                format!(" (retry {})", format::relative(at, state.now)),
                theme::dim(),
            ));
        }
        return Line::from(spans);
    }
    match &r.note {
        Some(n) => Line::from(Span::styled(n.clone(), theme::dim())),
        None => Line::default(),
    }
}
