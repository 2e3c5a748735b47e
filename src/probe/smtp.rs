//! SMTP submission (RFC 6409; AUTH RFC 4954; STARTTLS RFC 3207): greeting → EHLO →
//! (STARTTLS, EHLO) → AUTH with an initial response → NOOP → QUIT.
use tokio_rustls::TlsConnector;

use super::sasl;
use super::target::{ProbeTarget, Security};
use super::wire::{MAX_REPLY_LINES, Wire, WireError};
use super::{Login, Verdict};

/// One (possibly multi-line) reply: its code and its lines as sent. `None`: not SMTP.
async fn reply(w: &mut Wire, what: &'static str) -> Result<Option<(u16, Vec<String>)>, WireError> {
    let mut lines = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let l = w.read_line(what).await?;
        let b = l.as_bytes();
        let code = (b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit))
            .then(|| l[..3].parse::<u16>().ok())
            .flatten();
        let Some(code) = code else {
            lines.push(l);
            return Ok(None);
        };
        let last = b.len() == 3 || b[3] == b' ';
        if !last && b[3] != b'-' {
            return Ok(None);
        }
        lines.push(l);
        if last {
            return Ok(Some((code, lines)));
        }
    }
    Err(WireError::TooMuch)
}

fn not_smtp(lines: Vec<String>) -> Verdict {
    Verdict::NotProtocol {
        line: lines.last().cloned().unwrap_or_default(),
    }
}

async fn ehlo(w: &mut Wire) -> Result<Result<Vec<String>, Verdict>, WireError> {
    w.send("EHLO localhost", "EHLO localhost").await?;
    Ok(match reply(w, "the EHLO answer").await? {
        Some((250, lines)) => Ok(lines
            .iter()
            .skip(1)
            .map(|l| l.get(4..).unwrap_or("").to_ascii_uppercase())
            .collect()),
        Some((_, lines)) => Err(Verdict::refused(lines.join("\n"), None, false)),
        None => Err(Verdict::NotProtocol {
            line: String::new(),
        }),
    })
}

/// What to do once authenticated: the probe's harmless `NOOP`, or send one message.
pub(crate) enum After<'a> {
    Noop,
    Send(&'a super::Message),
}

pub(super) async fn run(
    w: &mut Wire,
    t: &ProbeTarget,
    login: &Login<'_>,
    tls: Option<&TlsConnector>,
    after: After<'_>,
) -> Result<Verdict, WireError> {
    match reply(w, "the greeting").await? {
        Some((220, _)) => {}
        Some((_, lines)) => return Ok(Verdict::refused(lines.join("\n"), None, false)),
        None => {
            return Ok(Verdict::NotProtocol {
                line: w
                    .transcript
                    .last()
                    .map(|l| l.trim_start_matches("S: ").to_owned())
                    .unwrap_or_default(),
            });
        }
    }
    let mut ext = match ehlo(w).await? {
        Ok(e) => e,
        Err(v) => return Ok(v),
    };
    let offers = ext.iter().any(|e| e == "STARTTLS");
    if t.security == Security::StartTls || (t.security == Security::StartTlsIfOffered && offers) {
        let Some(tls) = tls.filter(|_| offers) else {
            w.close("QUIT").await;
            return Ok(Verdict::NoStartTls);
        };
        w.send("STARTTLS", "STARTTLS").await?;
        match reply(w, "the STARTTLS answer").await? {
            Some((220, _)) => {}
            Some((_, lines)) => return Ok(Verdict::refused(lines.join("\n"), None, false)),
            None => {
                return Ok(Verdict::NotProtocol {
                    line: String::new(),
                });
            }
        }
        w.start_tls(tls).await?;
        ext = match ehlo(w).await? {
            Ok(e) => e,
            Err(v) => return Ok(v),
        };
    }
    let mech = t.mechanism.as_str();
    let offered: Vec<&str> = ext
        .iter()
        .filter_map(|e| e.strip_prefix("AUTH ").or_else(|| e.strip_prefix("AUTH=")))
        .flat_map(str::split_whitespace)
        .collect();
    if !offered.contains(&mech) {
        let offered = offered.join(" ");
        w.close("QUIT").await;
        return Ok(Verdict::NoMechanism { offered });
    }
    let ir = sasl::initial_response(t.mechanism, login.user, &t.host, t.port, login.token);
    w.send(&format!("AUTH {mech} {ir}"), &format!("AUTH {mech} ***"))
        .await?;
    let mut challenge = None;
    let mut answered = false;
    let (code, lines) = loop {
        let Some((code, lines)) = reply(w, "the answer to AUTH").await? else {
            return Ok(not_smtp(Vec::new()));
        };
        if code != 334 {
            break (code, lines);
        }
        if answered {
            return Ok(Verdict::refused(lines.join("\n"), challenge, false));
        }
        challenge = lines
            .last()
            .and_then(|l| l.get(4..))
            .and_then(sasl::decode_challenge);
        let answer = sasl::challenge_answer(t.mechanism);
        w.send(answer, answer).await?;
        answered = true;
    };
    if code != 235 {
        w.close("QUIT").await;
        return Ok(Verdict::refused(lines.join("\n"), challenge, false));
    }
    let m = match after {
        After::Noop => {
            w.send("NOOP", "NOOP").await?;
            let after = reply(w, "the NOOP answer").await?;
            w.close("QUIT").await;
            return Ok(match after {
                Some((250, _)) => Verdict::Accepted,
                Some((_, lines)) => Verdict::refused(lines.join("\n"), None, true),
                None => not_smtp(Vec::new()),
            });
        }
        After::Send(m) => m,
    };
    // RFC 5321 §3.3: MAIL, RCPT, DATA, the message dot-stuffed (§4.5.2), ".".
    for (cmd, want, what) in [
        // The mailbox itself as the sender (Exchange and Gmail insist); a user name that is
        // not an address gets the null reverse-path, as automatic mail may use (RFC 3834).
        (
            format!(
                "MAIL FROM:<{}>",
                if login.user.contains('@') {
                    login.user
                } else {
                    ""
                }
            ),
            250,
            "the MAIL answer",
        ),
        (format!("RCPT TO:<{}>", m.to), 250, "the RCPT answer"),
        ("DATA".to_owned(), 354, "the DATA answer"),
    ] {
        w.send(&cmd, &cmd).await?;
        match reply(w, what).await? {
            Some((code, _)) if code == want => {}
            Some((_, lines)) => {
                w.close("QUIT").await;
                return Ok(Verdict::refused(lines.join("\n"), None, true));
            }
            None => return Ok(not_smtp(Vec::new())),
        }
    }
    let text = m.render(login.user);
    w.send_block(
        &text,
        &format!("<message to {}, {} bytes>", m.to, text.len()),
    )
    .await?;
    let done = reply(w, "the answer to the message").await?;
    w.close("QUIT").await;
    Ok(match done {
        Some((250, _)) => Verdict::Accepted,
        Some((_, lines)) => Verdict::refused(lines.join("\n"), None, true),
        None => not_smtp(Vec::new()),
    })
}
