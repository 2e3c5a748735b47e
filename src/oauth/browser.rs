//! Browser sign-in: authorization code with PKCE (RFC 7636, S256) and a loopback redirect
//! (RFC 8252 §7.3; the URI is the connection's `redirect_uri`, its port chosen free unless
//! fixed — Entra and oidc-provider accept any port for loopback redirects). The listener
//! answers only on the registered path. The answer must carry the `state` we sent, or it is
//! refused and no code is exchanged.
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::redirect::{LoopbackHost, LoopbackRedirect};
use super::{HttpClient, OAuthFailure, TokenResponse};
use crate::diagnose::{self, Cause, Diagnosis};
use crate::secret::Secret;

/// What the authorization request carries besides the basics.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeOptions {
    /// The account to sign in as (`login_hint`).
    pub login_hint: Option<String>,
    /// Claims a resource or the IdP asked for (a CAE or Conditional Access challenge).
    pub claims: Option<String>,
    /// `prompt` (`consent` makes Google and oidc-provider issue a refresh token).
    pub prompt: Option<String>,
    /// Extra query parameters of a provider (Google: `access_type=offline`).
    pub extra: Vec<(String, String)>,
    /// Who answers, to read an `error=` redirect in its terms.
    pub provider: crate::diagnose::ProviderHint,
}

/// A browser sign-in waiting for its redirect.
pub struct BrowserAuth {
    /// The page to open in a browser (holds no secret: the verifier never leaves us).
    pub url: String,
    pub redirect_uri: String,
    state: String,
    verifier: Secret,
    /// 127.0.0.1 and/or ::1, on one port.
    listeners: Vec<TcpListener>,
    /// The path the redirect comes back on.
    path: String,
    provider: crate::diagnose::ProviderHint,
}

impl std::fmt::Debug for BrowserAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserAuth")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn random_b64(n: usize) -> Result<String, Diagnosis> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| local("the system random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// S256 code challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Listen where `redirect` points: its host (for `localhost` 127.0.0.1 and, when the
/// machine has it, ::1 on the same port) and its port (0: a free one). Returns the port.
async fn listen(redirect: &LoopbackRedirect) -> Result<(Vec<TcpListener>, u16), Diagnosis> {
    let first: std::net::IpAddr = match redirect.host {
        LoopbackHost::V6 => std::net::Ipv6Addr::LOCALHOST.into(),
        LoopbackHost::V4 | LoopbackHost::Localhost => std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let listener = TcpListener::bind((first, redirect.port)).await.map_err(|e| {
        let mut d = local(format!(
            "cannot listen on {first} port {} for the redirect: {e}",
            redirect.port
        ));
        if redirect.port != 0 {
            d.action = "Free that port (or set redirect_uri without a port, if the app registration allows any), then start the sign-in again.".into();
        }
        d
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| local(format!("cannot read the redirect port: {e}")))?
        .port();
    let mut listeners = vec![listener];
    if redirect.host == LoopbackHost::Localhost
        && let Ok(v6) = TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)).await
    {
        listeners.push(v6);
    }
    Ok((listeners, port))
}

