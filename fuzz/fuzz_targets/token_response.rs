//! The token endpoint's answers: success bodies (lenient numbers, v1 strings), error bodies,
//! device authorization bodies. Garbage is an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = connwatch::oauth::TokenResponse::parse(data);
    let _ = serde_json::from_slice::<connwatch::oauth::TokenErrorBody>(data);
    let _ = connwatch::oauth::DeviceAuthorization::parse(data);
});
