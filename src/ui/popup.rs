//! Popups over the table: sign-in code, purge confirmation, decoded token.
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::{format, theme};
use crate::app::{Popup, State};
use crate::token::{Severity, TokenReport};

/// Draw the popup; returns how far it can scroll (the decoded token's claims can be long).
pub fn draw(frame: &mut Frame, area: Rect, state: &State, popup: &Popup) -> usize {
    let (title, lines, height) = match popup {
        Popup::SignIn { name, code, input } => sign_in(name, code.as_ref(), &input.0, state),
        Popup::ConfirmPurge { name } => (
            format!(" Purge {name}? "),
            vec![
                Line::from(format!("Forget the cached tokens of {name}?")),
                Line::from("Its refresh token is deleted: the next use needs a sign-in."),
                Line::default(),
                Line::from(vec![
                    Span::styled("y", theme::key()),
                    Span::raw(" purge   "),
                    Span::styled("n", theme::key()),
                    Span::raw(" keep"),
                ]),
            ],
            6,
        ),
        Popup::Decoded { name, report } => decoded(name, report, state),
        Popup::Help => help(state),
    };
    let width = if matches!(popup, Popup::Help) { 96 } else { 72 };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(title);
    // The paste-back popup's lines are long and its last ones matter most (the reason a paste
    // was refused, the keys): wrapped here too, so its height fits them exactly.
    let pasting = matches!(popup, Popup::SignIn { code: Some(c), .. } if c.paste.is_some());
    if matches!(popup, Popup::Decoded { .. } | Popup::Help) || pasting {
        // Wrapped here, under the value column, so the scroll range is known exactly.
        let indent = match popup {
            Popup::Help => HELP_LABEL,
            Popup::Decoded { .. } => CLAIM_LABEL + 1,
            _ => 0,
        };
        let inner = usize::from(width.min(area.width).saturating_sub(2)).max(indent + 8);
        let lines: Vec<Line<'static>> = lines
            .into_iter()
            .flat_map(|l| super::wrap::wrap(l, inner, indent))
            .collect();
        let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
        let rect = centered(area, width, height);
        frame.render_widget(Clear, rect);
        let (offset, max, block) =
            super::detail::scrolled(block, lines.len(), rect, state.popup_scroll);
        frame.render_widget(Paragraph::new(lines).block(block).scroll((offset, 0)), rect);
        return max;
    }
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
    0
}

/// The label column of the decoded token's fields.
const CLAIM_LABEL: usize = 10;
/// The key column of the help (the longest default label, "PgDn/Ctrl-D", and a gap).
const HELP_LABEL: usize = 13;

