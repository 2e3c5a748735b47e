//! Diagnosis: turn what a provider answered (status, headers, body) into a cause, in plain
//! words, with the one action that fixes it. Pure: bytes in, `Diagnosis` out, never an error.

mod body;
mod catalogue;
mod classify;
mod client;
mod desktop;
mod details;
mod exchange;
mod fix_by;
mod google;
mod graph;
mod headers;
mod mail;
mod text;
mod zoom;

pub use client::carries_bearer_token;
pub use details::human_duration;
pub use fix_by::FixBy;
pub use mail::{MailReply, diagnose_mail_text, diagnose_reply, parse_reply};
pub use text::diagnose_text;

use serde::{Deserialize, Serialize};

/// Why a request failed. The serde names are the stable `cause` strings of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    TokenExpired,
    RefreshTokenExpired,
    GrantRevoked,
    InteractionRequired,
    MfaRequired,
    ConditionalAccess,
    ConsentRequired,
    MissingOfflineAccess,
    WrongAudience,
    MissingScope,
    TenantMismatch,
    InvalidClient,
    InvalidRequest,
    BadCredentials,
    AccountLocked,
    Throttled,
    ServerError,
    Network,
    ClaimsChallenge,
    AuthorizationPending,
    SlowDown,
    DeviceCodeExpired,
    AccessDenied,
    /// IMAP, SMTP, POP or SMTP AUTH turned off for the tenant or the mailbox.
    ProtocolDisabled,
    /// Authenticated, but not to that mailbox.
    MailboxNotAccessible,
    /// A certificate not trusted, or a TLS handshake that failed.
    Tls,
    Unknown,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::TokenExpired => "token_expired",
            Cause::RefreshTokenExpired => "refresh_token_expired",
            Cause::GrantRevoked => "grant_revoked",
            Cause::InteractionRequired => "interaction_required",
            Cause::MfaRequired => "mfa_required",
            Cause::ConditionalAccess => "conditional_access",
            Cause::ConsentRequired => "consent_required",
            Cause::MissingOfflineAccess => "missing_offline_access",
            Cause::WrongAudience => "wrong_audience",
            Cause::MissingScope => "missing_scope",
            Cause::TenantMismatch => "tenant_mismatch",
            Cause::InvalidClient => "invalid_client",
            Cause::InvalidRequest => "invalid_request",
            Cause::BadCredentials => "bad_credentials",
            Cause::AccountLocked => "account_locked",
            Cause::Throttled => "throttled",
            Cause::ServerError => "server_error",
            Cause::Network => "network",
            Cause::ClaimsChallenge => "claims_challenge",
            Cause::AuthorizationPending => "authorization_pending",
            Cause::SlowDown => "slow_down",
            Cause::DeviceCodeExpired => "device_code_expired",
            Cause::AccessDenied => "access_denied",
            Cause::ProtocolDisabled => "protocol_disabled",
            Cause::MailboxNotAccessible => "mailbox_not_accessible",
            Cause::Tls => "tls",
            Cause::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The diagnosis of one failure; serialises to the "Diagnosis JSON" of DESIGN.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub cause: Cause,
    /// The provider's most specific code: `AADSTS…`, Zoom's numeric code, or the OAuth `error`.
    pub code: Option<String>,
    pub error: Option<String>,
    pub suberror: Option<String>,
    pub needs_reauth: bool,
    pub retryable: bool,
    pub retry_after_s: Option<u64>,
    pub summary: String,
    pub action: String,
    /// Who can fix it. Records written before this field existed read as `user`.
    #[serde(default)]
    pub fix_by: FixBy,
    /// A forced sign-in period the provider revealed (AADSTS70043's "maximum allowed
    /// lifetime … N"), in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_frequency_s: Option<u64>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub timestamp: Option<String>,
    pub claims: Option<String>,
    pub http_status: Option<u16>,
    /// The probe URL whose server gave this answer (probe diagnoses only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// The probe's exchange, one line each, `C:`/`S:` prefixed, secrets replaced by `***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Vec<String>>,
    /// The provider's own words, verbatim: `error_description` (of the body, the redirect
    /// or `WWW-Authenticate`), or the text it answered with. For a code outside the
    /// catalogue this is the only truth there is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The provider's page about the error (`error_uri`), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl Diagnosis {
    /// This diagnosis with every text field made safe for a terminal, a log line or a
    /// notification (`crate::sanitize::line`): what every human-facing output prints. The
    /// stored record and `--json` keep the exact text.
    pub fn for_display(&self) -> Diagnosis {
        let l = |s: &String| crate::sanitize::line(s).into_owned();
        let o = |s: &Option<String>| s.as_ref().map(l);
        Diagnosis {
            code: o(&self.code),
            error: o(&self.error),
            suberror: o(&self.suberror),
            summary: l(&self.summary),
            action: l(&self.action),
            trace_id: o(&self.trace_id),
            correlation_id: o(&self.correlation_id),
            timestamp: o(&self.timestamp),
            claims: o(&self.claims),
            probe: o(&self.probe),
            transcript: self.transcript.as_ref().map(|t| t.iter().map(l).collect()),
            description: o(&self.description),
            error_uri: o(&self.error_uri),
            ..self.clone()
        }
    }

    /// The provider's words when our summary does not already carry them: "nonce required".
    pub fn provider_words(&self) -> Option<&str> {
        let words = self.description.as_deref()?.trim();
        // Entra appends its trace, correlation id and timestamp, shown on their own lines.
        let words = words.split("Trace ID:").next().unwrap_or(words).trim();
        let first = words.lines().next().unwrap_or_default().trim();
        (!first.is_empty() && !self.summary.contains(first)).then_some(words)
    }

    /// Our summary, then the provider's own words (verbatim, when they say more): what
    /// every place that shows a diagnosis in one line shows.
    pub fn summary_with_words(&self) -> String {
        match self.provider_words() {
            Some(w) => format!("{} The provider said: \u{201c}{w}\u{201d}", self.summary),
            None => self.summary.clone(),
        }
    }

    /// Every occurrence of each of `secrets` in every text field replaced by `***`. A server
    /// that echoes what it was sent (the SASL string, the bearer token) once put the token
    /// into `probe`'s output, the status table, `--json` and the status record.
    pub fn mask(&mut self, secrets: &[String]) {
        let m = |s: &mut String| {
            for secret in secrets.iter().filter(|s| s.len() >= 8) {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "***");
                }
            }
        };
        for f in [&mut self.summary, &mut self.action] {
            m(f);
        }
        for f in [
            &mut self.code,
            &mut self.error,
            &mut self.suberror,
            &mut self.trace_id,
            &mut self.correlation_id,
            &mut self.timestamp,
            &mut self.claims,
            &mut self.probe,
            &mut self.description,
            &mut self.error_uri,
        ]
        .into_iter()
        .flatten()
        {
            m(f);
        }
        for line in self.transcript.iter_mut().flatten() {
            m(line);
        }
    }

    /// A diagnosis of something connwatch itself found (no provider answer to parse):
    /// `retryable` and `needs_reauth` as the caller says; who fixes it follows from the
    /// cause (`by` says otherwise).
    pub fn of(
        cause: Cause,
        retryable: bool,
        needs_reauth: bool,
        summary: String,
        action: &str,
    ) -> Self {
        Diagnosis {
            cause,
            code: None,
            error: None,
            suberror: None,
            needs_reauth: needs_reauth && FixBy::of_cause(cause, retryable) == FixBy::User,
            retryable,
            retry_after_s: None,
            summary,
            action: action.to_owned(),
            fix_by: FixBy::of_cause(cause, retryable),
            sign_in_frequency_s: None,
            trace_id: None,
            correlation_id: None,
            timestamp: None,
            claims: None,
            http_status: None,
            probe: None,
            transcript: None,
            description: None,
            error_uri: None,
        }
    }
}

