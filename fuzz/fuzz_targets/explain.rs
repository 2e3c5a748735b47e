//! `connwatch explain` input: pasted text (bodies, codes, redirect URLs) and raw HTTP answers.
//! Must never panic, whatever the bytes; every input yields a diagnosis.
#![no_main]
use connwatch::diagnose::{self, HttpFailure, ProviderHint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for hint in [
        ProviderHint::Unknown,
        ProviderHint::Entra,
        ProviderHint::Zoom,
        ProviderHint::Google,
    ] {
        let d = diagnose::diagnose_text(&text, hint);
        assert!(!d.summary.is_empty());
    }
    // The first bytes choose a status and a header, the rest is the body.
    let status = data.first().map(|b| 400 + u16::from(*b) % 200);
    let header = text.lines().next().unwrap_or_default().to_owned();
    let d = diagnose::diagnose(&HttpFailure {
        status,
        headers: vec![
            ("www-authenticate".into(), header.clone()),
            ("retry-after".into(), header),
        ],
        body: data,
        provider: ProviderHint::Unknown,
    });
    assert!(!d.summary.is_empty());
});