/// Bind the loopback listener and build the authorization URL.
pub async fn start(
    authorization_endpoint: &str,
    client_id: &str,
    scopes: &[String],
    redirect: &LoopbackRedirect,
    opts: &AuthorizeOptions,
) -> Result<BrowserAuth, Diagnosis> {
    let (listeners, port) = listen(redirect).await?;
    let redirect_uri = redirect.uri(port);
    let state = random_b64(16)?;
    let verifier = random_b64(32)?;
    let mut url = url::Url::parse(authorization_endpoint).map_err(|e| {
        let mut d = local(format!(
            "the authorization endpoint {authorization_endpoint:?} is not a URL: {e}"
        ));
        d.cause = Cause::InvalidRequest;
        d
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(h) = &opts.login_hint {
            q.append_pair("login_hint", h);
        }
        if let Some(c) = &opts.claims {
            q.append_pair("claims", c);
        }
        if let Some(p) = &opts.prompt {
            q.append_pair("prompt", p);
        }
        for (k, v) in &opts.extra {
            q.append_pair(k, v);
        }
    }
    Ok(BrowserAuth {
        url: url.into(),
        redirect_uri,
        state,
        verifier: Secret::new(verifier),
        listeners,
        path: redirect.listen_path().to_owned(),
        provider: opts.provider,
    })
}

impl BrowserAuth {
    /// Wait for the browser to come back with a code (or an error), at most `timeout`.
    /// Requests for other paths (a browser's favicon) get a 404 and the wait goes on.
    pub async fn wait_for_code(&self, timeout: Duration) -> Result<Secret, Diagnosis> {
        match tokio::time::timeout(timeout, self.accept_loop()).await {
            Ok(r) => r,
            Err(_) => Err(Diagnosis::of(
                Cause::AccessDenied,
                false,
                false,
                format!(
                    "The browser sign-in was not completed within {} minutes.",
                    timeout.as_secs().div_ceil(60)
                ),
                "Start the sign-in again and finish it in the browser.",
            )),
        }
    }

    async fn accept_loop(&self) -> Result<Secret, Diagnosis> {
        loop {
            let accepted = match self.listeners.as_slice() {
                [one] => one.accept().await,
                [a, b, ..] => tokio::select! {
                    r = a.accept() => r,
                    r = b.accept() => r,
                },
                [] => return Err(local("no redirect listener".into())),
            };
            let (mut sock, _) =
                accepted.map_err(|e| local(format!("the redirect listener failed: {e}")))?;
            let Some(target) = read_request_target(&mut sock).await else {
                continue;
            };
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            if path != self.path {
                let _ = reply(&mut sock, "404 Not Found", "Not found.").await;
                continue;
            }
            let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            if get("state") != Some(self.state.as_str()) {
                let _ = reply(&mut sock, "400 Bad Request", PAGE_STATE).await;
                return Err(state_mismatch());
            }
            if get("error").is_some() {
                let d = diagnose::diagnose_text(query, self.provider);
                let _ = reply(&mut sock, "200 OK", &failure_page(&d)).await;
                return Err(d);
            }
            match get("code") {
                Some(code) if !code.is_empty() => {
                    let _ = reply(&mut sock, "200 OK", PAGE_OK).await;
                    return Ok(Secret::new(code));
                }
                _ => {
                    let _ = reply(&mut sock, "400 Bad Request", PAGE_NO_CODE).await;
                    let mut d = local("the redirect carried neither a code nor an error".into());
                    d.cause = Cause::InvalidRequest;
                    d.retryable = false;
                    return Err(d);
                }
            }
        }
    }

    /// Exchange the code at the token endpoint with the verifier and the same redirect URI.
    pub async fn exchange(
        &self,
        http: &HttpClient,
        token_endpoint: &str,
        client: &super::Client<'_>,
        code: &Secret,
        scopes: &[String],
    ) -> Result<TokenResponse, OAuthFailure> {
        let scope = scopes.join(" ");
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", self.verifier.expose()),
        ];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let body = http.post_form_as(token_endpoint, client, &form).await?;
        TokenResponse::parse(&body).map_err(|detail| OAuthFailure::Malformed {
            what: "the token response".into(),
            detail,
            body,
        })
    }
}

/// The request target of one HTTP request (`/?code=…`), or `None` for garbage.
async fn read_request_target(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET").then(|| target.to_owned())
}

async fn reply(sock: &mut tokio::net::TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.shutdown().await
}

fn state_mismatch() -> Diagnosis {
    let mut d = Diagnosis::of(
        Cause::InvalidRequest,
        false,
        false,
        "The sign-in answer did not carry the state connwatch sent, so it was refused and its code never used (a stale tab, or another program answering on the loopback port).".into(),
        "Start the sign-in again and finish it in the browser tab it opens.",
    );
    d.code = Some("state_mismatch".into());
    d
}

fn local(summary: String) -> Diagnosis {
    Diagnosis::of(
        Cause::Unknown,
        true,
        false,
        summary,
        "Check that connwatch may listen on 127.0.0.1, then start the sign-in again.",
    )
}

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>connwatch: signed in</title>\
<h1>Signed in</h1><p>connwatch has what it needs. You can close this tab.</p>";
const PAGE_STATE: &str = "<!doctype html><meta charset=utf-8><title>connwatch: refused</title>\
<h1>Refused</h1><p>This answer does not belong to the sign-in connwatch started. \
Start the sign-in again.</p>";
const PAGE_NO_CODE: &str = "<!doctype html><meta charset=utf-8><title>connwatch: no code</title>\
<h1>No code</h1><p>The identity provider sent neither a code nor an error.</p>";

fn failure_page(d: &Diagnosis) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!doctype html><meta charset=utf-8><title>connwatch: sign-in failed</title>\
<h1>Sign-in failed</h1><p>{}</p><p>{}</p><p>Code: {}</p>",
        esc(&d.summary),
        esc(&d.action),
        esc(d.code.as_deref().unwrap_or(d.cause.as_str()))
    )
}

/// Open a page in the system browser, unless CONNWATCH_NO_BROWSER says not to (ssh sessions,
/// tests). Failing to open is not fatal for callers: the URL is always shown for copy.
pub fn open_page(url: &str) -> std::io::Result<()> {
    if std::env::var_os("CONNWATCH_NO_BROWSER").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    open::that_detached(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
