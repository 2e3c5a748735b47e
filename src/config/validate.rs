//! From TOML text to a checked `Config`: syntax and unknown keys (serde), then the rules
//! serde cannot express (unique names, durations, URLs, provider requirements).
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_spanned::Spanned;

use super::schema::{ProviderKind, RawConfig, RawConnection};
use super::{
    Config, ConfigError, Connection, DEFAULT_MIN_REFRESH_INTERVAL, DEFAULT_REFRESH_BEFORE,
    SecretSource,
};
use crate::token::Expectations;

pub(super) fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_owned();
        let key = backticked(&message);
        let help = message
            .starts_with("unknown field")
            .then(|| "remove the key or fix its spelling; see README.md for every key".to_owned());
        ConfigError::at(path, text, e.span(), key, message, help)
    })?;
    let err = |span: std::ops::Range<usize>, key: String, msg: String, help: Option<String>| {
        ConfigError::at(path, text, Some(span), Some(key), msg, help)
    };

    let base = path.parent().unwrap_or(Path::new("."));
    let top_ca = match &raw.ca_file {
        Some(c) => Some(ca_file(base, c).map_err(|(m, h)| err(c.span(), "ca_file".into(), m, h))?),
        None => None,
    };
    let top_every = match &raw.probe_every {
        Some(s) => {
            Some(probe_every(s).map_err(|(m, h)| err(s.span(), "probe_every".into(), m, h))?)
        }
        None => None,
    };
    let remind_every = match &raw.remind_every {
        Some(v) if v.get_ref().trim() == "0" => Some(Duration::ZERO),
        Some(v) => Some(parse_duration(v.get_ref()).map_err(|m| {
            err(
                v.span(),
                "remind_every".into(),
                m,
                Some(
                    "write a duration such as \"4h\" or \"30m\"; \"0\" turns reminders off".into(),
                ),
            )
        })?),
        None => None,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut connections = Vec::with_capacity(raw.connection.len());
    for (i, rc) in raw.connection.into_iter().enumerate() {
        let name = rc.name.get_ref().clone();
        let key = |k: &str| format!("connection[{i}].{k}");
        if !super::is_valid_name(&name) {
            return Err(err(
                rc.name.span(),
                key("name"),
                format!("invalid connection name {name:?}"),
                Some(format!(
                    "use letters, digits, '.', '_' and '-' only, at most {} of them",
                    super::MAX_NAME_LEN
                )),
            ));
        }
        // Unique regardless of case: the names become file names, and on a case-insensitive
        // file system "Mail" and "mail" would share one token file.
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), rc.name.span().start) {
            let (line, _) = super::error::line_col(text, first);
            return Err(err(
                rc.name.span(),
                key("name"),
                format!("duplicate connection name {name:?}"),
                Some(format!(
                    "the name is already used on line {line} (case aside); names must be unique"
                )),
            ));
        }
        let mut c = connection(path, text, i, rc, top_every)?;
        if c.ca_file.is_none() {
            c.ca_file.clone_from(&top_ca);
        }
        connections.push(c);
    }
    let data_dir = match raw.data_dir {
        Some(d) => {
            let p = Path::new(d.get_ref());
            let p = if p.is_relative() {
                base.join(p)
            } else {
                p.to_path_buf()
            };
            if let Some(why) = shared_dir(&p) {
                return Err(err(
                    d.span(),
                    "data_dir".into(),
                    why,
                    Some("name a directory of your own (connwatch creates it 0700), e.g. \"~/.local/share/connwatch\"; or leave data_dir out".into()),
                ));
            }
            Some(p)
        }
        None => None,
    };
    let entries: Vec<_> = raw.keys.into_iter().collect();
    let overrides: Vec<(String, Vec<String>)> = entries
        .iter()
        .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone().into_vec()))
        .collect();
    let keymap = crate::keymap::Keymap::with_overrides(&overrides).map_err(|(i, msg)| {
        let (k, v) = &entries[i];
        err(
            v.span(),
            format!("keys.{}", k.get_ref()),
            msg,
            Some("see the Keys section of README.md for the commands and key names".into()),
        )
    })?;
    if let Some(c) = &raw.notify_command
        && c.get_ref().first().is_none_or(|p| p.trim().is_empty())
    {
        return Err(err(
            c.span(),
            "notify_command".into(),
            "notify_command is empty".into(),
            Some("name a program, e.g. notify_command = [\"notify-send\", \"connwatch\"]".into()),
        ));
    }
    let notify_email = match &raw.notify_email {
        None => None,
        Some(e) => {
            let v = e.get_ref();
            let fail = |msg: String, help: &str| {
                err(e.span(), "notify_email".into(), msg, Some(help.into()))
            };
            if !v.to.contains('@') || v.to.contains(['\r', '\n', '<', '>']) {
                return Err(fail(
                    format!("notify_email.to {:?} is not an email address", v.to),
                    "write to = \"alice@contoso.com\"",
                ));
            }
            let Some(via) = connections.iter().find(|c| c.name == v.via) else {
                return Err(fail(
                    format!("notify_email.via names no connection: {:?}", v.via),
                    "via is the name of one of your mailbox connections that can send over SMTP",
                ));
            };
            if !crate::provider::probe_targets(via)
                .iter()
                .any(|t| t.protocol == crate::probe::Protocol::Smtp)
            {
                return Err(fail(
                    format!(
                        "notify_email.via {:?} has no SMTP server to send through",
                        v.via
                    ),
                    "give it a probe such as \"smtp://smtp.office365.com:587\" and an account",
                ));
            }
            Some(super::NotifyEmail {
                via: v.via.clone(),
                to: v.to.clone(),
            })
        }
    };
    Ok(Config {
        path: path.to_path_buf(),
        data_dir,
        connections,
        keymap,
        bell: raw.bell.unwrap_or(true),
        notify_command: raw.notify_command.map(Spanned::into_inner),
        remind_every,
        notify_email,
        desktop_notifications: raw.desktop_notifications.unwrap_or(true),
    })
}

