//! What mail servers say when they refuse a token: IMAP tagged `NO`/`BAD` with RFC 5530 codes,
//! SMTP `535 5.7.x` and friends (RFC 3463 enhanced codes, RFC 4954), POP `-ERR`, and the
//! base64 JSON error challenge of XOAUTH2 / OAUTHBEARER (RFC 7628 §3.2.2). Input is one reply
//! line, a `S:`/`C:` transcript, or a mail client's log; the decisive server line wins.
//! Facts: ../shared/reference/mail-protocols.md.
use base64::Engine;
use serde_json::Value;

use super::{Cause, Diagnosis, FixBy};

/// Longest piece of a server's own words quoted in a summary.
const QUOTE_MAX: usize = 200;

/// One server reply reduced to what classification needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MailReply {
    /// The protocol's own code: `535 5.7.139`, `NO [AUTHENTICATIONFAILED]`, `-ERR`.
    pub code: String,
    /// The human text after the code.
    pub text: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Smtp { basic: u16 },
    Imap { bad: bool },
    Pop,
}

/// The diagnosis of mail-server text, or `None` when nothing in it looks like a mail reply
/// (then it is an HTTP body, a code or plain text for the other readers).
pub fn diagnose_mail_text(text: &str) -> Option<Diagnosis> {
    let mut best: Option<(u8, MailReply)> = None;
    let mut challenge = None;
    for raw in text.lines() {
        let Some(line) = server_line(raw) else {
            continue;
        };
        if challenge.is_none() {
            challenge = challenge_in(line);
        }
        if let Some(reply) = parse_reply(line).or_else(|| embedded(line)) {
            let rank = rank(&reply);
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, reply));
            }
        }
    }
    match best {
        Some((_, reply)) => Some(classify(&reply, challenge.as_ref())),
        None => challenge.map(|c| from_challenge_only(&c)),
    }
}

/// The diagnosis of a probe's final reply (possibly several lines) and the decoded error
/// challenge the server sent before it, if any.
pub fn diagnose_reply(reply: &str, challenge: Option<&Value>) -> Diagnosis {
    let parsed = reply.lines().filter_map(parse_reply).max_by_key(rank);
    match parsed {
        Some(r) => classify(&r, challenge),
        None => match challenge {
            Some(c) => from_challenge_only(c),
            None => {
                let mut d = Diagnosis::of(
                    Cause::Unknown,
                    false,
                    false,
                    format!("The mail server answered: {}", quote(reply)),
                    "Look at the probe's transcript in the detail pane (Enter) for the whole exchange.",
                );
                d.code = None;
                d
            }
        },
    }
}

/// A line as the server sent it: transcript and client-log prefixes removed; `None` for
/// lines the client sent (`C:`, `>>>`, `-->`).
fn server_line(raw: &str) -> Option<&str> {
    let mut l = raw.trim();
    // Log timestamps and levels before the protocol text: "2026-11-24 19:33:15 [imap] S: …".
    for marker in ["S: ", "S:", "<<< ", "<-- ", "<< ", "< "] {
        if let Some(i) = l.find(marker)
            && (i == 0 || l[..i].ends_with([' ', ']', ':', '\t']))
        {
            l = &l[i + marker.len()..];
            return Some(l.trim());
        }
    }
    for marker in ["C: ", "C:", ">>> ", "--> ", ">> ", "> "] {
        if let Some(i) = l.find(marker)
            && (i == 0 || l[..i].ends_with([' ', ']', ':', '\t']))
        {
            return None;
        }
    }
    Some(l)
}

/// A reply quoted inside a client's log line: msmtp's "server message: 535 5.7.3 …",
/// mbsync's "returned an error: NO AUTHENTICATE failed." (untagged there).
fn embedded(line: &str) -> Option<MailReply> {
    line.match_indices(": ").find_map(|(i, _)| {
        let rest = line[i + 2..].trim();
        parse_reply(rest).or_else(|| {
            (rest.starts_with("NO ") || rest.starts_with("BAD "))
                .then(|| parse_reply(&format!("* {rest}")))
                .flatten()
        })
    })
}

