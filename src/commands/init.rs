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
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    write_new(&dir, &path)
        .map_err(|e| CommandError::Failed(format!("cannot write {}: {e}", path.display())))?;
    println!(
        "{}: written; edit it, then run: connwatch config check",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Temp file beside the target, then rename. Unlike the token store's writer this does not
/// tighten the directory's mode: `--config ./x.toml` must not chmod the working directory.
fn write_new(dir: &std::path::Path, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(TEMPLATE.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
