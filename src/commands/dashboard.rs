//! The dashboard (`connwatch`), and the demo (`connwatch demo`, `connwatch demo serve`).
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use super::exit::CommandError;
use super::{load_config, runtime};
use crate::cli::Cli;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::demo;
use crate::store::{StorePaths, TokenStore};
use crate::worker::{self, WorkerOptions};

pub fn run(cli: &Cli) -> Result<ExitCode, CommandError> {
    let config = load_config(cli)?;
    let paths = StorePaths::resolve(config.data_dir.as_deref()).ok_or_else(|| {
        CommandError::Failed("cannot find a data directory; set data_dir in the config".into())
    })?;
    need_terminal()?;
    let _log = crate::logging::init(&paths.logs_dir, cli.log_level.as_deref())
        .map_err(CommandError::Usage)?;
    let title = config.path.display().to_string();
    let color = !cli.no_color && super::exit::color_allowed();
    runtime()?.block_on(dashboard(&config, paths, title, color))?;
    Ok(ExitCode::SUCCESS)
}

async fn dashboard(
    config: &Config,
    paths: StorePaths,
    title: String,
    color: bool,
) -> Result<(), CommandError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // While a `watch` keeps this store (started before or after the dashboard), it refreshes,
    // probes and notifies; the dashboard follows what it writes, says so in its header and
    // acts only on keys: no doubled refreshes, no second notification.
    let opts = WorkerOptions {
        clock: clock.clone(),
        yield_to_watch: true,
        ..WorkerOptions::default()
    };
    let handle = worker::spawn(config, TokenStore::new(paths), opts);
    let opts = crate::tui::Options {
        title,
        color,
        keymap: config.keymap.clone(),
        bell: config.bell,
        notify_command: config.notify_command.clone(),
    };
    crate::tui::run(handle, clock, opts)
        .await
        .map_err(|e| CommandError::Failed(format!("terminal error: {e}")))
}

pub fn run_demo(cli: &Cli, extra_rows: usize) -> Result<ExitCode, CommandError> {
    need_terminal()?;
    let rt = runtime()?;
    rt.block_on(async {
        let idp = demo::idp::DemoIdp::start(demo::demo_idp_options())
            .await
            .map_err(|e| {
                CommandError::Failed(format!("cannot start the demo identity provider: {e}"))
            })?;
        let env = demo::prepare(&idp, extra_rows)
            .map_err(|e| CommandError::Failed(format!("cannot prepare the demo: {e}")))?;
        let paths = StorePaths::resolve(env.config.data_dir.as_deref())
            .expect("the demo config sets data_dir");
        let _log = crate::logging::init(&paths.logs_dir, cli.log_level.as_deref())
            .map_err(CommandError::Usage)?;
        let title = format!("demo on {}", idp.base_url());
        let color = !cli.no_color && super::exit::color_allowed();
        dashboard(&env.config, paths, title, color).await?;
        idp.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn serve_demo(
    _cli: &Cli,
    port: u16,
    data_dir: Option<&std::path::Path>,
    extra_rows: usize,
) -> Result<ExitCode, CommandError> {
    let rt = runtime()?;
    rt.block_on(async {
        let idp = demo::idp::DemoIdp::start_on(port, demo::demo_idp_options())
            .await
            .map_err(|e| CommandError::Failed(format!("cannot start the demo identity provider on port {port}: {e}")))?;
        if let Some(dir) = data_dir {
            let store = TokenStore::new(StorePaths::under(dir));
            demo::seed(&idp, &store, extra_rows).map_err(|e| CommandError::Failed(format!("cannot seed {}: {e}", dir.display())))?;
        }
        println!("{}", demo::config_text(&idp, data_dir, extra_rows));
        eprintln!(
            "connwatch: demo identity provider listening on {} (Ctrl-C to stop); the config above points at it",
            idp.base_url()
        );
        let _ = tokio::signal::ctrl_c().await;
        idp.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn need_terminal() -> Result<(), CommandError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(CommandError::Failed(
            "the dashboard needs a terminal; for scripts use `connwatch explain` or `connwatch decode`".into(),
        ))
    }
}
