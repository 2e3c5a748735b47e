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
    let appender = PrivateDaily::new(dir);
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

/// A daily log file, `connwatch.log.YYYY-MM-DD` (UTC), created 0600: tracing-appender's own
/// roller creates files with the process umask (0644 usually), and connwatch's files are
/// private whatever the umask. Written from tracing-appender's worker thread only.
struct PrivateDaily {
    dir: std::path::PathBuf,
    /// The day (days since the epoch, UTC) the open file is for.
    current: Option<(i64, std::fs::File)>,
}

impl PrivateDaily {
    fn new(dir: &Path) -> Self {
        PrivateDaily {
            dir: dir.to_path_buf(),
            current: None,
        }
    }

    fn file(&mut self) -> std::io::Result<&mut std::fs::File> {
        let now = jiff::Timestamp::now();
        let day = now.as_second().div_euclid(86_400);
        if self.current.as_ref().is_none_or(|(d, _)| *d != day) {
            let name = format!("connwatch.log.{}", now.strftime("%Y-%m-%d"));
            let mut o = std::fs::OpenOptions::new();
            o.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let f = o.open(self.dir.join(name))?;
            self.current = Some((day, f));
        }
        match &mut self.current {
            Some((_, f)) => Ok(f),
            None => Err(std::io::Error::other("no log file")),
        }
    }
}

impl std::io::Write for PrivateDaily {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.current {
            Some((_, f)) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn the_log_file_is_private_and_appended() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = super::PrivateDaily::new(dir.path());
        w.write_all(b"one\n").unwrap();
        w.write_all(b"two\n").unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert!(
            files[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("connwatch.log.")
        );
        assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), "one\ntwo\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
