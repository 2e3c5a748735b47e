//! Providers are data: endpoint templates and a few quirks, not a class hierarchy.
mod discovery;

use serde::Deserialize;

pub use discovery::discover;

use crate::config::{Connection, ProviderKind};
use crate::diagnose::ProviderHint;

pub const ENTRA_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Where to send each request for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoints {
    pub token_endpoint: String,
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// How a connection's endpoints are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointSource {
    /// Known without the network (entra templates, explicit URLs).
    Fixed(Endpoints),
    /// Read from `<issuer>/.well-known/openid-configuration` (explicit URLs still win).
    Discovery { issuer: String },
}

/// Entra v2 endpoints: `{authority_host}/{tenant}/oauth2/v2.0/{token,devicecode,authorize}`.
pub fn entra_endpoints(authority_host: Option<&str>, tenant: &str) -> Endpoints {
    let base = format!(
        "{}/{tenant}/oauth2/v2.0",
        authority_host.unwrap_or(ENTRA_AUTHORITY_HOST)
    );
    Endpoints {
        token_endpoint: format!("{base}/token"),
        device_authorization_endpoint: Some(format!("{base}/devicecode")),
        authorization_endpoint: Some(format!("{base}/authorize")),
        // Entra has no token revocation endpoint for users.
        revocation_endpoint: None,
        userinfo_endpoint: None,
    }
}

pub fn endpoint_source(conn: &Connection) -> EndpointSource {
    let mut fixed = match conn.provider {
        ProviderKind::Entra => entra_endpoints(
            conn.authority_host.as_deref(),
            conn.tenant.as_deref().unwrap_or("organizations"),
        ),
        ProviderKind::Oidc => match (&conn.token_url, &conn.issuer) {
            (Some(token), _) => Endpoints {
                token_endpoint: token.clone(),
                device_authorization_endpoint: None,
                authorization_endpoint: None,
                revocation_endpoint: None,
                userinfo_endpoint: None,
            },
            (None, Some(issuer)) => {
                return EndpointSource::Discovery {
                    issuer: issuer.clone(),
                };
            }
            // Validation guarantees an issuer for oidc; an empty token URL then fails clearly.
            (None, None) => {
                return EndpointSource::Discovery {
                    issuer: String::new(),
                };
            }
        },
    };
    apply_overrides(&mut fixed, conn);
    EndpointSource::Fixed(fixed)
}

/// Explicit `token_url` / `device_url` in the config win over templates and discovery.
pub fn apply_overrides(e: &mut Endpoints, conn: &Connection) {
    if let Some(t) = &conn.token_url {
        e.token_endpoint = t.clone();
    }
    if let Some(d) = &conn.device_url {
        e.device_authorization_endpoint = Some(d.clone());
    }
}

/// The `prompt` a browser sign-in needs. OIDC servers (oidc-provider, Google) silently drop
/// `offline_access` — so no refresh token comes back — unless the user sees consent;
/// Entra issues refresh tokens without it.
pub fn browser_prompt(kind: ProviderKind, asks_offline_access: bool) -> Option<&'static str> {
    match kind {
        ProviderKind::Oidc if asks_offline_access => Some("consent"),
        _ => None,
    }
}

pub fn hint(kind: ProviderKind) -> ProviderHint {
    match kind {
        ProviderKind::Entra => ProviderHint::Entra,
        ProviderKind::Oidc => ProviderHint::Oidc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_templates() {
        let e = entra_endpoints(None, "contoso.onmicrosoft.com");
        assert_eq!(
            e.token_endpoint,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            e.device_authorization_endpoint.as_deref(),
            Some(
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
            )
        );
        let sovereign = entra_endpoints(Some("https://login.microsoftonline.us"), "x");
        assert_eq!(
            sovereign.token_endpoint,
            "https://login.microsoftonline.us/x/oauth2/v2.0/token"
        );
    }
}
