//! A stand-in for Exchange Online's IMAP and SMTP (on 127.0.0.1:0), so the demo's mail
//! probes have a server that judges tokens as Exchange does: XOAUTH2 accepted only for a
//! token this IdP issued for `https://outlook.office.com`, with the protocol's scope, to the
//! mailbox's own user, and not expired; otherwise Exchange's opaque `NO AUTHENTICATE failed.`
//! / `535 5.7.3`. A tenant with SMTP AUTH disabled answers `535 5.7.139` whatever the token.
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::Shared;

/// The resource of Exchange Online's mail protocols.
const OUTLOOK: &str = "https://outlook.office.com";
/// Longest command line the stand-in reads (Exchange's AUTH lines stay well below).
const MAX_LINE: u64 = 64 * 1024;
/// The SIZE the stand-in announces; a longer message is read and refused, as Exchange does.
const MAX_MESSAGE: u64 = 157_286_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Imap,
    Smtp,
}

enum Verdict {
    Accepted,
    Refused,
    SmtpAuthDisabled,
}

pub(super) struct MailServers {
    pub imap_port: u16,
    pub smtp_port: u16,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for MailServers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub(super) async fn start(shared: Arc<Shared>) -> std::io::Result<MailServers> {
    let imap = TcpListener::bind(("127.0.0.1", 0)).await?;
    let smtp = TcpListener::bind(("127.0.0.1", 0)).await?;
    let imap_port = imap.local_addr()?.port();
    let smtp_port = smtp.local_addr()?.port();
    let tasks = vec![
        tokio::spawn(serve(imap, shared.clone(), Proto::Imap)),
        tokio::spawn(serve(smtp, shared, Proto::Smtp)),
    ];
    Ok(MailServers {
        imap_port,
        smtp_port,
        tasks,
    })
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, proto: Proto) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            // A client that stalls is dropped; nothing here may hang the demo.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
                match proto {
                    Proto::Imap => imap(stream, &shared).await,
                    Proto::Smtp => smtp(stream, &shared).await,
                }
            })
            .await;
        });
    }
}

/// What Exchange decides for `user` presenting the XOAUTH2 string `b64`.
fn judge(shared: &Shared, b64: &str, proto: Proto) -> Verdict {
    let Some((user, token)) = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let mut user = None;
            let mut token = None;
            for part in s.split('\x01') {
                if let Some(u) = part.strip_prefix("user=") {
                    user = Some(u.to_owned());
                } else if let Some(t) = part.strip_prefix("auth=Bearer ") {
                    token = Some(t.to_owned());
                }
            }
            Some((user?, token?))
        })
    else {
        return Verdict::Refused;
    };
    let m = shared.model();
    let Some((resource, g)) = m.access_tokens.get(&token).cloned() else {
        return Verdict::Refused;
    };
    let Some(grant) = m.grants.get(g) else {
        return Verdict::Refused;
    };
    if proto == Proto::Smtp && m.smtp_auth_disabled.contains(&grant.tid) {
        return Verdict::SmtpAuthDisabled;
    }
    let scope = match proto {
        Proto::Imap => "IMAP.AccessAsUser.All",
        Proto::Smtp => "SMTP.Send",
    };
    let has_scope = grant
        .scopes
        .iter()
        .any(|s| s == &format!("{OUTLOOK}/{scope}"));
    if resource != OUTLOOK
        || !has_scope
        || !grant.upn.eq_ignore_ascii_case(&user)
        || expired(&token)
    {
        return Verdict::Refused;
    }
    Verdict::Accepted
}

/// The JWT's `exp` has passed (the stand-in reads its own tokens' claims).
fn expired(token: &str) -> bool {
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["exp"].as_i64());
    exp.is_none_or(|e| e <= jiff::Timestamp::now().as_second())
}

/// One command line, bounded; `None` at end of input or on an overlong line.
async fn line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<String> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut buf).await.ok()?;
    if n == 0 || !buf.ends_with(b"\n") {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).trim_end().to_owned())
}

