//! `connwatch watch [--metrics ADDR] [--once]`: see `crate::watch`. Logs go to the log file
//! and to stderr (journald reads it). Exit 0 on SIGTERM/SIGINT; with `--once`, 0 when every
//! connection ends the round connected, 1 otherwise.
use std::process::ExitCode;

use super::exit::{CommandError, FAILURE};
use super::{config_path, load_config, oneshot, runtime};
use crate::cli::Cli;
use crate::connection::ConnState;
use crate::watch::{self, Outcome, WatchOptions};

pub fn run(cli: &Cli, opts: WatchOptions) -> Result<ExitCode, CommandError> {
    let path = config_path(cli)?;
    let config = load_config(cli)?;
    let store = oneshot::store_for(&config)?;
    let _log = crate::logging::init_with_stderr(&store.paths().logs_dir, cli.log_level.as_deref())
        .map_err(CommandError::Failed)?;
    let outcome = runtime()?
        .block_on(watch::run(&path, config, store, opts))
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    Ok(match outcome {
        Outcome::Stopped => ExitCode::SUCCESS,
        Outcome::WorkerStopped => ExitCode::from(FAILURE),
        Outcome::Once(views) => {
            let mut ok = true;
            for v in &views {
                match &v.last_error {
                    None if v.state == ConnState::Connected => println!("{}: connected", v.name),
                    Some(d) => {
                        ok = false;
                        println!("{}", oneshot::failure_line(&v.name, d));
                    }
                    None => {
                        ok = false;
                        let note = v
                            .note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        println!("{}: {}{note}", v.name, v.state);
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(FAILURE)
            }
        }
    })
}
