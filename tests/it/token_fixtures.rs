//! Every file in tests/fixtures/tokens/ is a token (header + claims, or a raw opaque string)
//! with the findings, version and type `inspect` must report at the fixture's instant.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connwatch::token::{self, Expectations};
use serde_json::Value;

#[test]
fn every_token_fixture_gets_its_findings() {
    let mut failures = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir("tests/fixtures/tokens").unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let raw = match doc.get("raw").and_then(Value::as_str) {
            Some(r) => r.to_owned(),
            None => format!(
                "{}.{}.ZmFrZS1zaWduYXR1cmU",
                URL_SAFE_NO_PAD.encode(doc["header"].to_string()),
                URL_SAFE_NO_PAD.encode(doc["claims"].to_string())
            ),
        };
        let expect = Expectations {
            audience: doc["expect"]["audience"].as_str().map(str::to_owned),
            scopes: doc["expect"]["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect(),
        };
        let at = jiff::Timestamp::from_second(doc["at"].as_i64().unwrap()).unwrap();
        let r = token::inspect(&raw, &expect, at);
        let got = serde_json::to_value(&r).unwrap();
        let kinds: Vec<Value> = got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].clone())
            .collect();
        if Value::Array(kinds.clone()) != doc["findings"] {
            failures.push(format!(
                "{}: findings {kinds:?}, want {}",
                path.display(),
                doc["findings"]
            ));
        }
        for k in ["issuer_version", "token_type"] {
            if got[k] != doc[k] {
                failures.push(format!(
                    "{}: {k} = {}, want {}",
                    path.display(),
                    got[k],
                    doc[k]
                ));
            }
        }
        let json = serde_json::to_string(&r).unwrap();
        if doc.get("raw").is_some() && json.contains(doc["raw"].as_str().unwrap()) {
            failures.push(format!(
                "{}: the raw token appears in the report",
                path.display()
            ));
        }
        n += 1;
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 15, "token fixtures: {n}");
}

#[test]
fn a_success_response_without_refresh_token_is_a_finding() {
    let r = token::inspect_response(r#"{"token_type":"Bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All","expires_in":"3599","access_token":"eyJ0eXAi.x.y"}"#).unwrap();
    assert!(!r.has_refresh_token);
    assert_eq!(r.expires_in_s, Some(3599));
    assert_eq!(
        serde_json::to_value(r.findings[0].kind).unwrap(),
        "missing_offline_access"
    );
    let ok = token::inspect_response(
        r#"{"access_token":"a","refresh_token":"r","scope":"offline_access Mail.Read"}"#,
    )
    .unwrap();
    assert!(ok.findings.is_empty());
    assert!(token::inspect_response(r#"{"error":"invalid_grant"}"#).is_none());
}

proptest::proptest! {
    /// Any text as a token, with dots in it or not: a report, never a panic.
    #[test]
    fn any_token_gets_a_report(s in ".{0,300}", dots in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..5)) {
        let now = jiff::Timestamp::from_second(1_795_548_800).unwrap();
        let e = Expectations { audience: Some("https://outlook.office.com".into()), scopes: vec!["Mail.Read".into()] };
        let _ = token::inspect(&s, &e, now);
        let _ = token::inspect(&dots.join("."), &e, now);
        let _ = token::inspect_response(&s);
    }
}
