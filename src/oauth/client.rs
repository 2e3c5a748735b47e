//! The HTTP client and the one failure type of every OAuth exchange.
use std::time::Duration;

use crate::diagnose::{self, Cause, Diagnosis, HttpFailure, ProviderHint};
use crate::limits;

use super::TokenErrorBody;

/// reqwest with the settings token requests need: no redirects (a redirect on a token
/// endpoint is a misconfiguration or an attack, never something to follow), bounded time.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

/// Who is asking: the client id, and for confidential clients the secret and how to send it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a crate::secret::Secret>,
    /// HTTP Basic (Zoom) rather than `client_secret` in the form.
    pub basic: bool,
}

impl<'a> Client<'a> {
    /// A public client: only an id.
    pub fn public(id: &'a str) -> Self {
        Client {
            id,
            secret: None,
            basic: false,
        }
    }
}

/// Why an exchange failed, with everything needed to diagnose it.
#[derive(Debug, Clone)]
pub enum OAuthFailure {
    /// The provider answered with an error status.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// No answer: DNS, refused, reset, TLS, timeout.
    Network(String),
    /// A success status whose body is not what the protocol promises (HTML, truncated JSON).
    Malformed {
        what: String,
        detail: String,
        body: Vec<u8>,
    },
    /// An answer longer than `limits::MAX_HTTP_BODY`: reading stopped there (an endless
    /// chunked body once took `refresh` to 3.4 GB).
    TooLarge { status: u16, limit: usize },
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Self {
        Self::with_extra_roots(timeout, &[])
    }

    /// As `new`, also trusting `extra` CA certificates (`ca_file`) beside the system's roots.
    pub fn with_extra_roots(
        timeout: Duration,
        extra: &[rustls_pki_types::CertificateDer<'_>],
    ) -> Self {
        let roots = extra
            .iter()
            .filter_map(|c| reqwest::Certificate::from_der(c.as_ref()).ok());
        let inner = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("connwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend is compiled in, so building the client cannot fail");
        HttpClient { inner }
    }

    /// POST an `application/x-www-form-urlencoded` body; `Ok` holds a 2xx body.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<Vec<u8>, OAuthFailure> {
        let req = self
            .inner
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form);
        Self::finish(req.send().await).await
    }

    /// POST a form as `client`: its id in the form, and its secret (if any) as HTTP Basic or
    /// as `client_secret` in the form, as the provider wants.
    pub async fn post_form_as(
        &self,
        url: &str,
        client: &Client<'_>,
        form: &[(&str, &str)],
    ) -> Result<Vec<u8>, OAuthFailure> {
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(form.len() + 2);
        fields.push(("client_id", client.id));
        fields.extend_from_slice(form);
        let mut req = self
            .inner
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json");
        match client.secret {
            Some(secret) if client.basic => {
                req = req.basic_auth(client.id, Some(secret.expose()));
            }
            Some(secret) => fields.push(("client_secret", secret.expose())),
            None => {}
        }
        Self::finish(req.form(&fields).send().await).await
    }

    /// GET a resource with an access token (the probe). Redirects are not followed here either.
    pub async fn get_bearer(&self, url: &str, token: &str) -> Result<Vec<u8>, OAuthFailure> {
        let req = self
            .inner
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        Self::finish(req.send().await).await
    }

    pub async fn get(&self, url: &str) -> Result<Vec<u8>, OAuthFailure> {
        let req = self
            .inner
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        Self::finish(req.send().await).await
    }

    async fn finish(sent: reqwest::Result<reqwest::Response>) -> Result<Vec<u8>, OAuthFailure> {
        let mut resp = sent.map_err(|e| OAuthFailure::Network(describe(&e)))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Bounded (crate::limits): chunk by chunk, refused as soon as it would pass the limit,
        // whatever Content-Length says (absent on a chunked body, or a lie).
        let limit = limits::MAX_HTTP_BODY;
        let too_large = OAuthFailure::TooLarge { status, limit };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| OAuthFailure::Network(describe(&e)))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(OAuthFailure::Http {
                status,
                headers,
                body,
            })
        }
    }
}

/// reqwest's error chain in one line, without the URL's query (which never holds secrets
/// here, but stays out of logs on principle).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the answer"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    let host = e.url().and_then(|u| {
        u.host_str()
            .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
    });
    match (host, detail.is_empty()) {
        (Some(h), false) => format!("{kind} ({h}): {detail}"),
        (Some(h), true) => format!("{kind} ({h})"),
        (None, false) => format!("{kind}: {detail}"),
        (None, true) => kind.to_owned(),
    }
}

impl OAuthFailure {
    /// The OAuth error body, when the provider sent one.
    pub fn error_body(&self) -> Option<TokenErrorBody> {
        match self {
            OAuthFailure::Http { body, .. } => serde_json::from_slice(body).ok(),
            _ => None,
        }
    }

    pub fn diagnose(&self, provider: ProviderHint) -> Diagnosis {
        match self {
            OAuthFailure::Http {
                status,
                headers,
                body,
            } => diagnose::diagnose(&HttpFailure {
                status: Some(*status),
                headers: headers.clone(),
                body,
                provider,
            }),
            OAuthFailure::Network(detail) => diagnose::diagnose_network(detail),
            // The body is not quoted: a truncated success response may hold part of a token.
            OAuthFailure::Malformed { what, detail, .. } => {
                let mut d = Diagnosis::of(
                    Cause::ServerError,
                    true,
                    false,
                    format!("{what} is not valid: {detail}"),
                    "Probably a proxy or gateway in the way; connwatch retries by itself.",
                );
                d.http_status = Some(200);
                d
            }
            OAuthFailure::TooLarge { status, limit } => {
                let mut d = Diagnosis::of(
                    Cause::ServerError,
                    true,
                    false,
                    format!(
                        "The answer (HTTP {status}) is longer than {} KiB, the most connwatch reads; it stopped reading there.",
                        limit / 1024
                    ),
                    "Probably the wrong URL, or a proxy or gateway in the way; connwatch retries by itself.",
                );
                d.http_status = Some(*status);
                d
            }
        }
    }
}
