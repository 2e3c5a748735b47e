//! `status --prometheus`: text exposition format 0.0.4, for node_exporter's textfile
//! collector (write it to `*.prom` atomically from cron). One series per connection and
//! metric; the state is a labelled gauge with every state present (1 for the current one),
//! so alert rules can match on `state="needs_reauth"` without absent() tricks.
use std::fmt::Write;

use jiff::Timestamp;

use super::ConnectionStatus;
use crate::connection::ConnState;

const STATES: [ConnState; 8] = [
    ConnState::SignedOut,
    ConnState::Authorizing,
    ConnState::Connected,
    ConnState::Refreshing,
    ConnState::Disconnected,
    ConnState::NeedsReauth,
    ConnState::Blocked,
    ConnState::Misconfigured,
];

pub fn render(statuses: &[ConnectionStatus], now: Timestamp) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, rows: &mut dyn Iterator<Item = String>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for r in rows {
                let _ = writeln!(out, "{name}{r}");
            }
        };
    family(
        "connwatch_connection_state",
        "gauge",
        "1 for the connection's current state, 0 for the others.",
        &mut statuses.iter().flat_map(|s| {
            STATES.iter().map(move |st| {
                format!(
                    "{{{},state=\"{}\"}} {}",
                    ident(s),
                    st.as_str(),
                    u8::from(*st == s.state)
                )
            })
        }),
    );
    family(
        "connwatch_connection_info",
        "gauge",
        "Static facts about the connection (always 1).",
        &mut statuses.iter().map(|s| {
            format!(
                "{{{},kind=\"{}\",provider=\"{}\",account=\"{}\",realm=\"{}\"}} 1",
                ident(s),
                s.kind,
                s.provider,
                escape(s.account.as_deref().unwrap_or("")),
                escape(s.realm.as_deref().unwrap_or(""))
            )
        }),
    );
    family(
        "connwatch_access_token_expiry_timestamp_seconds",
        "gauge",
        "When the cached access token expires (Unix time).",
        &mut statuses.iter().filter_map(|s| {
            s.access_expires_at
                .map(|at| format!("{{{}}} {}", ident(s), at.as_second()))
        }),
    );
    family(
        "connwatch_access_token_expires_in_seconds",
        "gauge",
        "Seconds until the cached access token expires, negative once expired, at generation time.",
        &mut statuses.iter().filter_map(|s| {
            s.access_expires_in_s(now)
                .map(|v| format!("{{{}}} {v}", ident(s)))
        }),
    );
    family(
        "connwatch_refresh_token_present",
        "gauge",
        "1 if a refresh token is cached, so the connection can renew itself.",
        &mut statuses
            .iter()
            .filter(|s| s.tokens_obtained_at.is_some())
            .map(|s| format!("{{{}}} {}", ident(s), u8::from(s.has_refresh_token))),
    );
    family(
        "connwatch_tokens_obtained_timestamp_seconds",
        "gauge",
        "When the cached tokens were obtained (sign-in or last refresh; Unix time).",
        &mut statuses.iter().filter_map(|s| {
            s.tokens_obtained_at
                .map(|at| format!("{{{}}} {}", ident(s), at.as_second()))
        }),
    );
    family(
        "connwatch_last_success_timestamp_seconds",
        "gauge",
        "When a sign-in or refresh last succeeded (Unix time).",
        &mut statuses.iter().filter_map(|s| {
            s.last_success
                .map(|at| format!("{{{}}} {}", ident(s), at.as_second()))
        }),
    );
    family(
        "connwatch_failures_total",
        "counter",
        "Failed sign-in and refresh attempts recorded for the connection.",
        &mut statuses
            .iter()
            .map(|s| format!("{{{}}} {}", ident(s), s.failures)),
    );
    family(
        "connwatch_last_error_info",
        "gauge",
        "The last error's cause, provider code and who can fix it (always 1; absent when the last attempt succeeded).",
        &mut statuses.iter().filter_map(|s| {
            s.last_error.as_ref().map(|d| {
                format!(
                    "{{{},cause=\"{}\",code=\"{}\",fix_by=\"{}\"}} 1",
                    ident(s),
                    d.cause,
                    escape(d.code.as_deref().unwrap_or("")),
                    d.fix_by
                )
            })
        }),
    );
    let probes = |value: fn(&crate::probe::ProbeResult) -> String| {
        move |s: &ConnectionStatus| -> Vec<String> {
            s.probes
                .iter()
                .map(|p| format!("{{{},probe=\"{}\"}} {}", ident(s), escape(&p.url), value(p)))
                .collect()
        }
    };
    family(
        "connwatch_probe_success",
        "gauge",
        "1 if the resource accepted the token at the last probe, 0 if it refused it.",
        &mut statuses
            .iter()
            .flat_map(probes(|p| u8::from(p.ok).to_string())),
    );
    family(
        "connwatch_probe_duration_seconds",
        "gauge",
        "How long the last probe took, connect to goodbye.",
        &mut statuses
            .iter()
            .flat_map(probes(|p| format!("{:.3}", p.latency_ms as f64 / 1000.0))),
    );
    family(
        "connwatch_probe_checked_timestamp_seconds",
        "gauge",
        "When the probe last ran (Unix time).",
        &mut statuses
            .iter()
            .flat_map(probes(|p| p.checked_at.as_second().to_string())),
    );
    out
}

fn ident(s: &ConnectionStatus) -> String {
    format!("connection=\"{}\"", escape(&s.name))
}

/// Label values escape backslash, double quote and newline (exposition format 0.0.4), after
/// every other control character of outside text is defused (crate::sanitize): metrics are
/// read in terminals too.
fn escape(v: &str) -> String {
    crate::sanitize::text(v)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
