//! Config parsing and validation: any text gives a config or a located error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = connwatch::config::Config::parse(std::path::Path::new("fuzz.toml"), text) {
        // Rendering the error (line:column, the annotated source) must not panic either.
        let _ = e.one_line();
        let mut out = String::new();
        let _ = miette_render(&e, &mut out);
    }
});

fn miette_render(e: &connwatch::config::ConfigError, out: &mut String) -> std::fmt::Result {
    use std::fmt::Write;
    write!(out, "{e}")
}
