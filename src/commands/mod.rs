//! One file per CLI command; each returns the process exit code (DESIGN.md "Exit codes").
pub mod add;
pub mod completions;
pub mod config_check;
pub mod config_write;
pub mod dashboard;
pub mod decode;
pub mod exit;
pub mod explain;
pub mod init;
pub mod login;
pub mod oneshot;
pub mod probe;
pub mod purge;
pub mod refresh;
pub mod status;
pub mod token;
pub mod watch;

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

/// `decode --connection NAME`: that connection's expectations (its `expect`, else its scopes).
pub fn decode_expectations(
    cli: &Cli,
    args: &crate::cli::DecodeArgs,
) -> Result<Option<crate::token::Expectations>, CommandError> {
    let Some(name) = &args.connection else {
        return Ok(None);
    };
    let config = load_config(cli)?;
    let conn = oneshot::find(&config, name)?;
    Ok(Some(crate::worker::expectations(conn)))
}

/// All of stdin, as text even when it is not valid UTF-8 (pasted bodies and tokens may not be).
pub fn read_stdin() -> Result<String, String> {
    use std::io::Read;
    let mut b = Vec::new();
    std::io::stdin()
        .read_to_end(&mut b)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// Ask `question` on stderr and read one line of answer from stdin, trimmed; `None` when
/// stdin ends first (Ctrl-D), which no caller takes for a yes.
pub fn ask(question: &str) -> std::io::Result<Option<String>> {
    use std::io::{BufRead, Write};
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_owned()))
}

pub use crate::oauth::browser::open_page as open_browser;
