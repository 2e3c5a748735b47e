//! `connwatch explain [FILE | - | CODE] [--json]`: the diagnosis of an error body, a pasted
//! redirect, or a bare code. A diagnosis of a failure is a successful explain (exit 0).
use std::process::ExitCode;

use crate::cli::ExplainArgs;
use crate::diagnose::{Cause, Diagnosis, ProviderHint, diagnose_text};
use crate::token::{FindingKind, ResponseReport};

pub fn run(args: &ExplainArgs) -> ExitCode {
    let input = match read_input(args.input.as_deref()) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("connwatch explain: {msg}");
            return ExitCode::from(super::exit::FAILURE);
        }
    };
    let provider = match args.provider.as_deref() {
        Some("entra") => ProviderHint::Entra,
        Some("zoom") => ProviderHint::Zoom,
        Some("google") => ProviderHint::Google,
        Some("oidc") => ProviderHint::Oidc,
        _ => ProviderHint::Unknown,
    };
    // A whole success response: report what came back, never the tokens themselves.
    if let Some(r) = crate::token::inspect_response(&input) {
        let missing = r
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::MissingOfflineAccess);
        let out = match (args.json, missing) {
            // `explain --json` speaks Diagnosis JSON (DESIGN.md) whenever something is wrong.
            (true, Some(f)) => json(&missing_refresh_token(&r, &f.message)),
            (true, None) => json(&r),
            (false, _) => crate::sanitize::text(&response_human(&r)).into_owned(),
        };
        print!("{out}");
        return ExitCode::SUCCESS;
    }
    let d = diagnose_text(&input, provider);
    if crate::diagnose::carries_bearer_token(&input) {
        eprintln!(
            "connwatch explain: this text holds a bearer token (a client printed its SASL string); it works until it expires: do not share the text."
        );
    }
    // What was pasted is outside text: the human form is defused, --json stays exact.
    print!(
        "{}",
        if args.json {
            json(&d)
        } else {
            crate::sanitize::text(&human(&d)).into_owned()
        }
    );
    ExitCode::SUCCESS
}

fn json<T: serde::Serialize>(v: &T) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(v).expect("a report serialises")
    )
}

/// The Diagnosis of a success response that carries no refresh token.
fn missing_refresh_token(r: &ResponseReport, message: &str) -> Diagnosis {
    let asked = r.scopes.iter().any(|s| s == "offline_access");
    let mut d = crate::diagnose::no_refresh_token(asked);
    d.code = Some("missing_offline_access".into());
    d.summary = format!("{}.", message.split(';').next().unwrap_or(message));
    d
}

/// A path that exists is read; `-` or nothing is stdin; a word that looks like a file name
/// (`body.json`, `./err`) but does not exist is an error; anything else is the text itself.
fn read_input(arg: Option<&str>) -> Result<String, String> {
    match arg {
        None | Some("-") => super::read_stdin(),
        Some(a) if std::path::Path::new(a).is_file() => {
            let bytes = std::fs::read(a).map_err(|e| format!("cannot read {a}: {e}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Some(a) if std::path::Path::new(a).is_dir() => {
            Err(format!("{a} is a directory; give a file, -, or a code"))
        }
        Some(a) if looks_like_a_path(a) => Err(format!("no such file: {a}")),
        Some(a) => Ok(a.to_owned()),
    }
}

fn looks_like_a_path(a: &str) -> bool {
    if a.contains(char::is_whitespace) || a.contains('=') || a.contains("://") {
        return false;
    }
    let extension = a.rsplit_once('.').filter(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
            && ext.bytes().any(|b| b.is_ascii_alphabetic())
    });
    a.contains(['/', '\\']) || a.starts_with('~') || extension.is_some()
}

pub fn human(d: &Diagnosis) -> String {
    let mut out = format!(
        "{}{}\n  {}\n  → {}\n",
        d.cause,
        d.code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        d.summary,
        d.action
    );
    // The provider's own words, verbatim, beside ours (and its page about them).
    if let Some(w) = d.provider_words() {
        out.push_str(&format!("  provider said: \u{201c}{w}\u{201d}\n"));
    }
    if let Some(u) = &d.error_uri {
        out.push_str(&format!("  more: {u}\n"));
    }
    let class = match (d.cause, d.needs_reauth, d.retryable) {
        (Cause::AuthorizationPending | Cause::SlowDown, _, _) => {
            "sign-in in progress: keep polling"
        }
        (_, true, _) => {
            "needs a sign-in (a connwatch connection: press a in the dashboard, or connwatch login <connection>)"
        }
        (_, false, true) => "transient: retry later",
        (_, false, false) => "not fixed by retrying",
    };
    out.push_str(&format!("  {class}"));
    if let Some(s) = d.retry_after_s {
        out.push_str(&format!(" (retry after {s} s)"));
    }
    out.push('\n');
    out.push_str(&format!("  who: {} ({})\n", d.fix_by.who(None), d.fix_by));
    if let Some(s) = d.sign_in_frequency_s {
        out.push_str(&format!(
            "  sign-in frequency: every {} (the tenant's policy; plan the next sign-in)\n",
            crate::diagnose::human_duration(s)
        ));
    }
    for (label, v) in [
        ("error", &d.error),
        ("suberror", &d.suberror),
        ("trace id", &d.trace_id),
        ("correlation id", &d.correlation_id),
        ("timestamp", &d.timestamp),
        ("claims", &d.claims),
    ] {
        if let Some(v) = v {
            out.push_str(&format!("  {label}: {v}\n"));
        }
    }
    out
}

fn response_human(r: &ResponseReport) -> String {
    let mut out = String::from("token response (success)\n");
    if let Some(e) = r.expires_in_s {
        out.push_str(&format!("  access token expires in {e} s\n"));
    }
    out.push_str(&format!(
        "  refresh token: {}\n",
        if r.has_refresh_token { "yes" } else { "no" }
    ));
    if !r.scopes.is_empty() {
        out.push_str(&format!("  scopes: {}\n", r.scopes.join(" ")));
    }
    for f in &r.findings {
        out.push_str(&format!("  ✗ {}\n", f.message));
    }
    out
}
