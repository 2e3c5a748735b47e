//! Token inspection: decode a JWT without verifying it and report what is wrong with it
//! for the use it is meant for. Pure: a string in, a `TokenReport` out, never an error.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What the token should be good for (from a connection's `expect` and `scopes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    pub audience: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    Jwt,
    Opaque,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Stable finding kinds of DESIGN.md ("Token report JSON").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Expired,
    NotYetValid,
    ExpiringSoon,
    AudienceMismatch,
    MissingScope,
    UnverifiableSignature,
    Guest,
    AppOnly,
    IdToken,
    PersonalAccount,
    CaeCapable,
    Opaque,
    MissingOfflineAccess,
}

impl FindingKind {
    /// The stable string (the JSON name).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Expired => "expired",
            FindingKind::NotYetValid => "not_yet_valid",
            FindingKind::ExpiringSoon => "expiring_soon",
            FindingKind::AudienceMismatch => "audience_mismatch",
            FindingKind::MissingScope => "missing_scope",
            FindingKind::UnverifiableSignature => "unverifiable_signature",
            FindingKind::Guest => "guest",
            FindingKind::AppOnly => "app_only",
            FindingKind::IdToken => "id_token",
            FindingKind::PersonalAccount => "personal_account",
            FindingKind::CaeCapable => "cae_capable",
            FindingKind::Opaque => "opaque",
            FindingKind::MissingOfflineAccess => "missing_offline_access",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    pub format: TokenFormat,
    pub header: Option<serde_json::Value>,
    pub claims: Option<serde_json::Value>,
    /// "access" or "id" (a JWT whose audience is the client itself).
    pub token_type: Option<String>,
    pub audience: Option<String>,
    pub tenant: Option<String>,
    /// "1.0" (`https://sts.windows.net/{tid}/`) or "2.0" (`…/{tid}/v2.0`) for Entra tokens.
    pub issuer_version: Option<String>,
    pub scopes: Vec<String>,
    pub issued_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub expires_in_s: Option<i64>,
    pub findings: Vec<Finding>,
}

impl TokenReport {
    /// This report with the issuer's words (claims, audience, tenant, findings) made safe
    /// to draw (crate::sanitize); `--json` keeps them exact.
    pub fn for_display(&self) -> TokenReport {
        let l = |s: &String| crate::sanitize::line(s).into_owned();
        let mut r = self.clone();
        for v in [&mut r.header, &mut r.claims].into_iter().flatten() {
            crate::sanitize::json(v);
        }
        for s in [
            &mut r.token_type,
            &mut r.audience,
            &mut r.tenant,
            &mut r.issuer_version,
        ]
        .into_iter()
        .flatten()
        {
            *s = l(s);
        }
        r.scopes = r.scopes.iter().map(l).collect();
        for f in &mut r.findings {
            f.message = l(&f.message);
        }
        r
    }
}

mod input;
mod inspect;
pub(crate) use inspect::scope_name;
mod response;

pub use input::token_from_input;
pub use response::{ResponseReport, inspect_response};

/// When the person signed in, as an ID token says: its `auth_time`, else its `iat` (no
/// signature check: the token came straight from the provider over TLS).
pub fn sign_in_time(id_token: &str) -> Option<Timestamp> {
    let claims = inspect::b64json(id_token.split('.').nth(1)?)?;
    time_claim(&claims, "auth_time").or_else(|| time_claim(&claims, "iat"))
}

/// The ID token's `auth_time` alone: a refreshed ID token's `iat` is the refresh, not the
/// sign-in.
pub fn auth_time(id_token: &str) -> Option<Timestamp> {
    let claims = inspect::b64json(id_token.split('.').nth(1)?)?;
    time_claim(&claims, "auth_time")
}

/// The ID token's `nonce` claim (no signature check, as above).
pub fn id_token_nonce(id_token: &str) -> Option<String> {
    let claims = inspect::b64json(id_token.split('.').nth(1)?)?;
    claims.get("nonce")?.as_str().map(str::to_owned)
}

/// A time claim that can be a sign-in: after 2001-09-09 (10⁹ s). Providers that do not
/// track it send `auth_time: 0`, which once became a sign-in in 1970 (and a forecast long
/// past); such a value counts as absent.
fn time_claim(claims: &serde_json::Value, key: &str) -> Option<Timestamp> {
    let at = claims.get(key)?.as_i64()?;
    (at >= 1_000_000_000)
        .then(|| Timestamp::from_second(at).ok())
        .flatten()
}

/// Decode `token` (no signature check) and judge it against `expect` at instant `now`.
pub fn inspect(token: &str, expect: &Expectations, now: Timestamp) -> TokenReport {
    inspect::inspect(token, expect, now)
}

/// An unsigned JWT of `header` and `claims` (tests: decoding never checks signatures).
#[cfg(test)]
pub(crate) fn unsigned_jwt(header: serde_json::Value, claims: serde_json::Value) -> String {
    use base64::Engine;
    let b = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!("{}.{}.sig", b(header), b(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_token(claims: serde_json::Value) -> String {
        unsigned_jwt(serde_json::json!({"alg": "RS256"}), claims)
    }

    /// An RFC 9068 access token (oidc-provider's): `typ: at+jwt`, audience the resource, a
    /// `client_id` and no `scp`. Once called an ID token by `decode`.
    #[test]
    fn an_at_jwt_access_token_is_not_an_id_token() {
        let at = unsigned_jwt(
            serde_json::json!({"alg": "RS256", "typ": "at+jwt"}),
            serde_json::json!({"iss": "http://127.0.0.1:3000", "aud": "https://api.example/", "sub": "alice", "exp": 1_900_000_000, "iat": 1_800_000_000}),
        );
        let now = Timestamp::from_second(1_800_000_100).unwrap();
        let r = inspect(&at, &Expectations::default(), now);
        assert!(
            r.findings.iter().all(|f| f.kind != FindingKind::IdToken),
            "{:?}",
            r.findings
        );
        // The same claims without the header's word: an ID token, as before.
        let bare =
            id_token(serde_json::json!({"aud": "app", "sub": "alice", "exp": 1_900_000_000}));
        assert!(
            inspect(&bare, &Expectations::default(), now)
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::IdToken)
        );
    }

    #[test]
    fn auth_time_zero_is_no_sign_in_time() {
        let t = id_token(serde_json::json!({ "auth_time": 0, "iat": 1_800_000_000 }));
        assert_eq!(auth_time(&t), None);
        assert_eq!(
            sign_in_time(&t),
            Some(Timestamp::from_second(1_800_000_000).unwrap())
        );
        let t = id_token(serde_json::json!({ "auth_time": 1_799_000_000, "iat": 1_800_000_000 }));
        assert_eq!(
            auth_time(&t),
            Some(Timestamp::from_second(1_799_000_000).unwrap())
        );
        assert_eq!(
            sign_in_time(&id_token(serde_json::json!({ "iat": -5 }))),
            None
        );
    }
}
