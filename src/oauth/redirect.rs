//! The loopback redirect URI of a browser sign-in (RFC 8252 §7.3): `http://` to
//! `127.0.0.1`, `localhost` or `[::1]`, any path, and a port that is fixed or — omitted or 0 —
//! chosen free at sign-in time and written into the URI (loopback registrations accept any
//! port). What the app registration lists is what must be sent, byte for byte, to the
//! authorization and the token endpoint alike.
//!
//! Any other redirect (`https://localhost/callback` of a borrowed public client, an app's web
//! page, `urn:ietf:wg:oauth:2.0:oob`) cannot be listened for: the browser ends on it and the
//! person pastes the address back ([`Redirect::Paste`]).

/// Where the browser is sent back to after the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Caught by a listener on this machine.
    Loopback(LoopbackRedirect),
    /// Sent as is; the person pastes back the address the browser ended on (or the code the
    /// page shows).
    Paste(String),
}

impl Redirect {
    /// Parse a configured `redirect_uri`: a loopback `http://` address is listened for, any
    /// other absolute URI is pasted back. The error says what is wrong and what to write.
    pub fn parse(text: &str) -> Result<Self, (String, Option<String>)> {
        if let Some(rest) = text.strip_prefix("http://") {
            let host = rest.split(['/', '?', '#', ':']).next().unwrap_or_default();
            let loopback = matches!(host, "127.0.0.1" | "localhost") || rest.starts_with("[::1]");
            if loopback {
                return LoopbackRedirect::parse(text).map(Redirect::Loopback);
            }
        }
        let help = Some(
            "write a loopback address such as \"http://localhost\" or \"http://127.0.0.1/callback\", or the app's registered address (\"https://localhost/callback\", \"urn:ietf:wg:oauth:2.0:oob\") to paste back"
                .to_owned(),
        );
        let url = url::Url::parse(text).map_err(|e| {
            (
                format!("redirect_uri {text:?} is not an absolute URI: {e}"),
                help.clone(),
            )
        })?;
        if url.fragment().is_some() {
            return Err((
                format!(
                    "redirect_uri {text:?} has a fragment, which a redirect URI may not have (RFC 6749 §3.1.2)"
                ),
                help,
            ));
        }
        if url.scheme() == "http" && url.host_str().is_none() {
            return Err((format!("redirect_uri {text:?} names no host"), help));
        }
        Ok(Redirect::Paste(text.to_owned()))
    }

