//! connwatch: watch and repair OAuth-backed mail, calendar and integration connections.
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connection;
pub mod demo;
pub mod diagnose;
pub mod oauth;
pub mod provider;
pub mod secret;
pub mod store;
pub mod token;
pub mod worker;
