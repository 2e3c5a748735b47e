//! The network work, each run as its own task so the worker loop never waits on it.
//! Every job that gets new tokens saves them (under the connection's lock) before it
//! reports success: a rotated refresh token is on disk before the new access token is used.
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{OnceCell, mpsc};

use super::DeviceCodeView;
use crate::clock::Clock;
use crate::config::Connection;
use crate::diagnose::{self, Cause, Diagnosis, ProviderHint};
use crate::oauth::{self, HttpClient, Pacer, TokenResponse};
use crate::probe::{self, ProbeResult};
use crate::provider::{self, Endpoints};
use crate::secret::Secret;
use crate::state::machine::Input;
use crate::store::{TokenSet, TokenStore};

/// Everything a job needs, cloned out of the worker.
#[derive(Clone)]
pub(super) struct JobContext {
    pub http: HttpClient,
    pub store: TokenStore,
    pub clock: Arc<dyn Clock>,
    pub pacer: Pacer,
    pub cfg: Connection,
    pub endpoints: Arc<OnceCell<Endpoints>>,
    /// Claims a resource or the IdP asked for (CAE / Conditional Access challenge): the next
    /// interactive sign-in sends them so the new token satisfies the challenge.
    pub claims: Option<String>,
}

/// What a refresh did when another process had renewed the tokens first.
const REFRESHED_ELSEWHERE: &str = "loaded (refreshed elsewhere)";

/// How long a browser sign-in may take before it is given up.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) enum JobOutcome {
    /// New tokens are saved and ready; `probes` are the resources' answers to them.
    Tokens {
        set: TokenSet,
        what: &'static str,
        probes: Vec<ProbeResult>,
    },
    /// The resources asked about the current tokens (`connwatch probe`, `t`, `probe_every`).
    Probed(Vec<ProbeResult>),
    Failed(Diagnosis),
    /// The token file was removed (`Ok(false)`: there was none).
    Purged(Result<bool, String>),
}

impl JobContext {
    fn hint(&self) -> ProviderHint {
        provider::hint(self.cfg.provider)
    }

    async fn endpoints(&self) -> Result<&Endpoints, Diagnosis> {
        self.endpoints
            .get_or_try_init(|| async {
                provider::resolve(&self.http, &self.cfg)
                    .await
                    .map_err(|f| f.diagnose(self.hint()))
            })
            .await
    }

    /// The client secret of a confidential client, read now (a password manager may ask);
    /// `None` for public clients. A failure is a configuration problem, not the provider's.
    async fn secret(&self) -> Result<Option<crate::secret::Secret>, Diagnosis> {
        let Some(source) = self.cfg.client_secret.clone() else {
            return Ok(None);
        };
        let read = tokio::task::spawn_blocking(move || source.read())
            .await
            .map_err(|e| local_failure(format!("the secret task failed: {e}")))?;
        read.map(Some).map_err(|why| {
            let mut d = local_failure(why);
            d.cause = Cause::InvalidClient;
            d.retryable = false;
            d.action = "Fix client_secret_command or client_secret_env in the config.".into();
            // The user's own config, not the app registration.
            d.fix_by = crate::diagnose::FixBy::User;
            d
        })
    }

    fn client<'a>(&'a self, secret: Option<&'a crate::secret::Secret>) -> oauth::Client<'a> {
        provider::client(&self.cfg, secret)
    }

    /// Ask each resource whether it takes the access token ("valid" by its expiry is not
    /// "accepted": a revoked session, a CAE policy, a missing scope, SMTP AUTH turned off).
    /// All probes of the connection run at once, each bounded by its own timeout.
    pub async fn probe(&self, set: &TokenSet) -> Vec<ProbeResult> {
        let targets = provider::probe_targets(&self.cfg);
        if targets.is_empty() {
            return Vec::new();
        }
        let mut ctx = super::probe_context(&self.cfg, self.http.clone());
        ctx.granted = set.granted_scopes.clone();
        let now = self.clock.now();
        let token = set.access_token.expose();
        futures_util::future::join_all(targets.iter().map(|t| probe::run(t, &ctx, token, now)))
            .await
    }

