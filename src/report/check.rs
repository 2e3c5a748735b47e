//! `check`: the monitoring-plugin convention (Nagios, Icinga, Sensu): one line
//! `CONNWATCH <LEVEL> - <summary> | <perfdata>` and the exit code 0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN.
use std::time::Duration;

use jiff::Timestamp;

use super::ConnectionStatus;
use crate::connection::ConnState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    /// Ranks above WARNING: we could not look, so it may be worse.
    Unknown,
    Critical,
}

impl Level {
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

/// One connection's level and, unless OK, the reason in a few words.
pub fn judge(s: &ConnectionStatus, now: Timestamp, warn: Duration) -> (Level, Option<String>) {
    let code = s
        .last_error
        .as_ref()
        .map(|d| d.code.clone().unwrap_or_else(|| d.cause.to_string()));
    let with_code = |what: &str| match &code {
        Some(c) => format!("{} {what} ({c})", s.name),
        None => format!("{} {what}", s.name),
    };
    if s.unreadable {
        return (
            Level::Unknown,
            Some(format!("{} token file unreadable", s.name)),
        );
    }
    match s.state {
        ConnState::NeedsReauth => return (Level::Critical, Some(with_code("needs_reauth"))),
        ConnState::Misconfigured => return (Level::Critical, Some(with_code("misconfigured"))),
        ConnState::Blocked => return (Level::Critical, Some(with_code("blocked"))),
        ConnState::SignedOut => {
            return (Level::Critical, Some(format!("{} not signed in", s.name)));
        }
        ConnState::Disconnected => return (Level::Warning, Some(with_code("disconnected"))),
        ConnState::Connected | ConnState::Refreshing | ConnState::Authorizing => {}
    }
    let left = s.access_expires_in_s(now);
    let warn_s = i64::try_from(warn.as_secs()).unwrap_or(i64::MAX);
    if !s.has_refresh_token && left.is_some_and(|l| l <= warn_s) {
        let left = left.unwrap_or(0);
        let what = if left <= 0 {
            "expired without a refresh token".to_owned()
        } else {
            format!("expires in {left}s without a refresh token")
        };
        return (Level::Warning, Some(format!("{} {what}", s.name)));
    }
    // A transient failure while the access token still works: it may not for long.
    if let Some(d) = s.last_error.as_ref().filter(|d| d.retryable) {
        let what = match &d.probe {
            Some(url) => format!("probe of {url} failing"),
            None => "failing to refresh".to_owned(),
        };
        return (Level::Warning, Some(with_code(&what)));
    }
    // The forecast: a forced sign-in due within the window.
    if let Some(by) = s.sign_in_by
        && by.as_second() - now.as_second() <= warn_s
    {
        let when = by.strftime("%Y-%m-%d %H:%M:%SZ");
        let why = s
            .sign_in_by_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return (
            Level::Warning,
            Some(format!("{} needs a sign-in by {when}{why}", s.name)),
        );
    }
    (Level::Ok, None)
}

/// The overall level and the plugin's output line.
pub fn evaluate(statuses: &[ConnectionStatus], now: Timestamp, warn: Duration) -> (Level, String) {
    let judged: Vec<(Level, Option<String>)> =
        statuses.iter().map(|s| judge(s, now, warn)).collect();
    let level = judged.iter().map(|(l, _)| *l).max().unwrap_or(Level::Ok);
    let ok = judged.iter().filter(|(l, _)| *l == Level::Ok).count();
    let mut problems: Vec<&(Level, Option<String>)> =
        judged.iter().filter(|(l, _)| *l != Level::Ok).collect();
    problems.sort_by_key(|p| std::cmp::Reverse(p.0));
    let summary = if statuses.is_empty() {
        "no connections configured".to_owned()
    } else if problems.is_empty() {
        format!("{ok} of {} connections OK", statuses.len())
    } else {
        let list: Vec<&str> = problems.iter().filter_map(|(_, r)| r.as_deref()).collect();
        format!("{}; {ok} OK", list.join(", "))
    };
    // Outside text (codes, reasons) in the plugin's line: no control, no newline, no `|`
    // (which would start forged perfdata).
    let summary = crate::sanitize::plugin_text(&summary);
    (
        level,
        format!(
            "CONNWATCH {} - {summary} | {}",
            level.as_str(),
            perfdata(statuses, now)
        ),
    )
}

/// Counts per state (with min 0 and max the number of connections), then each connection's
/// access-token lifetime left.
fn perfdata(statuses: &[ConnectionStatus], now: Timestamp) -> String {
    let n = statuses.len();
    let count = |st: ConnState| statuses.iter().filter(|s| s.state == st).count();
    let mut parts: Vec<String> = [
        ConnState::Connected,
        ConnState::Disconnected,
        ConnState::NeedsReauth,
        ConnState::Blocked,
        ConnState::SignedOut,
        ConnState::Misconfigured,
    ]
    .iter()
    .map(|st| format!("{}={};;;0;{n}", st.as_str(), count(*st)))
    .collect();
    for s in statuses {
        if let Some(left) = s.access_expires_in_s(now) {
            // No thresholds: with a refresh token an expiring access token is normal.
            parts.push(format!("'{}_expires_in'={left}s", s.name));
        }
    }
    parts.join(" ")
}