/// The decoded JSON of an error challenge (`334 eyJ…` or `+ eyJ…`) in a line.
fn challenge_in(line: &str) -> Option<Value> {
    // Also quoted in a client's line (neomutt: "SMTP session failed: 334 eyJ…").
    let payload = line
        .strip_prefix("334 ")
        .or_else(|| line.strip_prefix("+ "))
        .or_else(|| line.strip_prefix('+'))
        .or_else(|| line.find(": 334 eyJ").map(|i| &line[i + ": 334 ".len()..]))?
        .trim();
    if !payload.starts_with("eyJ") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Parse one server line into a reply, if it is a failure or warning reply of a mail protocol.
pub fn parse_reply(line: &str) -> Option<MailReply> {
    let line = line.trim();
    // SMTP: "535 5.7.139 text" or "535-5.7.8 text" (multi-line).
    let b = line.as_bytes();
    if b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b' ' | b'-') {
        let basic: u16 = line[..3].parse().ok()?;
        if !(400..600).contains(&basic) {
            return None;
        }
        let rest = line.get(4..).unwrap_or("").trim();
        let (enhanced, text) = match rest.split_once(' ') {
            Some((e, t)) if is_enhanced(e) => (Some(e), t.trim()),
            _ if is_enhanced(rest) => (Some(rest), ""),
            _ => (None, rest),
        };
        // Without an enhanced code only the authentication replies of RFC 4954 count: a
        // pasted "503 Service Unavailable" is an HTTP status line, not SMTP.
        if enhanced.is_none() && !matches!(basic, 454 | 530 | 534 | 535 | 538) {
            return None;
        }
        let code = match enhanced {
            Some(e) => format!("{basic} {e}"),
            None => basic.to_string(),
        };
        return Some(MailReply {
            code,
            text: text.to_owned(),
            kind: Kind::Smtp { basic },
        });
    }
    // POP3: "-ERR [AUTH] text".
    if let Some(rest) = line.strip_prefix("-ERR") {
        return Some(MailReply {
            code: "-ERR".into(),
            text: rest.trim().to_owned(),
            kind: Kind::Pop,
        });
    }
    // IMAP: "tag NO [CODE] text", "tag BAD text", also untagged "* NO"/"* BAD"/"* BYE".
    let mut words = line.splitn(3, ' ');
    let tag = words.next()?;
    let status = words.next()?.to_ascii_uppercase();
    let rest = words.next().unwrap_or("").trim();
    if tag.is_empty()
        || !tag
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'*' || c == b'.')
    {
        return None;
    }
    let bad = match status.as_str() {
        "NO" => false,
        "BAD" => true,
        "BYE" if tag == "*" => false,
        "OK" if rest.starts_with("[ALERT]") => false,
        _ => return None,
    };
    let (resp_code, text) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((c, t)) => (
            Some(c.split(' ').next().unwrap_or(c).to_ascii_uppercase()),
            t.trim(),
        ),
        None => (None, rest),
    };
    // Exchange's opaque answers are known by their words; keep them whole as the code.
    let code = match &resp_code {
        Some(c) => format!("{status} [{c}]"),
        None if text.eq_ignore_ascii_case("AUTHENTICATE failed.")
            || text.eq_ignore_ascii_case("AUTHENTICATE failed") =>
        {
            format!("{status} AUTHENTICATE failed.")
        }
        None if text.contains("authenticated but not connected") => {
            format!("{status} User is authenticated but not connected.")
        }
        None => status.clone(),
    };
    Some(MailReply {
        code,
        text: text.to_owned(),
        kind: Kind::Imap { bad },
    })
}