    /// The URI as configured, for `config check`.
    pub fn describe(&self) -> String {
        match self {
            Redirect::Loopback(l) => l.describe(),
            Redirect::Paste(uri) => {
                format!("{uri} (not on this machine: paste back the address the browser ends on)")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopbackHost {
    V4,
    V6,
    /// Listened on at 127.0.0.1 and, when available, ::1 (browsers resolve either).
    Localhost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackRedirect {
    pub host: LoopbackHost,
    /// 0: a free port chosen at sign-in.
    pub port: u16,
    /// The path exactly as registered: empty for `http://localhost`, `/` for
    /// `http://127.0.0.1/`, `/callback`.
    pub path: String,
}

impl LoopbackRedirect {
    /// Parse a configured `redirect_uri`; the error says what is wrong and what to write.
    pub fn parse(text: &str) -> Result<Self, (String, Option<String>)> {
        let help = Some(
            "write a loopback address such as \"http://localhost\", \"http://127.0.0.1/callback\" or \"http://[::1]:8400/\""
                .to_owned(),
        );
        let Some(rest) = text.strip_prefix("http://") else {
            return Err((
                format!("redirect_uri {text:?} is not a loopback http:// address"),
                help,
            ));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err((
                format!(
                    "redirect_uri {text:?} has a query or fragment; only a path may follow the host"
                ),
                help,
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix("[::1]") {
            (LoopbackHost::V6, v6)
        } else if let Some(v4) = authority.strip_prefix("127.0.0.1") {
            (LoopbackHost::V4, v4)
        } else if let Some(l) = authority.strip_prefix("localhost") {
            (LoopbackHost::Localhost, l)
        } else {
            return Err((
                format!(
                    "redirect_uri {text:?} does not name a loopback host (127.0.0.1, localhost or [::1]): connwatch listens for the redirect on this machine"
                ),
                help,
            ));
        };
        let port = match port {
            "" => 0,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| (format!("redirect_uri {text:?} has an invalid port"), help))?,
        };
        Ok(LoopbackRedirect {
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// `http://localhost`: what Entra's "Mobile and desktop applications" platform lists and
    /// MSAL sends.
    pub fn localhost() -> Self {
        LoopbackRedirect {
            host: LoopbackHost::Localhost,
            port: 0,
            path: String::new(),
        }
    }

    /// `http://127.0.0.1/` (RFC 8252's own example).
    pub fn ipv4() -> Self {
        LoopbackRedirect {
            host: LoopbackHost::V4,
            port: 0,
            path: "/".into(),
        }
    }

    fn host_str(&self) -> &'static str {
        match self.host {
            LoopbackHost::V4 => "127.0.0.1",
            LoopbackHost::V6 => "[::1]",
            LoopbackHost::Localhost => "localhost",
        }
    }

    /// The URI sent when listening on `port`.
    pub fn uri(&self, port: u16) -> String {
        format!("http://{}:{port}{}", self.host_str(), self.path)
    }

    /// The URI as configured, for `config check` ("a free port" when none is fixed).
    pub fn describe(&self) -> String {
        if self.port == 0 {
            format!(
                "http://{}:<free port>{} (the port is chosen at sign-in)",
                self.host_str(),
                self.path
            )
        } else {
            self.uri(self.port)
        }
    }

    /// The path the browser's request comes back on: `/` when none was registered.
    pub fn listen_path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms() {
        let r = LoopbackRedirect::parse("http://localhost").unwrap();
        assert_eq!(
            (r.host, r.port, r.path.as_str()),
            (LoopbackHost::Localhost, 0, "")
        );
        assert_eq!(r.uri(4312), "http://localhost:4312");
        assert_eq!(r.listen_path(), "/");
        let r = LoopbackRedirect::parse("http://127.0.0.1/callback").unwrap();
        assert_eq!(r.uri(9), "http://127.0.0.1:9/callback");
        let r = LoopbackRedirect::parse("http://[::1]:8400/").unwrap();
        assert_eq!((r.host, r.port), (LoopbackHost::V6, 8400));
        assert_eq!(r.describe(), "http://[::1]:8400/");
        assert_eq!(
            LoopbackRedirect::parse("http://127.0.0.1:0/cb")
                .unwrap()
                .port,
            0
        );
    }

    #[test]
    fn bad_loopback_forms_are_refused_with_the_reason() {
        for (bad, says) in [
            ("http://127.0.0.1:99999/", "invalid port"),
            ("http://localhost/cb?x=1", "query or fragment"),
            ("http://[::1]x/", "invalid port"),
            ("https://localhost/x#f", "fragment"),
            ("localhost/callback", "not an absolute URI"),
        ] {
            let (msg, help) = Redirect::parse(bad).unwrap_err();
            assert!(msg.contains(says), "{bad}: {msg}");
            assert!(help.is_some());
        }
        let (msg, _) = LoopbackRedirect::parse("http://example.com/cb").unwrap_err();
        assert!(msg.contains("loopback host"), "{msg}");
    }

    #[test]
    fn other_redirects_are_pasted_back() {
        for uri in [
            "https://localhost/callback",
            "https://app.example.com/oauth",
            "urn:ietf:wg:oauth:2.0:oob",
            "http://example.com/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(Redirect::parse(uri).unwrap(), Redirect::Paste(uri.into()));
        }
        assert!(matches!(
            Redirect::parse("http://localhost:8400/cb").unwrap(),
            Redirect::Loopback(LoopbackRedirect { port: 8400, .. })
        ));
        assert!(
            Redirect::parse("https://localhost/callback")
                .unwrap()
                .describe()
                .contains("paste back")
        );
    }
}
