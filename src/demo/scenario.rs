//! The five demo rows, each a real failure people meet:
//! - `work-mail`: connected; a 2-minute token so the countdown and the automatic refresh show;
//! - `team-calendar`: a shared calendar in another tenant whose Conditional Access asks for a
//!   sign-in every 15 minutes: the silent renewal is refused (AADSTS70043, "… the maximum
//!   allowed lifetime for this request is 900") until the user signs in again, and from then
//!   on the dashboard forecasts the next forced sign-in and counts down to it;
//! - `zoom-scheduler`: a calendar integration whose refresh token died with a password
//!   change (AADSTS50173);
//! - `legacy-mail`: configured without `offline_access`, so no refresh token was ever issued;
//! - `smtp-send`: a mailbox whose token renews fine while its tenant has SMTP AUTH turned
//!   off, so SMTP refuses it with 535 5.7.139 — the failure no token check can see.
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::idp::{DemoIdp, IdpOptions, MintSpec};
use crate::config::Config;
use crate::oauth::TokenResponse;
use crate::store::{StorePaths, TokenSet, TokenStore, ensure_private_dir};

/// When the seeded grants were signed in.
const SIGNED_IN_AGO: Duration = Duration::from_secs(3600);

/// The demo app registration (a made-up id; nothing real is contacted).
pub const CLIENT_ID: &str = "8f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f";

const OUTLOOK_IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
const OUTLOOK_SMTP: &str = "https://outlook.office.com/SMTP.Send";
const GRAPH_CAL_SHARED: &str = "https://graph.microsoft.com/Calendars.Read.Shared";
const GRAPH_CAL_RW: &str = "https://graph.microsoft.com/Calendars.ReadWrite";

struct Row {
    name: &'static str,
    kind: &'static str,
    tenant: &'static str,
    account: &'static str,
    scopes: &'static [&'static str],
    audience: &'static str,
    refresh_before: &'static str,
    /// Lifetime of the seeded access token, in seconds.
    seed_lifetime_s: i64,
    /// Which of the IdP's resource stand-ins the row probes: "graph", "imap", "smtp".
    probes: &'static [&'static str],
}

const ROWS: &[Row] = &[
    Row {
        name: "work-mail",
        kind: "mailbox",
        tenant: "contoso.onmicrosoft.com",
        account: "alice@contoso.com",
        scopes: &[OUTLOOK_IMAP, OUTLOOK_SMTP, "offline_access"],
        audience: "https://outlook.office.com",
        refresh_before: "30s",
        seed_lifetime_s: 120,
        probes: &["imap", "smtp"],
    },
    Row {
        name: "team-calendar",
        kind: "shared-calendar",
        tenant: "fabrikam.onmicrosoft.com",
        account: "alice@contoso.com",
        scopes: &[GRAPH_CAL_SHARED, "offline_access"],
        audience: "https://graph.microsoft.com",
        refresh_before: "55s",
        seed_lifetime_s: 60,
        probes: &["graph"],
    },
    Row {
        name: "zoom-scheduler",
        kind: "integration",
        tenant: "contoso.onmicrosoft.com",
        account: "scheduling@contoso.com",
        scopes: &[GRAPH_CAL_RW, "offline_access"],
        audience: "https://graph.microsoft.com",
        refresh_before: "50s",
        seed_lifetime_s: 60,
        probes: &["graph"],
    },
    Row {
        name: "legacy-mail",
        kind: "mailbox",
        tenant: "contoso.onmicrosoft.com",
        account: "alice@contoso.com",
        scopes: &[OUTLOOK_IMAP],
        audience: "https://outlook.office.com",
        refresh_before: "5m",
        seed_lifetime_s: 90,
        probes: &[],
    },
    Row {
        name: "smtp-send",
        kind: "mailbox",
        tenant: "northwind.onmicrosoft.com",
        account: "reports@northwind.com",
        scopes: &[OUTLOOK_SMTP, "offline_access"],
        audience: "https://outlook.office.com",
        refresh_before: "5m",
        seed_lifetime_s: 3600,
        probes: &["smtp"],
    },
];

/// The IdP as the demo runs it: Entra's 5 s polling interval, approval after 4 s.
pub fn demo_idp_options() -> IdpOptions {
    IdpOptions {
        auto_approve_after: Some(Duration::from_secs(4)),
        ..IdpOptions::default()
    }
}

/// Generated shared mailboxes added after the five story rows (`--extra-rows N`): a helpdesk
/// admin's view (alice, delegated to each), for trying the table at scale and for the
/// benchmarks. Each is healthy, with an access token expiring somewhere in the next hour so
/// countdowns and refreshes spread out.
fn extra_row(i: usize) -> (String, String, i64) {
    (
        format!("shared-{:04}", i + 1),
        "alice@contoso.com".to_owned(),
        600 + (i as i64 * 37) % 3000,
    )
}

