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
        // Mail servers' words, as pasted into `explain` (one reply, a transcript, a client
        // log), or an HTTP answer.
        // A captured client output never carries a live token (capture masks it).
        if let Some(text) = doc["text"].as_str() {
            assert!(
                !diagnose::carries_bearer_token(text),
                "{}: holds a live bearer token",
                path.display()
            );
        }
        let d = if let Some(text) = doc["text"].as_str() {
            let provider: ProviderHint =
                serde_json::from_value(doc["provider"].clone()).unwrap_or_default();
            diagnose::diagnose_text(text, provider)
        } else {
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
            diagnose::diagnose_at(
                &HttpFailure {
                    status: doc["status"].as_u64().map(|s| s as u16),
                    headers,
                    body,
                    provider,
                },
                now,
            )
        };
        let got = serde_json::to_value(&d).unwrap();
        // Who fixes it is part of every fixture's expectation (issue 15).
        if doc["expect"].get("fix_by").is_none() {
            failures.push(format!(
                "{}: no expected fix_by (got {})",
                path.display(),
                got["fix_by"]
            ));
        }
        // A sign-in is the fix only when the user is the one to act.
        assert!(
            !d.needs_reauth || d.fix_by == connwatch::diagnose::FixBy::User,
            "{}: needs_reauth with fix_by {}",
            path.display(),
            d.fix_by
        );
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
        // The dashboard shows the summary in one table cell: one line, no template left.
        assert!(
            !d.summary.contains(['\n', '\r', '{', '}']) && !d.action.contains('\n'),
            "{}: one-line summary: {:?}",
            path.display(),
            d.summary
        );
        n += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {n} fixtures wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 100, "fixtures: {n}");
}

proptest::proptest! {
    /// Mail replies, transcripts and logs of any shape: a diagnosis or "not mail", never a
    /// panic, and a one-line summary with the protocol's own code.
    #[test]
    fn any_mail_text_gets_a_diagnosis(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                "(S: |C: |< |> |)[0-9]{3}[ -][45]\\.[0-9]{1,3}\\.[0-9]{1,3} .{0,40}",
                "(S: |)[a-z0-9*]{1,5} (NO|BAD|OK|BYE) (\\[[A-Z]{0,20}\\] )?.{0,40}",
                "(S: |)(\\+|334) [A-Za-z0-9+/=]{0,60}",
                "(S: |)-ERR .{0,40}",
                ".{0,80}",
            ],
            0..8,
        )
    ) {
        let text = lines.join("\n");
        if let Some(d) = diagnose::diagnose_mail_text(&text) {
            proptest::prop_assert!(!d.summary.is_empty() && !d.summary.contains('\n'));
        }
        let d = diagnose::diagnose_reply(&text, None);
        proptest::prop_assert!(!d.summary.contains('\n'));
        let d = diagnose::diagnose_text(&text, ProviderHint::Unknown);
        proptest::prop_assert!(!d.summary.is_empty());
    }

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

/// Every AADSTS code of shared/reference/identity-providers.md §1 has a fixture, and none of
/// them is left `unknown`.
#[test]
fn every_reference_aadsts_code_has_a_fixture() {
    const REFERENCE: [u32; 34] = [
        50173, 700082, 700084, 70043, 70008, 50076, 50079, 53003, 65001, 65004, 50020, 90072,
        700016, 7000215, 7000218, 50126, 50053, 50057, 70000, 70011, 54005, 90002, 50058, 50011,
        500011, 70016, 70018, 70019, 70020, 50196, 90033, 50087, 90006, 90090,
    ];
    let mut covered = std::collections::HashSet::new();
    for entry in std::fs::read_dir("tests/fixtures/errors").unwrap() {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        if let Some(code) = doc["expect"]["code"]
            .as_str()
            .and_then(|c| c.strip_prefix("AADSTS"))
        {
            covered.insert(code.parse::<u32>().unwrap());
        }
    }
    let missing: Vec<_> = REFERENCE.iter().filter(|c| !covered.contains(c)).collect();
    assert!(missing.is_empty(), "no fixture for AADSTS{missing:?}");
    for code in REFERENCE {
        let d = diagnose::diagnose_text(&format!("AADSTS{code}"), ProviderHint::Entra);
        assert_ne!(d.cause, diagnose::Cause::Unknown, "AADSTS{code}");
        assert!(
            !d.summary.contains(['{', '}', '[', ']']),
            "AADSTS{code}: {}",
            d.summary
        );
    }
}

/// MSAL.js (InteractionRequiredAuthError) also finds the interaction errors in the text.
#[test]
fn interaction_errors_named_in_the_description_need_a_sign_in() {
    let d = diagnose::diagnose(&HttpFailure {
        status: Some(400),
        headers: vec![],
        body: br#"{"error":"invalid_request","error_description":"login_required: no session"}"#,
        provider: ProviderHint::Oidc,
    });
    assert!(d.needs_reauth);
    assert!(!d.retryable);
}

/// Actions stay name-free; `action_for` adds how to sign in to one connection.
#[test]
fn actions_are_name_free() {
    let d = diagnose::diagnose_text("AADSTS700082", ProviderHint::Entra);
    assert_eq!(d.action, "Sign in again.");
    assert_eq!(
        d.action_for("work-mail"),
        "Sign in again (press a in the dashboard, or run: connwatch login work-mail)."
    );
    assert!(!d.summary.contains('\n'));
}

proptest::proptest! {
    /// Whatever a user pastes: a diagnosis with a one-line summary, never a panic.
    #[test]
    fn any_pasted_text_gets_a_diagnosis(text in "\\PC{0,300}") {
        let d = diagnose::diagnose_text(&text, ProviderHint::Unknown);
        proptest::prop_assert!(!d.summary.is_empty() && !d.action.is_empty());
    }

    /// Pasted shapes with random pieces: query strings, raw HTTP, bare codes.
    #[test]
    fn pasted_shapes_never_panic(a in "[a-z_%+=&#?0-9A-Z:/. \\r\\n-]{0,120}") {
        for t in [format!("?error={a}"), format!("HTTP/1.1 {a}"), format!("AADSTS{a}"), format!("{{\"error\":\"{a}\"}}")] {
            let _ = diagnose::diagnose_text(&t, ProviderHint::Entra);
        }
    }

    /// Clients' shapes with random pieces around them (multi-byte too): Outlook's codes,
    /// Thunderbird's quoted replies, curl's exit codes, SASL strings: never a panic.
    #[test]
    fn client_shapes_never_panic(a in "\\PC{0,40}", b in "[0-9a-fA-FxX()é' ]{0,24}") {
        for t in [
            format!("Task '{a}' reported error (0x{b}) : '{a}'"),
            format!("0x800CCC9{b}{a}"),
            format!("{a}The server responded: {b}{a}"),
            format!("Login to server {a} with username {b} failed."),
            format!("curl: ({b}) {a}"),
            format!("{a}auth=Bearer {b}{a}"),
        ] {
            let d = diagnose::diagnose_text(&t, ProviderHint::Unknown);
            proptest::prop_assert!(!d.summary.is_empty() && !d.action.is_empty());
        }
    }
}
