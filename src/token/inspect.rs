//! Decoding without verification (plain base64url + serde_json: jsonwebtoken's decoder
//! rejects unknown `alg` values such as `none`, and we must report on any token) and the
//! findings that matter for mail and calendar connections.
use base64::Engine;
use serde_json::Value;

use super::*;

/// Microsoft Graph's application id, used as `aud` in v2-requested Graph tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The tenant of personal Microsoft accounts.
const MSA_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// "Expiring soon" below this many seconds.
const SOON_S: i64 = 5 * 60;

pub(super) fn b64json(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Audiences that name the same resource.
fn canonical_audience(aud: &str) -> String {
    let a = aud.trim_end_matches('/').to_ascii_lowercase();
    match a.as_str() {
        GRAPH_APP_ID | "https://graph.microsoft.com" => "https://graph.microsoft.com".into(),
        "https://outlook.office365.com" | "https://outlook.office.com" => {
            "https://outlook.office.com".into()
        }
        _ => a,
    }
}

/// " (Microsoft Graph)" for the resources people know by name, else nothing.
fn resource_label(aud: &str) -> &'static str {
    match canonical_audience(aud).as_str() {
        "https://graph.microsoft.com" => " (Microsoft Graph)",
        "https://outlook.office.com" => " (Exchange Online: IMAP, SMTP, EWS)",
        _ => "",
    }
}

/// `https://outlook.office.com/IMAP.AccessAsUser.All` → `IMAP.AccessAsUser.All`.
pub(crate) fn scope_name(s: &str) -> &str {
    let s = s.trim_end_matches('/');
    s.rsplit('/').next().unwrap_or(s)
}

/// Entra's issuer tells the token version: v1 `https://sts.windows.net/{tid}/`,
/// v2 `https://login.microsoftonline.com/{tid}/v2.0`; else the `ver` claim.
fn issuer_version(claims: &Value) -> Option<String> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss.starts_with("https://sts.windows.net/") {
        Some("1.0".into())
    } else if iss.trim_end_matches('/').ends_with("/v2.0") {
        Some("2.0".into())
    } else {
        claims.get("ver").and_then(Value::as_str).map(str::to_owned)
    }
}

fn finding(kind: FindingKind, severity: Severity, message: String) -> Finding {
    Finding {
        kind,
        severity,
        message,
    }
}