    /// Probe only, with the tokens the worker holds.
    pub async fn probe_only(self, set: TokenSet) -> JobOutcome {
        JobOutcome::Probed(self.probe(&set).await)
    }

    async fn lock(&self) -> Result<crate::store::ConnectionLock, Diagnosis> {
        let store = self.store.clone();
        let name = self.cfg.name.clone();
        tokio::task::spawn_blocking(move || store.lock(&name))
            .await
            .map_err(|e| local_failure(format!("the lock task failed: {e}")))?
            .map_err(|e| local_failure(format!("cannot lock the token store: {e}")))
    }

    /// The tokens to save. `previous` is what a refresh renewed (its refresh token is kept
    /// when none comes back, and its sign-in time unless the new ID token says one); `None`
    /// for a sign-in, which happened now (or when its ID token says).
    fn token_set(&self, resp: TokenResponse, previous: Option<&TokenSet>) -> TokenSet {
        let now = self.clock.now();
        let granted = resp.scopes();
        let id_time =
            |f: fn(&str) -> Option<Timestamp>| resp.id_token.as_ref().and_then(|t| f(t.expose()));
        let signed_in_at = match previous {
            Some(p) => id_time(crate::token::auth_time).or(p.signed_in_at),
            None => Some(id_time(crate::token::sign_in_time).unwrap_or(now)),
        };
        let previous_rt = previous.and_then(|p| p.refresh_token.clone());
        TokenSet {
            version: 1,
            expires_at: resp
                .expires_in
                .and_then(|s| now.checked_add(jiff::SignedDuration::from_secs(s)).ok()),
            // Google (and Entra for some grants) send no new refresh token: keep the old one.
            refresh_token: resp.refresh_token.or(previous_rt),
            access_token: resp.access_token,
            id_token: resp.id_token,
            granted_scopes: if granted.is_empty() {
                self.cfg.scopes.clone()
            } else {
                granted
            },
            obtained_at: now,
            signed_in_at,
        }
    }

    fn save(&self, set: &TokenSet) -> Result<(), Diagnosis> {
        self.store
            .save(&self.cfg.name, set)
            .map_err(|e| local_failure(format!("cannot save the new tokens: {e}")))
    }

    /// Refresh under the lock. `known_access` is the access token the worker holds: if the
    /// file on disk has another one that is still fresh, another process already refreshed.
    pub async fn refresh(self, known_access: Option<String>) -> JobOutcome {
        match self.refresh_inner(known_access).await {
            Ok((set, what)) => {
                let probes = self.probe(&set).await;
                JobOutcome::Tokens { set, what, probes }
            }
            Err(d) => JobOutcome::Failed(d),
        }
    }

