//! What a probe URL names: the protocol, where, how the connection is secured, and which SASL
//! mechanism carries the token. Parsed once when the config is read, so a bad URL is a config
//! error with its line and column, never a failure at 3 a.m.
use std::fmt;

/// The protocol a probe speaks to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// GET with `Authorization: Bearer` (Graph, Zoom, any API).
    Https,
    Imap,
    Smtp,
    Pop,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Https => "https",
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
            Protocol::Pop => "pop3",
        }
    }
}

/// How the bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps`, `smtps`, `pop3s`, `https`).
    Implicit,
    /// Plain text upgraded with STARTTLS / STLS before anything secret is sent.
    StartTls,
    /// Loopback `imap://`, `smtp://`, `pop3://`: STARTTLS when the server offers it (and then
    /// its certificate must be valid), plain text when it does not (a local proxy).
    StartTlsIfOffered,
    /// Plain text all the way: only to a loopback host (tests, a local proxy).
    Plain,
}

/// The SASL mechanism that carries the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2` (no RFC).
    #[default]
    XOAuth2,
    /// RFC 7628 `OAUTHBEARER`.
    OAuthBearer,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The URL as the config wrote it: the probe's name in status, metrics and the dashboard.
    pub url: String,
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub mechanism: Mechanism,
}

impl fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Why a probe URL cannot be used, with a hint for the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub message: String,
    pub help: Option<String>,
}

fn bad(message: String, help: Option<&str>) -> TargetError {
    TargetError {
        message,
        help: help.map(str::to_owned),
    }
}

/// `localhost`, 127.0.0.0/8 or ::1 (brackets allowed): where plain text is acceptable.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl ProbeTarget {
    pub fn is_mail(&self) -> bool {
        self.protocol != Protocol::Https
    }

    pub fn parse(raw: &str) -> Result<ProbeTarget, TargetError> {
        let url =
            url::Url::parse(raw).map_err(|e| bad(format!("invalid URL {raw:?}: {e}"), None))?;
        let scheme = url.scheme().to_ascii_lowercase();
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad(format!("the probe URL {raw:?} names no host"), None))?
            .to_owned();
        let loopback = is_loopback_host(&host);
        let (protocol, security, default_port) = match scheme.as_str() {
            "https" => (Protocol::Https, Security::Implicit, 443),
            "http" => (Protocol::Https, Security::Plain, 80),
            "imaps" => (Protocol::Imap, Security::Implicit, 993),
            "imap" => (Protocol::Imap, starttls_unless(loopback), 143),
            "smtps" => (Protocol::Smtp, Security::Implicit, 465),
            "smtp" | "submission" => (Protocol::Smtp, starttls_unless(loopback), 587),
            "pop3s" | "pops" => (Protocol::Pop, Security::Implicit, 995),
            "pop3" | "pop" => (Protocol::Pop, starttls_unless(loopback), 110),
            other => {
                return Err(bad(
                    format!("unsupported probe scheme {other:?} in {raw:?}"),
                    Some("use https://, imaps://, imap://, smtps://, smtp://, pop3s:// or pop3://"),
                ));
            }
        };
        if protocol == Protocol::Https && security == Security::Plain && !loopback {
            return Err(bad(
                format!("plain http to a non-loopback host is refused: {raw}"),
                Some("use https; http is only allowed for 127.0.0.1, [::1] and localhost"),
            ));
        }
        let mut mechanism = Mechanism::default();
        if protocol != Protocol::Https {
            if !matches!(url.path(), "" | "/") {
                return Err(bad(
                    format!("a mail probe URL has no path: {raw:?}"),
                    Some("write it as imaps://host[:port], optionally with ?auth=oauthbearer"),
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(bad(
                    format!("the probe URL {raw:?} carries a user name"),
                    Some("the user is the connection's `account`; remove it from the URL"),
                ));
            }
            for (k, v) in url.query_pairs() {
                match (k.as_ref(), v.to_ascii_lowercase().as_str()) {
                    ("auth", "xoauth2") => mechanism = Mechanism::XOAuth2,
                    ("auth", "oauthbearer") => mechanism = Mechanism::OAuthBearer,
                    ("auth", other) => {
                        return Err(bad(
                            format!("unknown SASL mechanism {other:?} in {raw:?}"),
                            Some("auth is xoauth2 (the default) or oauthbearer"),
                        ));
                    }
                    (other, _) => {
                        return Err(bad(
                            format!("unknown probe URL parameter {other:?} in {raw:?}"),
                            Some("the only parameter is auth=xoauth2|oauthbearer"),
                        ));
                    }
                }
            }
        }
        Ok(ProbeTarget {
            url: raw.to_owned(),
            protocol,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(default_port),
            security,
            mechanism,
        })
    }
}

/// `imap://`, `smtp://` and `pop3://` mean STARTTLS (required) except on loopback, where a
/// test server or a local proxy (DavMail, email-oauth2-proxy) may speak plain text.
fn starttls_unless(loopback: bool) -> Security {
    if loopback {
        Security::StartTlsIfOffered
    } else {
        Security::StartTls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_security() {
        for (u, proto, port, sec) in [
            (
                "imaps://outlook.office365.com",
                Protocol::Imap,
                993,
                Security::Implicit,
            ),
            (
                "imap://mail.example",
                Protocol::Imap,
                143,
                Security::StartTls,
            ),
            (
                "imap://127.0.0.1:1143",
                Protocol::Imap,
                1143,
                Security::StartTlsIfOffered,
            ),
            (
                "smtp://smtp.office365.com:587",
                Protocol::Smtp,
                587,
                Security::StartTls,
            ),
            (
                "smtps://smtp.gmail.com",
                Protocol::Smtp,
                465,
                Security::Implicit,
            ),
            (
                "pop3s://outlook.office365.com",
                Protocol::Pop,
                995,
                Security::Implicit,
            ),
            (
                "pop3://[::1]:1110",
                Protocol::Pop,
                1110,
                Security::StartTlsIfOffered,
            ),
            (
                "https://graph.microsoft.com/v1.0/me",
                Protocol::Https,
                443,
                Security::Implicit,
            ),
        ] {
            let t = ProbeTarget::parse(u).unwrap();
            assert_eq!((t.protocol, t.port, t.security), (proto, port, sec), "{u}");
        }
        assert_eq!(ProbeTarget::parse("pop3://[::1]:1110").unwrap().host, "::1");
    }

    #[test]
    fn mechanism_and_refusals() {
        let t = ProbeTarget::parse("imaps://h?auth=oauthbearer").unwrap();
        assert_eq!(t.mechanism, Mechanism::OAuthBearer);
        for u in [
            "imaps://h?auth=plain",
            "imaps://h/INBOX",
            "imaps://alice@h",
            "imaps://h?mailbox=x",
            "ftp://h",
            "http://mail.example/",
            "imaps://",
        ] {
            assert!(ProbeTarget::parse(u).is_err(), "{u}");
        }
    }
}
