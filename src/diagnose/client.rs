//! What mail clients print when they fail, as people paste it into `explain`: connwatch's own
//! `token` error line (the client ran it and passed its stderr on), a client saying its token
//! command failed, and a client's own word for a refusal when the server's words are not in
//! its output. Captured from the Debian 12 clients (msmtp 1.8.23, isync 1.4.4 with the KDE
//! XOAUTH2 SASL plugin, curl 7.88; fixtures in tests/fixtures/errors/client_*.json).
use serde_json::Value;

use super::{Cause, Diagnosis, FixBy, ProviderHint};

/// connwatch's own error line — `NAME: CAUSE (CODE): summary … run: connwatch login NAME`,
/// with or without the `connwatch: ` prefix `token` puts before it — anywhere in the text.
/// It names the cause exactly: it wins over everything a client or server adds after it.
pub(super) fn connwatch_line(text: &str) -> Option<Diagnosis> {
    text.lines().find_map(own_line)
}

fn own_line(line: &str) -> Option<Diagnosis> {
    let l = line.trim();
    // Ours only: `token`'s prefix, a provider code in parentheses, or our fix at the end
    // ("Error: invalid_client: AADSTS7000215: …" from a library is the provider's words).
    let ours = l.starts_with("connwatch: ") || l.contains("run: connwatch login ");
    let l = l.strip_prefix("connwatch: ").unwrap_or(l);
    let (name, rest) = l.split_once(": ")?;
    let named = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !named {
        return None;
    }
    let (head, summary) = rest.split_once(": ")?;
    let (cause, code) = match head.split_once(" (") {
        Some((c, code)) => (c, Some(code.strip_suffix(')')?)),
        None => (head, None),
    };
    if !ours && code.is_none() {
        return None;
    }
    let cause: Cause = serde_json::from_value(Value::String(cause.to_owned())).ok()?;
    if cause == Cause::MissingOfflineAccess {
        return Some(super::no_refresh_token(false));
    }
    // The provider's code carries the whole meaning (the catalogue's summary and action).
    if let Some(code) = code {
        let d = super::diagnose_text(code, ProviderHint::Unknown);
        if d.cause == cause {
            return Some(d);
        }
    }
    let mut d = Diagnosis::of(
        cause,
        matches!(
            cause,
            Cause::Network | Cause::ServerError | Cause::Throttled
        ),
        summary.contains("run: connwatch login"),
        summary
            .split(" run: connwatch login")
            .next()
            .unwrap_or(summary)
            .trim()
            .to_owned(),
        "Run connwatch status NAME for the whole diagnosis.",
    );
    d.code = code.map(str::to_owned);
    if d.needs_reauth {
        d.action = "Sign in again.".into();
    }
    Some(d)
}

/// A client saying its token command failed: msmtp's "cannot read output of '…'", mbsync's
/// "PassCmd exited with status N", aerc's "failed to read password", mutt's "Command returned
/// empty string", getmail's "External program error (… exited with N)". (When connwatch's own line is in the text too, that line says why.)
pub(super) fn token_command_failed(text: &str) -> Option<Diagnosis> {
    let said = text.lines().map(str::trim).find(|l| {
        l.contains("cannot read output of")
            || l.contains("PassCmd exited with status")
            || l.contains("failed to read password")
            || l.contains("Command returned empty string")
            // getmail6: its password_command's stderr is not shown.
            || l.contains("External program error (")
    })?;
    // connwatch's own answer to a name it does not know, when the client passed it on.
    if let Some(name) = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("connwatch: no connection named ")?
            .split(" in ")
            .next()
    }) {
        let mut d = Diagnosis::of(
            Cause::Unknown,
            false,
            false,
            format!(
                "The mail client's token command asks for a connection connwatch does not have ({name}); the client says {}.",
                quote(said)
            ),
            "Put a name connwatch status lists into the client's token command, or add the connection (connwatch add NAME --email ADDRESS).",
        );
        d.code = Some("unknown connection".into());
        return Some(d);
    }
    let mut d = Diagnosis::of(
        Cause::Unknown,
        false,
        false,
        format!(
            "The mail client could not get a token: its token command failed ({}).",
            quote(said)
        ),
        "Run connwatch status NAME: token recorded why it failed (or run the client's token command by hand: its one line on stderr says why).",
    );
    d.code = Some("token command failed".into());
    d.fix_by = FixBy::User;
    Some(d)
}

/// An IMAP response code a client quotes in its own words: getmail's "credential/login error
/// ([AUTHENTICATIONFAILED] Invalid credentials (Failure))" is the server's tagged `NO`.
pub(super) fn quoted_imap_code(text: &str) -> Option<Diagnosis> {
    text.lines().find_map(|l| {
        let start = l.find("([")? + 1;
        let inner = l[start..].strip_suffix(')').unwrap_or(&l[start..]);
        inner
            .contains(']')
            .then(|| super::diagnose_mail_text(&format!("a NO {inner}")))?
    })
}

