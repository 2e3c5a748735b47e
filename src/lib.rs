//! connwatch: watch and repair OAuth-backed mail, calendar and integration connections.
pub mod cli;
pub mod commands;
pub mod demo;
pub mod diagnose;
pub mod token;
