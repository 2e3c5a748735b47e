//! POP3 (RFC 1939; AUTH RFC 5034; STLS RFC 2595): greeting → CAPA → (STLS, CAPA) → AUTH
//! with an initial response → STAT → QUIT.
use tokio_rustls::TlsConnector;

use super::sasl;
use super::target::{ProbeTarget, Security};
use super::wire::{MAX_REPLY_LINES, Wire, WireError};
use super::{Login, Verdict};

/// The capability lines, uppercased; `None` when the server has no CAPA (RFC 2449 is optional).
async fn capa(w: &mut Wire) -> Result<Option<Vec<String>>, WireError> {
    w.send("CAPA", "CAPA").await?;
    let first = w.read_line("the CAPA answer").await?;
    if !first.starts_with("+OK") {
        return Ok(None);
    }
    let mut caps = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let l = w.read_line("the CAPA list").await?;
        if l == "." {
            return Ok(Some(caps));
        }
        caps.push(l.to_ascii_uppercase());
    }
    Err(WireError::TooMuch)
}

pub(super) async fn run(
    w: &mut Wire,
    t: &ProbeTarget,
    login: &Login<'_>,
    tls: Option<&TlsConnector>,
) -> Result<Verdict, WireError> {
    let greeting = w.read_line("the greeting").await?;
    if greeting.starts_with("-ERR") {
        return Ok(Verdict::refused(greeting, None, false));
    }
    if !greeting.starts_with("+OK") {
        return Ok(Verdict::NotProtocol { line: greeting });
    }
    let mut caps = capa(w).await?;
    let offers = caps.as_ref().is_some_and(|c| c.iter().any(|l| l == "STLS"));
    if t.security == Security::StartTls || (t.security == Security::StartTlsIfOffered && offers) {
        let Some(tls) = tls.filter(|_| offers) else {
            w.close("QUIT").await;
            return Ok(Verdict::NoStartTls);
        };
        w.send("STLS", "STLS").await?;
        let go = w.read_line("the STLS answer").await?;
        if !go.starts_with("+OK") {
            return Ok(Verdict::refused(go, None, false));
        }
        w.start_tls(tls).await?;
        caps = capa(w).await?;
    }
    let mech = t.mechanism.as_str();
    if let Some(caps) = &caps {
        let offered: Vec<&str> = caps
            .iter()
            .filter_map(|l| l.strip_prefix("SASL"))
            .flat_map(str::split_whitespace)
            .collect();
        if !offered.contains(&mech) {
            let offered = offered.join(" ");
            w.close("QUIT").await;
            return Ok(Verdict::NoMechanism { offered });
        }
    }
    let ir = sasl::initial_response(t.mechanism, login.user, &t.host, t.port, login.token);
    w.send(&format!("AUTH {mech} {ir}"), &format!("AUTH {mech} ***"))
        .await?;
    let mut challenge = None;
    let mut l = w.read_line("the answer to AUTH").await?;
    if let Some(payload) = l.strip_prefix('+').filter(|_| !l.starts_with("+OK")) {
        challenge = sasl::decode_challenge(payload);
        let answer = sasl::challenge_answer(t.mechanism);
        w.send(answer, answer).await?;
        l = w.read_line("the final answer to AUTH").await?;
    }
    if !l.starts_with("+OK") {
        w.close("QUIT").await;
        return Ok(Verdict::refused(l, challenge, false));
    }
    w.send("STAT", "STAT").await?;
    let stat = w.read_line("the STAT answer").await?;
    w.close("QUIT").await;
    Ok(if stat.starts_with("+OK") {
        Verdict::Accepted
    } else {
        Verdict::refused(stat, None, true)
    })
}