fn connection(
    path: &Path,
    text: &str,
    i: usize,
    rc: RawConnection,
    top_every: Option<Duration>,
) -> Result<Connection, ConfigError> {
    let key = |k: &str| format!("connection[{i}].{k}");
    let err = |span: std::ops::Range<usize>, k: &str, msg: String, help: Option<String>| {
        ConfigError::at(path, text, Some(span), Some(key(k)), msg, help)
    };
    let name_span = rc.name.span();
    let client_id = rc.client_id.get_ref().trim().to_owned();
    if client_id.is_empty() {
        return Err(err(
            rc.client_id.span(),
            "client_id",
            "client_id is empty".into(),
            None,
        ));
    }
    if let Some(s) = &rc.client_secret {
        return Err(err(
            s.span(),
            "client_secret",
            "secrets never go in the config file".into(),
            Some("use client_secret_command = [\"pass\", \"show\", \"zoom/secret\"] or client_secret_env = \"NAME\"".into()),
        ));
    }
    match rc.provider {
        ProviderKind::Entra if rc.tenant.is_none() => {
            return Err(err(
                name_span,
                "tenant",
                "provider \"entra\" needs a tenant".into(),
                Some("add tenant = \"contoso.onmicrosoft.com\" (a domain, a GUID, organizations or common)".into()),
            ));
        }
        ProviderKind::Zoom
            if rc.client_secret_command.is_none() && rc.client_secret_env.is_none() =>
        {
            return Err(err(
                name_span,
                "client_secret_command",
                "provider \"zoom\" needs the app's client secret".into(),
                Some("add client_secret_command = [\"pass\", \"show\", \"zoom/secret\"] or client_secret_env = \"ZOOM_CLIENT_SECRET\"".into()),
            ));
        }
        ProviderKind::Oidc if rc.issuer.is_none() => {
            return Err(err(
                name_span,
                "issuer",
                "provider \"oidc\" needs an issuer".into(),
                Some("add issuer = \"https://idp.example\" (its discovery document is read from <issuer>/.well-known/openid-configuration)".into()),
            ));
        }
        _ => {}
    }
    if let (Some(_), Some(e)) = (&rc.client_secret_command, &rc.client_secret_env) {
        return Err(err(
            e.span(),
            "client_secret_env",
            "give the secret one way: client_secret_command or client_secret_env".into(),
            None,
        ));
    }
    if let Some(c) = &rc.client_secret_command
        && c.get_ref().first().is_none_or(|p| p.trim().is_empty())
    {
        return Err(err(
            c.span(),
            "client_secret_command",
            "client_secret_command is empty".into(),
            Some(
                "name the program and its arguments, e.g. [\"pass\", \"show\", \"zoom/secret\"]"
                    .into(),
            ),
        ));
    }
    if let Some(t) = &rc.tenant
        && (t.get_ref().is_empty() || t.get_ref().contains(['/', '?', '#', ' ']))
    {
        return Err(err(
            t.span(),
            "tenant",
            format!("invalid tenant {:?}", t.get_ref()),
            None,
        ));
    }
    if rc.scopes.is_empty() {
        return Err(err(
            name_span,
            "scopes",
            "scopes is empty".into(),
            Some("list what the connection needs, e.g. scopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\"]".into()),
        ));
    }
    for (k, v) in [
        ("issuer", &rc.issuer),
        ("authority_host", &rc.authority_host),
        ("token_url", &rc.token_url),
        ("device_url", &rc.device_url),
    ] {
        if let Some(v) = v {
            check_url(v).map_err(|(msg, help)| err(v.span(), k, msg, help))?;
        }
    }
    let mut probe = Vec::new();
    if let Some(p) = &rc.probe {
        let urls = p.get_ref().clone().into_vec();
        if urls.is_empty() {
            return Err(err(
                p.span(),
                "probe",
                "probe is an empty list".into(),
                Some("remove the key to use the provider's default probes, or list URLs".into()),
            ));
        }
        for u in urls {
            let t = crate::probe::ProbeTarget::parse(&u)
                .map_err(|e| err(p.span(), "probe", e.message, e.help))?;
            if t.is_mail() && rc.account.as_deref().is_none_or(|a| a.trim().is_empty()) {
                return Err(err(
                    p.span(),
                    "probe",
                    format!("the mail probe {u} needs the mailbox's user, and the connection has no account"),
                    Some("add account = \"alice@contoso.com\" (the user name IMAP/SMTP/POP sign in with)".into()),
                ));
            }
            probe.push(t);
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let ca = match &rc.ca_file {
        Some(c) => Some(ca_file(base, c).map_err(|(m, h)| err(c.span(), "ca_file", m, h))?),
        None => None,
    };
    let every = match &rc.probe_every {
        Some(s) => Some(probe_every(s).map_err(|(m, h)| err(s.span(), "probe_every", m, h))?),
        None => None,
    };
    let redirect_uri = match &rc.redirect_uri {
        Some(r) => Some(
            crate::oauth::redirect::Redirect::parse(r.get_ref())
                .map_err(|(m, h)| err(r.span(), "redirect_uri", m, h))?,
        ),
        None => None,
    };
    let auth_params = match &rc.auth_params {
        Some(p) => {
            if let Some(k) = p
                .get_ref()
                .keys()
                .find(|k| RESERVED_AUTH_PARAMS.contains(&k.as_str()))
            {
                return Err(err(
                    p.span(),
                    "auth_params",
                    format!("auth_params cannot set {k}: connwatch sets it itself"),
                    Some(format!(
                        "remove {k}; fields connwatch sets are {}",
                        RESERVED_AUTH_PARAMS.join(", ")
                    )),
                ));
            }
            p.get_ref()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
        None => Vec::new(),
    };
    let refresh_before = match &rc.refresh_before {
        None => DEFAULT_REFRESH_BEFORE,
        Some(s) => parse_duration(s.get_ref()).map_err(|msg| {
            err(
                s.span(),
                "refresh_before",
                msg,
                Some("write a duration such as \"5m\", \"90s\", \"1h 30m\" or \"PT5M\"".into()),
            )
        })?,
    };
    // A floor, so no lifetime a provider announces can make connwatch refresh in a loop.
    let min_refresh_interval = match &rc.min_refresh_interval {
        None => DEFAULT_MIN_REFRESH_INTERVAL,
        Some(s) => match parse_duration(s.get_ref()) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => {
                return Err(err(
                    s.span(),
                    "min_refresh_interval",
                    format!("min_refresh_interval {:?} is shorter than 1 s", s.get_ref()),
                    Some("write \"1s\" or more (the default is \"30s\")".into()),
                ));
            }
            Err(msg) => {
                return Err(err(
                    s.span(),
                    "min_refresh_interval",
                    msg,
                    Some("write a duration such as \"30s\" or \"2m\"".into()),
                ));
            }
        },
    };
    let expect = rc
        .expect
        .map_or_else(Expectations::default, |e| Expectations {
            audience: e.audience,
            scopes: e.scopes,
        });
    Ok(Connection {
        name: rc.name.into_inner(),
        kind: rc.kind,
        provider: rc.provider,
        tenant: rc.tenant.map(Spanned::into_inner),
        issuer: rc
            .issuer
            .map(|s| s.into_inner().trim_end_matches('/').to_owned()),
        client_id,
        scopes: rc.scopes,
        flow: rc.flow,
        account: rc.account,
        expect,
        probe,
        ca_file: ca,
        probe_every: every.or(top_every),
        refresh_before,
        min_refresh_interval,
        authority_host: rc
            .authority_host
            .map(|s| s.into_inner().trim_end_matches('/').to_owned()),
        token_url: rc.token_url.map(Spanned::into_inner),
        device_url: rc.device_url.map(Spanned::into_inner),
        client_secret: match (rc.client_secret_command, rc.client_secret_env) {
            (Some(c), _) => Some(SecretSource::Command(c.into_inner())),
            (None, Some(e)) => Some(SecretSource::Env(e.into_inner())),
            (None, None) => None,
        },
        redirect_uri,
        auth_params,
        login_hint: rc.login_hint,
    })
}

/// Fields of the authorization request that connwatch sets (PKCE, state, the client, the
/// redirect, the scopes, a claims challenge): `auth_params` may not override them.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "claims",
];

/// `ca_file`, resolved against the config's directory, readable and holding PEM certificates.
fn ca_file(
    base: &Path,
    v: &Spanned<String>,
) -> Result<std::path::PathBuf, (String, Option<String>)> {
    let p = Path::new(v.get_ref());
    let p = if p.is_relative() {
        base.join(p)
    } else {
        p.to_path_buf()
    };
    crate::probe::tls::read_ca_file(&p).map_err(|e| {
        (
            e,
            Some(
                "ca_file names a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)".into(),
            ),
        )
    })?;
    Ok(p)
}

/// Why an existing `data_dir` cannot hold tokens: others can write it (a shared directory
/// such as /tmp, mode 1777), so they could replace or remove what connwatch keeps there.
/// connwatch does not chmod a directory it did not create. Group-writable counts only for a
/// group other than the user's own (with user private groups, umask 002 makes 0775
/// directories that no one else can write).
fn shared_dir(p: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata(p).ok()?;
        let mode = m.permissions().mode();
        // SAFETY: getegid has no preconditions and cannot fail.
        let own_group = m.gid() == unsafe { libc::getegid() };
        let group_writes = mode & 0o020 != 0 && !own_group;
        if m.is_dir() && (mode & 0o002 != 0 || group_writes) {
            let who = if mode & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            };
            return Some(format!(
                "data_dir {} can be written by {who} (mode {:o}): tokens cannot be kept there",
                p.display(),
                mode & 0o7777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = p;
    None
}

/// `probe_every`: a duration, "0" (zero) for off; at least 30 s so no server is hammered.
fn probe_every(v: &Spanned<String>) -> Result<Duration, (String, Option<String>)> {
    if v.get_ref().trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let help = Some(
        "write a duration such as \"15m\" or \"1h\"; \"0\" turns scheduled probes off".to_owned(),
    );
    let d = parse_duration(v.get_ref()).map_err(|m| (m, help.clone()))?;
    if d < Duration::from_secs(30) {
        return Err((
            format!("probe_every {:?} is shorter than 30 s", v.get_ref()),
            help,
        ));
    }
    Ok(d)
}

/// A non-negative duration in jiff's friendly ("5m 30s") or ISO 8601 ("PT5M") form.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("invalid duration {s:?}: {e}"))?;
    Duration::try_from(d).map_err(|_| format!("invalid duration {s:?}: it must not be negative"))
}

/// Only https, or http to a loopback host (tests, the demo, local IdPs).
fn check_url(v: &Spanned<String>) -> Result<(), (String, Option<String>)> {
    let url = reqwest::Url::parse(v.get_ref())
        .map_err(|e| (format!("invalid URL {:?}: {e}", v.get_ref()), None))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err((
            format!(
                "plain http to a non-loopback host is refused: {}",
                v.get_ref()
            ),
            Some("use https; http is only allowed for 127.0.0.1, [::1] and localhost".into()),
        )),
        other => Err((
            format!("unsupported URL scheme {other:?} in {:?}", v.get_ref()),
            None,
        )),
    }
}

pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The first `backticked` word of a serde message: the key it complains about.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("PT1H").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for (u, ok) in [
            ("http://127.0.0.1:8080/", true),
            ("http://127.3.4.5/", true),
            ("http://[::1]:9/", true),
            ("http://localhost/", true),
            ("http://10.0.0.1/", false),
            ("http://idp.example/", false),
        ] {
            assert_eq!(is_loopback(&reqwest::Url::parse(u).unwrap()), ok, "{u}");
        }
    }
}
