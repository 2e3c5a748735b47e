//! Probes: ask the resource itself whether it takes the token — HTTPS with a bearer token,
//! IMAP / SMTP / POP with XOAUTH2 or OAUTHBEARER — and say why when it does not. No UI here:
//! the worker and the `probe` command call `run` and get a `ProbeResult` (no secret in it).
mod imap;
mod pop;
pub mod sasl;
mod smtp;
pub mod target;
pub mod tls;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use target::{Mechanism, ProbeTarget, Protocol, Security, TargetError, is_loopback_host};
use wire::{MAX_LINE, Wire, WireError};

use crate::diagnose::{self, Cause, Diagnosis, ProviderHint};
use crate::oauth::HttpClient;
use crate::token::{self, Expectations, FindingKind};

/// How long one probe may take, connect to goodbye.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One probe's answer, as status records, `status --json` and the dashboard keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub url: String,
    pub ok: bool,
    pub checked_at: Timestamp,
    pub latency_ms: u64,
    pub diagnosis: Option<Diagnosis>,
    /// The exchange, `C:`/`S:` prefixed, every token and SASL string replaced by `***`.
    #[serde(default)]
    pub transcript: Vec<String>,
}

impl ProbeResult {
    /// This result with the server's words made one safe line each (crate::sanitize), for
    /// the status table and the dashboard; records and `--json` keep them exact.
    pub fn for_display(&self) -> ProbeResult {
        ProbeResult {
            diagnosis: self.diagnosis.as_ref().map(Diagnosis::for_display),
            transcript: self
                .transcript
                .iter()
                .map(|l| crate::sanitize::line(l).into_owned())
                .collect(),
            ..self.clone()
        }
    }
}

/// What a probe needs besides the token.
#[derive(Clone)]
pub struct ProbeContext {
    pub http: HttpClient,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// The mailbox user of SASL (the connection's `account`).
    pub account: Option<String>,
    /// What the token should be (audience, scopes): names the likely cause when a mail
    /// server refuses without saying why.
    pub expect: Expectations,
    /// Whether `expect.scopes` are the connection's own scopes (a sign-in asks for them)
    /// rather than an explicit `expect` (a config change is needed).
    pub scopes_asked: Vec<String>,
    /// The scopes the provider said it granted with the probed token (empty: unknown). An
    /// opaque token's only record of its scopes.
    pub granted: Vec<String>,
    pub provider: ProviderHint,
}

pub(crate) struct Login<'a> {
    user: &'a str,
    token: &'a str,
}

/// How a mail conversation ended.
pub(crate) enum Verdict {
    Accepted,
    Refused {
        reply: String,
        challenge: Option<Value>,
        /// The server took the token and refused the harmless command after it.
        after_auth: bool,
    },
    NoMechanism {
        offered: String,
    },
    NoStartTls,
    NotProtocol {
        line: String,
    },
}

impl Verdict {
    fn refused(reply: String, challenge: Option<Value>, after_auth: bool) -> Verdict {
        Verdict::Refused {
            reply,
            challenge,
            after_auth,
        }
    }
}

/// Run one probe now with `token`; never fails, never hangs past the context's timeout.
pub async fn run(
    target: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
    now: Timestamp,
) -> ProbeResult {
    let started = std::time::Instant::now();
    let (diagnosis, transcript) = match target.protocol {
        Protocol::Https => https(target, ctx, token).await,
        _ => mail(target, ctx, token, now).await,
    };
    // Whatever the server said back, the token and the SASL string built from it are masked
    // in every field (the transcript already is, line by line).
    let mut secrets = vec![token.to_owned()];
    if target.protocol != Protocol::Https
        && let Some(user) = ctx.account.as_deref()
    {
        secrets.push(sasl::initial_response(
            target.mechanism,
            user,
            &target.host,
            target.port,
            token,
        ));
    }
    let diagnosis = diagnosis.map(|mut d| {
        d.probe = Some(target.url.clone());
        d.transcript = Some(transcript.clone());
        d.mask(&secrets);
        d
    });
    ProbeResult {
        url: target.url.clone(),
        ok: diagnosis.is_none(),
        checked_at: now,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        diagnosis,
        transcript,
    }
}

