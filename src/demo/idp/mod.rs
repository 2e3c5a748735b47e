//! The embedded demo identity provider: an axum server on 127.0.0.1 speaking Microsoft
//! Entra ID's v2 paths with Entra-shaped JSON, signed RS256 access tokens, and switches
//! for the failures the demo and the tests need (Conditional Access, password change,
//! scripted device-code replies). It never contacts anything itself.

mod authorize;
mod errors;
mod faults;
mod jwt;
mod mail;
mod model;
mod resource;
mod routes;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use model::{Model, Revoked};

pub use authorize::AuthorizeReply;
pub use faults::Fault;
pub use model::{CONTOSO_TID, FABRIKAM_TID};

#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// Device-code polling interval announced to clients (Entra: 5 s).
    pub device_interval_s: u64,
    /// Device code lifetime (Entra: 900 s).
    pub device_expires_in_s: u64,
    /// Approve every device code by itself after this long (the demo; tests approve by hand).
    pub auto_approve_after: Option<Duration>,
    /// A poll sooner than the current interval answers `slow_down` and raises it by 5 s
    /// (RFC 8628 §3.5).
    pub enforce_poll_interval: bool,
    /// Access token lifetime unless a grant says otherwise (Entra: 60–90 min).
    pub access_token_lifetime: Duration,
    /// Kill a refresh token once it has been used (Zoom, oidc-provider); Entra keeps it.
    pub revoke_rotated: bool,
    /// The redirect URIs the app registration lists. As Entra does, a loopback one matches
    /// on any port; anything else is refused with AADSTS50011 on the IdP's own page.
    pub redirect_uris: Vec<String>,
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            device_interval_s: 5,
            device_expires_in_s: 900,
            auto_approve_after: None,
            enforce_poll_interval: true,
            access_token_lifetime: Duration::from_secs(3599),
            revoke_rotated: false,
            redirect_uris: [
                "http://localhost",
                "http://127.0.0.1/",
                "http://127.0.0.1/callback",
                "http://[::1]/",
                "https://localhost/callback",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// A grant made directly, for seeding a store (as if the user had signed in earlier).
#[derive(Debug, Clone)]
pub struct MintSpec {
    pub tenant: String,
    pub upn: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Seconds; ≤ 0 mints an already-expired access token.
    pub access_lifetime_s: i64,
}

/// Replies the next device-code polls get before the normal rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePollReply {
    Pending,
    SlowDown,
    Expired,
    Declined,
}

pub struct DemoIdp {
    shared: Arc<Shared>,
    mail: mail::MailServers,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    pub base_url: String,
    model: Mutex<Model>,
}

