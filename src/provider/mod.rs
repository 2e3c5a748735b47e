//! Providers are data: endpoint templates and a few quirks, not a class hierarchy.
mod discovery;

use serde::Deserialize;

pub use discovery::discover;

use crate::config::{Connection, ProviderKind};
use crate::diagnose::ProviderHint;
use crate::oauth::{Client, HttpClient, OAuthFailure};
use crate::probe::ProbeTarget;

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

/// Zoom OAuth apps: `https://zoom.us/oauth/{authorize,token,devicecode,revoke}`. A confidential
/// client (HTTP Basic); every refresh returns a new refresh token and kills the old one.
/// `authority_host` replaces `https://zoom.us` (tests, proxies).
pub fn zoom_endpoints(authority_host: Option<&str>) -> Endpoints {
    let base = authority_host.unwrap_or("https://zoom.us");
    Endpoints {
        token_endpoint: format!("{base}/oauth/token"),
        device_authorization_endpoint: Some(format!("{base}/oauth/devicecode")),
        authorization_endpoint: Some(format!("{base}/oauth/authorize")),
        revocation_endpoint: Some(format!("{base}/oauth/revoke")),
        userinfo_endpoint: None,
    }
}

/// Google's OAuth 2.0 endpoints for installed apps and devices. `authority_host` replaces
/// both Google hosts (the paths stay), for tests and proxies.
pub fn google_endpoints(authority_host: Option<&str>) -> Endpoints {
    let (accounts, apis, oidc) = match authority_host {
        Some(h) => (h.to_owned(), h.to_owned(), h.to_owned()),
        None => (
            "https://accounts.google.com".to_owned(),
            "https://oauth2.googleapis.com".to_owned(),
            "https://openidconnect.googleapis.com".to_owned(),
        ),
    };
    Endpoints {
        token_endpoint: format!("{apis}/token"),
        device_authorization_endpoint: Some(format!("{apis}/device/code")),
        authorization_endpoint: Some(format!("{accounts}/o/oauth2/v2/auth")),
        revocation_endpoint: Some(format!("{apis}/revoke")),
        userinfo_endpoint: Some(format!("{oidc}/v1/userinfo")),
    }
}

/// How the client authenticates at the token endpoint when it has a secret: Zoom wants HTTP
/// Basic; Google and most OIDC servers take `client_secret` in the form.
pub fn uses_basic_auth(kind: ProviderKind) -> bool {
    kind == ProviderKind::Zoom
}

/// Extra query parameters of a browser sign-in: Google only returns a refresh token for
/// `access_type=offline`.
pub fn browser_extra(kind: ProviderKind) -> Vec<(String, String)> {
    match kind {
        ProviderKind::Google => vec![("access_type".into(), "offline".into())],
        _ => Vec::new(),
    }
}

/// The resources to ask whether they accept a new access token: the connection's `probe`,
/// or a preset's defaults — Graph's `/v1.0/me` for Entra tokens meant for Graph, Zoom's
/// `/v2/users/me`, Exchange Online's IMAP/SMTP/POP for its mail scopes, Gmail's IMAP and
/// SMTP for `https://mail.google.com/`. Defaults only apply to the provider's real
/// endpoints: a connection pointed elsewhere (`authority_host`, `token_url`: tests, the demo,
/// proxies) is never probed on a host it did not name. Mail defaults need an `account`.
pub fn probe_targets(conn: &Connection) -> Vec<ProbeTarget> {
    if !conn.probe.is_empty() {
        return conn.probe.clone();
    }
    if conn.authority_host.is_some() || conn.token_url.is_some() {
        return Vec::new();
    }
    let resource_scopes: Vec<&String> = conn
        .scopes
        .iter()
        .filter(|s| !crate::config::is_protocol_scope(s))
        .collect();
    let has = |suffix: &str| resource_scopes.iter().any(|s| s.ends_with(suffix));
    let mut urls: Vec<&str> = Vec::new();
    match conn.provider {
        ProviderKind::Entra => {
            if !resource_scopes.is_empty()
                && resource_scopes
                    .iter()
                    .all(|s| s.starts_with("https://graph.microsoft.com/") || !s.contains('/'))
            {
                urls.push("https://graph.microsoft.com/v1.0/me");
            }
            if conn.account.is_some() {
                if has("IMAP.AccessAsUser.All") {
                    urls.push("imaps://outlook.office365.com:993");
                }
                if has("SMTP.Send") {
                    urls.push("smtp://smtp.office365.com:587");
                }
                if has("POP.AccessAsUser.All") {
                    urls.push("pop3s://outlook.office365.com:995");
                }
            }
        }
        ProviderKind::Zoom => urls.push("https://api.zoom.us/v2/users/me"),
        ProviderKind::Google => {
            if conn.account.is_some() && conn.scopes.iter().any(|s| s == "https://mail.google.com/")
            {
                urls.push("imaps://imap.gmail.com:993");
                urls.push("smtp://smtp.gmail.com:587");
            }
        }
        ProviderKind::Oidc => {}
    }
    urls.into_iter()
        .filter_map(|u| ProbeTarget::parse(u).ok())
        .collect()
}

/// The connection's endpoints: the preset's, or its issuer's discovery document (with the
/// config's explicit URLs applied over it).
pub async fn resolve(http: &HttpClient, conn: &Connection) -> Result<Endpoints, OAuthFailure> {
    match endpoint_source(conn) {
        EndpointSource::Fixed(e) => Ok(e),
        EndpointSource::Discovery { issuer } => {
            let mut e = discover(http, &issuer).await?;
            apply_overrides(&mut e, conn);
            Ok(e)
        }
    }
}

/// How `conn` identifies itself at the provider: its id, and for a confidential client the
/// secret, sent the way the provider wants it.
pub fn client<'a>(conn: &'a Connection, secret: Option<&'a crate::secret::Secret>) -> Client<'a> {
    Client {
        id: &conn.client_id,
        secret,
        basic: uses_basic_auth(conn.provider),
    }
}

pub fn endpoint_source(conn: &Connection) -> EndpointSource {
    let mut fixed = match conn.provider {
        ProviderKind::Entra => entra_endpoints(
            conn.authority_host.as_deref(),
            conn.tenant.as_deref().unwrap_or("organizations"),
        ),
        ProviderKind::Zoom => zoom_endpoints(conn.authority_host.as_deref()),
        ProviderKind::Google => google_endpoints(conn.authority_host.as_deref()),
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
        ProviderKind::Oidc | ProviderKind::Google if asks_offline_access => Some("consent"),
        _ => None,
    }
}

pub fn hint(kind: ProviderKind) -> ProviderHint {
    match kind {
        ProviderKind::Entra => ProviderHint::Entra,
        ProviderKind::Zoom => ProviderHint::Zoom,
        ProviderKind::Google => ProviderHint::Google,
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
