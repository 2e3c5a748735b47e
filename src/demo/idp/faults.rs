//! Fault injection for the token endpoint: the next N calls answer with a failure instead of
//! their normal reply. Test-only; `connwatch demo` never queues any.
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::EntraError;

/// A failure the next calls to `/token` answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 500 with an Entra-shaped `server_error` body (AADSTS50000).
    Status500,
    /// 503 `temporarily_unavailable` (AADSTS90033), with `Retry-After` when given.
    Unavailable503 { retry_after_s: Option<u64> },
    /// 429 with a plain-text body and `Retry-After`: what Entra's front door sends (not JSON).
    TooMany429 { retry_after_s: u64 },
    /// A 502 HTML page from a gateway in front of the IdP.
    HtmlGateway502,
    /// 200 with a JSON body cut off in the middle. No grant is spent.
    TruncatedJson,
    /// Wait this long before handling the request (a client timeout shorter than this
    /// fires; the request is then never processed, so nothing is spent).
    Delay(Duration),
    /// Start a 200 response, then break the connection mid-body: the client sees the
    /// connection die, as with a crashed proxy or a broken network. No grant is spent.
    DropConnection,
    /// 200 with a chunked body that never ends (a hostile or broken server): the client must
    /// stop reading at its limit. No grant is spent.
    EndlessBody,
    /// Exactly this status and JSON body: whatever a hostile or broken provider may say.
    Raw { status: u16, body: String },
    /// 400 `invalid_grant` with this AADSTS code and text (Entra's body shape): a refusal
    /// the demo's own rules do not produce, such as AADSTS50057 (account disabled).
    Refuse { code: u32, text: String },
}

/// What the token handler does with a fault taken from the queue.
pub(super) enum Action {
    Respond(Response),
    /// Sleep, then handle the request normally.
    Delay(Duration),
}

pub(super) fn action(fault: &Fault, base_url: &str) -> Action {
    match fault {
        Fault::Status500 => Action::Respond(
            EntraError::new(
                "server_error",
                50000,
                "There was an error issuing a token or an issue with our sign-in service.",
            )
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(base_url),
        ),
        Fault::Unavailable503 { retry_after_s } => {
            let mut r = EntraError::new(
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response(base_url);
            if let Some(s) = retry_after_s {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            Action::Respond(r)
        }
        Fault::TooMany429 { retry_after_s } => Action::Respond(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, HeaderValue::from(*retry_after_s)),
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                ],
                "Too Many Requests",
            )
                .into_response(),
        ),
        Fault::HtmlGateway502 => Action::Respond(
            (
                StatusCode::BAD_GATEWAY,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                GATEWAY_PAGE,
            )
                .into_response(),
        ),
        Fault::TruncatedJson => Action::Respond(
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                TRUNCATED_BODY,
            )
                .into_response(),
        ),
        Fault::Delay(d) => Action::Delay(*d),
        Fault::Raw { status, body } => Action::Respond(
            (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body.clone(),
            )
                .into_response(),
        ),
        Fault::EndlessBody => {
            // 64 KiB of JSON-ish filler, forever; the stream ends when the client hangs up.
            static FILLER: [u8; 64 * 1024] = [b' '; 64 * 1024];
            let endless = futures_util::stream::repeat_with(|| {
                Ok::<&'static [u8], std::io::Error>(&FILLER[..])
            });
            let head = futures_util::stream::iter([Ok::<&'static [u8], std::io::Error>(
                b"{\"token_type\":\"Bearer\",\"access_token\":\"",
            )]);
            Action::Respond(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(futures_util::StreamExt::chain(
                        head, endless,
                    )))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
            )
        }
        Fault::Refuse { code, text } => Action::Respond(
            EntraError::new("invalid_grant", *code, text.clone()).into_response(base_url),
        ),
        Fault::DropConnection => {
            // Promise more than is sent, then fail the body stream: hyper aborts the
            // connection and the client reads an incomplete message.
            let parts: [Result<&'static [u8], std::io::Error>; 2] = [
                Ok(b"{\"token_type\":\"Bearer\",\"access_token\":\"eyJ0eX"),
                Err(std::io::Error::other(
                    "connection dropped by fault injection",
                )),
            ];
            let body = Body::from_stream(futures_util::stream::iter(parts));
            Action::Respond(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CONTENT_LENGTH, "4096")
                    .body(body)
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
            )
        }
    }
}

const GATEWAY_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n\
<body><center><h1>502 Bad Gateway</h1></center>\n<hr><center>demo-gateway</center>\n</body></html>\n";

/// A success body cut off inside the access token (no real token is in it).
const TRUNCATED_BODY: &str = "{\"token_type\":\"Bearer\",\"scope\":\"https://outlook.office.com/IMAP.AccessAsUser.All offline_access\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1";
