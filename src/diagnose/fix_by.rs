//! Who can fix a failure (`fix_by`, DESIGN.md "Who fixes it"): the person at the keyboard,
//! the tenant's admin, the app registration's owner, the provider, or nobody (wait). A
//! connection whose fix is someone else's is `blocked`: signing in again alone will not help.
use serde::{Deserialize, Serialize};

use super::Cause;

/// Stable strings of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixBy {
    /// Sign in, or change your config.
    #[default]
    User,
    /// The tenant's (or mail system's) administrator.
    Admin,
    /// The owner of the app registration: secret, redirect URI, public-client flows.
    AppOwner,
    /// An outage at the provider.
    Provider,
    /// Throttling or a transient answer: retrying is the fix.
    Wait,
}

impl FixBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FixBy::User => "user",
            FixBy::Admin => "admin",
            FixBy::AppOwner => "app_owner",
            FixBy::Provider => "provider",
            FixBy::Wait => "wait",
        }
    }

    /// Someone other than the user must act first.
    pub fn is_someone_else(self) -> bool {
        matches!(self, FixBy::Admin | FixBy::AppOwner)
    }

    /// The rule by cause, for answers whose code says nothing more specific.
    pub fn of_cause(cause: Cause, retryable: bool) -> FixBy {
        match cause {
            Cause::ServerError => FixBy::Provider,
            Cause::Throttled | Cause::Network | Cause::AuthorizationPending | Cause::SlowDown => {
                FixBy::Wait
            }
            Cause::InvalidClient => FixBy::AppOwner,
            Cause::ProtocolDisabled => FixBy::Admin,
            // Anything else the provider itself called transient.
            _ if retryable => FixBy::Wait,
            _ => FixBy::User,
        }
    }

    /// Who, in words, for `explain`, the detail pane and notifications: "the admin of
    /// fabrikam.onmicrosoft.com" when the tenant is known.
    pub fn who(self, realm: Option<&str>) -> String {
        match (self, realm) {
            (FixBy::User, _) => "you".into(),
            (FixBy::Admin, Some(r)) => format!("the admin of {r}"),
            (FixBy::Admin, None) => "the tenant's admin".into(),
            (FixBy::AppOwner, _) => "the app registration's owner".into(),
            (FixBy::Provider, _) => "the provider (an outage)".into(),
            (FixBy::Wait, _) => "nobody: a retry fixes it".into(),
        }
    }
}

impl std::fmt::Display for FixBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Entra codes whose fixer is not what their cause suggests (shared/reference/
/// identity-providers.md, Microsoft's AADSTS table): a disabled account, an app disabled in
/// or not assigned by the tenant, consent only an admin may grant, a managed app required;
/// an app registration that must change; a lockout that ends by itself.
pub(super) fn of_aadsts(code: u32) -> Option<FixBy> {
    Some(match code {
        50057 | 50105 | 7000112 | 90094 | 90095 | 53005 => FixBy::Admin,
        50011 | 7000215 | 7000222 | 7000218 | 700016 => FixBy::AppOwner,
        50053 => FixBy::Wait,
        // Loop detected: throttled, but retrying is what caused it; the user signs in after
        // a pause.
        50196 => FixBy::User,
        _ => return None,
    })
}
