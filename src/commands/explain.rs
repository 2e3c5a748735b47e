//! `connwatch explain [FILE | - | CODE] [--json]`: the diagnosis of an error body, a pasted
//! redirect, or a bare code. A diagnosis of a failure is a successful explain (exit 0).
use std::process::ExitCode;

use crate::cli::ExplainArgs;
use crate::diagnose::{Diagnosis, ProviderHint, diagnose_text};

pub fn run(args: &ExplainArgs) -> ExitCode {
    let input = match read_input(args.input.as_deref()) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("connwatch explain: {msg}");
            return ExitCode::from(super::exit::FAILURE);
        }
    };
    // A whole success response: report what came back, never the tokens themselves.
    if let Some(r) = crate::token::inspect_response(&input) {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&r).expect("a report serialises")
            );
        } else {
            print!("{}", response_human(&r));
        }
        return ExitCode::SUCCESS;
    }
    let d = diagnose_text(&input, ProviderHint::Unknown);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).expect("a diagnosis serialises")
        );
    } else {
        print!("{}", human(&d));
    }
    ExitCode::SUCCESS
}

/// A path that exists is read; `-` or nothing is stdin; anything else is the text itself.
fn read_input(arg: Option<&str>) -> Result<String, String> {
    match arg {
        None | Some("-") => super::read_stdin(),
        Some(a) if std::path::Path::new(a).is_file() => {
            let bytes = std::fs::read(a).map_err(|e| format!("cannot read {a}: {e}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Some(a) if a.contains(['/', '\\']) && !a.contains('=') && !a.contains("://") => {
            Err(format!("no such file: {a}"))
        }
        Some(a) => Ok(a.to_owned()),
    }
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
    let class = match (d.needs_reauth, d.retryable) {
        (true, _) => "needs a sign-in",
        (false, true) => "transient: retry later",
        (false, false) => "not fixed by retrying",
    };
    out.push_str(&format!("  {class}"));
    if let Some(s) = d.retry_after_s {
        out.push_str(&format!(" (retry after {s} s)"));
    }
    out.push('\n');
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

fn response_human(r: &crate::token::ResponseReport) -> String {
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
