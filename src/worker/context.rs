//! What a job or probe needs from a connection's config: its probe context, its
//! expectations of a token, the claims a challenge asks for.
use crate::oauth::HttpClient;
use crate::token::Expectations;

/// What a probe of `cfg`'s resources needs: its account, CAs, expectations and provider.
pub fn probe_context(
    cfg: &crate::config::Connection,
    http: HttpClient,
) -> crate::probe::ProbeContext {
    crate::probe::ProbeContext {
        http,
        timeout: crate::probe::DEFAULT_TIMEOUT,
        ca_file: cfg.ca_file.clone(),
        account: cfg.account.clone(),
        expect: expectations(cfg),
        scopes_asked: cfg.scopes.clone(),
        granted: Vec::new(),
        provider: crate::provider::hint(cfg.provider),
    }
}

/// The connection's expectations for decoding: `expect`, or else its own scopes.
pub fn expectations(cfg: &crate::config::Connection) -> Expectations {
    let mut e = cfg.expect.clone();
    if e.scopes.is_empty() {
        e.scopes = cfg
            .scopes
            .iter()
            .filter(|s| {
                !matches!(
                    s.as_str(),
                    "offline_access" | "openid" | "profile" | "email"
                ) && !s.ends_with("/.default")
            })
            .cloned()
            .collect();
    }
    e
}

/// The `claims` request parameter for a challenge: a `WWW-Authenticate` challenge carries the
/// claims base64-encoded, a token error body as plain JSON; the IdP wants the JSON.
pub(super) fn claims_param(claims: &str) -> String {
    use base64::Engine;
    let t = claims.trim();
    if t.starts_with('{') {
        return t.to_owned();
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))
        })
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.trim_start().starts_with('{'));
    decoded.unwrap_or_else(|| t.to_owned())
}
