//! The detail pane: everything about the selected connection, with absolute times.
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::wrap::wrap;
use super::{format, theme};
use crate::app::State;
use crate::connection::ConnState;
use crate::token::{Severity, TokenReport};
use crate::worker::ConnectionView;

const LABEL: usize = 11;

fn abs(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn field(k: &str, v: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{k:<LABEL$}"), theme::dim())];
    spans.extend(v);
    Line::from(spans)
}

fn more(v: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::raw(" ".repeat(LABEL))];
    spans.extend(v);
    Line::from(spans)
}

/// `[██████░░░░]` for the share of a lifetime that is left.
fn gauge(left: f64, width: usize) -> String {
    let filled = ((left.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

/// Draw the pane at its scroll position; returns how far it can scroll (lines below the
/// fold when scrolled to the top), which `update` clamps to.
pub fn draw(frame: &mut Frame, area: Rect, state: &State) -> usize {
    let block = Block::new()
        .borders(Borders::TOP | Borders::BOTTOM | Borders::LEFT)
        .title(" details ");
    let Some(r) = state.selected_row() else {
        frame.render_widget(Paragraph::new("No connection selected.").block(block), area);
        return 0;
    };
    let report = state
        .detail_report
        .as_ref()
        .filter(|(n, _)| *n == r.name)
        .map(|(_, rep)| rep.as_ref());
    let width = usize::from(area.width.saturating_sub(1)).max(LABEL + 8);
    let lines: Vec<Line<'static>> = lines(r, report, state.now)
        .into_iter()
        .flat_map(|l| wrap(l, width, LABEL))
        .collect();
    let (offset, max, block) = scrolled(block, lines.len(), area, state.detail_scroll);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block.title(format!(" {} ", r.name)))
            .scroll((offset, 0)),
        area,
    );
    max
}

/// Where a bordered box of `total` lines shows from, given the asked `scroll`: the offset,
/// the furthest it can go, and the block with a position indicator (`12–23/41 ↕`) on its
/// bottom border when not everything fits.
pub fn scrolled(
    block: Block<'static>,
    total: usize,
    area: Rect,
    scroll: usize,
) -> (u16, usize, Block<'static>) {
    let visible = usize::from(area.height.saturating_sub(2)).max(1);
    let max = total.saturating_sub(visible);
    let offset = scroll.min(max);
    if max == 0 {
        return (0, 0, block);
    }
    let last = (offset + visible).min(total);
    let indicator = Line::from(Span::styled(
        format!(" {}–{last}/{total} ↕ ", offset + 1),
        theme::dim(),
    ))
    .right_aligned();
    (
        u16::try_from(offset).unwrap_or(u16::MAX),
        max,
        block.title_bottom(indicator),
    )
}

fn lines(r: &ConnectionView, report: Option<&TokenReport>, now: Timestamp) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let style = theme::state(r.state);
    let mut state_line = vec![Span::styled(
        format!("{} {}", theme::symbol(r.state), r.state),
        style,
    )];
    if let Some(n) = &r.note {
        state_line.push(Span::raw(format!(" — {n}")));
    } else if let Some(d) = &r.last_error {
        state_line.push(Span::raw(format!(" — {}", d.cause)));
    }
    out.push(field("state", state_line));
    // Not connected: what is wrong, who can fix it and what to do come first, then what the
    // resources answered; the account and the token's lifetimes after.
    let failing = r.state != ConnState::Connected && r.last_error.is_some();
    if failing {
        error(&mut out, r, now);
        probes(&mut out, r, now);
        out.push(Line::default());
    }
    let mut provider = r.provider.as_str().to_owned();
    if let Some(t) = &r.realm {
        provider.push_str(&format!(" · {t}"));
    }
    out.push(field("provider", vec![Span::raw(provider)]));
    if let Some(a) = &r.account {
        out.push(field("account", vec![Span::raw(a.clone())]));
    }
    // Guests: the token's findings name the home tenant.
    if let Some(rep) = report {
        for f in rep.findings.iter().filter(|f| f.kind.as_str() == "guest") {
            out.push(more(vec![Span::styled(f.message.clone(), theme::dim())]));
        }
    }
    out.push(field("asked", vec![Span::raw(r.scopes_asked.join(" "))]));
    if !r.granted_scopes.is_empty() {
        out.push(field(
            "granted",
            vec![Span::raw(r.granted_scopes.join(" "))],
        ));
        let bare = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
        let granted: Vec<String> = r.granted_scopes.iter().map(|s| bare(s)).collect();
        let missing: Vec<String> = r
            .scopes_asked
            .iter()
            .filter(|s| !crate::config::is_protocol_scope(s))
            .filter(|s| !granted.contains(&bare(s)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.push(field(
                "missing",
                vec![Span::styled(
                    missing.join(" "),
                    theme::state(crate::connection::ConnState::NeedsReauth),
                )],
            ));
        }
    }
    out.push(Line::default());
    match (r.access_expires_at, r.obtained_at) {
        (Some(exp), obtained) => {
            let left = if exp > now {
                let total = obtained
                    .map(|o| (exp.as_second() - o.as_second()).max(1))
                    .unwrap_or(3600) as f64;
                (exp.as_second() - now.as_second()) as f64 / total
            } else {
                0.0
            };
            out.push(field(
                "access",
                vec![
                    Span::styled(
                        gauge(left, 16),
                        if exp > now {
                            style
                        } else {
                            theme::state(crate::connection::ConnState::NeedsReauth)
                        },
                    ),
                    Span::raw(format!(" {}", format::countdown(exp, now))),
                ],
            ));
            out.push(more(vec![Span::raw(format!("expires  {}", abs(exp)))]));
            if let Some(o) = obtained {
                out.push(more(vec![Span::raw(format!("obtained {}", abs(o)))]));
            }
        }
        (None, _) => out.push(field(
            "access",
            vec![Span::styled("no token", theme::dim())],
        )),
    }
    out.push(field(
        "refresh",
        vec![if r.has_refresh_token {
            Span::raw("present (its lifetime is the provider's; renewed on use)")
        } else if r.token_preview.is_some() {
            Span::styled(
                "none — the connection ends when the access token expires",
                theme::state(crate::connection::ConnState::Disconnected),
            )
        } else {
            Span::styled("none", theme::dim())
        }],
    ));
    if let Some(by) = r.sign_in_by {
        let style = if by <= now {
            theme::state(ConnState::NeedsReauth)
        } else {
            Style::default()
        };
        out.push(field(
            "sign in by",
            vec![Span::styled(
                format!("{} ({})", abs(by), format::relative(by, now)),
                style,
            )],
        ));
        if let Some(why) = &r.sign_in_by_reason {
            out.push(more(vec![Span::styled(why.clone(), theme::dim())]));
        }
    }
    if let Some(at) = r.next_attempt_at.filter(|at| *at > now) {
        out.push(field(
            "next",
            vec![Span::raw(format!(
                "{} ({})",
                abs(at),
                format::relative(at, now)
            ))],
        ));
    }
    if !failing {
        error(&mut out, r, now);
        probes(&mut out, r, now);
    }
    if !r.history.is_empty() {
        out.push(Line::default());
        for (i, h) in r.history.iter().rev().take(6).enumerate() {
            let line = vec![Span::raw(format!(
                "{} {}",
                h.at.strftime("%m-%d %H:%M:%S"),
                h.what
            ))];
            out.push(if i == 0 {
                field("history", line)
            } else {
                more(line)
            });
        }
    }
    if let Some(rep) = report {
        out.push(Line::default());
        claims(&mut out, rep);
    }
    out
}

/// The last error: code and cause, when, the summary, who can fix it and the action.
fn error(out: &mut Vec<Line<'static>>, r: &ConnectionView, now: Timestamp) {
    let Some(d) = &r.last_error else {
        return;
    };
    out.push(Line::default());
    let code = d.code.clone().unwrap_or_else(|| d.cause.to_string());
    let when = r
        .last_error_at
        .map(|t| format!(" at {} ({})", abs(t), format::relative(t, now)))
        .unwrap_or_default();
    out.push(field(
        "last error",
        vec![
            Span::styled(code, theme::code()),
            Span::raw(format!(" {}{when}", d.cause)),
        ],
    ));
    out.push(more(vec![Span::raw(d.summary.clone())]));
    // The provider's own words, verbatim, beside ours.
    if let Some(w) = d.provider_words() {
        out.push(more(vec![Span::styled(
            format!("provider said: \u{201c}{w}\u{201d}"),
            theme::dim(),
        )]));
    }
    if let Some(u) = &d.error_uri {
        out.push(more(vec![Span::styled(format!("more: {u}"), theme::dim())]));
    }
    out.push(more(vec![Span::styled(
        format!("→ {}", d.action_for(&r.name)),
        theme::flash(),
    )]));
    out.push(field(
        "fix by",
        vec![Span::styled(
            d.fix_by.who(r.realm.as_deref()),
            if d.fix_by.is_someone_else() {
                theme::state(ConnState::Blocked)
            } else {
                Style::default()
            },
        )],
    ));
    if let Some(t) = &d.trace_id {
        out.push(more(vec![Span::styled(
            format!("trace id       {t}"),
            theme::dim(),
        )]));
    }
    if let Some(c) = &d.correlation_id {
        out.push(more(vec![Span::styled(
            format!("correlation id {c}"),
            theme::dim(),
        )]));
    }
}

/// Longest stretch of a refused probe's transcript shown (its end: where it went wrong).
const TRANSCRIPT_LINES: usize = 12;

/// Each probe: URL, accepted or refused, when and how fast; for a refusal the server's code,
/// the summary and the end of the masked transcript.
fn probes(out: &mut Vec<Line<'static>>, r: &ConnectionView, now: Timestamp) {
    if r.probes.is_empty() {
        return;
    }
    out.push(Line::default());
    for (i, p) in r.probes.iter().enumerate() {
        let (verdict, style) = if p.ok {
            (
                "accepted",
                theme::state(crate::connection::ConnState::Connected),
            )
        } else {
            (
                "refused",
                theme::state(crate::connection::ConnState::NeedsReauth),
            )
        };
        let line = vec![
            Span::raw(format!("{} ", p.url)),
            Span::styled(verdict, style),
            Span::styled(
                format!(
                    " {} ms, {}",
                    p.latency_ms,
                    format::relative(p.checked_at, now)
                ),
                theme::dim(),
            ),
        ];
        out.push(if i == 0 {
            field("probes", line)
        } else {
            more(line)
        });
        if let Some(d) = &p.diagnosis {
            // The last error already says it when it is this probe's refusal.
            let said = r
                .last_error
                .as_ref()
                .is_some_and(|e| e.probe.as_deref() == Some(p.url.as_str()));
            if !said {
                let code = d.code.clone().unwrap_or_else(|| d.cause.to_string());
                out.push(more(vec![
                    Span::styled(format!("  {code}"), theme::code()),
                    Span::raw(format!(" {}", d.summary_with_words())),
                ]));
            }
            let skip = p.transcript.len().saturating_sub(TRANSCRIPT_LINES);
            for t in p.transcript.iter().skip(skip) {
                out.push(more(vec![Span::styled(format!("  {t}"), theme::dim())]));
            }
        }
    }
}

fn claims(out: &mut Vec<Line<'static>>, rep: &TokenReport) {
    if let Some(a) = &rep.audience {
        out.push(field("audience", vec![Span::raw(a.clone())]));
    }
    if let Some(t) = &rep.tenant {
        out.push(field("tenant", vec![Span::raw(t.clone())]));
    }
    if !rep.scopes.is_empty() {
        out.push(field("scp", vec![Span::raw(rep.scopes.join(" "))]));
    }
    if let Some(c) = rep.claims.as_ref().and_then(|c| c.as_object()) {
        for k in [
            "upn",
            "preferred_username",
            "email",
            "idp",
            "appid",
            "azp",
            "ver",
        ] {
            if let Some(v) = c.get(k).and_then(|v| v.as_str()) {
                out.push(field(k, vec![Span::raw(v.to_owned())]));
            }
        }
    }
    for f in &rep.findings {
        let style = match f.severity {
            Severity::Error => theme::state(crate::connection::ConnState::NeedsReauth),
            Severity::Warning => theme::state(crate::connection::ConnState::Disconnected),
            Severity::Info => Style::default(),
        };
        out.push(field(
            "finding",
            vec![
                Span::styled(format!("{} ", f.kind.as_str()), style),
                Span::raw(f.message.clone()),
            ],
        ));
    }
}
