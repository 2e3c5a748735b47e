//! Configuration: where it is, what it says, and whether it makes sense.
//! Every mistake is reported with file, line, column and key (exit code 78).

pub mod add;
mod error;
mod schema;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use schema::{Flow, Kind, ProviderKind};
pub use validate::parse_duration;

use crate::token::Expectations;

/// Default `remind_every` of `watch` (pizauth's default `auth_notify_interval` is 15 min; a
/// mailbox that waits for an admin does not need a reminder every quarter hour).
pub const DEFAULT_REMIND_EVERY: Duration = Duration::from_secs(4 * 3600);

/// Default `refresh_before`: renew this long before the access token expires.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Default `min_refresh_interval`: at most 120 automatic refreshes an hour, whatever
/// lifetime the provider announces (worker::schedule).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// Overrides the platform data dir for tokens and status records.
    pub data_dir: Option<PathBuf>,
    pub connections: Vec<Connection>,
    /// The dashboard's keys, defaults with the `[keys]` overrides applied.
    pub keymap: crate::keymap::Keymap,
    pub bell: bool,
    pub notify_command: Option<Vec<String>>,
    /// `watch`: repeat a notice this often while the episode lasts; `None` the default
    /// (4 h), zero off.
    pub remind_every: Option<Duration>,
    pub notify_email: Option<NotifyEmail>,
    /// `watch`: desktop notifications over D-Bus (with a Re-authorize button) when a session
    /// bus is reachable.
    pub desktop_notifications: bool,
}

/// Email alerts as Zoom sends them: through `via` (a connection of the user's with an SMTP
/// probe) to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEmail {
    pub via: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub name: String,
    pub kind: Kind,
    pub provider: ProviderKind,
    pub tenant: Option<String>,
    pub issuer: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub flow: Flow,
    pub account: Option<String>,
    pub expect: Expectations,
    /// The resources to ask whether they take the token; empty: the provider's defaults.
    pub probe: Vec<crate::probe::ProbeTarget>,
    /// Extra CAs (PEM) trusted by the probes (the connection's, else the top level's).
    pub ca_file: Option<PathBuf>,
    /// Probe this often on top of after each refresh and sign-in: `None` unset (the
    /// dashboard: off; `watch`: 15 min), zero explicitly off.
    pub probe_every: Option<Duration>,
    pub refresh_before: Duration,
    /// Never renew sooner than this after the tokens were obtained (worker::schedule).
    pub min_refresh_interval: Duration,
    pub authority_host: Option<String>,
    pub token_url: Option<String>,
    pub device_url: Option<String>,
    pub client_secret: Option<SecretSource>,
    /// The browser sign-in's redirect URI as configured (`None`: the provider's default).
    pub redirect_uri: Option<crate::oauth::redirect::Redirect>,
    /// Extra query fields of the authorization request, in key order.
    pub auth_params: Vec<(String, String)>,
    /// `login_hint` for the sign-in page (else `account`).
    pub login_hint: Option<String>,
}

/// Where a confidential client's secret comes from; read only when a request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Command(Vec<String>),
    Env(String),
}

impl SecretSource {
    /// Run the command (stdout, trailing newline removed) or read the variable. Errors say
    /// what failed but never echo what the command printed.
    pub fn read(&self) -> Result<crate::secret::Secret, String> {
        match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(crate::secret::Secret::new(v)),
                _ => Err(format!(
                    "the environment variable {var} (client_secret_env) is not set"
                )),
            },
            SecretSource::Command(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| "client_secret_command is empty".to_owned())?;
                let out = std::process::Command::new(program)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run client_secret_command {program:?}: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "client_secret_command {program:?} failed ({})",
                        out.status
                    ));
                }
                let text = String::from_utf8(out.stdout).map_err(|_| {
                    "client_secret_command printed something that is not UTF-8".to_owned()
                })?;
                let secret = text.trim_end_matches(['\n', '\r']);
                if secret.is_empty() {
                    return Err(format!("client_secret_command {program:?} printed nothing"));
                }
                Ok(crate::secret::Secret::new(secret))
            }
        }
    }
}

/// The longest connection name: it becomes file names (`NAME.json`, `NAME.lock`), and a
/// 300-character one once passed `config check` and then lost a completed sign-in's tokens
/// to ENAMETOOLONG.
pub const MAX_NAME_LEN: usize = 64;

/// A connection's name is used on the command line and as a file name: letters, digits,
/// '.', '_' and '-', at most `MAX_NAME_LEN` of them.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// OAuth/OIDC protocol scopes: they ask for a refresh token or identity claims, not for access
/// to a resource, so they are never "missing" from an access token.
pub fn is_protocol_scope(scope: &str) -> bool {
    matches!(scope, "offline_access" | "openid" | "profile" | "email")
}

impl Connection {
    /// Whether the sign-in asks for a refresh token: the `offline_access` scope; Google has no
    /// such scope (connwatch always sends `access_type=offline`) and Zoom OAuth apps always get
    /// one.
    pub fn asks_offline_access(&self) -> bool {
        matches!(self.provider, ProviderKind::Google | ProviderKind::Zoom)
            || self.scopes.iter().any(|s| s == "offline_access")
    }

    /// Why a connection holding tokens has no refresh token, for its row.
    pub fn no_refresh_token_note(&self) -> &'static str {
        if self.asks_offline_access() {
            "no refresh token was issued"
        } else {
            "no refresh token: offline_access not requested"
        }
    }

    /// The scheduled probe interval in effect, if any.
    pub fn probe_interval(&self) -> Option<Duration> {
        self.probe_every.filter(|d| !d.is_zero())
    }

    /// The redirect URI a browser sign-in sends: the configured one, else the provider's
    /// usual registration — Entra `http://localhost` (MSAL's and the portal's), others
    /// `http://127.0.0.1/`.
    pub fn redirect(&self) -> crate::oauth::redirect::Redirect {
        use crate::oauth::redirect::{LoopbackRedirect, Redirect};
        match (&self.redirect_uri, self.provider) {
            (Some(r), _) => r.clone(),
            (None, ProviderKind::Entra) => Redirect::Loopback(LoopbackRedirect::localhost()),
            (None, _) => Redirect::Loopback(LoopbackRedirect::ipv4()),
        }
    }

    /// The tenant (entra) or issuer (oidc), for display.
    pub fn realm(&self) -> Option<&str> {
        self.tenant.as_deref().or(self.issuer.as_deref())
    }
}

impl Config {
    /// Read and validate the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let help = (e.kind() == std::io::ErrorKind::NotFound)
                .then(|| "create one with `connwatch init`, or try `connwatch demo`".to_owned());
            ConfigError::file(path, format!("cannot read the config file: {e}"), help)
        })?;
        Self::parse(path, &text)
    }

    /// Validate `text` as if read from `path` (used by tests and `load`).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        validate::parse(path, text)
    }

    /// How often `watch` reminds while an episode lasts, if at all.
    pub fn reminder_interval(&self) -> Option<Duration> {
        Some(self.remind_every.unwrap_or(DEFAULT_REMIND_EVERY)).filter(|d| !d.is_zero())
    }

    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }
}

/// The config path: `--config`/`CONNWATCH_CONFIG` (resolved by clap) or the platform default.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "connwatch").map(|d| d.config_dir().join("config.toml"))
}
