//! Mail probes against hostile or broken servers (a Rust test double on 127.0.0.1:0): each
//! gets a precise diagnosis within the probe's time bound — no panic, no hang, no secret in
//! the transcript.
use std::time::{Duration, Instant};

use connwatch::diagnose::Cause;
use connwatch::oauth::HttpClient;
use connwatch::probe::{self, ProbeContext, ProbeResult, ProbeTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZQ";

fn ctx(timeout: Duration) -> ProbeContext {
    ProbeContext {
        http: HttpClient::new(timeout),
        timeout,
        ca_file: None,
        account: Some("alice@contoso.com".into()),
        expect: Default::default(),
        scopes_asked: vec![],
        granted: vec![],
        provider: Default::default(),
    }
}

/// A server that runs `script` on the first connection; returns its port.
async fn server<F, Fut>(script: F) -> u16
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((s, _)) = l.accept().await {
            script(s).await;
        }
    });
    port
}

async fn probe(url: &str, timeout: Duration) -> (ProbeResult, Duration) {
    let t = ProbeTarget::parse(url).unwrap();
    let started = Instant::now();
    let r = probe::run(&t, &ctx(timeout), TOKEN, jiff::Timestamp::now()).await;
    (r, started.elapsed())
}

fn assert_clean(r: &ProbeResult) {
    let all = serde_json::to_string(r).unwrap();
    assert!(
        !all.contains(TOKEN) && !all.contains("c2VjcmV0"),
        "a secret leaked: {all}"
    );
}

/// Read until the client sent a line (or gave up).
async fn read_line(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).await.unwrap_or(0) == 1 {
        if b[0] == b'\n' {
            break;
        }
        buf.push(b[0]);
    }
    String::from_utf8_lossy(&buf).trim_end().to_owned()
}

