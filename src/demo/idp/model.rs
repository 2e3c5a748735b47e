//! Tenants, users, grants and device codes of the demo IdP, and the token-minting rules.
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::errors::EntraError;
use super::jwt::SigningKey;
use super::{DevicePollReply, IdpOptions};

pub const CONTOSO_TID: &str = "7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c";
pub const FABRIKAM_TID: &str = "3e8d1c7b-5a4f-4e2d-9c1b-8a7f6e5d4c3b";
pub const NORTHWIND_TID: &str = "9a2b3c4d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub(super) const GRAPH: &str = "https://graph.microsoft.com";
/// Scopes that ask for tokens, not for a resource.
const OIDC_SCOPES: [&str; 4] = ["offline_access", "openid", "profile", "email"];

struct User {
    upn: &'static str,
    name: &'static str,
    oid: &'static str,
    home_tid: &'static str,
}

const USERS: &[User] = &[
    User {
        upn: "alice@contoso.com",
        name: "Alice Example",
        oid: "b1f0c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        home_tid: CONTOSO_TID,
    },
    User {
        upn: "scheduling@contoso.com",
        name: "Scheduling Mailbox",
        oid: "c2e1d4f3-5a6b-4c7d-9e8f-0a1b2c3d4e5f",
        home_tid: CONTOSO_TID,
    },
    User {
        upn: "reports@northwind.com",
        name: "Northwind Reports",
        oid: "d3f2e5a4-6b7c-4d8e-8f9a-1b2c3d4e5f6a",
        home_tid: NORTHWIND_TID,
    },
];

/// A tenant path segment (domain, GUID, organizations, common) → tenant id.
pub(super) fn resolve_tenant(segment: &str) -> Option<&'static str> {
    match segment.to_ascii_lowercase().as_str() {
        "contoso.onmicrosoft.com" | "contoso.com" | CONTOSO_TID | "organizations" | "common" => {
            Some(CONTOSO_TID)
        }
        "fabrikam.onmicrosoft.com" | "fabrikam.com" | FABRIKAM_TID => Some(FABRIKAM_TID),
        "northwind.onmicrosoft.com" | "northwind.com" | NORTHWIND_TID => Some(NORTHWIND_TID),
        _ => None,
    }
}

pub(super) fn unknown_tenant(segment: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        90002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Revoked {
    PasswordChanged,
    ConditionalAccess,
}

pub(super) struct Grant {
    pub tid: &'static str,
    pub upn: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Access token lifetime of this grant; `None` = the IdP's default.
    pub lifetime_s: Option<i64>,
    pub revoked: Option<Revoked>,
    /// When the user signed in for this grant (Unix seconds): sign-in frequency counts
    /// from here, and refreshes do not move it.
    pub auth_time: i64,
}

pub(super) enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

pub(super) struct DeviceCode {
    pub tid: &'static str,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub user_code: String,
    pub created: Instant,
    pub expires: Duration,
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub status: DeviceStatus,
}

pub(super) struct Model {
    pub opts: IdpOptions,
    pub key: SigningKey,
    pub grants: Vec<Grant>,
    /// Live refresh token → grant index.
    pub refresh_tokens: HashMap<String, usize>,
    pub device_codes: HashMap<String, DeviceCode>,
    pub scripted: VecDeque<DevicePollReply>,
    pub issued: Vec<String>,
    pub token_requests: usize,
    /// Answer every token request this much later (a slow IdP).
    pub token_delay: Duration,
    /// Failures the next token requests answer with, in order.
    pub faults: std::collections::VecDeque<super::Fault>,
    /// Codes of the authorization endpoint not yet redeemed.
    pub auth_codes: HashMap<String, super::authorize::AuthCode>,
    /// Scripted answers of the next authorization requests.
    pub authorize_script: VecDeque<super::AuthorizeReply>,
    /// Every authorization request's query, for tests (claims, login_hint, prompt).
    pub authorize_requests: Vec<HashMap<String, String>>,
    /// Issued access tokens → (resource, grant), for the Graph stand-in.
    pub access_tokens: HashMap<String, (String, usize)>,
    /// The Graph stand-in answers a CAE claims challenge (the user's session was revoked
    /// or a location policy changed) until a sign-in sends these claims.
    pub claims_challenge: Option<String>,
    /// Tenants whose Exchange admin turned SMTP AUTH off (the mail stand-in answers 5.7.139).
    pub smtp_auth_disabled: Vec<&'static str>,
    /// Conditional Access sign-in frequency per tenant, in seconds: a refresh of a grant
    /// signed in longer ago answers AADSTS70043 with the number.
    pub sign_in_frequency: HashMap<&'static str, u64>,
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).expect("the OS random generator works");
    b
}

