//! The embedded demo identity provider and its scenarios.
// pub mod idp;
// mod scenario;

// pub use scenario::{DemoEnv, config_text, demo_idp_options, prepare, seed, CLIENT_ID};