    /// The saved tokens and what happened, or why not.
    async fn refresh_inner(
        &self,
        known_access: Option<String>,
    ) -> Result<(TokenSet, &'static str), Diagnosis> {
        let endpoints = self.endpoints().await?.clone();
        let _lock = self.lock().await?;
        let current = self
            .store
            .load(&self.cfg.name)
            .map_err(|e| local_failure(e.to_string()))?
            .ok_or_else(|| {
                local_failure("the token file disappeared (purged by another process?)".into())
            })?;
        // Another process renewed them while we waited for the lock: use theirs unless they
        // are due again by the one rule (worker::schedule).
        let changed = known_access.as_deref() != Some(current.access_token.expose());
        let due = super::schedule::is_due(
            &current,
            self.cfg.refresh_before,
            self.cfg.min_refresh_interval,
            self.clock.now(),
        );
        if changed && current.expires_at.is_some() && !due {
            return Ok((current, REFRESHED_ELSEWHERE));
        }
        let Some(rt) = current.refresh_token.clone() else {
            return Err(diagnose::no_refresh_token(self.cfg.asks_offline_access()));
        };
        let secret = self.secret().await?;
        // Room for the answer before the refresh token is spent, and a marker of the refresh
        // in flight (store/reserve.rs): a full disk refuses here, with nothing sent.
        let name = &self.cfg.name;
        let cut_off = self.store.refresh_was_cut_off(name);
        let reservation = self.store.reserve(name, &current).map_err(|e| {
            local_failure(format!(
                "No room to save new tokens ({e}): the refresh was not sent, and the saved refresh token is untouched."
            ))
        })?;
        let sent = oauth::refresh(
            &self.http,
            &endpoints.token_endpoint,
            &self.client(secret.as_ref()),
            rt.expose(),
            &self.cfg.scopes,
        )
        .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(f) => {
                // The provider answered, without new tokens: this request spent nothing.
                // Otherwise (no answer, a broken or oversized one) it may have reached the
                // provider and rotated: the marker stays to say so later. A cancelled
                // refresh (shutdown) leaves it too.
                if matches!(f, oauth::OAuthFailure::Http { .. }) {
                    reservation.release();
                }
                let mut d = f.diagnose(self.hint());
                // A non-compliant provider's bare 400/401 still refused the refresh token.
                diagnose::refused_without_reason(&mut d, "the refresh");
                // A provider that quotes the refresh token back in its error gets it masked
                // in every field (the record, the screen, --json).
                d.mask(&[rt.expose().to_owned()]);
                if cut_off && d.needs_reauth {
                    d.summary = format!(
                        "An earlier refresh was cut off (connwatch stopped, or the connection broke, after sending it and before its answer was saved) and spent the saved refresh token. {}",
                        d.summary
                    );
                }
                return Err(d);
            }
        };
        let rotated = resp.refresh_token.as_ref().is_some_and(|n| n != &rt);
        let set = self.token_set(resp, Some(&current));
        let bytes = serde_json::to_vec_pretty(&set)
            .map_err(|e| local_failure(format!("cannot encode the new tokens: {e}")))?;
        reservation.commit(&bytes).map_err(|e| {
            if rotated {
                // Retried like any local failure: where rotation is enforced the only live
                // refresh token is the unsaved one, so a retry loses nothing more (a reuse
                // detector revokes a family whose new member we do not have); where it is not
                // (Entra), the retry succeeds once there is room.
                let mut d = Diagnosis::of(
                    Cause::Unknown,
                    true,
                    false,
                    format!(
                        "The provider issued new tokens and a new refresh token, but they could not be saved ({e}). Where a refresh token is retired once used (Zoom, oidc-provider, single-page apps), the saved one is now spent."
                    ),
                    "Free space in the data directory; connwatch retries, and if the provider refuses the saved refresh token, sign in again.",
                );
                d.fix_by = crate::diagnose::FixBy::User;
                d
            } else {
                local_failure(format!(
                    "cannot save the new tokens ({e}); the saved refresh token is still good."
                ))
            }
        })?;
        let what = if rotated {
            "refreshed (refresh token rotated)"
        } else {
            "refreshed"
        };
        Ok((set, what))
    }

    /// Device-code sign-in: ask for a code, show it, poll until the user is done.
    pub async fn device_sign_in(self, show: mpsc::UnboundedSender<DeviceCodeView>) -> JobOutcome {
        match self.device_inner(show).await {
            Ok(o) => o,
            Err(d) => JobOutcome::Failed(d),
        }
    }

    async fn device_inner(
        &self,
        show: mpsc::UnboundedSender<DeviceCodeView>,
    ) -> Result<JobOutcome, Diagnosis> {
        let endpoints = self.endpoints().await?.clone();
        let device_url = endpoints
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| {
                let mut d =
                    local_failure("the provider has no device authorization endpoint".into());
                d.cause = Cause::InvalidRequest;
                d.retryable = false;
                d.action = "Set device_url in the connection, or use flow = \"browser\".".into();
                d
            })?;
        let secret = self.secret().await?;
        let client = self.client(secret.as_ref());
        let auth = oauth::start_device(
            &self.http,
            &device_url,
            &client,
            &self.cfg.scopes,
            self.claims.as_deref(),
        )
        .await
        .map_err(|f| f.diagnose(self.hint()))?;
        let expires_at = self
            .clock
            .now()
            .checked_add(Duration::from_secs(auth.expires_in))
            .unwrap_or(Timestamp::MAX);
        let _ = show.send(DeviceCodeView {
            name: self.cfg.name.clone(),
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            expires_at,
            message: auth.message.clone(),
            paste: None,
            refused: None,
        });
        let resp = oauth::poll_device(
            &self.http,
            &endpoints.token_endpoint,
            &client,
            &auth,
            &self.pacer,
            self.hint(),
        )
        .await?;
        self.signed_in(resp, "signed in (device code)").await
    }

    /// Save a sign-in's tokens under the lock, then (lock released: the probe may take a
    /// while) ask the resource about them. A new sign-in replaces the grant; an old refresh
    /// token is not kept as a fallback.
    async fn signed_in(
        &self,
        resp: TokenResponse,
        what: &'static str,
    ) -> Result<JobOutcome, Diagnosis> {
        let set = {
            let _lock = self.lock().await?;
            let set = self.token_set(resp, None);
            self.save(&set)?;
            set
        };
        let probes = self.probe(&set).await;
        Ok(JobOutcome::Tokens { set, what, probes })
    }
}

