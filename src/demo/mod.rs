//! The embedded demo identity provider and its scenarios.
