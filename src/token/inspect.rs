//! First cut of the decoder; the diagnosis issue deepens the findings.
use super::*;
use base64::Engine;

fn b64json(part: &str) -> Option<serde_json::Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn inspect(token: &str, expect: &Expectations, now: Timestamp) -> TokenReport {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let decoded = (parts.len() == 3)
        .then(|| Some((b64json(parts[0])?, b64json(parts[1])?)))
        .flatten();
    let Some((header, claims)) = decoded else {
        return TokenReport {
            format: TokenFormat::Opaque,
            header: None,
            claims: None,
            token_type: None,
            audience: None,
            tenant: None,
            scopes: vec![],
            issued_at: None,
            expires_at: None,
            expires_in_s: None,
            findings: vec![Finding {
                kind: FindingKind::Opaque,
                severity: Severity::Info,
                message: "opaque token: only the provider can inspect it".into(),
            }],
        };
    };
    let ts = |k: &str| {
        claims
            .get(k)
            .and_then(|v| v.as_i64())
            .and_then(|s| Timestamp::from_second(s).ok())
    };
    let audience = claims
        .get("aud")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let scopes: Vec<String> = claims
        .get("scp")
        .and_then(|v| v.as_str())
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let expires_at = ts("exp");
    let mut findings = Vec::new();
    if let Some(exp) = expires_at
        && exp <= now
    {
        findings.push(Finding {
            kind: FindingKind::Expired,
            severity: Severity::Error,
            message: format!("expired at {exp}"),
        });
    }
    for want in &expect.scopes {
        if !scopes.iter().any(|s| s.eq_ignore_ascii_case(want)) {
            findings.push(Finding {
                kind: FindingKind::MissingScope,
                severity: Severity::Error,
                message: format!("scope {want} is missing"),
            });
        }
    }
    TokenReport {
        format: TokenFormat::Jwt,
        tenant: claims
            .get("tid")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        token_type: Some("access".into()),
        issued_at: ts("iat"),
        expires_in_s: expires_at.map(|e| e.as_second() - now.as_second()),
        header: Some(header),
        claims: Some(claims),
        audience,
        scopes,
        expires_at,
        findings,
    }
}
