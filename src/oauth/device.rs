//! Device authorization grant (RFC 8628). We poll the token endpoint ourselves because
//! oauth2's poller throws the provider's error body away (see shared/reference).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::response::lenient_int;
use super::{Client, HttpClient, OAuthFailure, TokenResponse};
use crate::diagnose::{Cause, Diagnosis, ProviderHint};
use crate::limits;
use crate::secret::Secret;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: "If no value is provided, clients MUST use 5 as the default."
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: slow_down adds 5 seconds to the interval for all later requests.
const SLOW_DOWN_STEP: u64 = 5;

#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
    pub message: Option<String>,
}

impl DeviceAuthorization {
    pub fn parse(body: &[u8]) -> Result<DeviceAuthorization, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        Ok(DeviceAuthorization {
            device_code: Secret::new(text("device_code").ok_or("no device_code")?),
            user_code: text("user_code").ok_or("no user_code")?.to_owned(),
            // Google (and older drafts) say verification_url.
            verification_uri: text("verification_uri")
                .or_else(|| text("verification_url"))
                .ok_or("no verification_uri")?
                .to_owned(),
            verification_uri_complete: text("verification_uri_complete").map(str::to_owned),
            // Clamped (crate::limits): a code "valid" for i64::MAX seconds would overflow
            // the deadline, and an interval of 0 would be a busy loop.
            expires_in: v
                .get("expires_in")
                .and_then(lenient_int)
                .map(limits::device_code_lifetime_s)
                .ok_or("no expires_in")?,
            interval: v
                .get("interval")
                .and_then(lenient_int)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0)
                .map_or(DEFAULT_INTERVAL, limits::device_interval_s),
            message: text("message").map(str::to_owned),
        })
    }
}

/// Waits between polls. Production waits for real; tests scale the waits down and record
/// the nominal intervals, so the polling rules are checked without slow tests.
#[derive(Debug, Clone)]
pub struct Pacer {
    scale: f64,
    log: Option<Arc<Mutex<Vec<Duration>>>>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            scale: 1.0,
            log: None,
        }
    }
}

impl Pacer {
    /// Sleep `scale` × each nominal wait and remember the nominal waits.
    pub fn scaled(scale: f64) -> (Pacer, Arc<Mutex<Vec<Duration>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (
            Pacer {
                scale,
                log: Some(log.clone()),
            },
            log,
        )
    }

    pub async fn wait(&self, nominal: Duration) {
        if let Some(log) = &self.log {
            log.lock().unwrap_or_else(|p| p.into_inner()).push(nominal);
        }
        tokio::time::sleep(nominal.mul_f64(self.scale)).await;
    }

    fn scale(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }
}

pub async fn start_device(
    http: &HttpClient,
    device_url: &str,
    client: &Client<'_>,
    scopes: &[String],
    claims: Option<&str>,
) -> Result<DeviceAuthorization, OAuthFailure> {
    let scope = scopes.join(" ");
    let mut form = vec![("scope", scope.as_str())];
    // A claims challenge (CAE, Conditional Access) rides on the new sign-in.
    if let Some(c) = claims {
        form.push(("claims", c));
    }
    let body = http.post_form_as(device_url, client, &form).await?;
    DeviceAuthorization::parse(&body).map_err(|detail| OAuthFailure::Malformed {
        what: "the device authorization response".into(),
        detail,
        body,
    })
}

/// Poll until the user finishes, declines, or the code expires. `Err` holds the diagnosis.
pub async fn poll_device(
    http: &HttpClient,
    token_url: &str,
    client: &Client<'_>,
    auth: &DeviceAuthorization,
    pacer: &Pacer,
    provider: ProviderHint,
) -> Result<TokenResponse, Diagnosis> {
    // Both already clamped by `DeviceAuthorization::parse` (crate::limits).
    let expires_in = auth.expires_in;
    let deadline = tokio::time::Instant::now() + pacer.scale(Duration::from_secs(expires_in));
    let mut interval = auth.interval;
    loop {
        // Never wait past the code's end: an interval longer than the code's lifetime would
        // otherwise keep `login` waiting long after the code died.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let wait = Duration::from_secs(interval);
        if pacer.scale(wait) >= left {
            tokio::time::sleep(left).await;
            return Err(expired(expires_in));
        }
        pacer.wait(wait).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(expired(expires_in));
        }
        let sent = http
            .post_form_as(
                token_url,
                client,
                &[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", auth.device_code.expose()),
                ],
            )
            .await;
        match sent {
            Ok(body) => {
                return TokenResponse::parse(&body).map_err(|detail| {
                    OAuthFailure::Malformed {
                        what: "the token response".into(),
                        detail,
                        body,
                    }
                    .diagnose(provider)
                });
            }
            Err(failure) => match failure.error_body().map(|b| b.error) {
                Some(e) if e == "authorization_pending" => {}
                Some(e) if e == "slow_down" => {
                    interval = limits::device_interval_s(interval + SLOW_DOWN_STEP);
                }
                // A transient failure while the user types the code must not end the sign-in.
                _ if failure.diagnose(provider).retryable => {}
                _ => return Err(failure.diagnose(provider)),
            },
        }
    }
}

fn expired(expires_in: u64) -> Diagnosis {
    Diagnosis::of(
        Cause::DeviceCodeExpired,
        false,
        true,
        format!(
            "The device code expired after {} minutes without a sign-in.",
            expires_in / 60
        ),
        "Start the sign-in again and enter the new code.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entra_and_google_shapes() {
        let entra = br#"{"user_code":"GF4KDXP2Q","device_code":"DAQABAAEAAAD","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in..."}"#;
        let a = DeviceAuthorization::parse(entra).unwrap();
        assert_eq!(
            (a.user_code.as_str(), a.interval, a.expires_in),
            ("GF4KDXP2Q", 5, 900)
        );
        let google = br#"{"device_code":"x","user_code":"ABC-DEF","verification_url":"https://www.google.com/device","expires_in":"1800"}"#;
        let g = DeviceAuthorization::parse(google).unwrap();
        assert_eq!((g.interval, g.expires_in), (DEFAULT_INTERVAL, 1800));
        assert_eq!(g.verification_uri, "https://www.google.com/device");
        assert!(DeviceAuthorization::parse(b"<html>").is_err());
    }

    #[test]
    fn hostile_numbers_are_clamped() {
        let body = |e: &str, i: &str| {
            format!(
                r#"{{"user_code":"U","device_code":"D","verification_uri":"https://x/d","expires_in":{e},"interval":{i}}}"#
            )
        };
        let a = DeviceAuthorization::parse(body("9223372036854775807", "1000000000").as_bytes())
            .unwrap();
        assert_eq!((a.expires_in, a.interval), (3600, 60));
        let a = DeviceAuthorization::parse(body("-5", "0").as_bytes()).unwrap();
        assert_eq!((a.expires_in, a.interval), (0, DEFAULT_INTERVAL));
    }
}
