//! The integration tests, as one test binary: each suite is a module, and `common` and
//! `support` are compiled once. One binary links the library and its dependencies (aws-lc,
//! zbus, reqwest, ratatui, axum) once instead of once per suite, which is most of what a test
//! build costs on a 2-core machine (ARCHITECTURE.md, "Tests").
//!
//! Run one suite with `cargo test --test it SUITE::` (e.g. `cargo test --test it interop::`),
//! one test with its full name and `--exact`.
//!
//! Suites that must own their process stay separate binaries, and only those:
//! - `tests/secrets_leak.rs` installs the process-wide tracing subscriber at trace level and
//!   then reads the whole log for secrets; in this binary it would either miss its own log
//!   lines (another suite's subscriber first) or collect every other suite's.
//!
//! Nothing here may change process-wide state (environment, working directory, umask, signal
//! dispositions, the global subscriber): suites run in parallel threads of one process.
//! Children get their environment through `Command::env`, never `std::env::set_var`.
mod common;
mod support;

mod browser_flow;
mod cli_add;
mod cli_commands;
mod cli_explain_decode;
mod cli_setup;
mod cli_token;
mod cli_watch;
mod concurrent_token;
mod config_files;
mod core_dumps;
mod crash_safety;
mod diagnose_fixtures;
mod fault_flows;
mod follow_store;
mod forecast_flows;
mod hostile_text;
mod interop;
mod layering;
mod mail_hostile;
mod one_truth;
mod probe_flows;
mod provider_presets;
mod readme_keys;
mod reload;
mod soak;
mod tmux_add;
mod tmux_follow;
mod tmux_smoke;
mod token_fixtures;
mod ui_snapshots;
mod wall_clock;
mod worker_flows;
