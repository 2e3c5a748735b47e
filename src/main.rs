//! connwatch: parse the command line, dispatch, and turn errors into exit codes
//! (0 success, 1 failure, 2 usage, 78 config error, 130 interrupted).
use std::process::ExitCode;

use clap::Parser;
use connwatch::cli::{Cli, Command, DemoCommand};
use connwatch::commands;
use connwatch::commands::exit;

fn main() -> ExitCode {
    // `connwatch status | head` should end quietly like any Unix tool, not panic in println!:
    // Rust ignores SIGPIPE by default, so restore the default action.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    connwatch::secret::forbid_core_dumps();
    // Mail clients run `connwatch token NAME` on every fetch: skip building clap's whole
    // command tree for that one hot form (it is most of the start-up cost); anything else,
    // including any extra flag, goes through clap as usual.
    if let Some(cli) = connwatch::cli::fast_token(std::env::args_os().skip(1)) {
        return commands::token::run(&cli, token_name(&cli)).unwrap_or_else(exit::report);
    }
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Explain(a)) => Ok(commands::explain::run(a)),
        Some(Command::Decode(a)) => {
            commands::decode_expectations(&cli, a).map(|e| commands::decode::run(a, e))
        }
        Some(Command::Demo(d)) => match &d.command {
            None => commands::dashboard::run_demo(&cli, d.extra_rows),
            Some(DemoCommand::Serve { port, data_dir }) => {
                commands::dashboard::serve_demo(&cli, *port, data_dir.as_deref(), d.extra_rows)
            }
        },
        Some(Command::Config(_)) => commands::config_check::run(&cli),
        Some(Command::Token { name }) => commands::token::run(&cli, name),
        Some(Command::Status(a)) => commands::status::status(&cli, a),
        Some(Command::Check { names, warn }) => Ok(commands::status::check(&cli, names, *warn)),
        Some(Command::Add(a)) => commands::add::run(&cli, a),
        Some(Command::Init { force }) => commands::init::run(&cli, *force),
        Some(Command::Completions { shell }) => commands::completions::completions(*shell),
        Some(Command::Man { command }) => commands::completions::man(command.as_deref()),
        Some(Command::Refresh { names, all }) => commands::refresh::run(&cli, names, *all),
        Some(Command::Probe { names, json }) => commands::probe::run(&cli, names, *json),
        Some(Command::Watch { metrics, once }) => commands::watch::run(
            &cli,
            connwatch::watch::WatchOptions {
                metrics: *metrics,
                once: *once,
            },
        ),
        Some(Command::Login(a)) => commands::login::run(&cli, a),
        Some(Command::Purge(a)) => commands::purge::run(&cli, a),
        None => commands::dashboard::run(&cli),
    }
    .unwrap_or_else(exit::report)
}

fn token_name(cli: &Cli) -> &str {
    match &cli.command {
        Some(Command::Token { name }) => name,
        _ => unreachable!("fast_token only builds token commands"),
    }
}
