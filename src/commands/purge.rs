//! `connwatch purge NAME… [--yes]`: forget the cached tokens (the "clear cached credentials,
//! then sign in again" fix), under each connection's lock like the dashboard's purge. Asks
//! first on a terminal; anywhere else it needs `--yes`, because a purged refresh token can
//! only come back through an interactive sign-in.
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::exit::{CommandError, FAILURE};
use super::oneshot::{self, Pending};
use super::runtime;
use crate::cli::{Cli, PurgeArgs};
use crate::worker::{Event, Request};

pub fn run(cli: &Cli, args: &PurgeArgs) -> Result<ExitCode, CommandError> {
    let scope = oneshot::scope(cli, &args.names, false)?;
    let names: Vec<String> = scope
        .config
        .connections
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if !args.yes {
        confirm(&names)?;
    }
    let had_file: Vec<bool> = names
        .iter()
        .map(|n| scope.store.token_path(n).exists())
        .collect();
    runtime()?.block_on(async {
        let mut handle = oneshot::spawn(&scope);
        oneshot::initial_views(&mut handle, names.len()).await;
        let mut pending = Pending::default();
        for n in &names {
            pending.add(n);
            let _ = handle.requests.send(Request::Purge { name: n.clone() });
        }
        let mut failed = 0usize;
        while !pending.is_empty() {
            let Some(event) = handle.events.recv().await else {
                break;
            };
            let Event::Connection(v) = event else {
                continue;
            };
            if !pending.finished(&v) {
                continue;
            }
            let i = names.iter().position(|n| n == &v.name).unwrap_or(0);
            match v.note.as_deref() {
                Some(note) if note.starts_with("purge failed") => {
                    failed += 1;
                    eprintln!("{}: {note}", v.name);
                }
                _ if had_file[i] => println!(
                    "{}: tokens purged; sign in again with: connwatch login {}",
                    v.name, v.name
                ),
                _ => println!("{}: nothing to purge (not signed in)", v.name),
            }
        }
        let _ = handle.requests.send(Request::Shutdown);
        let _ = handle.task.await;
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(FAILURE)
        })
    })
}

/// Ask on the terminal; refuse (usage error) when nobody can answer.
fn confirm(names: &[String]) -> Result<(), CommandError> {
    let list = names.join(", ");
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Usage(format!(
            "purging {list} forgets its refresh token; pass --yes to confirm when not on a terminal"
        )));
    }
    eprint!("Forget the tokens of {list}? Signing in again will be needed. [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CommandError::Failed(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(CommandError::Failed("nothing purged".into()))
    }
}
