//! The connection state vocabulary shared by the worker, the dashboard and the CLI.
use serde::{Deserialize, Serialize};

/// Stable strings of DESIGN.md ("Connection states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// No token: never signed in, or purged.
    #[default]
    SignedOut,
    /// An interactive sign-in is in progress.
    Authorizing,
    Connected,
    Refreshing,
    /// A transient failure; retrying with backoff.
    Disconnected,
    /// Only an interactive sign-in can fix it.
    NeedsReauth,
    /// Someone else must act first (the tenant's admin, the app's owner): the diagnosis'
    /// `fix_by` says who. Signing in again alone will not help. (Status JSON version 2.)
    Blocked,
    Misconfigured,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::SignedOut => "signed_out",
            ConnState::Authorizing => "authorizing",
            ConnState::Connected => "connected",
            ConnState::Refreshing => "refreshing",
            ConnState::Disconnected => "disconnected",
            ConnState::NeedsReauth => "needs_reauth",
            ConnState::Blocked => "blocked",
            ConnState::Misconfigured => "misconfigured",
        }
    }

    /// Higher is worse; used to sort and to pick the most urgent row.
    pub fn severity(self) -> u8 {
        match self {
            ConnState::Connected => 0,
            ConnState::Refreshing => 1,
            ConnState::Authorizing => 2,
            ConnState::SignedOut => 3,
            ConnState::Disconnected => 4,
            ConnState::NeedsReauth => 5,
            ConnState::Blocked => 6,
            ConnState::Misconfigured => 7,
        }
    }

    /// Waiting for someone's action (a sign-in, an admin, a config fix): no timer retries
    /// it, and a restart does not make it connected.
    pub fn waits_for_someone(self) -> bool {
        matches!(
            self,
            ConnState::NeedsReauth | ConnState::Blocked | ConnState::Misconfigured
        )
    }

    /// Needs attention: an episode of notifications runs while it lasts.
    pub fn needs_attention(self) -> bool {
        self.waits_for_someone() || self == ConnState::Disconnected
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