impl JobContext {
    /// Browser sign-in: authorization code + PKCE over a loopback redirect. The page to open
    /// is shown through the same channel as a device code (without a user code).
    /// When the redirect is not on this machine, what the person pastes back arrives on
    /// `pasted`; an answer that is not one is refused with the reason, shown the same way.
    pub async fn browser_sign_in(
        self,
        show: mpsc::UnboundedSender<DeviceCodeView>,
        pasted: mpsc::UnboundedReceiver<Secret>,
    ) -> JobOutcome {
        match self.browser_inner(show, pasted).await {
            Ok(o) => o,
            Err(d) => JobOutcome::Failed(d),
        }
    }

    async fn browser_inner(
        &self,
        show: mpsc::UnboundedSender<DeviceCodeView>,
        pasted: mpsc::UnboundedReceiver<Secret>,
    ) -> Result<JobOutcome, Diagnosis> {
        let endpoints = self.endpoints().await?.clone();
        let auth_url = endpoints.authorization_endpoint.clone().ok_or_else(|| {
            let mut d = local_failure("the provider has no authorization endpoint".into());
            d.cause = Cause::InvalidRequest;
            d.retryable = false;
            d.action = "Use flow = \"device\" for this connection.".into();
            d
        })?;
        let secret = self.secret().await?;
        // The config's auth_params win over the provider's defaults (prompt, access_type).
        let own = |k: &str| self.cfg.auth_params.iter().any(|(n, _)| n == k);
        let mut extra: Vec<(String, String)> = provider::browser_extra(self.cfg.provider)
            .into_iter()
            .filter(|(k, _)| !own(k))
            .collect();
        extra.extend(
            self.cfg
                .auth_params
                .iter()
                .filter(|(k, _)| k != "prompt" && k != "login_hint")
                .cloned(),
        );
        let param = |k: &str| {
            self.cfg
                .auth_params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let opts = oauth::browser::AuthorizeOptions {
            login_hint: self
                .cfg
                .login_hint
                .clone()
                .or_else(|| param("login_hint"))
                .or_else(|| self.cfg.account.clone()),
            claims: self.claims.clone(),
            prompt: param("prompt").or_else(|| {
                provider::browser_prompt(self.cfg.provider, self.cfg.asks_offline_access())
                    .map(str::to_owned)
            }),
            extra,
            provider: self.hint(),
        };
        let auth = oauth::browser::start(
            &auth_url,
            &self.cfg.client_id,
            &self.cfg.scopes,
            &self.cfg.redirect(),
            &opts,
        )
        .await?;
        let expires_at = self
            .clock
            .now()
            .checked_add(BROWSER_TIMEOUT)
            .unwrap_or(Timestamp::MAX);
        let view = DeviceCodeView {
            name: self.cfg.name.clone(),
            user_code: String::new(),
            verification_uri: auth.url.clone(),
            expires_at,
            message: Some("Open this page in a browser and sign in.".into()),
            paste: auth.pastes_back().then(|| auth.redirect_uri.clone()),
            refused: None,
        };
        let _ = show.send(view.clone());
        let code = if auth.pastes_back() {
            match tokio::time::timeout(BROWSER_TIMEOUT, take_pasted(&auth, &show, view, pasted))
                .await
            {
                Ok(r) => r?,
                Err(_) => return Err(oauth::browser::not_completed(BROWSER_TIMEOUT)),
            }
        } else {
            auth.wait_for_code(BROWSER_TIMEOUT).await?
        };
        let resp = auth
            .exchange(
                &self.http,
                &endpoints.token_endpoint,
                &self.client(secret.as_ref()),
                &code,
                &self.cfg.scopes,
            )
            .await
            .map_err(|f| f.diagnose(self.hint()))?;
        auth.check_nonce(&resp)?;
        self.signed_in(resp, "signed in (browser)").await
    }
}

/// Wait for a pasted answer the sign-in can use; each one that is not is refused with the
/// reason (a new view with `refused`), and the next is awaited.
async fn take_pasted(
    auth: &oauth::browser::BrowserAuth,
    show: &mpsc::UnboundedSender<DeviceCodeView>,
    view: DeviceCodeView,
    mut pasted: mpsc::UnboundedReceiver<Secret>,
) -> Result<Secret, Diagnosis> {
    while let Some(text) = pasted.recv().await {
        match auth.accept_pasted(text.expose()) {
            Ok(code) => return Ok(code),
            Err(oauth::browser::PasteRefusal::End(d)) => return Err(*d),
            Err(oauth::browser::PasteRefusal::Again(why)) => {
                let _ = show.send(DeviceCodeView {
                    refused: Some(why),
                    ..view.clone()
                });
            }
        }
    }
    Err(Diagnosis::of(
        Cause::AccessDenied,
        false,
        false,
        "No address was pasted back, so the sign-in could not finish.".into(),
        "Start the sign-in again, sign in in the browser and paste the address it ends on.",
    ))
}

/// Refresh one connection outside the worker (the `token` command), under the same lock
/// and with the same rules: if the file no longer holds `known_access` (the access token the
/// caller read before deciding to refresh), another process refreshed meanwhile and its
/// token is used as is while it is fresh — fifty mail-client calls at once spend a rotating
/// refresh token once, not fifty times.
pub async fn refresh_connection(
    cfg: &Connection,
    store: &TokenStore,
    http: &HttpClient,
    clock: Arc<dyn Clock>,
    known_access: Option<String>,
) -> Result<TokenSet, Diagnosis> {
    let ctx = JobContext {
        http: http.clone(),
        store: store.clone(),
        clock,
        pacer: Pacer::default(),
        cfg: cfg.clone(),
        endpoints: Arc::new(OnceCell::new()),
        claims: None,
    };
    let out = ctx.refresh_inner(known_access).await;
    // Recorded like the worker's own outcomes (worker/record.rs); tokens another process
    // renewed meanwhile are that process's to record.
    let input = match &out {
        Ok((set, what)) if *what != REFRESHED_ELSEWHERE => Some(Input::Renewed(set.facts())),
        Ok(_) => None,
        Err(d) => Some(Input::RefreshFailed(d.clone())),
    };
    if let Some(input) = input {
        super::record::record_outcome(store, &cfg.name, input, ctx.clock.now()).await;
    }
    out.map(|(set, _)| set)
}

/// A failure on our side (disk, lock): not the provider's fault, not fixed by signing in.
pub(super) fn local_failure(summary: String) -> Diagnosis {
    Diagnosis::of(
        Cause::Unknown,
        true,
        false,
        summary,
        "Check the data directory's permissions and free space; connwatch retries by itself.",
    )
}
