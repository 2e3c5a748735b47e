//! What the worker is asked to do and what it reports. No raw token ever crosses this line:
//! views carry expiry, scopes and a masked preview; decode results carry claims only.
use jiff::Timestamp;

use crate::config::{Kind, ProviderKind};
use crate::connection::ConnState;
use crate::diagnose::Diagnosis;
use crate::store::HistoryEntry;
use crate::token::TokenReport;

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Interactive sign-in (device code) for one connection.
    SignIn {
        name: String,
    },
    /// Interactive sign-in in the browser (PKCE), whatever the connection's `flow` says.
    SignInBrowser {
        name: String,
    },
    CancelSignIn {
        name: String,
    },
    /// What the person pasted back for a browser sign-in whose redirect is not on this
    /// machine (the address the browser ended on, its query, or the bare code).
    Pasted {
        name: String,
        text: crate::secret::Secret,
    },
    Refresh {
        name: String,
    },
    RefreshAll,
    /// Forget the connection's tokens.
    Purge {
        name: String,
    },
    /// Decode the connection's access token (claims and findings, never the token).
    Decode {
        name: String,
    },
    /// Ask the connection's resources now whether they take its token (refreshing first
    /// when the token is due).
    Probe {
        name: String,
    },
    Shutdown,
    /// Apply a new config in place (SIGHUP in `watch`).
    Reload(NewConfig),
    /// `request`, to be answered with `Event::Finished { id, .. }` once it is done (see
    /// `WorkerHandle::track`).
    Tracked {
        id: u64,
        request: Box<Request>,
    },
}

/// A config for `Request::Reload` (equal only to itself: configs are not compared here).
#[derive(Debug, Clone)]
pub struct NewConfig(pub std::sync::Arc<crate::config::Config>);

impl PartialEq for NewConfig {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Request {
    /// The connection it is about, if one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Request::SignIn { name }
            | Request::SignInBrowser { name }
            | Request::CancelSignIn { name }
            | Request::Pasted { name, .. }
            | Request::Refresh { name }
            | Request::Purge { name }
            | Request::Decode { name }
            | Request::Probe { name } => Some(name),
            Request::Tracked { request, .. } => request.name(),
            Request::RefreshAll | Request::Shutdown | Request::Reload(_) => None,
        }
    }
}

/// How a tracked request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Nothing was started: unknown name, no tokens, nothing to probe, or already busy.
    NotStarted,
    /// New tokens are saved (and every probe accepted them).
    Renewed,
    /// Every probe accepted the token.
    Probed,
    Purged,
    /// The provider, a resource or the disk said no; the diagnosis says why.
    Failed(Box<Diagnosis>),
    /// A purge or a newer sign-in took over before it ended.
    Superseded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Connection(Box<ConnectionView>),
    DeviceCode(DeviceCodeView),
    SignInEnded {
        name: String,
        ok: bool,
    },
    Decoded {
        name: String,
        report: Box<TokenReport>,
    },
    /// A job ended, or a tracked request (`Request::Tracked`) that started none; the
    /// connection's view, sent just before, shows the state it left.
    Finished {
        /// The tracked request's id; `None` for work the worker started on its own.
        id: Option<u64>,
        name: String,
        outcome: Finish,
        /// A resource refused the token the job ended with (its probes ran after it).
        probe_refusal: Option<Box<Diagnosis>>,
        /// How long the job ran (from when it got a permit).
        took: std::time::Duration,
    },
    /// A `connwatch watch` now holds the store (its pid), or none does any more. Sent only
    /// by a worker that yields to one (`WorkerOptions::yield_to_watch`).
    Watched {
        pid: Option<u32>,
    },
}

/// Everything the dashboard and `status` show about one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionView {
    pub name: String,
    pub kind: Kind,
    pub provider: ProviderKind,
    pub account: Option<String>,
    /// Tenant (entra) or issuer (oidc).
    pub realm: Option<String>,
    pub state: ConnState,
    /// Why the state is what it is when no provider error says it (e.g. a corrupt file);
    /// work in progress is named first ("sign-in in progress (pid 4242)").
    pub note: Option<String>,
    /// Work in flight on the connection, by this or another live process.
    pub activity: Option<crate::state::Activity>,
    pub access_expires_at: Option<Timestamp>,
    pub has_refresh_token: bool,
    /// What the config asks for, beside what the provider granted.
    pub scopes_asked: Vec<String>,
    pub granted_scopes: Vec<String>,
    /// When the cached tokens were obtained (sign-in or last refresh).
    pub obtained_at: Option<Timestamp>,
    pub token_preview: Option<String>,
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    /// When the worker will next try on its own (refresh or retry).
    pub next_attempt_at: Option<Timestamp>,
    /// A request is in flight (spinner).
    pub busy: bool,
    pub history: Vec<HistoryEntry>,
    /// The last answer of each of the connection's probes.
    pub probes: Vec<crate::probe::ProbeResult>,
    /// Sign in before this instant, or the connection stops renewing (`crate::forecast`).
    pub sign_in_by: Option<Timestamp>,
    /// Why: "fabrikam asks for a sign-in every 15 min".
    pub sign_in_by_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeView {
    pub name: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_at: Timestamp,
    pub message: Option<String>,
    /// The redirect URI the browser ends on when nothing on this machine catches it: the
    /// address (or the code its page shows) must be pasted back (`Request::Pasted`).
    pub paste: Option<String>,
    /// Why the last pasted text was not taken (the sign-in waits for another).
    pub refused: Option<String>,
}

impl ConnectionView {
    /// This view with every provider's and server's text made safe to draw
    /// (crate::sanitize): the dashboard's boundary with outside text.
    pub fn for_display(mut self) -> ConnectionView {
        self.last_error = self.last_error.map(|d| d.for_display());
        self.probes = self
            .probes
            .iter()
            .map(crate::probe::ProbeResult::for_display)
            .collect();
        self.note = self.note.map(|n| crate::sanitize::line(&n).into_owned());
        self
    }
}

impl DeviceCodeView {
    /// This code with the provider's text (user code, page, message) made one safe line
    /// each (crate::sanitize), for the screen, the clipboard and notifications. The browser
    /// is still given the page as it came.
    pub fn for_display(&self) -> DeviceCodeView {
        let l = |s: &str| crate::sanitize::line(s).into_owned();
        DeviceCodeView {
            user_code: l(&self.user_code),
            verification_uri: l(&self.verification_uri),
            message: self.message.as_deref().map(l),
            refused: self.refused.as_deref().map(l),
            ..self.clone()
        }
    }
}
