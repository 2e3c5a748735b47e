//! Browser sign-in: authorization code with PKCE (RFC 7636, S256) and a loopback redirect
//! (RFC 8252 §7.3; the URI is the connection's `redirect_uri`, its port chosen free unless
//! fixed — Entra and oidc-provider accept any port for loopback redirects). The listener
//! answers only on the registered path. The answer must carry the `state` we sent, or it is
//! refused and no code is exchanged.
//!
//! A redirect that is not on this machine (`https://localhost/…`, an app's page, `oob`) has
//! no listener: the person pastes back the address the browser ended on, its query, or the
//! bare code a page shows ([`BrowserAuth::accept_pasted`]), and the same checks apply.
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::redirect::{LoopbackHost, LoopbackRedirect, Redirect};
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
    /// The `nonce` sent with an `openid` request (OIDC Core §3.1.2.1), to be found again in
    /// the ID token: an answer minted for another request is refused.
    nonce: Option<String>,
    verifier: Secret,
    /// 127.0.0.1 and/or ::1, on one port; none when the address is pasted back.
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
    redirect: &Redirect,
    opts: &AuthorizeOptions,
) -> Result<BrowserAuth, Diagnosis> {
    let (listeners, redirect_uri, path) = match redirect {
        Redirect::Loopback(l) => {
            let (listeners, port) = listen(l).await?;
            (listeners, l.uri(port), l.listen_path().to_owned())
        }
        Redirect::Paste(uri) => (Vec::new(), uri.clone(), String::new()),
    };
    let state = random_b64(16)?;
    let verifier = random_b64(32)?;
    // A nonce with every OpenID request (some providers require one); one the config's
    // auth_params already sets is the one checked.
    let nonce = match opts.extra.iter().find(|(k, _)| k == "nonce") {
        Some((_, v)) => Some(v.clone()),
        None if scopes.iter().any(|s| s == "openid") => Some(random_b64(16)?),
        None => None,
    };
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
        if let Some(n) = nonce
            .as_ref()
            .filter(|_| !opts.extra.iter().any(|(k, _)| k == "nonce"))
        {
            q.append_pair("nonce", n);
        }
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
        nonce,
        verifier: Secret::new(verifier),
        listeners,
        path,
        provider: opts.provider,
    })
}

/// What a redirect's query says.
enum Answer {
    Code(Secret),
    /// Not the `state` we sent: refused, its code never used.
    OtherState,
    /// `error=`: diagnosed.
    Refused(Box<Diagnosis>),
    NoCode,
}

/// Why a pasted address was not taken.
#[derive(Debug)]
pub enum PasteRefusal {
    /// Not an answer at all (empty, the sign-in page itself, text with spaces): say why and
    /// ask again.
    Again(String),
    /// A real answer that ends the sign-in: another `state`, or the provider's refusal.
    End(Box<Diagnosis>),
}

impl BrowserAuth {
    /// Whether the browser's answer must be pasted back (no listener catches it).
    pub fn pastes_back(&self) -> bool {
        self.listeners.is_empty()
    }

    fn answer(&self, query: &str) -> Answer {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        // Neither a code nor an error: nothing here could be used or misused, whatever its state.
        if get("error").is_none() && get("code").is_none_or(str::is_empty) {
            return Answer::NoCode;
        }
        if get("state") != Some(self.state.as_str()) {
            return Answer::OtherState;
        }
        if get("error").is_some() {
            return Answer::Refused(Box::new(diagnose::diagnose_text(query, self.provider)));
        }
        match get("code") {
            Some(code) if !code.is_empty() => Answer::Code(Secret::new(code)),
            _ => Answer::NoCode,
        }
    }

