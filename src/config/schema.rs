//! The TOML schema as written by users. Validation lives in `validate.rs`.
use serde::Deserialize;
use serde_spanned::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where tokens and status records live (default: the platform data dir).
    pub data_dir: Option<Spanned<String>>,
    /// Ring the terminal bell when a connection needs attention (default true).
    pub bell: Option<bool>,
    /// Run this when a connection needs attention (name, state, cause in the environment).
    pub notify_command: Option<Spanned<Vec<String>>>,
    /// Dashboard key overrides: `refresh = "r"` or `quit = ["q", "ctrl-c"]`.
    /// Extra CA certificates (PEM) trusted by the probes, for every connection.
    pub ca_file: Option<Spanned<String>>,
    /// Probe every connection's resources this often (default: off in the dashboard).
    pub probe_every: Option<Spanned<String>>,
    /// `watch`: also email each notice through one of the user's own connections.
    pub notify_email: Option<Spanned<RawNotifyEmail>>,
    /// `watch`: repeat a notification this often while the episode lasts (default 4h; "0" off).
    pub remind_every: Option<Spanned<String>>,
    /// `watch`: desktop notifications over D-Bus when a session bus is reachable (default true).
    pub desktop_notifications: Option<bool>,
    #[serde(default)]
    pub keys: std::collections::BTreeMap<Spanned<String>, Spanned<OneOrMany>>,
    #[serde(default)]
    pub connection: Vec<RawConnection>,
}

/// `notify_email = { via = "work-mail", to = "alice@contoso.com" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifyEmail {
    pub via: String,
    pub to: String,
}

/// A key or a list of keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    pub name: Spanned<String>,
    #[serde(default)]
    pub kind: Kind,
    pub provider: ProviderKind,
    pub tenant: Option<Spanned<String>>,
    pub issuer: Option<Spanned<String>>,
    pub client_id: Spanned<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub flow: Flow,
    pub account: Option<String>,
    pub expect: Option<RawExpect>,
    /// One URL or a list: https://, imaps://, imap://, smtps://, smtp://, pop3s://, pop3://.
    pub probe: Option<Spanned<OneOrMany>>,
    /// Extra CA certificates (PEM) for this connection's probes (over the top-level one).
    pub ca_file: Option<Spanned<String>>,
    pub probe_every: Option<Spanned<String>>,
    pub refresh_before: Option<Spanned<String>>,
    /// The shortest time between two automatic refreshes (default 30 s, at least 1 s).
    pub min_refresh_interval: Option<Spanned<String>>,
    pub authority_host: Option<Spanned<String>>,
    pub token_url: Option<Spanned<String>>,
    pub device_url: Option<Spanned<String>>,
    /// A command printing the client secret (confidential clients: zoom, some google/oidc).
    pub client_secret_command: Option<Spanned<Vec<String>>>,
    /// An environment variable holding the client secret.
    pub client_secret_env: Option<Spanned<String>>,
    /// Never accepted: secrets stay out of config files. Parsed only to say so precisely.
    pub client_secret: Option<Spanned<String>>,
    /// The browser sign-in's loopback redirect URI (`http://localhost`, `http://127.0.0.1/cb`).
    pub redirect_uri: Option<Spanned<String>>,
    /// Extra query fields of the authorization request (`domain_hint`, `prompt`, …).
    pub auth_params: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// The account the sign-in page starts with (else `account`).
    pub login_hint: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub audience: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    #[default]
    Mailbox,
    SharedCalendar,
    Calendar,
    Integration,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mailbox => "mailbox",
            Kind::SharedCalendar => "shared-calendar",
            Kind::Calendar => "calendar",
            Kind::Integration => "integration",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Entra,
    Zoom,
    Google,
    Oidc,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Entra => "entra",
            ProviderKind::Zoom => "zoom",
            ProviderKind::Google => "google",
            ProviderKind::Oidc => "oidc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    #[default]
    Device,
    Browser,
}
