//! Where things go on screen, shared by the renderer and by `update` (mouse clicks and paging
//! must agree with what was drawn).
use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// The detail pane sits beside the table from this width on, below it when narrower.
pub const SIDE_BY_SIDE: u16 = 120;

pub struct Areas {
    pub title: Rect,
    pub table: Rect,
    pub detail: Option<Rect>,
    pub hint: Rect,
    pub footer: Rect,
}

pub fn areas(size: Rect, detail: bool) -> Areas {
    let [title, body, hint, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(size);
    if !detail {
        return Areas {
            title,
            table: body,
            detail: None,
            hint,
            footer,
        };
    }
    let (dir, split) = if size.width >= SIDE_BY_SIDE {
        (
            Direction::Horizontal,
            [Constraint::Percentage(55), Constraint::Percentage(45)],
        )
    } else {
        (
            Direction::Vertical,
            [Constraint::Percentage(40), Constraint::Percentage(60)],
        )
    };
    let parts = Layout::default()
        .direction(dir)
        .constraints(split)
        .split(body);
    Areas {
        title,
        table: parts[0],
        detail: Some(parts[1]),
        hint,
        footer,
    }
}

/// Rows of the table that fit in `table` (top and bottom border, header).
pub fn table_rows(table: Rect) -> usize {
    usize::from(table.height.saturating_sub(3)).max(1)
}

/// The first visible row: the window ends at the selection when it is below the fold.
pub fn table_offset(selected: usize, rows: usize) -> usize {
    (selected + 1).saturating_sub(rows)
}
