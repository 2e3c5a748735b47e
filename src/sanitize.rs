//! Text from outside — a provider's error code or description, an HTML title, a SASL
//! challenge, a probe's answer, a device flow's user code and address — made harmless where
//! it meets a terminal, a log line, a check's perfdata or the clipboard (ARCHITECTURE.md,
//! "Bounds"). A hostile IdP's `error` once rewrote the window title, cleared the screen and
//! wrote the clipboard (OSC 52) through `refresh`, `status` and `explain`.
//!
//! Every control character (C0, DEL, C1: the ESC that starts every escape sequence among
//! them) and every bidirectional-override or isolate control (which reorder what a reader
//! sees, U+202E) becomes U+FFFD, visibly; printable text of any script passes unchanged.
//! `--json` output is not passed through here: JSON escapes control characters itself, and
//! scripts get the exact bytes.
use std::borrow::Cow;

/// The bidi controls: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// One line of outside text: controls and bidi controls → U+FFFD, line breaks and tabs →
/// a space (a newline in a code once forged a log line and a check's perfdata).
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' | '\r' | '\t' => ' ',
                c if is_unsafe(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// Several lines of outside text (a transcript, a body shown whole): as `line`, but line
/// breaks stay.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' => '\n',
                '\t' | '\r' => ' ',
                c if is_unsafe(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// Every string in a JSON value (a token's claims, shown in the dashboard), in place.
pub fn json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            if let Cow::Owned(clean) = line(s) {
                *s = clean;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(json),
        serde_json::Value::Object(o) => {
            let keys: Vec<String> = o
                .keys()
                .filter(|k| line(k) != k.as_str())
                .cloned()
                .collect();
            for k in keys {
                if let Some(val) = o.remove(&k) {
                    o.insert(line(&k).into_owned(), val);
                }
            }
            o.values_mut().for_each(json);
        }
        _ => {}
    }
}

/// `line`, for a Nagios/Icinga plugin's text, where `|` starts the perfdata.
pub fn plugin_text(s: &str) -> String {
    line(s).replace('|', "/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_and_overrides_are_defused() {
        // Window title (OSC 0), clipboard (OSC 52), clear screen (CSI 2J), a C1 CSI, RLO.
        let hostile =
            "a\u{1b}]0;pwned\u{7}b\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp.exe";
        let out = line(hostile);
        assert!(!out.chars().any(is_unsafe), "{out:?}");
        assert!(
            out.contains("pwned"),
            "the text itself stays visible: {out:?}"
        );
        assert_eq!(line("bad\ncode"), "bad code");
        assert_eq!(text("two\nlines\u{1b}"), "two\nlines\u{FFFD}");
        assert_eq!(plugin_text("x|'a'=1"), "x/'a'=1");
        let mut v = serde_json::json!({ "name": "a\u{1b}]0;t\u{7}", "k\u{202e}": ["\u{9b}2J", 1] });
        json(&mut v);
        assert!(!v.to_string().chars().any(is_unsafe), "{v}");
        assert!(
            !serde_json::to_string(&v).unwrap().contains("\\u001b"),
            "{v}"
        );
    }

    proptest! {
        #[test]
        fn no_control_survives(s in any::<String>()) {
            prop_assert!(!line(&s).chars().any(is_unsafe));
            prop_assert!(!text(&s).chars().any(|c| c != '\n' && is_unsafe(c)));
            prop_assert!(!plugin_text(&s).contains('|'));
        }

        #[test]
        fn printable_text_of_any_script_passes(s in "[\\p{L}\\p{N}\\p{P}\\p{S} ]{0,64}") {
            prop_assume!(!s.chars().any(is_bidi_control));
            prop_assert_eq!(line(&s), s.as_str());
        }
    }
}