pub(super) fn random_uuid() -> String {
    let b = random_bytes::<16>();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn user_code() -> String {
    // Entra's user codes: 9 characters, no vowels or look-alikes.
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";
    random_bytes::<9>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// `https://outlook.office.com/IMAP.AccessAsUser.All` → (resource, scope); bare → Graph.
fn split_scope(s: &str) -> (String, String) {
    match s.rsplit_once('/') {
        Some((res, name)) if s.starts_with("https://") || s.starts_with("api://") => {
            (res.to_owned(), name.to_owned())
        }
        _ => (GRAPH.to_owned(), s.to_owned()),
    }
}

/// The one resource the scopes are for; Entra refuses scopes of two resources at once.
fn resource_of(scopes: &[String]) -> Result<(String, Vec<String>), EntraError> {
    let mut resource: Option<String> = None;
    let mut names = Vec::new();
    for s in scopes.iter().filter(|s| !OIDC_SCOPES.contains(&s.as_str())) {
        let (res, name) = split_scope(s);
        match &resource {
            Some(r) if *r != res => {
                return Err(EntraError::new(
                    "invalid_request",
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource.",
                ));
            }
            _ => resource = Some(res),
        }
        names.push(name);
    }
    Ok((resource.unwrap_or_else(|| GRAPH.to_owned()), names))
}

pub(super) fn parse_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

impl Model {
    pub fn new(opts: IdpOptions) -> std::io::Result<Self> {
        Ok(Model {
            opts,
            key: SigningKey::generate()?,
            grants: Vec::new(),
            refresh_tokens: HashMap::new(),
            device_codes: HashMap::new(),
            scripted: VecDeque::new(),
            issued: Vec::new(),
            token_requests: 0,
            token_delay: Duration::ZERO,
            faults: Default::default(),
            auth_codes: HashMap::new(),
            authorize_script: VecDeque::new(),
            authorize_requests: Vec::new(),
            access_tokens: HashMap::new(),
            smtp_auth_disabled: Vec::new(),
            sign_in_frequency: HashMap::new(),
            claims_challenge: None,
        })
    }

    pub fn knows_user(upn: &str) -> bool {
        USERS.iter().any(|u| u.upn == upn)
    }

    pub fn new_grant(
        &mut self,
        tid: &'static str,
        upn: &str,
        client_id: &str,
        scopes: Vec<String>,
        lifetime_s: Option<i64>,
    ) -> Result<usize, EntraError> {
        resource_of(&scopes)?;
        if !USERS.iter().any(|u| u.upn == upn) {
            return Err(EntraError::new(
                "invalid_grant",
                50034,
                format!("The user account {upn} does not exist in the directory."),
            ));
        }
        self.grants.push(Grant {
            tid,
            upn: upn.to_owned(),
            client_id: client_id.to_owned(),
            scopes,
            lifetime_s,
            revoked: None,
            auth_time: jiff::Timestamp::now().as_second(),
        });
        Ok(self.grants.len() - 1)
    }

    /// The token endpoint's success JSON for a grant; a new refresh token every time
    /// (Entra rotates; the old one stays valid unless `revoke_rotated`).
    pub fn issue(&mut self, g: usize, spent_rt: Option<&str>) -> Result<Value, EntraError> {
        let grant = &self.grants[g];
        let (resource, names) = resource_of(&grant.scopes)?;
        let user = USERS
            .iter()
            .find(|u| u.upn == grant.upn)
            .expect("grants are only made for known users");
        let lifetime = grant
            .lifetime_s
            .unwrap_or(self.opts.access_token_lifetime.as_secs() as i64);
        let now = jiff::Timestamp::now().as_second();
        let graph = resource == GRAPH;
        let mut claims = json!({
            "aud": if graph { GRAPH_APP_ID.to_owned() } else { resource.clone() },
            "iss": format!("https://sts.windows.net/{}/", grant.tid),
            "iat": now, "nbf": now, "exp": now + lifetime,
            "tid": grant.tid, "oid": user.oid, "sub": URL_SAFE_NO_PAD.encode(random_bytes::<16>()),
            "upn": user.upn, "unique_name": user.upn, "name": user.name,
            "scp": names.join(" "), "appid": grant.client_id, "appidacr": "0",
            "ver": "1.0", "idtyp": "user", "acct": if grant.tid == user.home_tid { 0 } else { 1 },
            "amr": ["pwd", "mfa"], "uti": URL_SAFE_NO_PAD.encode(random_bytes::<12>()),
        });
        if grant.tid != user.home_tid {
            claims["idp"] = json!(format!("https://sts.windows.net/{}/", user.home_tid));
        }
        let nonce = graph.then(|| URL_SAFE_NO_PAD.encode(random_bytes::<24>()));
        let access = self.key.sign(&claims, nonce);
        self.access_tokens
            .insert(access.clone(), (resource.clone(), g));
        let mut body = json!({
            "token_type": "Bearer",
            "scope": grant.scopes.join(" "),
            "expires_in": lifetime.max(0),
            "ext_expires_in": lifetime.max(0),
            "access_token": access,
        });
        self.issued.push(access);
        if grant.scopes.iter().any(|s| s == "offline_access") {
            let rt = format!("1.A{}", URL_SAFE_NO_PAD.encode(random_bytes::<96>()));
            self.refresh_tokens.insert(rt.clone(), g);
            self.issued.push(rt.clone());
            body["refresh_token"] = json!(rt);
        }
        if let Some(old) = spent_rt.filter(|_| self.opts.revoke_rotated) {
            self.refresh_tokens.remove(old);
        }
        Ok(body)
    }

    pub fn start_device(
        &mut self,
        tid: &'static str,
        client_id: &str,
        scopes: Vec<String>,
        base: &str,
    ) -> Result<Value, EntraError> {
        resource_of(&scopes)?;
        let device_code = format!("DAQAB{}", URL_SAFE_NO_PAD.encode(random_bytes::<48>()));
        let user_code = user_code();
        self.issued.push(device_code.clone());
        let interval = self.opts.device_interval_s;
        let expires = self.opts.device_expires_in_s;
        self.device_codes.insert(
            device_code.clone(),
            DeviceCode {
                tid,
                client_id: client_id.to_owned(),
                scopes,
                user_code: user_code.clone(),
                created: Instant::now(),
                expires: Duration::from_secs(expires),
                interval: Duration::from_secs(interval),
                last_poll: None,
                status: DeviceStatus::Pending,
            },
        );
        let uri = format!("{base}/devicelogin");
        Ok(json!({
            "user_code": user_code, "device_code": device_code, "verification_uri": uri,
            "expires_in": expires, "interval": interval,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }))
    }

    pub fn poll_device(&mut self, device_code: &str, client_id: &str) -> Result<Value, EntraError> {
        let scripted = self.scripted.pop_front();
        let Some(dc) = self.device_codes.get_mut(device_code) else {
            return Err(EntraError::new(
                "invalid_grant",
                70018,
                "Invalid verification code entered.",
            ));
        };
        let now = Instant::now();
        let too_soon = dc
            .last_poll
            .is_some_and(|t| now.duration_since(t) < dc.interval);
        dc.last_poll = Some(now);
        let pending = || {
            EntraError::new(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        };
        let slow_down = || {
            EntraError::new(
                "slow_down",
                70016,
                "OAuth 2.0 device flow error. Polling too frequently; slow down.",
            )
        };
        match scripted {
            Some(DevicePollReply::Pending) => return Err(pending()),
            Some(DevicePollReply::SlowDown) => {
                dc.interval += Duration::from_secs(5);
                return Err(slow_down());
            }
            Some(DevicePollReply::Expired) => dc.expires = Duration::ZERO,
            Some(DevicePollReply::Declined) => dc.status = DeviceStatus::Declined,
            None => {}
        }
        if now.duration_since(dc.created) >= dc.expires {
            return Err(EntraError::new(
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ));
        }
        if self.opts.enforce_poll_interval && too_soon {
            dc.interval += Duration::from_secs(5);
            return Err(slow_down());
        }
        if dc.client_id != client_id {
            return Err(EntraError::new(
                "invalid_grant",
                70018,
                "Invalid verification code entered.",
            ));
        }
        if matches!(dc.status, DeviceStatus::Pending)
            && self
                .opts
                .auto_approve_after
                .is_some_and(|d| now.duration_since(dc.created) >= d)
        {
            dc.status = DeviceStatus::Approved;
        }
        match dc.status {
            DeviceStatus::Pending => Err(pending()),
            DeviceStatus::Declined => Err(EntraError::new(
                "authorization_declined",
                70019,
                "The end user denied the authorization request.",
            )),
            DeviceStatus::Redeemed => Err(EntraError::new(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code.",
            )),
            DeviceStatus::Approved => {
                dc.status = DeviceStatus::Redeemed;
                let (tid, scopes) = (dc.tid, dc.scopes.clone());
                let g = self.new_grant(tid, "alice@contoso.com", client_id, scopes, None)?;
                self.issue(g, None)
            }
        }
    }

    pub fn refresh(
        &mut self,
        rt: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<Value, EntraError> {
        let Some(&g) = self.refresh_tokens.get(rt) else {
            return Err(EntraError::new(
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            ));
        };
        let grant = &mut self.grants[g];
        if grant.client_id != client_id {
            return Err(EntraError::new(
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed.",
            )
            .suberror("client_mismatch"));
        }
        match grant.revoked {
            Some(Revoked::PasswordChanged) => {
                return Err(EntraError::new("invalid_grant", 50173, format!(
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                    "2026-11-01T09:00:00.0000000Z", jiff::Timestamp::now()
                )).suberror("bad_token"));
            }
            Some(Revoked::ConditionalAccess) => {
                return Err(EntraError::new(
                    "invalid_grant",
                    53003,
                    "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
                ));
            }
            None => {}
        }
        if let Some(&every) = self.sign_in_frequency.get(grant.tid) {
            let age = jiff::Timestamp::now().as_second() - grant.auth_time;
            if age > every as i64 {
                let issued = jiff::Timestamp::from_second(grant.auth_time)
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string())
                    .unwrap_or_default();
                return Err(EntraError::new(
                    "invalid_grant",
                    70043,
                    format!(
                        "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on {issued} and the maximum allowed lifetime for this request is {every}."
                    ),
                )
                .suberror("token_expired"));
            }
        }
        if let Some(scope) = scope {
            let asked = parse_scopes(scope);
            resource_of(&asked)?;
            if !asked.is_empty() {
                grant.scopes = asked;
            }
        }
        self.issue(g, Some(rt))
    }

    pub fn approve(&mut self, user_code: &str, approve: bool) -> bool {
        let code = user_code.trim().to_ascii_uppercase();
        match self
            .device_codes
            .values_mut()
            .find(|d| d.user_code == code && matches!(d.status, DeviceStatus::Pending))
        {
            Some(d) => {
                d.status = if approve {
                    DeviceStatus::Approved
                } else {
                    DeviceStatus::Declined
                };
                true
            }
            None => false,
        }
    }

    pub fn revoke_where(&mut self, how: Revoked, pick: impl Fn(&Grant) -> bool) {
        for g in self.grants.iter_mut().filter(|g| pick(g)) {
            g.revoked = Some(how);
        }
    }
}
