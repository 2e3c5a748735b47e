//! Table-driven: every file in tests/fixtures/errors/ is a real-shaped provider answer with
//! the diagnosis it must get (cause, code, needs_reauth, retryable, and any other field named).
use connwatch::diagnose::{self, HttpFailure, ProviderHint};
use serde_json::Value;

#[test]
fn every_error_fixture_gets_its_diagnosis() {
    // The instant HTTP-date Retry-After headers are measured from: 2026-11-24 19:33:15Z.
    let now: jiff::Timestamp = "2026-11-24T19:33:15Z".parse().unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir("tests/fixtures/errors")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let headers = doc["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_owned(),
                    h[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let provider: ProviderHint = serde_json::from_value(doc["provider"].clone()).unwrap();
        let body = doc["body"].as_str().unwrap().as_bytes();
        let d = diagnose::diagnose_at(
            &HttpFailure {
                status: doc["status"].as_u64().map(|s| s as u16),
                headers,
                body,
                provider,
            },
            now,
        );
        let got = serde_json::to_value(&d).unwrap();
        for (k, want) in doc["expect"].as_object().unwrap() {
            if &got[k] != want {
                failures.push(format!(
                    "{}: {k} = {} (want {want})",
                    path.display(),
                    got[k]
                ));
            }
        }
        assert!(
            !d.summary.is_empty() && !d.action.is_empty(),
            "{}: summary and action",
            path.display()
        );
        n += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {n} fixtures wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 60, "fixtures: {n}");
}

proptest::proptest! {
    /// Any bytes, any status, any header: a diagnosis, never a panic.
    #[test]
    fn any_input_gets_a_diagnosis(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
                                  status in proptest::option::of(100u16..600),
                                  header in ".{0,80}") {
        let d = diagnose::diagnose(&HttpFailure {
            status,
            headers: vec![("WWW-Authenticate".into(), header.clone()), ("Retry-After".into(), header)],
            body: &body,
            provider: ProviderHint::Unknown,
        });
        proptest::prop_assert!(!d.summary.is_empty());
    }

    /// Bodies that look like the real thing, cut anywhere (a connection dropped mid-answer).
    #[test]
    fn truncated_entra_bodies_never_panic(cut in 0usize..400) {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: 0b6a\r\nCorrelation ID: 5c4b\r\nTimestamp: 2026-11-24 19:33:15Z","error_codes":[53003],"suberror":"x","claims":"{}"}"#;
        let cut = cut.min(body.len());
        let _ = diagnose::diagnose(&HttpFailure { status: Some(400), headers: vec![], body: &body[..cut], provider: ProviderHint::Entra });
    }
}