async fn https(
    target: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
) -> (Option<Diagnosis>, Vec<String>) {
    let mut transcript = vec![format!("C: GET {} (Authorization: Bearer ***)", target.url)];
    let client = match &ctx.ca_file {
        None => ctx.http.clone(),
        Some(path) => match tls::read_ca_file(path) {
            Ok(certs) => HttpClient::with_extra_roots(ctx.timeout, &certs),
            Err(e) => return (Some(ca_problem(e)), transcript),
        },
    };
    match client.get_bearer(&target.url, token).await {
        Ok(_) => {
            transcript.push("S: 2xx (accepted)".into());
            (None, transcript)
        }
        Err(f) => {
            transcript.push(match &f {
                crate::oauth::OAuthFailure::Http { status, .. } => format!("S: HTTP {status}"),
                crate::oauth::OAuthFailure::Network(e) => format!("-- {e}"),
                crate::oauth::OAuthFailure::Malformed { what, .. } => format!("S: {what}"),
                crate::oauth::OAuthFailure::TooLarge { status, limit } => {
                    format!("S: HTTP {status}, answer longer than {limit} bytes (not read further)")
                }
            });
            let mut d = f.diagnose(ctx.provider);
            // A bare 401 (no WWW-Authenticate, no body that says why): the token was refused.
            if d.http_status == Some(401) {
                diagnose::refused_without_reason(&mut d, "the token");
            }
            (Some(d), transcript)
        }
    }
}

fn ca_problem(why: String) -> Diagnosis {
    Diagnosis::of(
        Cause::Tls,
        false,
        false,
        format!("The ca_file cannot be used: {why}."),
        "Point ca_file at a PEM file with the CA certificates to trust.",
    )
}

async fn mail(
    target: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
    now: Timestamp,
) -> (Option<Diagnosis>, Vec<String>) {
    converse(target, ctx, token, now, smtp::After::Noop).await
}

/// An email to send through a connection's SMTP server (`notify_email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Message {
    /// RFC 5322 text from `from`, CRLF line ends, dot-stuffed, ending with the lone ".".
    fn render(&self, from: &str) -> String {
        let date = Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
        let one_line = |s: &str| s.replace(['\r', '\n'], " ");
        let mut out = format!(
            "From: connwatch <{from}>\r\nTo: <{}>\r\nSubject: {}\r\nDate: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n",
            one_line(&self.to),
            one_line(&self.subject)
        );
        for line in self.body.lines() {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(".\r\n");
        out
    }
}

/// Send `m` through the SMTP server of `target` (smtp:// or smtps://), signed in with
/// `token` as the context's account: `Ok`, or why not, diagnosed as a probe would be.
pub async fn send_mail(
    target: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
    m: &Message,
) -> Result<(), Diagnosis> {
    if target.protocol != Protocol::Smtp {
        return Err(Diagnosis::of(
            Cause::InvalidRequest,
            false,
            false,
            format!("{} is not an SMTP server URL", target.url),
            "Give notify_email's connection an smtp:// or smtps:// probe.",
        ));
    }
    let (d, _) = converse(target, ctx, token, Timestamp::now(), smtp::After::Send(m)).await;
    d.map_or(Ok(()), Err)
}

async fn converse(
    target: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
    now: Timestamp,
    after: smtp::After<'_>,
) -> (Option<Diagnosis>, Vec<String>) {
    let Some(user) = ctx.account.as_deref() else {
        let d = Diagnosis::of(
            Cause::InvalidRequest,
            false,
            false,
            "A mail probe needs the mailbox's user: the connection has no account.".into(),
            "Add account = \"alice@contoso.com\" to the connection.",
        );
        return (Some(d), Vec::new());
    };
    let tls = if target.security == Security::Plain {
        None
    } else {
        let extra = match &ctx.ca_file {
            None => Vec::new(),
            Some(p) => match tls::read_ca_file(p) {
                Ok(c) => c,
                Err(e) => return (Some(ca_problem(e)), Vec::new()),
            },
        };
        match tls::connector(extra) {
            Ok(c) => Some(c),
            Err(e) => return (Some(ca_problem(e)), Vec::new()),
        }
    };
    let ir_x = sasl::initial_response(target.mechanism, user, &target.host, target.port, token);
    let secrets = vec![token.to_owned(), ir_x];
    let implicit = (target.security == Security::Implicit)
        .then_some(())
        .and(tls.as_ref());
    let mut w = match Wire::connect(&target.host, target.port, ctx.timeout, implicit, secrets).await
    {
        Ok(w) => w,
        Err(e) => return (Some(wire_diagnosis(target, &e)), Vec::new()),
    };
    let login = Login { user, token };
    let starttls = tls.as_ref().filter(|_| {
        matches!(
            target.security,
            Security::StartTls | Security::StartTlsIfOffered
        )
    });
    let verdict = match target.protocol {
        Protocol::Imap => imap::run(&mut w, target, &login, starttls).await,
        Protocol::Smtp => smtp::run(&mut w, target, &login, starttls, after).await,
        Protocol::Pop => pop::run(&mut w, target, &login, starttls).await,
        // `run` sends https:// to `https`; a mail conversation with a web server is the
        // wrong protocol, said as such rather than attempted.
        Protocol::Https => Ok(Verdict::NotProtocol {
            line: "an https:// URL is not a mail server".into(),
        }),
    };
    let d = match verdict {
        Ok(v) => verdict_diagnosis(target, ctx, token, v, now),
        Err(e) => Some(wire_diagnosis(target, &e)),
    };
    (d, std::mem::take(&mut w.transcript))
}

