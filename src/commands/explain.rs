//! `connwatch explain`.
use std::process::ExitCode;

use crate::cli::ExplainArgs;

pub fn run(_args: &ExplainArgs) -> ExitCode {
    eprintln!("connwatch explain: not built yet");
    ExitCode::from(1)
}
