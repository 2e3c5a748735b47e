//! The one place where failures become messages and exit codes.
use std::process::ExitCode;

use crate::config::ConfigError;

pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 78;
pub const INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] Box<ConfigError>),
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Usage(String),
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError::Config(Box::new(e))
    }
}

/// Print the error on stderr and choose the exit code.
pub fn report(e: CommandError) -> ExitCode {
    match e {
        CommandError::Config(e) => {
            // Colour only for a person reading a terminal; logs and pipes get plain text.
            let colored = color_allowed() && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let handler = miette::GraphicalReportHandler::new_themed(if colored {
                miette::GraphicalTheme::unicode()
            } else {
                miette::GraphicalTheme::unicode_nocolor()
            });
            let mut out = String::new();
            // The one-line form first (file:line:column: message), for grep and editors.
            out.push_str(&format!("connwatch: {}\n", e.one_line()));
            // The annotated source below it; if rendering fails the first line still says it all.
            let _ = handler.render_report(&mut out, e.as_ref());
            eprint!("{out}");
            ExitCode::from(CONFIG)
        }
        CommandError::Failed(m) => {
            // Failures quote providers and servers: defused at the terminal.
            eprintln!("connwatch: {}", crate::sanitize::text(&m));
            ExitCode::from(FAILURE)
        }
        CommandError::Usage(m) => {
            eprintln!("connwatch: {m}");
            ExitCode::from(USAGE)
        }
    }
}

/// NO_COLOR (https://no-color.org) and dumb terminals get no colour.
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}