fn name(t: &ProbeTarget) -> String {
    format!("{}:{}", t.host, t.port)
}

fn proto_name(t: &ProbeTarget) -> &'static str {
    match t.protocol {
        Protocol::Imap => "IMAP",
        Protocol::Smtp => "SMTP",
        Protocol::Pop => "POP3",
        Protocol::Https => "HTTPS",
    }
}

/// A conversation that broke off: no verdict from the server.
fn wire_diagnosis(t: &ProbeTarget, e: &WireError) -> Diagnosis {
    let at = name(t);
    let (cause, retryable, summary, action) = match e {
        WireError::Timeout { waiting_for } => (
            Cause::Network,
            true,
            format!("{at} did not answer in time (waiting for {waiting_for})."),
            "Nothing to do if it is a passing outage: connwatch tries again by itself; check the host and port otherwise.",
        ),
        WireError::Closed { waiting_for } => (
            Cause::Network,
            true,
            format!("{at} closed the connection while connwatch waited for {waiting_for}."),
            "Nothing to do if it is a passing outage: connwatch tries again by itself.",
        ),
        WireError::Connect(why) => (
            Cause::Network,
            true,
            format!("{why}."),
            "Check the host and port; connwatch tries again by itself.",
        ),
        WireError::Io(err) => (
            Cause::Network,
            true,
            format!("The connection to {at} failed: {err}."),
            "Nothing to do if it is a passing outage: connwatch tries again by itself.",
        ),
        WireError::LineTooLong => (
            Cause::Unknown,
            false,
            format!(
                "{at} sent a line longer than {} KiB: this is not a {} server as expected.",
                MAX_LINE / 1024,
                proto_name(t)
            ),
            "Check the probe URL's scheme and port.",
        ),
        WireError::TooMuch => (
            Cause::Unknown,
            false,
            format!(
                "{at} sent far more than a {} server would (over 1 MiB, or an endless reply).",
                proto_name(t)
            ),
            "Check the probe URL's scheme and port.",
        ),
        WireError::TlsOnPlainPort => (
            Cause::Tls,
            false,
            format!("{at} speaks TLS from the first byte, but the probe URL asks for plain text."),
            "Use the implicit-TLS scheme (imaps://, smtps://, pop3s://) for this port.",
        ),
        WireError::Tls(why) => (
            Cause::Tls,
            false,
            format!("{why}."),
            "If a corporate proxy or a private CA signs it, add that CA with ca_file; otherwise check the host name and port.",
        ),
        WireError::InjectedBeforeTls => (
            Cause::Tls,
            false,
            format!(
                "{at} sent data before the TLS handshake of STARTTLS (RFC 3207 §5): connwatch sent nothing further."
            ),
            "Something between you and the server tampers with the connection; use the implicit-TLS port instead.",
        ),
    };
    Diagnosis::of(cause, retryable, false, summary, action)
}