impl Diagnosis {
    /// Someone else fixes it: then a sign-in is not the fix (`needs_reauth` is true only
    /// when the user's own sign-in is).
    pub fn by(mut self, who: FixBy) -> Self {
        self.fix_by = who;
        self.needs_reauth &= who == FixBy::User;
        self
    }

    /// The action with how to sign in for connection `name` appended when only a sign-in
    /// fixes it. Actions themselves stay name-free so every caller can use them.
    pub fn action_for(&self, name: &str) -> String {
        if self.needs_reauth {
            format!(
                "{} (press a in the dashboard, or run: connwatch login {name}).",
                self.action.trim_end_matches('.')
            )
        } else {
            self.action.clone()
        }
    }
}

/// Which provider answered, when known; some bodies only make sense with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderHint {
    Entra,
    Zoom,
    Google,
    Oidc,
    #[default]
    Unknown,
}

/// One failed HTTP exchange as the worker saw it.
#[derive(Debug, Clone, Default)]
pub struct HttpFailure<'a> {
    pub status: Option<u16>,
    /// Header names in any case; values as received.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub provider: ProviderHint,
}

/// Diagnose an HTTP error answer (token endpoint, device endpoint or resource).
pub fn diagnose(input: &HttpFailure<'_>) -> Diagnosis {
    classify::from_http(input, jiff::Timestamp::now())
}

/// As `diagnose`, with the instant an HTTP-date `Retry-After` is measured from.
pub fn diagnose_at(input: &HttpFailure<'_>, now: jiff::Timestamp) -> Diagnosis {
    classify::from_http(input, now)
}

/// Diagnose a failure that never got an HTTP answer (DNS, refused, reset, timeout, TLS).
pub fn diagnose_network(detail: &str) -> Diagnosis {
    classify::network(detail)
}

/// A token response that came back without a refresh token: nothing can renew the access
/// token when it expires. `offline_access_requested` says whether the config asked for it.
/// A 400 or 401 that names no cause (an empty or non-OAuth body, a bare 401) where a token
/// or grant was presented: it was refused all the same, and only a sign-in gets a new one
/// (DESIGN.md: a refused token is `needs_reauth`). `what` is what was refused ("the
/// refresh", "the token"). A recognised answer keeps its own meaning; 429 and 5xx stay
/// transient. Whether this applied.
pub fn refused_without_reason(d: &mut Diagnosis, what: &str) -> bool {
    let bare = d.cause == Cause::Unknown
        && d.error.is_none()
        && d.code.is_none()
        && matches!(d.http_status, Some(400 | 401));
    if !bare {
        return false;
    }
    d.summary = format!(
        "The provider refused {what} without saying why ({}).",
        d.summary.trim_end_matches('.')
    );
    d.needs_reauth = true;
    d.retryable = false;
    d.fix_by = FixBy::User;
    d.action = catalogue::SIGN_IN.to_owned();
    true
}

pub fn no_refresh_token(offline_access_requested: bool) -> Diagnosis {
    classify::no_refresh_token(offline_access_requested)
}
