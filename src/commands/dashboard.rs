//! The dashboard (`connwatch`), and the demo (`connwatch demo`, `connwatch demo serve`).
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use super::exit::CommandError;
use super::{load_config, runtime};
use crate::cli::Cli;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::{StorePaths, TokenStore};
use crate::worker::{self, WorkerOptions};

pub fn run(cli: &Cli) -> Result<ExitCode, CommandError> {
    let config = load_config(cli)?;
    let paths = StorePaths::resolve(config.data_dir.as_deref()).ok_or_else(|| {
        CommandError::Failed("cannot find a data directory; set data_dir in the config".into())
    })?;
    need_terminal()?;
    let _log = crate::logging::init(&paths.logs_dir, cli.log_level.as_deref())
        .map_err(CommandError::Usage)?;
    let title = config.path.display().to_string();
    runtime()?.block_on(dashboard(&config, paths, title))?;
    Ok(ExitCode::SUCCESS)
}

async fn dashboard(config: &Config, paths: StorePaths, title: String) -> Result<(), CommandError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let opts = WorkerOptions {
        clock: clock.clone(),
        ..WorkerOptions::default()
    };
    let handle = worker::spawn(config, TokenStore::new(paths), opts);
    crate::tui::run(handle, clock, title)
        .await
        .map_err(|e| CommandError::Failed(format!("terminal error: {e}")))
}

pub fn run_demo(_cli: &Cli) -> Result<ExitCode, CommandError> {
    Err(CommandError::Failed("demo pending".into()))
}
pub fn serve_demo(
    _cli: &Cli,
    _port: u16,
    _d: Option<&std::path::Path>,
) -> Result<ExitCode, CommandError> {
    Err(CommandError::Failed("demo pending".into()))
}
fn need_terminal() -> Result<(), CommandError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(CommandError::Failed(
            "the dashboard needs a terminal; for scripts use `connwatch explain` or `connwatch decode`".into(),
        ))
    }
}