pub(super) fn inspect(token: &str, expect: &Expectations, now: Timestamp) -> TokenReport {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let decoded = (parts.len() == 3)
        .then(|| Some((b64json(parts[0])?, b64json(parts[1])?)))
        .flatten()
        .filter(|(h, c)| h.is_object() && c.is_object());
    let Some((header, claims)) = decoded else {
        return TokenReport {
            format: TokenFormat::Opaque,
            header: None,
            claims: None,
            token_type: None,
            audience: None,
            tenant: None,
            issuer_version: None,
            scopes: vec![],
            issued_at: None,
            expires_at: None,
            expires_in_s: None,
            findings: vec![finding(
                FindingKind::Opaque,
                Severity::Info,
                "opaque token: only the provider can inspect it".into(),
            )],
        };
    };
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let ts = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_i64)
            .and_then(|s| Timestamp::from_second(s).ok())
    };
    // RFC 7519 §4.1.3: `aud` is a string or an array of them; any one may be the resource.
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    };
    let audience = audiences.first().cloned();
    // Delegated scopes (`scp`, space-separated), app roles (`roles`), Google's `scope`.
    let mut scopes: Vec<String> = text("scp")
        .or_else(|| text("scope"))
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(Value::Array(roles)) = claims.get("roles") {
        scopes.extend(roles.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let expires_at = ts("exp");
    let not_before = ts("nbf");
    let tenant = text("tid");
    let mut findings = Vec::new();

    if let Some(exp) = expires_at {
        let left = exp.as_second() - now.as_second();
        if left <= 0 {
            findings.push(finding(
                FindingKind::Expired,
                Severity::Error,
                format!("expired at {exp}"),
            ));
        } else if left <= SOON_S {
            findings.push(finding(
                FindingKind::ExpiringSoon,
                Severity::Warning,
                format!("expires in {left} s, at {exp}"),
            ));
        }
    }
    if let Some(nbf) = not_before.filter(|n| *n > now) {
        findings.push(finding(
            FindingKind::NotYetValid,
            Severity::Error,
            format!("not valid before {nbf} (clock skew?)"),
        ));
    }
    if let (Some(want), Some(got)) = (&expect.audience, &audience)
        && !audiences
            .iter()
            .any(|a| canonical_audience(a) == canonical_audience(want))
    {
        findings.push(finding(
            FindingKind::AudienceMismatch,
            Severity::Error,
            format!(
                "issued for audience {got}{}, but {want}{} is expected: request scopes of that resource ({}/…) and sign in again",
                resource_label(got),
                resource_label(want),
                want.trim_end_matches('/')
            ),
        ));
    }
    for want in &expect.scopes {
        if !scopes
            .iter()
            .any(|s| scope_name(s).eq_ignore_ascii_case(scope_name(want)))
        {
            findings.push(finding(
                FindingKind::MissingScope,
                Severity::Error,
                format!(
                    "scope {} is missing: add it to the connection and sign in again",
                    scope_name(want)
                ),
            ));
        }
    }
    if header.get("nonce").is_some() {
        findings.push(finding(
            FindingKind::UnverifiableSignature,
            Severity::Info,
            "header carries a nonce (Microsoft Graph/Exchange): only the resource can verify the signature".into(),
        ));
    }
    let home = text("idp")
        .and_then(|idp| {
            idp.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .filter(|home| Some(home) != tenant.as_ref())
        // Personal accounts sign in at live.com into their own consumer tenant: not guests.
        .filter(|_| tenant.as_deref() != Some(MSA_TENANT));
    let guest = claims.get("acct").and_then(Value::as_i64) == Some(1);
    if home.is_some() || guest {
        findings.push(finding(
            FindingKind::Guest,
            Severity::Info,
            format!(
                "guest account: signed in by {} for resource tenant {}; that tenant's policies apply",
                home.as_deref().unwrap_or("another tenant"),
                tenant.as_deref().unwrap_or("?")
            ),
        ));
    }
    if text("idtyp").as_deref() == Some("app")
        || (claims.get("roles").is_some() && claims.get("scp").is_none())
    {
        findings.push(finding(
            FindingKind::AppOnly,
            Severity::Warning,
            "app-only token (no user): it cannot read a user's mailbox as that user".into(),
        ));
    }
    let client = text("appid")
        .or_else(|| text("azp"))
        .or_else(|| text("client_id"));
    // RFC 9068: a JWT access token says so in its header (oidc-provider, Keycloak, Auth0);
    // it carries no `scp` and its audience is the resource, yet it is no ID token.
    let at_jwt = header.get("typ").and_then(Value::as_str).is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    // An ID token is for the app itself: its audience is the client id, and it carries no
    // delegated or application permissions (access tokens always name the calling app).
    let no_permissions = ["scp", "roles", "scope"]
        .iter()
        .all(|k| claims.get(*k).is_none());
    let token_type = if !at_jwt
        && ((audience.is_some() && audience == client)
            || (no_permissions && (client.is_none() || claims.get("nonce").is_some())))
    {
        findings.push(finding(
            FindingKind::IdToken,
            Severity::Error,
            "this is an ID token (its audience is the app itself), not an access token".into(),
        ));
        "id"
    } else {
        "access"
    };
    if tenant.as_deref() == Some(MSA_TENANT) {
        findings.push(finding(
            FindingKind::PersonalAccount,
            Severity::Info,
            "personal Microsoft account".into(),
        ));
    }
    let cae = claims
        .get("xms_cc")
        .is_some_and(|v| v.as_array().is_some_and(|a| a.iter().any(|x| x == "cp1")) || v == "cp1");
    if cae {
        findings.push(finding(
            FindingKind::CaeCapable,
            Severity::Info,
            "client is CAE-capable (cp1): the resource may revoke this token early".into(),
        ));
    }
    TokenReport {
        format: TokenFormat::Jwt,
        token_type: Some(token_type.into()),
        issuer_version: issuer_version(&claims),
        issued_at: ts("iat"),
        expires_in_s: expires_at.map(|e| e.as_second() - now.as_second()),
        header: Some(header),
        claims: Some(claims),
        tenant,
        audience,
        scopes,
        expires_at,
        findings,
    }
}
