//! `connwatch decode [TOKEN | -] [--json] [--at T] [--expect-audience A] [--expect-scope S]…`:
//! claims and findings of a token, never the token itself. Read from stdin by default so
//! tokens stay out of shell history.
use std::process::ExitCode;

use jiff::Timestamp;

use crate::cli::DecodeArgs;
use crate::token::{self, Expectations, Severity, TokenReport};

/// `from_connection`: expectations of `--connection NAME`, resolved by the caller.
pub fn run(args: &DecodeArgs, from_connection: Option<Expectations>) -> ExitCode {
    match decode(args, from_connection) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("connwatch decode: {msg}");
            ExitCode::from(super::exit::FAILURE)
        }
    }
}

fn decode(args: &DecodeArgs, from_connection: Option<Expectations>) -> Result<String, String> {
    let token = match args.token.as_deref() {
        None | Some("-") => super::read_stdin()?,
        // A file holding the token (a JWT is never an existing path).
        Some(t) if std::path::Path::new(t).is_file() => std::fs::read(t)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| format!("cannot read {t}: {e}"))?,
        Some(t) => t.to_owned(),
    };
    // The token alone, or inside a pasted header, token response or XOAUTH2 string.
    let token = token::token_from_input(&token);
    let token = token.as_str();
    if token.is_empty() {
        return Err(
            "no token given (pass it on stdin, e.g. `connwatch token NAME | connwatch decode`)"
                .into(),
        );
    }
    let now = match &args.at {
        Some(at) => parse_at(at)?,
        None => Timestamp::now(),
    };
    let mut expect = from_connection.unwrap_or_default();
    if let Some(a) = &args.expect_audience {
        expect.audience = Some(a.clone());
    }
    expect.scopes.extend(args.expect_scope.iter().cloned());
    let report = token::inspect(token, &expect, now);
    Ok(if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        )
    } else {
        // Claims are the issuer's words: defused for the terminal (--json stays exact).
        crate::sanitize::text(&human(&report, now)).into_owned()
    })
}

/// RFC 3339 or Unix seconds.
fn parse_at(s: &str) -> Result<Timestamp, String> {
    if let Ok(secs) = s.trim().parse::<i64>() {
        return Timestamp::from_second(secs).map_err(|e| format!("--at {s}: {e}"));
    }
    s.trim().parse().map_err(|e| {
        format!("--at {s:?}: expected RFC 3339 (2026-11-24T19:30:00Z) or Unix seconds ({e})")
    })
}

fn human(r: &TokenReport, now: Timestamp) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<10} {v}\n"));
    line("format", format!("{:?}", r.format).to_lowercase());
    if let Some(t) = &r.token_type {
        line("type", t.clone());
    }
    if let Some(a) = &r.audience {
        line("audience", a.clone());
    }
    if let Some(t) = &r.tenant {
        line("tenant", t.clone());
    }
    if let Some(v) = &r.issuer_version {
        line("issuer", format!("v{v} token"));
    }
    if !r.scopes.is_empty() {
        line("scopes", r.scopes.join(" "));
    }
    if let Some(t) = r.issued_at {
        line("issued", format!("{t} ({})", crate::ui::relative(t, now)));
    }
    if let Some(t) = r.expires_at {
        line("expires", format!("{t} ({})", crate::ui::relative(t, now)));
    }
    for f in &r.findings {
        let mark = match f.severity {
            Severity::Error => "✗",
            Severity::Warning => "!",
            Severity::Info => "·",
        };
        out.push_str(&format!("{mark} {}\n", f.message));
    }
    if let Some(claims) = r.claims.as_ref().and_then(|c| c.as_object()) {
        out.push_str("claims (signature not checked):\n");
        for (k, v) in claims {
            out.push_str(&format!("  {k}: {v}\n"));
        }
    }
    out
}