fn is_enhanced(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// How decisive a reply is: an authentication verdict beats a generic error, which beats a
/// goodbye.
fn rank(r: &MailReply) -> u8 {
    let lower = r.text.to_ascii_lowercase();
    match r.kind {
        Kind::Smtp { basic } if r.code.contains(" 5.7.") || r.code.contains(" 4.7.") => {
            9 + u8::from(basic >= 500)
        }
        Kind::Smtp {
            basic: 535 | 534 | 538 | 454 | 530,
        } => 8,
        Kind::Smtp { .. } => 4,
        Kind::Imap { .. } if r.code.contains('[') && !r.code.ends_with("[ALERT]") => 9,
        Kind::Imap { .. }
            if r.code.contains("AUTHENTICATE failed") || lower.contains("not connected") =>
        {
            9
        }
        Kind::Imap { .. } if r.code.starts_with("BYE") => 2,
        Kind::Imap { .. } => 5,
        Kind::Pop => 7,
    }
}

fn quote(s: &str) -> String {
    let one: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control() && *c != '{' && *c != '}')
        .collect();
    if one.chars().count() > QUOTE_MAX {
        let cut: String = one.chars().take(QUOTE_MAX).collect();
        format!("{cut}…")
    } else {
        one
    }
}

/// What the challenge adds: the scope the server wants, and its HTTP-like status.
fn challenge_note(c: Option<&Value>) -> (Option<String>, Option<String>) {
    let Some(c) = c else { return (None, None) };
    let status = c.get("status").and_then(|s| match s {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let scope = c.get("scope").and_then(Value::as_str).map(str::to_owned);
    (status, scope)
}

fn from_challenge_only(c: &Value) -> Diagnosis {
    let (status, scope) = challenge_note(Some(c));
    let mut d = refused_token(&status, &scope);
    d.code = status.map(|s| format!("SASL {s}"));
    d
}

/// A refused token as the challenge explains it: 401 = invalid, expired or revoked;
/// 400/403 with a scope = the token lacks what the server wants (Gmail's form).
fn refused_token(status: &Option<String>, scope: &Option<String>) -> Diagnosis {
    let scope_note = scope
        .as_deref()
        .map(|s| format!(" The server wants a token with the scope {s}."))
        .unwrap_or_default();
    match status.as_deref() {
        Some("400" | "403") if scope.is_some() => Diagnosis::of(
            Cause::MissingScope,
            false,
            true,
            format!(
                "The mail server refused the token: it does not carry the access the server needs.{scope_note}"
            ),
            "Make sure the connection's scopes include the mail scope, then sign in again.",
        ),
        _ => Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!(
                "The mail server refused the token: invalid, expired or revoked, or issued for another user.{scope_note}"
            ),
            REFUSED_ACTION,
        ),
    }
}

fn classify(r: &MailReply, challenge: Option<&Value>) -> Diagnosis {
    let lower = r.text.to_ascii_lowercase();
    let said = quote(&format!("{} {}", r.code, r.text));
    let (c_status, c_scope) = challenge_note(challenge);
    let mut d = match r.kind {
        Kind::Smtp { basic } => smtp(r, basic, &lower, &said),
        Kind::Imap { bad } => imap(r, bad, &lower, &said),
        Kind::Pop => pop(&lower, &said),
    };
    if d.cause == Cause::BadCredentials && challenge.is_some() {
        let mut c = refused_token(&c_status, &c_scope);
        c.summary = format!("{} Server: {said}", c.summary);
        c.retryable = d.retryable;
        d = c;
    }
    d.code = Some(r.code.clone());
    d
}

/// A refused token, read from the server's words alone (a mail client's output, a 535 or
/// `NO [AUTHENTICATIONFAILED]`): most often a revoked or expired grant, but a token without the
/// scope the server wants reads the same (Dovecot's challenge names `mail` whatever the server
/// needs). The probe tells them apart from the token's claims (probe::explain_opaque).
pub const REFUSED_ACTION: &str = "Sign in again if the grant was revoked or has expired; if a new token is refused too, run connwatch probe NAME: it checks the token's scopes and user against what the connection expects.";

const OPAQUE: &str = "Exchange does not say why; the usual reasons are the token's: its audience is not https://outlook.office.com (a Graph token), the IMAP/SMTP/POP scope was not granted, or it belongs to another user than the account";
const OPAQUE_ACTION: &str = "Run `connwatch probe` for this connection: it compares the token's claims with what the server needs; then fix the scopes or account and sign in again.";

fn smtp(r: &MailReply, basic: u16, lower: &str, said: &str) -> Diagnosis {
    let enhanced = r.code.split_once(' ').map_or("", |(_, e)| e);
    match enhanced {
        "5.7.139" if lower.contains("disabled") => Diagnosis::of(
            Cause::ProtocolDisabled,
            false,
            false,
            format!(
                "SMTP AUTH is turned off for this tenant or mailbox; no token can fix that. Server: {said}"
            ),
            "SMTP AUTH must be turned on by an Exchange admin: Set-CASMailbox -SmtpClientAuthenticationDisabled $false for the mailbox, or enable SMTP AUTH for the tenant (https://aka.ms/smtp_auth_disabled).",
        ),
        "5.7.139" => Diagnosis::of(
            Cause::ConditionalAccess,
            false,
            false,
            format!(
                "The tenant's security defaults or a Conditional Access policy refuse SMTP AUTH for this sign-in. Server: {said}"
            ),
            "Ask the tenant's admin to exclude this mailbox from security defaults / the policy, or send through Graph instead.",
        )
        .by(FixBy::Admin),
        "5.7.3" => Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!("Exchange refused the token (SMTP 535 5.7.3). {OPAQUE}."),
            OPAQUE_ACTION,
        ),
        "5.7.57" => Diagnosis::of(
            Cause::InvalidRequest,
            false,
            false,
            format!("The client sent mail without authenticating first. Server: {said}"),
            "Configure the mail client to authenticate with XOAUTH2 on port 587 before sending.",
        ),
        "5.7.0" if lower.contains("starttls") || lower.contains("tls") => Diagnosis::of(
            Cause::Tls,
            false,
            false,
            format!("The server requires TLS before authentication. Server: {said}"),
            "Use smtp:// (STARTTLS) or smtps:// to a non-loopback host; connwatch upgrades before it sends the token.",
        ),
        _ if basic == 454 || basic == 421 || (400..500).contains(&basic) => Diagnosis::of(
            Cause::ServerError,
            true,
            false,
            format!("The mail server could not check the token right now. Server: {said}"),
            "Nothing to do: connwatch tries again by itself.",
        ),
        _ if basic == 535 || basic == 534 => Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!("The mail server refused the token. Server: {said}"),
            REFUSED_ACTION,
        ),
        _ if lower.contains("not enabled") || lower.contains("disabled") => disabled(said),
        _ => Diagnosis::of(
            Cause::Unknown,
            false,
            false,
            format!("The mail server answered an error. Server: {said}"),
            "Look at the probe's transcript for the whole exchange.",
        ),
    }
}