fn sign_in(
    name: &str,
    code: Option<&crate::worker::DeviceCodeView>,
    input: &str,
    state: &State,
) -> (String, Vec<Line<'static>>, u16) {
    let title = format!(" Sign in: {name} ");
    let Some(c) = code else {
        return (
            title,
            vec![Line::from(
                "Asking the identity provider for a device code…",
            )],
            3,
        );
    };
    if let Some(back) = &c.paste {
        // The redirect is not on this machine: the address comes back through this field.
        let mut lines = vec![
            Line::from("Sign in on this page (it was opened in your browser):"),
            Line::from(Span::styled(c.verification_uri.clone(), theme::key())),
            Line::default(),
            Line::from(format!(
                "The browser then goes to {back}, which may not load. Paste the address it ends on (or the code the page shows) and press Enter:"
            )),
            Line::from(vec![
                Span::styled("> ", theme::key()),
                Span::raw(masked_paste(input)),
                Span::styled("█", theme::dim()),
            ]),
        ];
        if let Some(why) = &c.refused {
            lines.push(Line::from(Span::styled(
                format!("Not taken: {why}"),
                theme::state(crate::connection::ConnState::NeedsReauth),
            )));
        }
        lines.push(Line::from(Span::styled(
            format!(
                "Gives up in {}.",
                format::countdown(c.expires_at, state.now)
            ),
            theme::dim(),
        )));
        let height = lines.len() as u16 + 4;
        return (title, lines, height);
    }
    if c.user_code.is_empty() {
        // Browser sign-in: the page carries everything (PKCE, state); nothing to type.
        let lines = vec![
            Line::from("Sign in on this page (it was opened in your browser):"),
            Line::from(Span::styled(c.verification_uri.clone(), theme::key())),
            Line::default(),
            Line::from(Span::styled(
                format!(
                    "Waiting for the browser to come back… gives up in {}",
                    format::countdown(c.expires_at, state.now)
                ),
                theme::dim(),
            )),
        ];
        return (title, lines, 6);
    }
    let lines = vec![
        Line::from("Open this page in a browser:"),
        Line::from(Span::styled(c.verification_uri.clone(), theme::key())),
        Line::default(),
        Line::from("and enter the code:"),
        Line::default(),
        // Large: spaced out and bold, readable across a room or a screen share.
        Line::from(Span::styled(
            format!(
                "      {}      ",
                c.user_code
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            theme::code(),
        )),
        Line::default(),
        Line::default(),
        Line::from(Span::styled(
            format!(
                "Waiting for you… the code expires in {}",
                format::countdown(c.expires_at, state.now)
            ),
            theme::dim(),
        )),
    ];
    (title, lines, 11)
}

/// What was pasted, with the code masked: the address up to `code=`, then only a length (a
/// bare code keeps its first four characters).
fn masked_paste(input: &str) -> String {
    let hidden = |s: &str| format!("•••({} chars)", s.chars().count());
    match input.find("code=") {
        Some(i) => format!("{}code={}", &input[..i], hidden(&input[i + 5..])),
        None if input.contains(['?', '=', ' ']) || input.is_empty() => input.to_owned(),
        None => {
            let head: String = input.chars().take(4).collect();
            format!("{head}{}", hidden(&input[head.len()..]))
        }
    }
}

/// Every command and its keys, from the keymap (so `[keys]` overrides show here too).
fn help(state: &State) -> (String, Vec<Line<'static>>, u16) {
    let m = &state.keymap;
    let mut lines: Vec<Line<'static>> = m
        .bindings()
        .map(|(cmd, _)| {
            Line::from(vec![
                // 13 columns hold the longest default label ("PgDn/Ctrl-D") and leave every
                // description one line at 80 columns.
                Span::styled(format!("{:<HELP_LABEL$}", m.label(cmd)), theme::key()),
                Span::raw(cmd.description()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(format!("{:<HELP_LABEL$}", "Esc"), theme::key()),
        Span::raw("close a popup or the detail pane; clear the filter"),
    ]));
    lines.push(Line::from(vec![
        Span::styled(format!("{:<HELP_LABEL$}", "mouse"), theme::key()),
        Span::raw("click selects a row, the wheel scrolls (the detail pane or popup under it)"),
    ]));
    lines.push(Line::from(Span::styled(
        "Keys can be changed in the config's [keys] table.",
        theme::dim(),
    )));
    let height = lines.len() as u16 + 2;
    (" Keys ".into(), lines, height)
}

fn decoded(name: &str, r: &TokenReport, state: &State) -> (String, Vec<Line<'static>>, u16) {
    let mut lines = Vec::new();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<CLAIM_LABEL$} "), theme::dim()),
            Span::raw(v),
        ])
    };
    lines.push(field("format", format!("{:?}", r.format).to_lowercase()));
    if let Some(a) = &r.audience {
        lines.push(field("audience", a.clone()));
    }
    if let Some(t) = &r.tenant {
        lines.push(field("tenant", t.clone()));
    }
    if !r.scopes.is_empty() {
        lines.push(field("scopes", r.scopes.join(" ")));
    }
    if let Some(t) = r.issued_at {
        lines.push(field(
            "issued",
            format!("{t} ({})", format::relative(t, state.now)),
        ));
    }
    if let Some(t) = r.expires_at {
        lines.push(field(
            "expires",
            format!("{t} ({})", format::relative(t, state.now)),
        ));
    }
    lines.push(Line::default());
    for f in &r.findings {
        let style = match f.severity {
            Severity::Error => theme::state(crate::connection::ConnState::NeedsReauth),
            Severity::Warning => theme::state(crate::connection::ConnState::Disconnected),
            Severity::Info => theme::dim(),
        };
        lines.push(Line::from(Span::styled(format!("• {}", f.message), style)));
    }
    if let Some(claims) = &r.claims {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "claims (signature not checked)",
            theme::header(),
        )));
        if let Some(obj) = claims.as_object() {
            for (k, v) in obj {
                lines.push(field(k, claim_value(k, v, state.now)));
            }
        }
    }
    let height = (lines.len() as u16).saturating_add(2);
    (format!(" Token of {name} "), lines, height)
}

/// A claim's value; the time claims also in human time: `1795548800 (2026-11-24 19:33:20Z,
/// in 5m)`.
pub fn claim_value(key: &str, v: &serde_json::Value, now: jiff::Timestamp) -> String {
    let time = matches!(
        key,
        "exp" | "iat" | "nbf" | "auth_time" | "xms_tcdt" | "updated_at"
    );
    match v.as_i64().filter(|_| time) {
        Some(n) => match jiff::Timestamp::from_second(n) {
            Ok(t) => format!(
                "{n} ({}, {})",
                t.strftime("%Y-%m-%d %H:%M:%SZ"),
                format::relative(t, now)
            ),
            Err(_) => n.to_string(),
        },
        None => match v.as_str() {
            Some(s) => s.to_owned(),
            None => v.to_string(),
        },
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pasted_code_is_masked() {
        let m = super::masked_paste("https://localhost/callback?code=0.AXoAsecret&state=abc");
        assert_eq!(m, "https://localhost/callback?code=•••(22 chars)");
        assert!(!super::masked_paste("4/0AX4XfWsecretcode").contains("secret"));
        assert_eq!(super::masked_paste(""), "");
    }
}
