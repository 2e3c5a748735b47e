//! One file per CLI command; each returns the process exit code (DESIGN.md "Exit codes").
pub mod config_check;
pub mod dashboard;
pub mod decode;
pub mod exit;
pub mod explain;

use std::path::PathBuf;

use crate::cli::Cli;
use crate::config::{self, Config};
use exit::CommandError;

/// The config named by `--config` / `CONNWATCH_CONFIG`, or the platform default.
pub fn config_path(cli: &Cli) -> Result<PathBuf, CommandError> {
    cli.config
        .clone()
        .or_else(config::default_path)
        .ok_or_else(|| {
            CommandError::Failed(
                "cannot find a config directory on this system; pass --config FILE".into(),
            )
        })
}

pub fn load_config(cli: &Cli) -> Result<Config, CommandError> {
    Ok(Config::load(&config_path(cli)?)?)
}

/// A tokio runtime for commands that talk to the network; two workers are plenty.
pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CommandError::Failed(format!("cannot start the async runtime: {e}")))
}