fn disabled(said: &str) -> Diagnosis {
    Diagnosis::of(
        Cause::ProtocolDisabled,
        false,
        false,
        format!("The protocol is turned off for this mailbox or domain. Server: {said}"),
        "Only the mail admin can turn it on (Exchange: Set-CASMailbox -ImapEnabled/-PopEnabled $true; Google Workspace: the admin console's IMAP/POP setting).",
    )
}

fn imap(r: &MailReply, bad: bool, lower: &str, said: &str) -> Diagnosis {
    let resp = r
        .code
        .split_once('[')
        .map(|(_, c)| c.trim_end_matches(']'))
        .unwrap_or("");
    if lower.contains("authenticated but not connected") {
        return Diagnosis::of(
            Cause::MailboxNotAccessible,
            false,
            false,
            "Exchange accepted the token but will not open the mailbox: the signed-in user has no access to it, or the token is for another user than the account.".into(),
            "Sign in as the mailbox's own user, or ask the mailbox's admin for FullAccess; check the connection's account.",
        );
    }
    if lower.contains("not enabled for imap")
        || lower.contains("imap access is disabled")
        || lower.contains("imap is disabled")
        || lower.contains("protocol is disabled")
    {
        return disabled(said);
    }
    match resp {
        "UNAVAILABLE" => Diagnosis::of(
            Cause::ServerError,
            true,
            false,
            format!("The mail server could not check the token right now. Server: {said}"),
            "Nothing to do: connwatch tries again by itself.",
        ),
        "AUTHORIZATIONFAILED" => Diagnosis::of(
            Cause::MailboxNotAccessible,
            false,
            false,
            format!("The token was accepted, but not for this mailbox. Server: {said}"),
            "Check the connection's account (the mailbox to open) against the user the token belongs to.",
        ),
        "EXPIRED" => Diagnosis::of(
            Cause::TokenExpired,
            false,
            true,
            format!("The mail server says the credentials have expired. Server: {said}"),
            "Refresh or sign in again.",
        ),
        "PRIVACYREQUIRED" => Diagnosis::of(
            Cause::Tls,
            false,
            false,
            format!("The server requires TLS before authentication. Server: {said}"),
            "Use imaps:// or imap:// (STARTTLS) to a non-loopback host.",
        ),
        "AUTHENTICATIONFAILED" => Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!("The mail server refused the token. Server: {said}"),
            REFUSED_ACTION,
        ),
        _ if r.code.contains("AUTHENTICATE failed") => Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!("Exchange refused the token (IMAP NO AUTHENTICATE failed.). {OPAQUE}."),
            OPAQUE_ACTION,
        ),
        _ if bad => Diagnosis::of(
            Cause::InvalidRequest,
            false,
            false,
            format!("The IMAP server did not understand a command. Server: {said}"),
            "Look at the probe's transcript; the server may not support this SASL mechanism.",
        ),
        _ if lower.contains("authentication failed") || lower.contains("invalid credentials") => {
            Diagnosis::of(
                Cause::BadCredentials,
                false,
                true,
                format!("The mail server refused the token. Server: {said}"),
                REFUSED_ACTION,
            )
        }
        _ => Diagnosis::of(
            Cause::Unknown,
            false,
            false,
            format!("The IMAP server answered an error. Server: {said}"),
            "Look at the probe's transcript for the whole exchange.",
        ),
    }
}