/// A client's own word for a refused login, with no server reply in its output: curl's
/// "(67) Login denied", mutt's "XOAUTH2 authentication failed.", aerc's "XOAUTH2
/// authentication error". The server refused the token; its own words (and the token's
/// claims) are what `connwatch probe` shows.
pub(super) fn client_refusal(text: &str) -> Option<Diagnosis> {
    let said = text.lines().map(str::trim).find(|l| {
        l.contains("(67) Login denied")
            || l.contains("authentication failed.")
            || l.contains("authentication error")
            || l.contains("conn.Auth:")
            // mbsync when the server answers XOAUTH2 with an error challenge (Dovecot): the
            // SASL plugin thinks it is done, the server wants the refusal acknowledged.
            || l.contains("wants more steps despite successful SASL")
    })?;
    let mut d = Diagnosis::of(
        Cause::BadCredentials,
        false,
        true,
        format!(
            "The server refused the token; the client says only {}.",
            quote(said)
        ),
        "Run connwatch probe NAME: it shows the server's own words and checks the token's scope, audience and expiry; sign in again if the token itself is refused.",
    );
    d.code = Some(said.chars().take(60).collect());
    Some(d)
}

/// curl's exit codes for a TLS failure (libcurl-errors(3)): SSL connect error, the local
/// certificate, the cipher, the peer's certificate, the CA file, shutdown, the public key
/// pin, the CRL, the issuer, no usable certificate.
const CURL_TLS: [u8; 10] = [35, 58, 59, 60, 77, 80, 82, 83, 90, 91];
/// curl's exit codes for a server that cannot be reached or stops answering: host not
/// resolved, no connection, timeout, nothing back, send or receive failed.
const CURL_NETWORK: [u8; 6] = [6, 7, 28, 52, 55, 56];

/// A client that never reached the server, or whose TLS handshake failed: msmtp's "cannot
/// connect to …", mbsync's "Cannot connect to … Connection refused", curl's "(7) Failed to
/// connect" / "(28) … timed out", and the certificate complaints of each.
pub(super) fn unreachable(text: &str) -> Option<Diagnosis> {
    let lines = || text.lines().map(str::trim);
    let tls = lines().find(|l| {
        let l = l.to_ascii_lowercase();
        // Failure words only: curl -v's "* SSL certificate verify ok." is a success.
        let failed = [
            "fail",
            "unable",
            "untrusted",
            "not trusted",
            "does not match",
            "problem",
            "error",
            "invalid",
            "expired",
        ]
        .iter()
        .any(|w| l.contains(w));
        (l.contains("certificate") && failed && !l.contains("verify ok"))
            || l.contains("tls handshake failed")
            || l.contains("could not negotiate tls")
            || l.starts_with("ssl error")
            || CURL_TLS
                .iter()
                .any(|c| l.starts_with(&format!("curl: ({c})")))
    });
    if let Some(said) = tls {
        let mut d = Diagnosis::of(
            Cause::Tls,
            false,
            false,
            format!(
                "The client refused the server's TLS certificate or handshake: {}.",
                quote(said)
            ),
            "Point the client (and connwatch's ca_file) at the CA that signed the server's certificate, or fix the host name it connects to.",
        );
        d.code = Some("tls".into());
        return Some(d);
    }
    let said = lines().find(|l| {
        let low = l.to_ascii_lowercase();
        low.contains("cannot connect to")
            || low.contains("connection refused")
            || low.contains("no working address found")
            || low.contains("failed to connect")
            || low.contains("timed out")
            || low.contains("could not resolve host")
            || low.contains("connection reset")
            || (low.starts_with("socket error") && low.contains("timeout"))
            || CURL_NETWORK
                .iter()
                .any(|c| low.starts_with(&format!("curl: ({c})")))
    })?;
    let mut d = Diagnosis::of(
        Cause::Network,
        true,
        false,
        format!(
            "The client could not reach the mail server: {}.",
            quote(said)
        ),
        "Check the server's host name and port in the client's config, and the network; the token is not the problem.",
    );
    d.code = Some("network".into());
    Some(d)
}

/// A client whose output ends while it authenticates (mutt: "Authenticating (XOAUTH2)...",
/// then nothing): the client was stopped before the server answered — a slow server, or one
/// that delays refusals (Dovecot holds each failed login from an address back 2, 4, 8, then
/// 15 s). The server's answer is not in it; the probe shows it.
pub(super) fn stuck_authenticating(text: &str) -> Option<Diagnosis> {
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    if !(last.starts_with("Authenticating (") && last.ends_with("...")) {
        return None;
    }
    let mut d = Diagnosis::of(
        Cause::Unknown,
        false,
        false,
        format!(
            "The client stopped while signing in to the server ({}): the server had not answered yet — a slow server, or one that delays refusals (Dovecot holds back each failed login from an address by up to 15 s).",
            quote(last)
        ),
        "Run connwatch probe NAME: it shows the server's own answer and checks the token; sign in again if the token is refused.",
    );
    d.code = Some("stuck authenticating".into());
    Some(d)
}

