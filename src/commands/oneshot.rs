//! The dashboard's actions without the dashboard: `refresh`, `login` and `purge` run the same
//! worker the dashboard runs (same locks, same state machine, same status records), only
//! without automatic refreshes, and stop once the requested work is done.
use std::collections::HashMap;

use super::exit::CommandError;
use super::load_config;
use crate::cli::Cli;
use crate::config::{Config, Connection};
use crate::diagnose::Diagnosis;
use crate::store::{StorePaths, TokenStore};
use crate::worker::{self, ConnectionView, Event, WorkerHandle, WorkerOptions};

/// The connections a command acts on, with the store they live in.
pub struct Scope {
    pub config: Config,
    pub store: TokenStore,
}

/// The named connections (in the order given, each once), or all of them with `all`.
/// An unknown name is a usage error naming the config file.
pub fn scope(cli: &Cli, names: &[String], all: bool) -> Result<Scope, CommandError> {
    let mut config = load_config(cli)?;
    let store = store_for(&config)?;
    if !all {
        let mut picked: Vec<Connection> = Vec::new();
        for name in names {
            if picked.iter().any(|c| &c.name == name) {
                continue;
            }
            picked.push(find(&config, name)?.clone());
        }
        config.connections = picked;
    }
    Ok(Scope { config, store })
}

pub fn find<'a>(config: &'a Config, name: &str) -> Result<&'a Connection, CommandError> {
    config.connection(name).ok_or_else(|| {
        CommandError::Usage(format!(
            "no connection named {name:?} in {}",
            config.path.display()
        ))
    })
}

pub fn store_for(config: &Config) -> Result<TokenStore, CommandError> {
    let paths = StorePaths::resolve(config.data_dir.as_deref()).ok_or_else(|| {
        CommandError::Failed("cannot find a data directory; set data_dir in the config".into())
    })?;
    Ok(TokenStore::new(paths))
}

/// A worker over the scope that only does what it is asked.
pub fn spawn(scope: &Scope) -> WorkerHandle {
    worker::spawn(
        &scope.config,
        scope.store.clone(),
        WorkerOptions {
            auto_refresh: false,
            follow_store: false,
            ..WorkerOptions::default()
        },
    )
}

/// The worker's first report of every connection (it reads the store before anything else).
pub async fn initial_views(
    handle: &mut WorkerHandle,
    count: usize,
) -> HashMap<String, ConnectionView> {
    let mut views = HashMap::new();
    while views.len() < count {
        match handle.events.recv().await {
            Some(Event::Connection(v)) => {
                views.insert(v.name.clone(), *v);
            }
            Some(_) => {}
            None => break,
        }
    }
    views
}

/// Requests sent to the worker and not finished yet: each is tracked (`Request::Tracked`)
/// and ends with its own `Event::Finished`, never inferred from `busy` flipping.
#[derive(Default)]
pub struct Pending {
    ids: HashMap<u64, String>,
    /// The latest view of each connection (the worker sends it before `Finished`).
    views: HashMap<String, ConnectionView>,
}

impl Pending {
    pub fn new(views: HashMap<String, ConnectionView>) -> Self {
        Pending {
            ids: HashMap::new(),
            views,
        }
    }

    pub fn send(&mut self, handle: &mut WorkerHandle, request: crate::worker::Request) {
        let name = request.name().unwrap_or_default().to_owned();
        let id = handle.track(request);
        self.ids.insert(id, name);
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Follow `event`; when it ends one of our requests, the connection's view after it and
    /// how it ended (a resource's refusal of the new token counts as a failure).
    pub fn finished(&mut self, event: &Event) -> Option<(ConnectionView, crate::worker::Finish)> {
        use crate::worker::Finish;
        match event {
            Event::Connection(v) => {
                self.views.insert(v.name.clone(), (**v).clone());
                None
            }
            Event::Finished {
                id: Some(id),
                name,
                outcome,
                probe_refusal,
                ..
            } => {
                self.ids.remove(id)?;
                let outcome = match (outcome, probe_refusal) {
                    (Finish::Renewed | Finish::Probed, Some(d)) => Finish::Failed(d.clone()),
                    (o, _) => o.clone(),
                };
                Some((self.views.get(name)?.clone(), outcome))
            }
            _ => None,
        }
    }
}

/// One line about a failure: cause, provider code, summary, and the fix.
pub fn failure_line(name: &str, d: &Diagnosis) -> String {
    let code = code_suffix(d);
    let fix = if d.needs_reauth {
        format!("run: connwatch login {name}")
    } else {
        d.action.clone()
    };
    let line = format!(
        "{name}: {}{code}: {} {fix}",
        d.cause,
        d.summary_with_words()
    );
    crate::sanitize::line(&line).into_owned()
}

/// "in 59m (2026-11-24 13:05:00Z)" for an expiry, or what is known instead.
pub fn expiry_phrase(view: &ConnectionView, now: jiff::Timestamp) -> String {
    match view.access_expires_at {
        Some(at) => {
            let when = at.strftime("%Y-%m-%d %H:%M:%SZ");
            if at > now {
                format!(
                    "access token expires in {} ({when})",
                    crate::ui::format::countdown(at, now)
                )
            } else {
                format!("access token expired ({when})")
            }
        }
        None => "access token expiry unknown".into(),
    }
}

/// Stop the worker and turn the failure count into the exit code.
pub async fn finish(handle: WorkerHandle, failed: usize) -> std::process::ExitCode {
    let _ = handle.requests.send(crate::worker::Request::Shutdown);
    let _ = handle.task.await;
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(super::exit::FAILURE)
    }
}

/// " (AADSTS53003)" — the provider's code when it says more than the cause does.
pub fn code_suffix(d: &Diagnosis) -> String {
    d.code
        .as_deref()
        .filter(|c| *c != d.cause.as_str())
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}
