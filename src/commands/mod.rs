//! One file per CLI command; each returns the process exit code (DESIGN.md "Exit codes").
pub mod decode;
pub mod explain;
