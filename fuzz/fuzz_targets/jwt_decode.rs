//! `connwatch decode`: any string as a token (and as pasted input: headers, responses,
//! XOAUTH2), judged against expectations at a fixed instant. Must never panic.
#![no_main]
use connwatch::token::{self, Expectations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let now = jiff::Timestamp::from_second(1_795_548_800).unwrap();
    let expect = Expectations {
        audience: Some("https://graph.microsoft.com".into()),
        scopes: vec!["Mail.Read".into()],
    };
    let _ = token::inspect(&text, &expect, now);
    let _ = token::inspect(&text, &Expectations::default(), now);
    let t = token::token_from_input(&text);
    let _ = token::inspect(&t, &expect, now);
    let _ = token::inspect_response(&text);
});
