//! `connwatch status [--json | --prometheus] [NAME…]` and `connwatch check [NAME…]`: read the
//! token store and status records, never the network, never a token.
use std::process::ExitCode;
use std::time::Duration;

use super::exit::CommandError;
use super::oneshot;
use crate::cli::{Cli, StatusArgs};
use crate::clock::{Clock, SystemClock};
use crate::report::{self, check::Level};

pub fn status(cli: &Cli, args: &StatusArgs) -> Result<ExitCode, CommandError> {
    let scope = oneshot::scope(cli, &args.names, args.names.is_empty())?;
    let now = SystemClock.now();
    let statuses = report::collect(&scope.config, &scope.store, now);
    let out = if args.json {
        let watched_by = crate::store::watch_lock::holder(&scope.store.paths().root);
        report::json::render(&statuses, now, watched_by)
    } else if args.prometheus {
        report::prometheus::render(&statuses, now)
    } else {
        // Defused cell by cell in the table (ConnectionStatus::for_display).
        report::table::render(&statuses, now)
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Exit codes are the plugin's (0–3), not connwatch's usual ones: a broken config is UNKNOWN.
pub fn check(cli: &Cli, names: &[String], warn: Duration) -> ExitCode {
    let scope = match oneshot::scope(cli, names, names.is_empty()) {
        Ok(s) => s,
        Err(e) => {
            let why = match &e {
                CommandError::Config(c) => c.one_line(),
                other => other.to_string(),
            };
            println!("CONNWATCH UNKNOWN - {}", crate::sanitize::plugin_text(&why));
            return ExitCode::from(Level::Unknown.exit_code());
        }
    };
    let now = SystemClock.now();
    let statuses = report::collect(&scope.config, &scope.store, now);
    let (level, line) = report::check::evaluate(&statuses, now, warn);
    println!("{line}");
    ExitCode::from(level.exit_code())
}
