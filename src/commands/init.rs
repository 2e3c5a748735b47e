//! `connwatch init [--force]`: write the commented config template to the config path.
//! Never overwrites an existing config unless asked; the write is atomic either way.
use std::process::ExitCode;

use super::config_path;
use super::exit::CommandError;
use crate::cli::Cli;

pub const TEMPLATE: &str = include_str!("../../assets/config.template.toml");

pub fn run(cli: &Cli, force: bool) -> Result<ExitCode, CommandError> {
    let path = config_path(cli)?;
    if path.exists() && !force {
        return Err(CommandError::Failed(format!(
            "{} already exists; not overwriting it (pass --force to replace it with the template)",
            path.display()
        )));
    }
    super::config_write::write_config(&path, TEMPLATE)
        .map_err(|e| CommandError::Failed(format!("cannot write {}: {e}", path.display())))?;
    println!(
        "{}: written; edit it, then run: connwatch config check",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