impl Shared {
    fn model(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock cannot leave the model half-written in a way that
        // matters for a demo server; keep serving.
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DemoIdp {
    pub async fn start(opts: IdpOptions) -> std::io::Result<DemoIdp> {
        Self::start_on(0, opts).await
    }

    pub async fn start_on(port: u16, opts: IdpOptions) -> std::io::Result<DemoIdp> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let model = tokio::task::spawn_blocking(move || Model::new(opts))
            .await
            .map_err(std::io::Error::other)??;
        let shared = Arc::new(Shared {
            base_url,
            model: Mutex::new(model),
        });
        let mail = mail::start(shared.clone()).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let app = routes::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(DemoIdp {
            shared,
            mail,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`: the `authority_host` of configs that use this IdP.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The Exchange stand-in's IMAP and SMTP ports on 127.0.0.1.
    pub fn mail_ports(&self) -> (u16, u16) {
        (self.mail.imap_port, self.mail.smtp_port)
    }

    /// The tenant's Exchange admin turns SMTP AUTH off: SMTP answers 535 5.7.139.
    pub fn disable_smtp_auth(&self, tenant: &str) {
        if let Some(tid) = model::resolve_tenant(tenant) {
            self.shared.model().smtp_auth_disabled.push(tid);
        }
    }

    /// Create a grant directly and return the token endpoint's success JSON for it.
    /// Panics on an unknown tenant or user: seeding data is written by us, not users.
    pub fn mint(&self, spec: MintSpec) -> serde_json::Value {
        let tid = model::resolve_tenant(&spec.tenant).expect("a demo tenant");
        let mut m = self.shared.model();
        let g = m
            .new_grant(
                tid,
                &spec.upn,
                &spec.client_id,
                spec.scopes,
                Some(spec.access_lifetime_s),
            )
            .unwrap_or_else(|e| panic!("demo seed refused: AADSTS{} {}", e.code, e.text));
        m.issue(g, None)
            .unwrap_or_else(|e| panic!("demo seed refused: AADSTS{} {}", e.code, e.text))
    }

    pub fn approve(&self, user_code: &str) -> bool {
        self.shared.model().approve(user_code, true)
    }

    pub fn deny(&self, user_code: &str) -> bool {
        self.shared.model().approve(user_code, false)
    }

    /// Every existing grant of `upn` is revoked: refresh answers AADSTS50173.
    pub fn change_password(&self, upn: &str) {
        self.shared
            .model()
            .revoke_where(Revoked::PasswordChanged, |g| {
                g.upn.eq_ignore_ascii_case(upn)
            });
    }

    /// Conditional Access in `tenant` now refuses the grants that exist (AADSTS53003);
    /// grants from later interactive sign-ins satisfy it.
    pub fn block_existing_grants(&self, tenant: &str) {
        if let Some(tid) = model::resolve_tenant(tenant) {
            self.shared
                .model()
                .revoke_where(Revoked::ConditionalAccess, |g| g.tid == tid);
        }
    }

    /// Conditional Access sign-in frequency for `tenant`: refreshing a grant signed in more
    /// than `every` ago answers AADSTS70043 ("… the maximum allowed lifetime for this request
    /// is N"), as Entra does; a new sign-in starts the count again.
    pub fn require_sign_in_every(&self, tenant: &str, every: Duration) {
        if let Some(tid) = model::resolve_tenant(tenant) {
            self.shared
                .model()
                .sign_in_frequency
                .insert(tid, every.as_secs());
        }
    }

    /// Move the sign-in of `tenant`'s existing grants `by` into the past (seeded grants were
    /// "signed in earlier").
    pub fn backdate_sign_ins(&self, tenant: &str, by: Duration) {
        if let Some(tid) = model::resolve_tenant(tenant) {
            for g in self
                .shared
                .model()
                .grants
                .iter_mut()
                .filter(|g| g.tid == tid)
            {
                g.auth_time -= by.as_secs() as i64;
            }
        }
    }

    pub fn script_device_polls(&self, replies: Vec<DevicePollReply>) {
        self.shared.model().scripted.extend(replies);
    }

    /// The next `count` calls to the token endpoint answer with `fault` (after any queued
    /// earlier), then behaviour returns to normal.
    pub fn inject(&self, fault: Fault, count: usize) {
        self.shared
            .model()
            .faults
            .extend(std::iter::repeat_n(fault, count));
    }

    /// Answers for the next authorization requests, in order.
    pub fn script_authorize(&self, replies: Vec<AuthorizeReply>) {
        self.shared.model().authorize_script.extend(replies);
    }

    /// The query of every authorization request so far.
    pub fn authorize_requests(&self) -> Vec<std::collections::HashMap<String, String>> {
        self.shared.model().authorize_requests.clone()
    }

    /// From now on the Graph stand-in answers every token with a CAE claims challenge for
    /// `claims` (JSON), until a sign-in sends exactly these claims.
    pub fn challenge_claims(&self, claims: &str) {
        self.shared.model().claims_challenge = Some(claims.to_owned());
    }

    /// Faults still queued (not yet served).
    pub fn pending_faults(&self) -> usize {
        self.shared.model().faults.len()
    }

    /// Answer token requests `delay` later from now on (zero: at once).
    pub fn delay_token_responses(&self, delay: Duration) {
        self.shared.model().token_delay = delay;
    }

    /// Every access token, refresh token and device code issued so far.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.model().issued.clone()
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> usize {
        self.shared.model().token_requests
    }

    pub fn refresh_token_is_live(&self, rt: &str) -> bool {
        self.shared.model().refresh_tokens.contains_key(rt)
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for DemoIdp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
