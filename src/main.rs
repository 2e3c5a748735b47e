use std::process::ExitCode;

use clap::Parser;
use connwatch::cli::{Cli, Command};
use connwatch::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Explain(a)) => commands::explain::run(a),
        Some(Command::Decode(a)) => commands::decode::run(a),
        Some(Command::Demo(_)) | None => {
            eprintln!("connwatch: the dashboard is not built yet");
            ExitCode::from(1)
        }
    }
}
