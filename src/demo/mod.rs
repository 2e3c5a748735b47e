//! The embedded demo identity provider and its scenarios.
pub mod idp;
mod scenario;

pub use scenario::{CLIENT_ID, DemoEnv, config_text, demo_idp_options, prepare, seed};