fn verdict_diagnosis(
    t: &ProbeTarget,
    ctx: &ProbeContext,
    token: &str,
    v: Verdict,
    now: Timestamp,
) -> Option<Diagnosis> {
    let at = name(t);
    Some(match v {
        Verdict::Accepted => return None,
        Verdict::NoStartTls => Diagnosis::of(
            Cause::Tls,
            false,
            false,
            format!(
                "{at} does not offer STARTTLS, and connwatch never sends a token in plain text to a non-loopback host."
            ),
            "Use the implicit-TLS scheme (imaps://, smtps://, pop3s://) or a server that offers STARTTLS.",
        ),
        Verdict::NotProtocol { line } => {
            let shown: String = line.chars().take(80).collect();
            Diagnosis::of(
                Cause::Unknown,
                false,
                false,
                format!(
                    "{at} does not answer like a {} server (it said {shown:?}).",
                    proto_name(t)
                ),
                "Check the probe URL's scheme and port.",
            )
        }
        Verdict::NoMechanism { offered } => {
            let offered = if offered.is_empty() {
                "none".to_owned()
            } else {
                offered
            };
            let mut d = Diagnosis::of(
                Cause::ProtocolDisabled,
                false,
                false,
                format!(
                    "{at} does not offer SASL {} (it offers: {offered}).",
                    t.mechanism.as_str()
                ),
                "If it offers the other mechanism, add ?auth=oauthbearer (or ?auth=xoauth2) to the probe URL; otherwise OAuth is not enabled on this server — ask its admin.",
            );
            d.code = Some(format!("no AUTH={}", t.mechanism.as_str()));
            d
        }
        Verdict::Refused {
            reply,
            challenge,
            after_auth,
        } => {
            let mut d = diagnose::diagnose_reply(&reply, challenge.as_ref());
            // The token was taken; what failed is the mailbox (an unknown INBOX, no rights).
            if after_auth && !d.retryable && d.cause != Cause::MailboxNotAccessible {
                let said: String = reply.split_whitespace().collect::<Vec<_>>().join(" ");
                d.cause = Cause::MailboxNotAccessible;
                d.needs_reauth = false;
                d.summary = format!(
                    "{at} accepted the token but refused what came next: {}",
                    said.chars().take(160).collect::<String>()
                );
                d.action = "Check that the account's user has access to this mailbox.".into();
                return Some(d);
            }
            // What the token carries, read once for both.
            let report = token::inspect(token, &ctx.expect, now);
            let d = explain_opaque(d, t, ctx, &report);
            scope_action(d, t, ctx, &report)
        }
    })
}

