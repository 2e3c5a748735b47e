//! IMAP (RFC 9051 / 3501): greeting → CAPABILITY → (STARTTLS, CAPABILITY) → AUTHENTICATE with
//! SASL-IR (RFC 4959) when offered → EXAMINE INBOX → LOGOUT. Exchange may accept AUTHENTICATE
//! and refuse the next command ("User is authenticated but not connected."), so the probe
//! does not call the mailbox reachable before that command answered OK.
use tokio_rustls::TlsConnector;

use super::sasl;
use super::target::{ProbeTarget, Security};
use super::wire::{MAX_REPLY_LINES, Wire, WireError};
use super::{Login, Verdict};

struct Tags(u32);

impl Tags {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("a{}", self.0)
    }
}

/// The tagged completion of `tag`, skipping untagged data (bounded).
async fn tagged(
    w: &mut Wire,
    tag: &str,
    what: &'static str,
) -> Result<(String, Vec<String>), WireError> {
    let mut untagged = Vec::new();
    let prefix = format!("{tag} ");
    for _ in 0..MAX_REPLY_LINES {
        let l = w.read_line(what).await?;
        if l.starts_with(&prefix) {
            return Ok((l, untagged));
        }
        untagged.push(l);
    }
    Err(WireError::TooMuch)
}

fn status_of<'a>(line: &'a str, tag: &str) -> &'a str {
    line[tag.len()..]
        .trim_start()
        .split(' ')
        .next()
        .unwrap_or("")
}

async fn capabilities(
    w: &mut Wire,
    tags: &mut Tags,
) -> Result<Result<Vec<String>, String>, WireError> {
    let tag = tags.next();
    w.send(&format!("{tag} CAPABILITY"), &format!("{tag} CAPABILITY"))
        .await?;
    let (done, untagged) = tagged(w, &tag, "the CAPABILITY answer").await?;
    if !status_of(&done, &tag).eq_ignore_ascii_case("OK") {
        return Ok(Err(done));
    }
    Ok(Ok(untagged
        .iter()
        .filter_map(|l| l.strip_prefix("* CAPABILITY "))
        .flat_map(|l| l.split_whitespace().map(str::to_ascii_uppercase))
        .collect()))
}

pub(super) async fn run(
    w: &mut Wire,
    t: &ProbeTarget,
    login: &Login<'_>,
    tls: Option<&TlsConnector>,
) -> Result<Verdict, WireError> {
    let greeting = w.read_line("the greeting").await?;
    if greeting.starts_with("* BYE") {
        return Ok(Verdict::refused(greeting, None, false));
    }
    if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
        return Ok(Verdict::NotProtocol { line: greeting });
    }
    let mut tags = Tags(0);
    let mut caps = match capabilities(w, &mut tags).await? {
        Ok(c) => c,
        Err(reply) => return Ok(Verdict::refused(reply, None, false)),
    };
    let offers = caps.iter().any(|c| c == "STARTTLS");
    if t.security == Security::StartTls || (t.security == Security::StartTlsIfOffered && offers) {
        let Some(tls) = tls.filter(|_| offers) else {
            w.close(&format!("{} LOGOUT", tags.next())).await;
            return Ok(Verdict::NoStartTls);
        };
        let tag = tags.next();
        w.send(&format!("{tag} STARTTLS"), &format!("{tag} STARTTLS"))
            .await?;
        let (done, _) = tagged(w, &tag, "the STARTTLS answer").await?;
        if !status_of(&done, &tag).eq_ignore_ascii_case("OK") {
            return Ok(Verdict::refused(done, None, false));
        }
        w.start_tls(tls).await?;
        caps = match capabilities(w, &mut tags).await? {
            Ok(c) => c,
            Err(reply) => return Ok(Verdict::refused(reply, None, false)),
        };
    }
    let mech = t.mechanism.as_str();
    if !caps.iter().any(|c| *c == format!("AUTH={mech}")) {
        w.close(&format!("{} LOGOUT", tags.next())).await;
        let offered = caps
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .collect::<Vec<_>>()
            .join(" ");
        return Ok(Verdict::NoMechanism { offered });
    }
    let ir = sasl::initial_response(t.mechanism, login.user, &t.host, t.port, login.token);
    let tag = tags.next();
    if caps.iter().any(|c| c == "SASL-IR") {
        w.send(
            &format!("{tag} AUTHENTICATE {mech} {ir}"),
            &format!("{tag} AUTHENTICATE {mech} ***"),
        )
        .await?;
    } else {
        w.send(
            &format!("{tag} AUTHENTICATE {mech}"),
            &format!("{tag} AUTHENTICATE {mech}"),
        )
        .await?;
        let go = w.read_line("the AUTHENTICATE continuation").await?;
        if !go.starts_with('+') {
            return Ok(Verdict::refused(go, None, false));
        }
        w.send(&ir, "***").await?;
    }
    let prefix = format!("{tag} ");
    let mut challenge = None;
    let mut answered = false;
    let done = loop {
        let l = w.read_line("the answer to AUTHENTICATE").await?;
        if l.starts_with(&prefix) {
            break l;
        }
        if let Some(payload) = l.strip_prefix('+') {
            if answered {
                // A second challenge after our answer: the server is looping; stop here.
                return Ok(Verdict::refused(l, challenge, false));
            }
            challenge = sasl::decode_challenge(payload);
            let answer = sasl::challenge_answer(t.mechanism);
            w.send(answer, answer).await?;
            answered = true;
        }
    };
    if !status_of(&done, &tag).eq_ignore_ascii_case("OK") {
        w.close(&format!("{} LOGOUT", tags.next())).await;
        return Ok(Verdict::refused(done, challenge, false));
    }
    let tag = tags.next();
    w.send(
        &format!("{tag} EXAMINE INBOX"),
        &format!("{tag} EXAMINE INBOX"),
    )
    .await?;
    let (done, _) = tagged(w, &tag, "the EXAMINE answer").await?;
    let ok = status_of(&done, &tag).eq_ignore_ascii_case("OK");
    w.close(&format!("{} LOGOUT", tags.next())).await;
    Ok(if ok {
        Verdict::Accepted
    } else {
        Verdict::refused(done, None, true)
    })
}
