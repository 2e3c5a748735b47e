//! `connwatch completions SHELL` and `connwatch man`: generated from the clap definitions, so
//! they never drift from the real command line.
use std::process::ExitCode;

use clap::CommandFactory;

use super::exit::CommandError;
use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, CommandError> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics when it cannot write.
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "connwatch", &mut out);
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| CommandError::Failed(format!("cannot write the completions: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The page of `connwatch` (listing every command), or of one command (`connwatch-login(1)`).
pub fn man(command: Option<&str>) -> Result<ExitCode, CommandError> {
    let root = Cli::command();
    let cmd = match command {
        None => root,
        Some(name) => {
            let sub = root.find_subcommand(name).cloned().ok_or_else(|| {
                CommandError::Usage(format!("no command named {name:?}; see connwatch --help"))
            })?;
            let full = format!("connwatch-{}", sub.get_name());
            sub.name(full)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| CommandError::Failed(format!("cannot render the man page: {e}")))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| CommandError::Failed(format!("cannot write the man page: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