/// A config for the demo rows (plus `extra` generated mailboxes) pointing at `base_url`;
/// `data_dir` is named when given.
pub fn config_text(idp: &DemoIdp, data_dir: Option<&Path>, extra: usize) -> String {
    let base_url = &idp.base_url();
    let (imap_port, smtp_port) = idp.mail_ports();
    let mut out = String::from(
        "# connwatch demo: every connection points at the embedded demo identity provider.\n\
         # Probe every resource at start-up and every 5 minutes, so a refusal shows at once.\n\
         probe_every = \"5m\"\n",
    );
    if let Some(d) = data_dir {
        out.push_str(&format!(
            "data_dir = {}\n",
            toml_str(&d.display().to_string())
        ));
    }
    for r in ROWS {
        let scopes: Vec<String> = r.scopes.iter().map(|s| toml_str(s)).collect();
        out.push_str(&format!(
            "\n[[connection]]\nname = \"{}\"\nkind = \"{}\"\nprovider = \"entra\"\ntenant = \"{}\"\nauthority_host = {}\nclient_id = \"{CLIENT_ID}\"\naccount = \"{}\"\nscopes = [{}]\nexpect = {{ audience = \"{}\" }}\nrefresh_before = \"{}\"\n",
            r.name,
            r.kind,
            r.tenant,
            toml_str(base_url),
            r.account,
            scopes.join(", "),
            r.audience,
            r.refresh_before,
        ));
        // Each row asks the stand-ins of its resources whether they take each new token.
        let probes: Vec<String> = r
            .probes
            .iter()
            .map(|p| match *p {
                "graph" => toml_str(&format!("{base_url}/v1.0/me")),
                "imap" => toml_str(&format!("imap://127.0.0.1:{imap_port}")),
                _ => toml_str(&format!("smtp://127.0.0.1:{smtp_port}")),
            })
            .collect();
        if !probes.is_empty() {
            out.push_str(&format!("probe = [{}]\n", probes.join(", ")));
        }
    }
    for i in 0..extra {
        let (name, account, _) = extra_row(i);
        out.push_str(&format!(
            "\n[[connection]]\nname = \"{name}\"\nkind = \"mailbox\"\nprovider = \"entra\"\ntenant = \"contoso.onmicrosoft.com\"\nauthority_host = {}\nclient_id = \"{CLIENT_ID}\"\naccount = \"{account}\"\nscopes = [{}, \"offline_access\"]\nrefresh_before = \"5m\"\n",
            toml_str(base_url),
            toml_str(OUTLOOK_IMAP),
        ));
    }
    out
}

fn toml_str(s: &str) -> String {
    // Basic TOML string: escape backslash and quote (paths on Windows, odd names).
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Mint each row's starting tokens at the IdP, save them, then set the traps: the
/// tenant-B block and the password change.
pub fn seed(idp: &DemoIdp, store: &TokenStore, extra: usize) -> std::io::Result<()> {
    let now = Timestamp::now();
    let story = ROWS.iter().map(|r| {
        (
            r.name.to_owned(),
            MintSpec {
                tenant: r.tenant.into(),
                upn: r.account.into(),
                client_id: CLIENT_ID.into(),
                scopes: r.scopes.iter().map(|s| (*s).to_owned()).collect(),
                access_lifetime_s: r.seed_lifetime_s,
            },
        )
    });
    let generated = (0..extra).map(|i| {
        let (name, account, lifetime) = extra_row(i);
        (
            name,
            MintSpec {
                tenant: "contoso.onmicrosoft.com".into(),
                upn: account,
                client_id: CLIENT_ID.into(),
                scopes: vec![OUTLOOK_IMAP.into(), "offline_access".into()],
                access_lifetime_s: lifetime,
            },
        )
    });
    for (name, spec) in story.chain(generated) {
        let json = idp.mint(spec);
        let resp =
            TokenResponse::parse(json.to_string().as_bytes()).map_err(std::io::Error::other)?;
        let set = TokenSet {
            version: 1,
            expires_at: resp
                .expires_in
                .and_then(|s| now.checked_add(jiff::SignedDuration::from_secs(s)).ok()),
            granted_scopes: resp.scopes(),
            access_token: resp.access_token,
            refresh_token: resp.refresh_token,
            id_token: resp.id_token,
            obtained_at: now,
            // Signed in an hour ago, as the IdP's grants say below.
            signed_in_at: now.checked_sub(SIGNED_IN_AGO).ok(),
        };
        store.save(&name, &set)?;
    }
    idp.require_sign_in_every("fabrikam.onmicrosoft.com", Duration::from_secs(15 * 60));
    idp.backdate_sign_ins("fabrikam.onmicrosoft.com", SIGNED_IN_AGO);
    idp.change_password("scheduling@contoso.com");
    idp.disable_smtp_auth("northwind.onmicrosoft.com");
    Ok(())
}

/// A throw-away config and store for `connwatch demo`: nothing touches the user's own.
pub struct DemoEnv {
    /// Removed when dropped.
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub config: Config,
}

pub fn prepare(idp: &DemoIdp, extra: usize) -> std::io::Result<DemoEnv> {
    let dir = tempfile::Builder::new()
        .prefix("connwatch-demo-")
        .tempdir()?;
    ensure_private_dir(dir.path())?;
    let data = dir.path().join("data");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config_text(idp, Some(&data), extra))?;
    let config = Config::load(&config_path).map_err(|e| std::io::Error::other(e.to_string()))?;
    seed(idp, &TokenStore::new(StorePaths::under(&data)), extra)?;
    Ok(DemoEnv {
        dir,
        config_path,
        config,
    })
}
