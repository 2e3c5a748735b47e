//! Logs go to a daily file under the state dir. Nothing secret is ever logged: tokens are
//! `Secret`s (printed as ***), and log lines name connections, causes and codes only.
use std::path::Path;

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Start logging into `dir`; keep the guard alive for the life of the program.
/// `level` comes from `--log-level`, else `RUST_LOG` (a plain level), else `info`.
pub fn init(dir: &Path, level: Option<&str>) -> Result<WorkerGuard, String> {
    init_layers(dir, level, false)
}

/// As `init`, and also to stderr (for `watch`: journald reads it), without ANSI colours
/// unless stderr is a terminal.
pub fn init_with_stderr(dir: &Path, level: Option<&str>) -> Result<WorkerGuard, String> {
    init_layers(dir, level, true)
}

fn init_layers(dir: &Path, level: Option<&str>, stderr: bool) -> Result<WorkerGuard, String> {
    let level = level
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let filter: LevelFilter = level.trim().parse().map_err(|_| {
        format!("invalid log level {level:?} (use error, warn, info, debug or trace)")
    })?;
    crate::store::ensure_private_dir(dir)
        .map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::daily(dir, "connwatch.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let targets = Targets::new()
        .with_target("connwatch", filter)
        .with_default(LevelFilter::WARN);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let to_stderr = stderr.then(|| {
        use std::io::IsTerminal;
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(targets.clone())
    });
    // A second init (tests in one process) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(targets))
        .with(to_stderr)
        .try_init();
    Ok(guard)
}
