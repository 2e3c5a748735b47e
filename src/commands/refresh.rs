//! `connwatch refresh NAME… | --all`: refresh now, through the worker (under each
//! connection's lock, with its status record updated). One line per connection: successes on
//! stdout, failures on stderr; exit 1 if any failed.
use std::process::ExitCode;

use super::exit::{CommandError, INTERRUPTED};
use super::oneshot::{self, Pending};
use super::runtime;
use crate::cli::Cli;
use crate::clock::{Clock, SystemClock};
use crate::worker::{Finish, Request};

pub fn run(cli: &Cli, names: &[String], all: bool) -> Result<ExitCode, CommandError> {
    if names.is_empty() && !all {
        return Err(CommandError::Usage(
            "name the connections to refresh, or pass --all".into(),
        ));
    }
    let scope = oneshot::scope(cli, names, all)?;
    if scope.config.connections.is_empty() {
        return Err(CommandError::Failed(format!(
            "no connections in {}",
            scope.config.path.display()
        )));
    }
    runtime()?.block_on(async {
        let mut handle = oneshot::spawn(&scope);
        let views = oneshot::initial_views(&mut handle, scope.config.connections.len()).await;
        let mut failed = 0usize;
        let mut pending = Pending::new(views.clone());
        for c in &scope.config.connections {
            match views.get(&c.name) {
                Some(v) if v.token_preview.is_some() => pending.send(
                    &mut handle,
                    Request::Refresh {
                        name: c.name.clone(),
                    },
                ),
                Some(v) => {
                    failed += 1;
                    let why = v.note.as_deref().unwrap_or("not signed in");
                    eprintln!("{}: {why}; run: connwatch login {}", c.name, c.name);
                }
                None => failed += 1,
            }
        }
        while !pending.is_empty() {
            let event = tokio::select! {
                e = handle.events.recv() => e,
                _ = tokio::signal::ctrl_c() => {
                    // Refreshes already sent must still save what they get back: a rotating
                    // provider has spent the old refresh token. The worker waits for them.
                    eprintln!("connwatch: interrupted; letting refreshes in flight save their tokens");
                    oneshot::finish(handle, 0).await;
                    return Ok(ExitCode::from(INTERRUPTED));
                }
            };
            let Some(event) = event else { break };
            let Some((v, outcome)) = pending.finished(&event) else {
                continue;
            };
            match outcome {
                // The provider's refusal, or a resource refusing the new token.
                Finish::Failed(d) => {
                    failed += 1;
                    eprintln!("{}", oneshot::failure_line(&v.name, &d));
                }
                Finish::NotStarted | Finish::Superseded => {
                    failed += 1;
                    eprintln!(
                        "{}: not refreshed (another request on it was running)",
                        v.name
                    );
                }
                Finish::Renewed | Finish::Probed | Finish::Purged => {
                    let what = v
                        .history
                        .last()
                        .map_or("refreshed", |h| h.what.as_str());
                    println!(
                        "{}: {what}; {}",
                        v.name,
                        oneshot::expiry_phrase(&v, SystemClock.now())
                    );
                }
            }
        }
        Ok(oneshot::finish(handle, failed).await)
    })
}
