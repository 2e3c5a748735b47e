//! `status` for people: a compact table, then one line per failing connection saying what
//! happened and what to do. Plain text (it is often piped or read over ssh).
use jiff::Timestamp;

use super::ConnectionStatus;
use crate::ui::format;

pub fn render(statuses: &[ConnectionStatus], now: Timestamp) -> String {
    let header = ["NAME", "KIND", "STATE", "EXPIRES", "RT", "LAST ERROR"];
    // Every cell and note is one line of defused text (crate::sanitize): a provider's code
    // with a newline once forged a row.
    let statuses: Vec<ConnectionStatus> = statuses.iter().map(|s| s.for_display()).collect();
    let rows: Vec<[String; 6]> = statuses
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.kind.to_owned(),
                s.state.to_string(),
                s.access_expires_at
                    .map_or_else(|| "-".into(), |at| format::countdown(at, now)),
                if s.tokens_obtained_at.is_none() {
                    "-".into()
                } else if s.has_refresh_token {
                    "yes".into()
                } else {
                    "no".into()
                },
                match (&s.last_error, s.last_error_at) {
                    (Some(d), at) => {
                        let code = d
                            .code
                            .as_deref()
                            .filter(|c| *c != d.cause.as_str())
                            .map(|c| format!(" {c}"))
                            .unwrap_or_default();
                        let when = at
                            .map(|at| format!(" ({})", format::relative(at, now)))
                            .unwrap_or_default();
                        format!("{}{code}{when}", d.cause)
                    }
                    (None, _) => "-".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for r in &rows {
        line(&r.each_ref().map(String::as_str));
    }
    let notes: Vec<String> = statuses
        .iter()
        .filter_map(|s| match &s.last_error {
            Some(d) if s.state != crate::connection::ConnState::Connected || d.needs_reauth => {
                Some(format!(
                    "{}: {} {}",
                    s.name,
                    d.summary_with_words(),
                    d.action_for(&s.name)
                ))
            }
            _ => s
                .note
                .as_ref()
                .filter(|_| s.state != crate::connection::ConnState::Connected)
                .map(|n| format!("{}: {n}", s.name)),
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}