/// A refusal for a missing scope, said in the connection's terms. The scope a server's
/// challenge names is its own configured word (Dovecot says `"scope":"mail"` whatever the
/// provider calls it): the scope to add comes from the provider (Exchange: one per protocol)
/// or the connection's expectations. And a sign-in cannot grant a scope nobody asks for:
/// then the fix is the config (needs_reauth false), not "sign in again".
fn scope_action(
    mut d: Diagnosis,
    t: &ProbeTarget,
    ctx: &ProbeContext,
    report: &token::TokenReport,
) -> Diagnosis {
    if d.cause != Cause::MissingScope {
        return d;
    }
    let held = held_scopes(report, ctx);
    if held.is_empty() {
        // Neither the token nor the provider says what it carries: the server's reading stands.
        return d;
    }
    let carried = |s: &str| held.iter().any(|g| same_scope(g, s));
    let asked = |s: &str| ctx.scopes_asked.iter().any(|a| same_scope(a, s));
    let want: Vec<String> = wanted_scopes(t, ctx)
        .into_iter()
        .filter(|s| !carried(s))
        .collect();
    let not_asked: Vec<&String> = want.iter().filter(|s| !asked(s)).collect();
    if want.is_empty() {
        // Nothing the connection names is missing from the token: only the server knows
        // (Gmail refuses any bad token this way). Whether a sign-in helps stays as read.
        d.action = "If signing in again does not help, find the scope this mail server requires (its own word above may not be the provider's name for it) and add it to the connection's scopes (and expect.scopes).".into();
    } else if not_asked.is_empty() {
        d.needs_reauth = true;
        d.action = format!(
            "The connection asks for {}, but the token does not carry it: sign in again and accept it (if it is not offered, an admin must consent for the tenant).",
            want.join(", ")
        );
    } else {
        d.needs_reauth = false;
        d.action = format!(
            "Add {} to the connection's scopes, then sign in again: a sign-in cannot grant a scope that is not asked for.",
            not_asked
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    d
}

/// Mail servers seldom say why a token is refused (Exchange: "AUTHENTICATE failed."); the
/// token's own claims usually do. Replace a generic refusal with what its report finds.
fn explain_opaque(
    mut d: Diagnosis,
    t: &ProbeTarget,
    ctx: &ProbeContext,
    report: &token::TokenReport,
) -> Diagnosis {
    if d.cause != Cause::BadCredentials {
        return d;
    }
    let server = d.code.clone().unwrap_or_default();
    let finding = |k: FindingKind| report.findings.iter().find(|f| f.kind == k);
    // The protocol's own permission (Exchange: one scope per protocol), checked in the token
    // itself: the commonest reason for an opaque refusal is a token asked without it.
    if let Some(scope) = protocol_scope(t.protocol, ctx.provider)
        && report.format == token::TokenFormat::Jwt
        && finding(FindingKind::AudienceMismatch).is_none()
        && !report
            .scopes
            .iter()
            .any(|s| s == scope || s.ends_with(&format!("/{scope}")))
    {
        let asked = ctx
            .scopes_asked
            .iter()
            .any(|s| s == scope || s.ends_with(&format!("/{scope}")));
        d.cause = Cause::MissingScope;
        d.needs_reauth = asked;
        d.summary = format!(
            "The server refused the token ({server}): it does not carry {scope}, which {} needs.",
            proto_name(t)
        );
        d.action = if asked {
            format!(
                "Sign in again and accept every permission asked ({scope} may need an admin's consent)."
            )
        } else {
            format!(
                "Add {scope} (https://outlook.office.com/{scope} for Exchange Online) to the connection's scopes, then sign in again."
            )
        };
        return d;
    }
    if let Some(f) = finding(FindingKind::AudienceMismatch) {
        d.cause = Cause::WrongAudience;
        d.needs_reauth = false;
        d.summary = format!(
            "The server refused the token ({server}): {}",
            sentence(&f.message)
        );
        d.action = "Ask for the resource's own scopes (e.g. https://outlook.office.com/IMAP.AccessAsUser.All, not Graph's) in the connection's scopes, then sign in again.".into();
        return d;
    }
    if let Some(f) = finding(FindingKind::MissingScope) {
        let asked = ctx.expect.scopes.iter().all(|s| {
            ctx.scopes_asked
                .iter()
                .any(|a| a == s || a.ends_with(&format!("/{s}")))
        });
        d.cause = Cause::MissingScope;
        d.needs_reauth = asked;
        d.summary = format!(
            "The server refused the token ({server}): {}",
            sentence(&f.message)
        );
        d.action = if asked {
            "Sign in again and accept every permission asked (an admin may have to grant consent)."
                .into()
        } else {
            "Add the missing scope to the connection's scopes, then sign in again.".into()
        };
        return d;
    }
    if let (Some(account), Some(user)) = (ctx.account.as_deref(), token_user(&report.claims))
        && !user.eq_ignore_ascii_case(account)
    {
        d.summary = format!(
            "The server refused the token ({server}): it belongs to {user}, but the probe signs in to the mailbox {account}."
        );
        d.action = format!("Sign in as {account}, or set account to the user the token is for.");
        d.needs_reauth = true;
        return d;
    }
    // An opaque token (or a JWT without a scope claim; a JWT's own claim was judged above):
    // the provider's list of what it granted stands in for the claim. What this protocol
    // needs is the provider's scope for it where one is known, else the expectations.
    let own_claim = report.format == token::TokenFormat::Jwt && !report.scopes.is_empty();
    let wanted = wanted_scopes(t, ctx);
    let lacking: Vec<&String> = wanted
        .iter()
        .filter(|s| !ctx.granted.is_empty() && !ctx.granted.iter().any(|g| same_scope(g, s)))
        .collect();
    if !own_claim && !lacking.is_empty() {
        d.cause = Cause::MissingScope;
        d.summary = format!(
            "The server refused the token ({server}): it was not granted {}, which the connection expects (granted: {}).",
            lacking
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            ctx.granted.join(" ")
        );
        return d;
    }
    // Nothing in the token explains the refusal: it carries what the connection expects.
    // That makes a revoked or expired grant the likely reason (a sign-in fixes it); a
    // server that wants more than the connection expects reads the same, and only the
    // connection's expectations can name that scope (a challenge's word is the server's
    // own: Dovecot always says "mail").
    let held = held_scopes(report, ctx);
    d.action = if held.is_empty() {
        "Sign in again if the grant was revoked or has expired. If a new token is refused too, check the connection's account and that its scopes include what this server needs.".into()
    } else {
        format!(
            "Sign in again if the grant was revoked or has expired: the token carries what the connection expects ({}). If a new token is refused too, this server wants a scope the connection does not name: add the provider's name for it to scopes and expect.scopes.",
            held.join(" ")
        )
    };
    d
}

/// The scopes this probe's protocol needs in the token: the provider's own for it where one
/// is known (Exchange: one per protocol), else the connection's expectations.
fn wanted_scopes(t: &ProbeTarget, ctx: &ProbeContext) -> Vec<String> {
    match protocol_scope(t.protocol, ctx.provider) {
        Some(s) => vec![s.to_owned()],
        None => ctx.expect.scopes.clone(),
    }
}

/// `s` ending as a sentence (a finding's message has no full stop; the action follows it).
fn sentence(s: &str) -> String {
    if s.ends_with(['.', '!', '?']) {
        s.to_owned()
    } else {
        format!("{s}.")
    }
}

/// Whether scopes `a` and `s` name the same permission: case aside, and a resource URI
/// (`https://outlook.office.com/IMAP.AccessAsUser.All`) by its last segment on either side,
/// as `token::inspect` compares them.
fn same_scope(a: &str, s: &str) -> bool {
    token::scope_name(a).eq_ignore_ascii_case(token::scope_name(s))
}

/// The scopes the probed token carries: its own claim when it is a JWT that has one, else
/// what the provider said it granted (empty: unknown).
fn held_scopes(report: &token::TokenReport, ctx: &ProbeContext) -> Vec<String> {
    if report.format == token::TokenFormat::Jwt && !report.scopes.is_empty() {
        report.scopes.clone()
    } else {
        ctx.granted.clone()
    }
}

/// The scope a mail protocol needs in the token, where the provider documents one.
fn protocol_scope(p: Protocol, provider: ProviderHint) -> Option<&'static str> {
    match (provider, p) {
        (ProviderHint::Entra, Protocol::Imap) => Some("IMAP.AccessAsUser.All"),
        (ProviderHint::Entra, Protocol::Smtp) => Some("SMTP.Send"),
        (ProviderHint::Entra, Protocol::Pop) => Some("POP.AccessAsUser.All"),
        _ => None,
    }
}

/// The user a token was issued to, by the claims Entra, Google and OIDC servers use.
fn token_user(claims: &Option<Value>) -> Option<String> {
    let c = claims.as_ref()?;
    ["upn", "preferred_username", "email", "unique_name"]
        .iter()
        .find_map(|k| c.get(*k).and_then(Value::as_str))
        .filter(|u| u.contains('@'))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(asked: &[&str], expect: &[&str]) -> ProbeContext {
        ProbeContext {
            http: HttpClient::new(Duration::from_secs(1)),
            timeout: Duration::from_secs(1),
            ca_file: None,
            account: None,
            expect: token::Expectations {
                audience: None,
                scopes: expect.iter().map(|s| (*s).to_owned()).collect(),
            },
            scopes_asked: asked.iter().map(|s| (*s).to_owned()).collect(),
            granted: Vec::new(),
            provider: ProviderHint::Unknown,
        }
    }

    fn missing_scope() -> Diagnosis {
        crate::diagnose::diagnose_reply(
            "535 5.7.8 Authentication failed.",
            Some(&serde_json::json!({"status": "400", "schemes": "bearer", "scope": "mail"})),
        )
    }

    /// The scope to add is the connection's, and a sign-in does not lead when the scope was
    /// never asked for: the config is the fix.
    #[test]
    fn a_missing_scope_is_said_in_the_connections_terms() {
        let t = ProbeTarget::parse("imap://127.0.0.1:143").unwrap();
        let now = Timestamp::now();
        let jwt = token::unsigned_jwt(
            serde_json::json!({"alg": "RS256", "typ": "at+jwt"}),
            serde_json::json!({"aud": "imap", "scope": "openid", "sub": "alice", "client_id": "c"}),
        );
        assert_eq!(missing_scope().cause, Cause::MissingScope);
        let act = |c: &ProbeContext, token: &str| {
            scope_action(
                missing_scope(),
                &t,
                c,
                &token::inspect(token, &c.expect, now),
            )
        };
        // Expected but never asked: add it (no sign-in alone fixes that).
        let d = act(&ctx(&["openid"], &["mail.read"]), &jwt);
        assert!(!d.needs_reauth);
        assert!(d.action.starts_with("Add mail.read"), "{}", d.action);
        // Asked, not granted: a sign-in (with consent) is the fix.
        let d = act(&ctx(&["mail.read"], &["mail.read"]), &jwt);
        assert!(d.needs_reauth);
        assert!(d.action.contains("asks for mail.read"), "{}", d.action);
        // Nothing the connection names: the server's word is not taken for the provider's.
        let d = act(&ctx(&["openid"], &[]), &jwt);
        assert!(!d.action.contains("mail scope"), "{}", d.action);
        // An opaque token's scopes cannot be read: the server's reading stands.
        let opaque = act(&ctx(&["openid"], &["mail.read"]), "x");
        assert_eq!(opaque.action, missing_scope().action);
        // ... unless the provider said what it granted.
        let mut granted = ctx(&["openid"], &["mail.read"]);
        granted.granted = vec!["openid".into()];
        let d = act(&granted, "x");
        assert!(d.action.starts_with("Add mail.read"), "{}", d.action);
    }

    fn refused_401(t: &ProbeTarget, ctx: &ProbeContext, token: &str) -> Diagnosis {
        let v = Verdict::Refused {
            reply: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
            challenge: Some(
                serde_json::json!({"status": "401", "schemes": "bearer", "scope": "mail"}),
            ),
            after_auth: false,
        };
        verdict_diagnosis(t, ctx, token, v, Timestamp::now()).unwrap()
    }

    /// Dovecot answers every refused token alike (status 401, scope "mail"). The probe tells
    /// a token without an expected scope (a config fix) from a revoked grant (a sign-in) by
    /// what the token carries; the challenge's word is never taken for the scope to add.
    #[test]
    fn an_ambiguous_refusal_is_read_from_what_the_token_carries() {
        let t = ProbeTarget::parse("imap://127.0.0.1:143").unwrap();
        let mut c = ctx(&["openid", "offline_access", "api:read"], &["mail"]);
        c.granted = vec!["openid".into(), "offline_access".into(), "api:read".into()];
        let d = refused_401(&t, &c, "opaque-token");
        assert_eq!(d.cause, Cause::MissingScope, "{d:?}");
        assert!(!d.needs_reauth);
        assert!(d.action.starts_with("Add mail to"), "{}", d.action);
        assert!(
            d.summary
                .contains("granted: openid offline_access api:read"),
            "{}",
            d.summary
        );
        // Everything expected is carried: a revoked or expired grant is the likely reason.
        let mut c = ctx(&["openid", "mail"], &["mail"]);
        c.granted = vec!["openid".into(), "mail".into()];
        let d = refused_401(&t, &c, "opaque-token");
        assert_eq!(d.cause, Cause::BadCredentials);
        assert!(d.needs_reauth);
        assert!(
            d.action.starts_with("Sign in again if the grant"),
            "{}",
            d.action
        );
        assert!(d.action.contains("(openid mail)"), "{}", d.action);
        // Entra: scopes asked and expected as resource URIs, granted as bare names, and
        // Exchange's opaque refusal of a revoked grant: not a missing scope.
        let uri = "https://outlook.office.com/IMAP.AccessAsUser.All";
        let mut c = ctx(&[uri, "offline_access"], &[uri]);
        c.provider = ProviderHint::Entra;
        c.granted = vec!["IMAP.AccessAsUser.All".into(), "offline_access".into()];
        let v = Verdict::Refused {
            reply: "a1 NO AUTHENTICATE failed.".into(),
            challenge: None,
            after_auth: false,
        };
        let d = verdict_diagnosis(&t, &c, "opaque-token", v, Timestamp::now()).unwrap();
        assert_eq!(d.cause, Cause::BadCredentials, "{d:?}");
        // The same without IMAP granted: the protocol's scope is missing.
        c.granted = vec!["SMTP.Send".into(), "offline_access".into()];
        let v = Verdict::Refused {
            reply: "a1 NO AUTHENTICATE failed.".into(),
            challenge: None,
            after_auth: false,
        };
        let d = verdict_diagnosis(&t, &c, "opaque-token", v, Timestamp::now()).unwrap();
        assert_eq!(d.cause, Cause::MissingScope, "{d:?}");
        assert!(d.summary.contains("IMAP.AccessAsUser.All"), "{}", d.summary);
        // Nothing known of the token: the probe does not send the user to the probe.
        let d = refused_401(&t, &ctx(&["openid"], &[]), "opaque-token");
        assert_eq!(d.cause, Cause::BadCredentials);
        assert!(!d.action.contains("connwatch probe"), "{}", d.action);
    }
}