    /// Take what the person pasted: the whole address the browser ended on, its query
    /// (`?code=…&state=…` or without the `?`), or the bare code a provider's page shows. An
    /// address or query is checked like a redirect (its `state` must be ours, an `error=` is
    /// diagnosed); a bare code carries no state, and PKCE binds it to this sign-in anyway.
    pub fn accept_pasted(&self, text: &str) -> Result<Secret, PasteRefusal> {
        let t = text.trim();
        let again = |why: &str| Err(PasteRefusal::Again(why.to_owned()));
        if t.is_empty() {
            return again("Nothing was pasted.");
        }
        let page = self.url.split('?').next().unwrap_or(&self.url);
        if t.starts_with(page) {
            return again(
                "That is the sign-in page itself. Open it, sign in, then paste the address the browser ends on.",
            );
        }
        let is_query = |q: &str| {
            q.split('&').any(|kv| {
                ["code=", "state=", "error="]
                    .iter()
                    .any(|p| kv.starts_with(p))
            })
        };
        let query = if let Some((_, q)) = t.split_once('?') {
            Some(q.split('#').next().unwrap_or(q))
        } else if is_query(t) {
            Some(t)
        } else {
            None
        };
        if let Some(q) = query {
            return match self.answer(q) {
                Answer::Code(c) => Ok(c),
                Answer::OtherState => Err(PasteRefusal::End(Box::new(state_mismatch()))),
                Answer::Refused(d) => Err(PasteRefusal::End(d)),
                Answer::NoCode => again(
                    "That address carries neither a code nor an error. Paste the whole address the browser shows once the sign-in is done.",
                ),
            };
        }
        if t.contains("://") || t.starts_with("urn:") {
            return again(
                "That address has no code in it. Paste the whole address the browser shows once the sign-in is done (it has ?code=… in it).",
            );
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) || t.len() < 8 {
            return again(
                "That is neither an address nor a code. Paste the address the browser ends on, or the code the page shows.",
            );
        }
        // A code copied out of an address is still percent-encoded (Google's `4%2F0A…`).
        let code = if t.contains('%') {
            url::form_urlencoded::parse(format!("c={t}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| t.to_owned())
        } else {
            t.to_owned()
        };
        Ok(Secret::new(code))
    }
}

impl BrowserAuth {
    /// Wait for the browser to come back with a code (or an error), at most `timeout`.
    /// Requests for other paths (a browser's favicon) get a 404 and the wait goes on.
    pub async fn wait_for_code(&self, timeout: Duration) -> Result<Secret, Diagnosis> {
        match tokio::time::timeout(timeout, self.accept_loop()).await {
            Ok(r) => r,
            Err(_) => Err(not_completed(timeout)),
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
            match self.answer(query) {
                Answer::OtherState => {
                    let _ = reply(&mut sock, "400 Bad Request", PAGE_STATE).await;
                    return Err(state_mismatch());
                }
                Answer::Refused(d) => {
                    let _ = reply(&mut sock, "200 OK", &failure_page(&d)).await;
                    return Err(*d);
                }
                Answer::Code(code) => {
                    let _ = reply(&mut sock, "200 OK", PAGE_OK).await;
                    return Ok(code);
                }
                Answer::NoCode => {
                    let _ = reply(&mut sock, "400 Bad Request", PAGE_NO_CODE).await;
                    let mut d = local("the redirect carried neither a code nor an error".into());
                    d.cause = Cause::InvalidRequest;
                    d.retryable = false;
                    return Err(d);
                }
            }
        }
    }

    /// The ID token must carry the nonce this sign-in sent. Another nonce is an answer
    /// minted for another request (a replayed or substituted code): refused, its tokens
    /// never saved. No nonce at all is a provider that ignores the parameter (OIDC Core
    /// says it must not): accepted, and logged.
    pub fn check_nonce(&self, resp: &TokenResponse) -> Result<(), Diagnosis> {
        let (Some(sent), Some(id_token)) = (&self.nonce, &resp.id_token) else {
            return Ok(());
        };
        match crate::token::id_token_nonce(id_token.expose()) {
            Some(got) if got == *sent => Ok(()),
            Some(_) => {
                Err(Diagnosis::of(
                    Cause::Unknown,
                    false,
                    true,
                    "The ID token carries another nonce than the one connwatch sent with this sign-in (an answer meant for another request), so the sign-in was refused and its tokens not saved.".into(),
                    "Sign in again; if it happens again, something between you and the provider is replaying answers.",
                ))
            }
            None => {
                tracing::warn!("the provider's ID token carries no nonce although one was sent");
                Ok(())
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

/// The sign-in was not finished in time.
pub fn not_completed(timeout: Duration) -> Diagnosis {
    Diagnosis::of(
        Cause::AccessDenied,
        false,
        false,
        format!(
            "The browser sign-in was not completed within {} minutes.",
            timeout.as_secs().div_ceil(60)
        ),
        "Start the sign-in again and finish it in the browser.",
    )
}

fn state_mismatch() -> Diagnosis {
    let mut d = Diagnosis::of(
        Cause::InvalidRequest,
        false,
        false,
        "The sign-in answer did not carry the state connwatch sent, so it was refused and its code never used (an older sign-in's tab or address, or another program answering on the loopback port).".into(),
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

    async fn pasting() -> BrowserAuth {
        start(
            "https://login.example/authorize",
            "client",
            &["openid".to_owned()],
            &Redirect::Paste("https://localhost/callback".into()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap()
    }

    fn again(r: Result<Secret, PasteRefusal>) -> String {
        match r {
            Err(PasteRefusal::Again(why)) => why,
            other => panic!("expected a second chance, got {other:?}"),
        }
    }

    fn ended(r: Result<Secret, PasteRefusal>) -> Diagnosis {
        match r {
            Err(PasteRefusal::End(d)) => *d,
            other => panic!("expected the sign-in to end, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_pasted_address_query_or_code_gives_the_code() {
        let a = pasting().await;
        assert!(a.pastes_back());
        assert!(
            a.listeners.is_empty(),
            "nothing listens for a pasted-back redirect"
        );
        let st = a.state.clone();
        let whole = format!("https://localhost/callback?code=4%2F0Abc&state={st}#frag");
        assert_eq!(a.accept_pasted(&whole).unwrap().expose(), "4/0Abc");
        let query = format!("  ?state={st}&code=xyz-123\n");
        assert_eq!(a.accept_pasted(&query).unwrap().expose(), "xyz-123");
        let bare_query = format!("code=xyz-456&state={st}");
        assert_eq!(a.accept_pasted(&bare_query).unwrap().expose(), "xyz-456");
        assert_eq!(
            a.accept_pasted("4%2F0AbcdEf").unwrap().expose(),
            "4/0AbcdEf"
        );
        assert_eq!(
            a.accept_pasted(" M.C5_BAY.2.U \r\n").unwrap().expose(),
            "M.C5_BAY.2.U"
        );
    }

    #[tokio::test]
    async fn what_is_not_an_answer_gets_a_second_chance_with_the_reason() {
        let a = pasting().await;
        assert!(again(a.accept_pasted("   ")).contains("Nothing was pasted"));
        assert!(again(a.accept_pasted(&a.url)).contains("sign-in page itself"));
        assert!(again(a.accept_pasted("https://localhost/callback")).contains("no code"));
        assert!(
            again(a.accept_pasted("https://localhost/callback?foo=bar"))
                .contains("neither a code nor an error")
        );
        assert!(again(a.accept_pasted("not an address")).contains("neither an address"));
        assert!(again(a.accept_pasted("short")).contains("neither an address"));
    }

    #[tokio::test]
    async fn another_state_or_an_error_ends_the_sign_in() {
        let a = pasting().await;
        let d = ended(a.accept_pasted("https://localhost/callback?code=abc&state=other"));
        assert!(d.summary.contains("state"), "{}", d.summary);
        // A code with no state at all is someone else's address too.
        ended(a.accept_pasted("https://localhost/callback?code=abc"));
        let st = a.state.clone();
        let d = ended(a.accept_pasted(&format!(
            "https://localhost/callback?error=access_denied&error_description=AADSTS65004&state={st}"
        )));
        assert_eq!(d.cause, Cause::AccessDenied);
    }

    fn with_id_token(claims: serde_json::Value) -> TokenResponse {
        let jwt = crate::token::unsigned_jwt(serde_json::json!({"alg": "RS256"}), claims);
        let body = serde_json::json!({"access_token": "at-123456789", "token_type": "Bearer", "id_token": jwt});
        TokenResponse::parse(body.to_string().as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn an_openid_sign_in_sends_a_nonce_and_finds_it_in_the_id_token() {
        let a = pasting().await;
        let sent = a.nonce.clone().expect("openid asks for a nonce");
        assert!(a.url.contains(&format!("nonce={sent}")), "{}", a.url);
        assert!(
            a.check_nonce(&with_id_token(serde_json::json!({"nonce": sent})))
                .is_ok()
        );
        // A provider that ignores it: accepted.
        assert!(
            a.check_nonce(&with_id_token(serde_json::json!({"sub": "x"})))
                .is_ok()
        );
        // Another request's answer: refused, a sign-in again.
        let d = a
            .check_nonce(&with_id_token(
                serde_json::json!({"nonce": "someone-elses"}),
            ))
            .unwrap_err();
        assert!(d.needs_reauth && !d.retryable, "{d:?}");
        assert!(d.summary.contains("nonce"), "{}", d.summary);
    }
}