#[tokio::test]
async fn a_garbage_greeting_is_not_an_imap_server() {
    let port = server(|mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    })
    .await;
    let (r, _) = probe(&format!("imap://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert!(!r.ok);
    assert!(
        d.summary.contains("does not answer like a IMAP server") || d.summary.contains("IMAP"),
        "{}",
        d.summary
    );
    assert!(d.summary.contains("HTTP/1.1 400"), "{}", d.summary);
    assert_clean(&r);
}

#[tokio::test]
async fn a_ten_megabyte_line_is_cut_off_at_64_kib() {
    let port = server(|mut s| async move {
        let chunk = vec![b'A'; 1024 * 1024];
        for _ in 0..10 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let (r, took) = probe(&format!("smtp://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert!(d.summary.contains("longer than 64 KiB"), "{}", d.summary);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        r.transcript.iter().all(|l| l.len() < 200),
        "{:?}",
        r.transcript
    );
}

#[tokio::test]
async fn a_silent_server_times_out_as_a_network_failure_to_retry() {
    let port = server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let (r, took) = probe(
        &format!("pop3://127.0.0.1:{port}"),
        Duration::from_millis(300),
    )
    .await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::Network);
    assert!(d.retryable);
    assert!(d.summary.contains("the greeting"), "{}", d.summary);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn tls_to_a_plain_text_port_is_a_tls_diagnosis_naming_the_host() {
    let port = server(|mut s| async move {
        let _ = s.write_all(b"* OK IMAP4rev1 ready\r\n").await;
        let mut b = [0u8; 512];
        let _ = s.read(&mut b).await;
    })
    .await;
    let (r, _) = probe(&format!("imaps://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::Tls, "{d:?}");
    assert!(
        d.summary.contains(&format!("127.0.0.1:{port}")),
        "{}",
        d.summary
    );
}

#[tokio::test]
async fn plain_text_to_a_port_that_speaks_tls_first_is_named() {
    let port = server(|mut s| async move {
        // A TLS alert record (what some servers send to a client that does not start TLS).
        let _ = s
            .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
            .await;
    })
    .await;
    let (r, _) = probe(&format!("imap://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::Tls);
    assert!(d.action.contains("imaps://"), "{}", d.action);
}

#[tokio::test]
async fn a_server_that_closes_mid_auth_is_a_network_failure_and_the_sasl_string_is_masked() {
    let port = server(|mut s| async move {
        let _ = s.write_all(b"* OK ready\r\n").await;
        let tag = read_line(&mut s).await;
        let tag = tag.split(' ').next().unwrap_or("a1").to_owned();
        let _ = s
            .write_all(
                format!("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\n{tag} OK\r\n").as_bytes(),
            )
            .await;
        let _ = read_line(&mut s).await; // AUTHENTICATE XOAUTH2 <secret>
        // gone
    })
    .await;
    let (r, _) = probe(&format!("imap://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::Network, "{d:?}");
    assert!(d.retryable);
    assert!(
        r.transcript
            .iter()
            .any(|l| l == "C: a2 AUTHENTICATE XOAUTH2 ***"),
        "{:?}",
        r.transcript
    );
    assert_clean(&r);
}

#[tokio::test]
async fn a_server_echoing_the_sasl_string_gets_it_masked_in_the_transcript() {
    let port = server(|mut s| async move {
        let _ = s.write_all(b"220 mx ESMTP\r\n").await;
        let _ = read_line(&mut s).await;
        let _ = s.write_all(b"250-mx\r\n250 AUTH XOAUTH2\r\n").await;
        let auth = read_line(&mut s).await;
        let _ = s
            .write_all(format!("535 5.7.8 I did not like {auth} at all\r\n").as_bytes())
            .await;
        let _ = read_line(&mut s).await;
        let _ = s.write_all(b"221 bye\r\n").await;
    })
    .await;
    let (r, _) = probe(&format!("smtp://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.code.as_deref(), Some("535 5.7.8"));
    assert!(
        r.transcript.iter().any(|l| l.contains("AUTH XOAUTH2 ***")),
        "{:?}",
        r.transcript
    );
    assert_clean(&r);
}

#[tokio::test]
async fn exchange_authenticated_but_not_connected_is_a_mailbox_not_accessible() {
    let port = server(|mut s| async move {
        let _ = s
            .write_all(b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n")
            .await;
        let _ = read_line(&mut s).await;
        let _ = s
            .write_all(
                b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\na1 OK CAPABILITY completed.\r\n",
            )
            .await;
        let _ = read_line(&mut s).await;
        let _ = s.write_all(b"a2 OK AUTHENTICATE completed.\r\n").await;
        let _ = read_line(&mut s).await;
        let _ = s
            .write_all(b"a3 BAD User is authenticated but not connected.\r\n")
            .await;
        let _ = read_line(&mut s).await;
        let _ = s.write_all(b"* BYE\r\na4 OK LOGOUT completed.\r\n").await;
    })
    .await;
    let (r, _) = probe(&format!("imap://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let d = r.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::MailboxNotAccessible, "{d:?}");
    assert_eq!(
        d.code.as_deref(),
        Some("BAD User is authenticated but not connected.")
    );
    assert!(!d.needs_reauth);
}

/// A server that echoes the token itself (decoded from the SASL string) in its refusal:
/// masked in every field of the diagnosis too, not only in the transcript.
#[tokio::test]
async fn a_server_echoing_the_token_gets_it_masked_in_every_field() {
    let port = server(|mut s| async move {
        let _ = s.write_all(b"* OK ready\r\n").await;
        let cap = read_line(&mut s).await;
        let tag = cap.split_whitespace().next().unwrap_or("a").to_owned();
        if cap.contains("CAPABILITY") {
            let _ = s
                .write_all(
                    format!("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n{tag} OK\r\n").as_bytes(),
                )
                .await;
        }
        let auth = read_line(&mut s).await;
        let tag = auth.split_whitespace().next().unwrap_or("a").to_owned();
        let _ = s
            .write_all(
                format!("{tag} NO [AUTHENTICATIONFAILED] token {TOKEN} refused ({auth})\r\n")
                    .as_bytes(),
            )
            .await;
        let _ = read_line(&mut s).await;
        let _ = s.write_all(b"* BYE\r\n").await;
    })
    .await;
    let (r, _) = probe(&format!("imap://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    assert!(r.diagnosis.is_some(), "{:?}", r.transcript);
    assert_clean(&r);
}