fn pop(lower: &str, said: &str) -> Diagnosis {
    if lower.contains("[sys/temp]") || lower.contains("[in-use]") || lower.contains("temporar") {
        return Diagnosis::of(
            Cause::ServerError,
            true,
            false,
            format!("The POP server is busy or could not check the token. Server: {said}"),
            "Nothing to do: connwatch tries again by itself.",
        );
    }
    if lower.contains("disabled") || lower.contains("not enabled") {
        return disabled(said);
    }
    Diagnosis::of(
        Cause::BadCredentials,
        false,
        true,
        format!("The POP server refused the token. Server: {said}"),
        REFUSED_ACTION,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Diagnosis {
        diagnose_mail_text(text).unwrap_or_else(|| panic!("not read as mail: {text}"))
    }

    #[test]
    fn codes_are_the_protocols_own() {
        let x = d(
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
        );
        assert_eq!(
            (x.cause, x.code.as_deref()),
            (Cause::ProtocolDisabled, Some("535 5.7.139"))
        );
        let x = d("a1 NO AUTHENTICATE failed.");
        assert_eq!(x.code.as_deref(), Some("NO AUTHENTICATE failed."));
        let x = d("a3 BAD User is authenticated but not connected.");
        assert_eq!(
            (x.cause, x.code.as_deref()),
            (
                Cause::MailboxNotAccessible,
                Some("BAD User is authenticated but not connected.")
            )
        );
        let x = d("a1 NO [UNAVAILABLE] Temporary authentication failure");
        assert!(x.retryable && !x.needs_reauth);
    }

    #[test]
    fn transcript_picks_the_verdict_and_the_challenge() {
        let t = "S: 220 mx ESMTP\nC: EHLO x\nS: 250-mx\nS: 250 AUTH XOAUTH2\nC: AUTH XOAUTH2 ***\nS: 334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\nC: \nS: 535-5.7.8 Username and Password not accepted. Learn more at\nS: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials\n";
        let x = d(t);
        assert_eq!(
            (x.cause, x.code.as_deref()),
            (Cause::MissingScope, Some("535 5.7.8"))
        );
        assert!(
            x.summary.contains("https://mail.google.com/"),
            "{}",
            x.summary
        );
    }

    #[test]
    fn not_mail() {
        for t in [
            "{\"error\":\"invalid_grant\"}",
            "AADSTS70043",
            "Too Many Requests",
            "429",
            "invalid_grant",
        ] {
            assert!(diagnose_mail_text(t).is_none(), "{t}");
        }
    }
}