/// Whether pasted text holds a live bearer token inside a SASL string (mbsync 1.4 prints its
/// whole `AUTHENTICATE XOAUTH2 <base64>` line): explain never echoes it, but the person
/// should know the text is a secret. A masked one (`auth=Bearer ***`) does not count.
pub fn carries_bearer_token(text: &str) -> bool {
    use base64::Engine;
    text.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | ',' | '(' | ')'))
        .filter(|w| w.len() >= 24)
        .filter_map(|w| base64::engine::general_purpose::STANDARD.decode(w).ok())
        .chain(std::iter::once(text.as_bytes().to_vec()))
        .any(|b| {
            let s = String::from_utf8_lossy(&b);
            s.split("auth=Bearer ")
                .skip(1)
                .any(|rest| rest.len() >= 16 && !rest.starts_with("***"))
        })
}

/// A client's line in quotes, at most 160 characters, with any SASL string that carries a
/// token cut out (mbsync prints them; explain never echoes a token).
pub(super) fn quote(s: &str) -> String {
    let redacted: Vec<String> = s
        .split(' ')
        .map(|w| {
            if carries_bearer_token(w.trim_matches(['\'', '"', ',', '(', ')'])) {
                "***".to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect();
    let short: String = redacted.join(" ").chars().take(160).collect();
    format!("\u{201c}{short}\u{201d}")
}

#[cfg(test)]
mod tests {
    use crate::diagnose::{Cause, ProviderHint, diagnose_text};
    use base64::Engine;

    fn explain(text: &str) -> crate::diagnose::Diagnosis {
        diagnose_text(text, ProviderHint::Unknown)
    }

    /// The clients' words quoted in issue 25 (aerc 0.14, getmail6 6.18, neomutt, curl -v) that
    /// the captured fixtures (tests/fixtures/errors/client_*.json) do not cover.
    #[test]
    fn words_of_clients_not_captured_here() {
        let d = explain("XOAUTH2 authentication error (401)");
        assert_eq!(d.cause, Cause::BadCredentials);
        assert!(d.needs_reauth);
        let d = explain("failed to read password: exit status 1");
        assert_eq!(d.code.as_deref(), Some("token command failed"));
        let d = explain(
            "getmail: credential/login error ([AUTHENTICATIONFAILED] Invalid credentials (Failure))",
        );
        assert_eq!(
            (d.cause, d.code.as_deref()),
            (Cause::BadCredentials, Some("NO [AUTHENTICATIONFAILED]"))
        );
        // Dovecot's error challenge, quoted by neomutt: decoded, the scope named.
        let d = explain(
            "SMTP session failed: 334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=",
        );
        assert_eq!(d.cause, Cause::MissingScope);
        // A curl -v excerpt is a transcript, not an HTML page.
        let d = explain(
            "< * OK Dovecot ready.\n> A001 AUTHENTICATE XOAUTH2 ***\n< A001 NO [AUTHENTICATIONFAILED] Authentication failed.",
        );
        assert_eq!(d.code.as_deref(), Some("NO [AUTHENTICATIONFAILED]"));
        // mbsync's SASL plugin chatter alone is not JSON.
        let d = explain(
            "[SASL-XOAUTH2] - Requesting authID!\n[SASL-XOAUTH2] - Requesting token!\nSkipping account work, PassCmd exited with status 1",
        );
        assert_eq!(d.code.as_deref(), Some("token command failed"));
        // Not ours: a library's "Error: cause: …" keeps the provider's meaning, and curl -v's
        // certificate success line is no TLS failure.
        let d = explain("Error: invalid_client: AADSTS7000215: Invalid client secret provided.");
        assert_eq!(d.code.as_deref(), Some("AADSTS7000215"));
        let d = explain(
            "* SSL certificate verify ok.\n< HTTP/1.1 400 Bad Request\n< {\"error\":\"invalid_grant\"}",
        );
        assert_ne!(d.cause, Cause::Tls);
        // connwatch's own codes and lines.
        assert_eq!(
            explain("missing_offline_access").cause,
            Cause::MissingOfflineAccess
        );
        let d = explain(
            "connwatch: work-mail: grant_revoked (AADSTS50173): The grant was revoked. run: connwatch login work-mail",
        );
        assert_eq!(
            (d.cause, d.code.as_deref()),
            (Cause::GrantRevoked, Some("AADSTS50173"))
        );
    }

    #[test]
    fn a_live_token_in_a_sasl_string_is_noticed_a_masked_one_is_not() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let live = b64(
            "user=alice@contoso.com\x01auth=Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig\x01\x01",
        );
        let masked = b64("user=alice@contoso.com\x01auth=Bearer ***\x01\x01");
        let line = |s: &str| {
            format!(
                "IMAP command 'AUTHENTICATE XOAUTH2 {s}' returned an error: NO AUTHENTICATE failed."
            )
        };
        assert!(super::carries_bearer_token(&line(&live)));
        assert!(!super::carries_bearer_token(&line(&masked)));
        assert!(!super::carries_bearer_token(
            "msmtp: server message: 535 5.7.8 Authentication failed."
        ));
        assert!(super::carries_bearer_token(
            "n,a=alice,\x01auth=Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9\x01\x01"
        ));
    }
}
