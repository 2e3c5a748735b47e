//! Mail servers' replies, transcripts and client logs: any text gives a diagnosis (or "not
//! mail"), never a panic; one-line summaries stay one line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(d) = connwatch::diagnose::diagnose_mail_text(&text) {
        assert!(!d.summary.contains('\n'));
    }
    let _ = connwatch::diagnose::diagnose_reply(&text, None);
    for line in text.lines() {
        let _ = connwatch::diagnose::parse_reply(line);
    }
});
