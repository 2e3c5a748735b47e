//! `connwatch probe [NAME…] [--json]`: ask each resource now whether it takes the connection's
//! token — refreshing first when the token is due — through the worker, so results land in
//! the status records like the dashboard's. One line per probe; exit 0 when every probe
//! accepted, 1 when any refused (or nothing could be probed).
use std::process::ExitCode;

use jiff::Timestamp;
use serde_json::json;

use super::exit::{CommandError, INTERRUPTED};
use super::oneshot::{self, Pending};
use super::runtime;
use crate::cli::Cli;
use crate::probe::ProbeResult;
use crate::worker::{ConnectionView, Finish, Request};

pub fn run(cli: &Cli, names: &[String], json: bool) -> Result<ExitCode, CommandError> {
    let scope = oneshot::scope(cli, names, names.is_empty())?;
    if scope.config.connections.is_empty() {
        return Err(CommandError::Failed(format!(
            "no connections in {}",
            scope.config.path.display()
        )));
    }
    let started = Timestamp::now();
    runtime()?.block_on(async {
        let mut handle = oneshot::spawn(&scope);
        let views = oneshot::initial_views(&mut handle, scope.config.connections.len()).await;
        let mut failed = 0usize;
        let mut pending = Pending::new(views.clone());
        let mut done: Vec<(ConnectionView, Finish)> = Vec::new();
        for c in &scope.config.connections {
            let Some(v) = views.get(&c.name) else {
                failed += 1;
                continue;
            };
            if crate::provider::probe_targets(c).is_empty() {
                failed += 1;
                eprintln!(
                    "{}: nothing to probe; add probe = \"imaps://…\" (or an https:// URL) to the connection",
                    c.name
                );
            } else if v.token_preview.is_none() {
                failed += 1;
                let why = v.note.as_deref().unwrap_or("not signed in");
                eprintln!("{}: {why}; run: connwatch login {}", c.name, c.name);
            } else {
                pending.send(
                    &mut handle,
                    Request::Probe {
                        name: c.name.clone(),
                    },
                );
            }
        }
        while !pending.is_empty() {
            let event = tokio::select! {
                e = handle.events.recv() => e,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("connwatch: interrupted; letting work in flight save what it has");
                    oneshot::finish(handle, 0).await;
                    return Ok(ExitCode::from(INTERRUPTED));
                }
            };
            let Some(event) = event else { break };
            if let Some(finished) = pending.finished(&event) {
                done.push(finished);
            }
        }
        // In config order, whatever order the probes finished in.
        let order = |name: &str| {
            scope
                .config
                .connections
                .iter()
                .position(|c| c.name == name)
                .unwrap_or(usize::MAX)
        };
        done.sort_by_key(|(v, _)| order(&v.name));
        let mut rows = Vec::new();
        for (v, outcome) in &done {
            let fresh: Vec<&ProbeResult> = v.probes.iter().filter(|p| p.checked_at >= started).collect();
            if fresh.is_empty() {
                // The refresh before the probe failed: that is the answer.
                failed += 1;
                match (outcome, &v.last_error) {
                    (Finish::Failed(d), _) => eprintln!("{}", oneshot::failure_line(&v.name, d)),
                    // Not probed: an expired access token with nothing to renew it says
                    // nothing about the resource; why it cannot be used is the answer
                    // (missing_offline_access), not a server's 535.
                    (_, Some(d)) => eprintln!("{}", oneshot::failure_line(&v.name, d)),
                    _ => eprintln!("{}: no probe ran", v.name),
                }
                continue;
            }
            for p in fresh {
                if !p.ok {
                    failed += 1;
                }
                rows.push((v.name.clone(), p.clone()));
            }
        }
        if json {
            let probes: Vec<_> = rows
                .iter()
                .map(|(name, p)| {
                    json!({
                        "connection": name,
                        "url": p.url,
                        "ok": p.ok,
                        "checked_at": p.checked_at,
                        "latency_ms": p.latency_ms,
                        "diagnosis": p.diagnosis,
                        "transcript": p.transcript,
                    })
                })
                .collect();
            let doc = json!({ "version": 1, "probes": probes });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            for (name, p) in &rows {
                println!("{}", line(name, p));
            }
        }
        Ok(oneshot::finish(handle, failed).await)
    })
}

/// `work-mail  imaps://…  accepted  38 ms`, or refused with the server's code, the summary
/// and the fix.
pub fn line(name: &str, p: &ProbeResult) -> String {
    crate::sanitize::line(&raw_line(name, p)).into_owned()
}

fn raw_line(name: &str, p: &ProbeResult) -> String {
    match &p.diagnosis {
        None => format!("{name}  {}  accepted  {} ms", p.url, p.latency_ms),
        Some(d) => {
            let code = d.code.as_deref().unwrap_or(d.cause.as_str());
            format!(
                "{name}  {}  refused  {} ms  {code}: {} {}",
                p.url,
                p.latency_ms,
                d.summary_with_words(),
                d.action_for(name)
            )
        }
    }
}