async fn imap(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"* OK The Microsoft Exchange IMAP4 service is ready. [REVNTzAxLkRFTU8=]\r\n")
        .await?;
    let mut authed = false;
    while let Some(l) = line(&mut r).await {
        let mut parts = l.splitn(3, ' ');
        let tag = parts.next().unwrap_or("*").to_owned();
        let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
        let rest = parts.next().unwrap_or("");
        let reply = match cmd.as_str() {
            "CAPABILITY" => format!(
                "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\r\n{tag} OK CAPABILITY completed.\r\n"
            ),
            "AUTHENTICATE" => {
                let mut words = rest.split_whitespace();
                let mech = words.next().unwrap_or("").to_ascii_uppercase();
                let ir = match words.next() {
                    Some(ir) => Some(ir.to_owned()),
                    None => {
                        w.write_all(b"+ \r\n").await?;
                        line(&mut r).await
                    }
                };
                match (mech.as_str(), ir) {
                    ("XOAUTH2", Some(ir)) => match judge(shared, &ir, Proto::Imap) {
                        Verdict::Accepted => {
                            authed = true;
                            format!("{tag} OK AUTHENTICATE completed.\r\n")
                        }
                        _ => format!("{tag} NO AUTHENTICATE failed.\r\n"),
                    },
                    _ => format!("{tag} NO AUTHENTICATE failed.\r\n"),
                }
            }
            "EXAMINE" | "SELECT" | "LIST" if authed => match cmd.as_str() {
                "LIST" => format!(
                    "* LIST (\\Marked \\HasNoChildren) \"/\" INBOX\r\n{tag} OK LIST completed.\r\n"
                ),
                _ => format!(
                    "* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent)\r\n* OK [UIDVALIDITY 14] UIDVALIDITY value\r\n{tag} OK [READ-ONLY] {cmd} completed.\r\n"
                ),
            },
            "NOOP" => format!("{tag} OK NOOP completed.\r\n"),
            "LOGOUT" => {
                let bye = format!(
                    "* BYE Microsoft Exchange Server IMAP4 server signing off.\r\n{tag} OK LOGOUT completed.\r\n"
                );
                w.write_all(bye.as_bytes()).await?;
                break;
            }
            _ if !authed => format!("{tag} BAD Command received in Invalid state.\r\n"),
            _ => format!("{tag} BAD Command Error. 10\r\n"),
        };
        w.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

async fn smtp(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let host = "DEMO01.namprd01.prod.outlook.com";
    w.write_all(format!("220 {host} Microsoft ESMTP MAIL Service ready\r\n").as_bytes())
        .await?;
    let mut authed = false;
    while let Some(l) = line(&mut r).await {
        let upper = l.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            format!(
                "250-{host} Hello [127.0.0.1]\r\n250-SIZE {MAX_MESSAGE}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n250 SMTPUTF8\r\n"
            )
        } else if upper.starts_with("AUTH XOAUTH2") {
            let ir = match l.split_whitespace().nth(2) {
                Some(ir) => Some(ir.to_owned()),
                None => {
                    w.write_all(b"334 \r\n").await?;
                    line(&mut r).await
                }
            };
            match ir.map(|ir| judge(shared, &ir, Proto::Smtp)) {
                Some(Verdict::Accepted) => {
                    authed = true;
                    "235 2.7.0 Authentication successful\r\n".to_owned()
                }
                Some(Verdict::SmtpAuthDisabled) => format!(
                    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [{host}]\r\n"
                ),
                _ => format!("535 5.7.3 Authentication unsuccessful [{host}]\r\n"),
            }
        } else if !authed
            && (upper.starts_with("MAIL FROM:") || upper.starts_with("RCPT TO:") || upper == "DATA")
        {
            format!("530 5.7.57 Client not authenticated to send mail. [{host}]\r\n")
        } else if upper.starts_with("MAIL FROM:") {
            "250 2.1.0 Sender OK\r\n".to_owned()
        } else if upper.starts_with("RCPT TO:") && authed {
            "250 2.1.5 Recipient OK\r\n".to_owned()
        } else if upper == "DATA" && authed {
            // A mail client's send succeeds; the message goes nowhere (a demo).
            w.write_all(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
                .await?;
            let mut size = 0u64;
            loop {
                let Some(body) = line(&mut r).await else {
                    return Ok(());
                };
                if body == "." {
                    break;
                }
                size += body.len() as u64 + 2;
            }
            if size > MAX_MESSAGE {
                "552 5.3.4 Message size exceeds fixed maximum message size\r\n".to_owned()
            } else {
                format!("250 2.0.0 OK <demo@{host}> Queued mail for delivery\r\n")
            }
        } else if upper.starts_with("RSET") {
            "250 2.0.0 Resetting\r\n".to_owned()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK\r\n".to_owned()
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 2.0.0 Service closing transmission channel\r\n")
                .await?;
            break;
        } else {
            "500 5.3.3 Unrecognized command\r\n".to_owned()
        };
        w.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}
