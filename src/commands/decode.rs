//! `connwatch decode`.
use std::process::ExitCode;

use crate::cli::DecodeArgs;

pub fn run(_args: &DecodeArgs) -> ExitCode {
    eprintln!("connwatch decode: not built yet");
    ExitCode::from(1)
}
