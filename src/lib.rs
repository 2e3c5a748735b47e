//! connwatch: watch and repair OAuth-backed mail, calendar and integration connections.
// Errors here (config errors with their source text, diagnoses with every id the provider
// sent) are large but travel only on cold paths; boxing them would buy nothing measurable.
#![allow(clippy::result_large_err)]
pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connection;
pub mod demo;
pub mod diagnose;
pub mod forecast;
pub mod keymap;
pub mod limits;
pub mod logging;
pub mod notify;
pub mod oauth;
pub mod probe;
pub mod provider;
pub mod report;
pub mod sanitize;
pub mod secret;
pub mod state;
pub mod store;
pub mod token;
pub mod tui;
pub mod ui;
pub mod watch;
pub mod worker;
