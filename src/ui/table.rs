//! The connections table.
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::{format, theme};
use crate::app::State;
use crate::app::layout;
use crate::connection::ConnState;
use crate::worker::ConnectionView;

/// Columns, most important first; narrow terminals drop from the end of this list.
#[derive(Clone, Copy, PartialEq)]
enum Col {
    Symbol,
    Name,
    State,
    Expires,
    SignIn,
    LastError,
    Account,
    Kind,
}

/// Which columns fit: SIGN IN BY (when there are forecasts) goes first below 140 columns, KIND below 130, ACCOUNT below
/// 90, LAST ERROR below 64.
fn columns(width: u16, forecasts: bool) -> Vec<Col> {
    let mut cols = vec![Col::Symbol, Col::Name];
    if width >= 130 {
        cols.push(Col::Kind);
    }
    if width >= 90 {
        cols.push(Col::Account);
    }
    cols.extend([Col::State, Col::Expires]);
    if width >= 140 && forecasts {
        cols.push(Col::SignIn);
    }
    if width >= 64 {
        cols.push(Col::LastError);
    }
    cols
}

/// Widths that follow the content: NAME and ACCOUNT as wide as their longest value (within
/// bounds), so LAST ERROR — what a failing row is about — gets every column left.
struct Widths {
    name: u16,
    account: u16,
}

impl Widths {
    /// ACCOUNT yields to LAST ERROR on narrower terminals: at most about a third of it.
    fn of(state: &State, width: u16) -> Widths {
        let account_max = usize::from(width / 3).saturating_sub(8).clamp(14, 40);
        let longest = |f: &dyn Fn(&ConnectionView) -> usize, min: usize, max: usize| {
            let n = state.rows.iter().map(f).max().unwrap_or(0).clamp(min, max);
            u16::try_from(n).unwrap_or(u16::MAX)
        };
        Widths {
            name: longest(&|r| r.name.chars().count(), 8, 24),
            account: longest(&|r| account(r).chars().count(), 14, account_max),
        }
    }
}

/// `alice@contoso.com @ fabrikam`: the tenant's short name is enough to see that a calendar
/// lives in another tenant.
fn account(r: &ConnectionView) -> String {
    match (&r.account, &r.realm) {
        (Some(a), Some(t)) => format!("{a} @ {}", crate::forecast::short_realm(Some(t))),
        (Some(a), None) => a.clone(),
        (None, Some(t)) => crate::forecast::short_realm(Some(t)),
        (None, None) => "—".into(),
    }
}

fn header(c: Col) -> &'static str {
    match c {
        Col::Symbol => "",
        Col::Name => "NAME",
        Col::Kind => "KIND",
        Col::Account => "ACCOUNT / TENANT",
        Col::State => "STATE",
        Col::Expires => "EXPIRES",
        Col::SignIn => "SIGN IN BY",
        Col::LastError => "LAST ERROR",
    }
}

fn width(c: Col, w: &Widths) -> Constraint {
    match c {
        Col::Symbol => Constraint::Length(1),
        Col::Name => Constraint::Length(w.name),
        Col::Kind => Constraint::Length(15),
        Col::Account => Constraint::Length(w.account),
        Col::State => Constraint::Length(14),
        Col::Expires => Constraint::Length(10),
        Col::SignIn => Constraint::Length(10),
        Col::LastError => Constraint::Fill(1),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    // The forecast column only when some connection has one (it would be dashes otherwise).
    let forecasts = state.rows.iter().any(|r| r.sign_in_by.is_some());
    let cols = columns(area.width, forecasts);
    let header = Row::new(cols.iter().map(|c| header(*c))).style(theme::header());
    // Virtualised: only the rows that fit are built, so a helpdesk's 10 000 connections cost
    // what a screenful costs. The window ends at the selection when it is below the fold —
    // exactly where ratatui would scroll a fresh TableState.
    let visible = layout::table_rows(area);
    let offset = layout::table_offset(state.selected, visible);
    let rows = state
        .visible
        .iter()
        .skip(offset)
        .take(visible)
        .map(|&i| row(&state.rows[i], state, &cols));
    let widths = Widths::of(state, area.width);
    let table = Table::new(rows, cols.iter().map(|c| width(*c, &widths)))
        .header(header)
        .row_highlight_style(theme::selected())
        .block(Block::new().borders(Borders::TOP | Borders::BOTTOM));
    // A local TableState: the selection lives in `State`; this only tells ratatui.
    let mut ts = TableState::new()
        .with_selected((!state.visible.is_empty()).then_some(state.selected - offset));
    frame.render_stateful_widget(table, area, &mut ts);
    if state.visible.is_empty() {
        let msg = if state.rows.is_empty() {
            "No connections yet: add one to the config (connwatch init writes a template)."
        } else {
            "No connection matches the filter (Esc clears it)."
        };
        let at = Rect {
            y: area.y + 2,
            height: 1,
            ..area
        };
        frame.render_widget(
            Line::from(Span::styled(format!(" {msg}"), theme::dim())),
            at,
        );
    }
}

fn row<'a>(r: &'a ConnectionView, state: &State, cols: &[Col]) -> Row<'a> {
    let style = theme::state(r.state);
    let account = account(r);
    // A spinner only while work is in flight for this row.
    let state_word = if r.busy {
        format!("{} {}", state.spinner(), r.state)
    } else {
        r.state.to_string()
    };
    Row::new(cols.iter().map(|c| match c {
        Col::Symbol => Cell::from(Span::styled(theme::symbol(r.state), style)),
        Col::Name => Cell::from(r.name.as_str()),
        Col::Kind => Cell::from(r.kind.as_str()),
        Col::Account => Cell::from(account.clone()),
        Col::State => Cell::from(Span::styled(state_word.clone(), style)),
        Col::Expires => Cell::from(expiry(r, state)),
        Col::SignIn => Cell::from(sign_in_by(r, state)),
        Col::LastError => Cell::from(last_error(r, state)),
    }))
}

/// A forecast within a week, as a countdown ("overdue" once past); further ones are in the
/// detail pane.
fn sign_in_by(r: &ConnectionView, state: &State) -> Line<'static> {
    const WEEK: i64 = 7 * 86_400;
    match r.sign_in_by {
        Some(at) if at <= state.now => Line::from(Span::styled(
            "overdue",
            theme::state(ConnState::NeedsReauth),
        )),
        Some(at) if at.as_second() - state.now.as_second() <= WEEK => {
            Line::from(format::countdown(at, state.now))
        }
        _ => Line::from(Span::styled("—", theme::dim())),
    }
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
