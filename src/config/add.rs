//! `connwatch add`'s pure half: which provider and scopes an address and a kind call for,
//! the tenant an Entra discovery document names, and the config text with one more
//! connection — rendered alone with `toml_edit` and appended, so every byte the user wrote
//! stays as it was.
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, value};

use super::{Flow, Kind, ProviderKind};

/// What the user asked for on the command line.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub name: String,
    pub email: String,
    pub kind: Kind,
    pub provider: Option<ProviderKind>,
    pub client_id: String,
    /// Entra: the tenant to sign in to when it is not the address's own (a calendar shared
    /// from another tenant), as a domain or GUID.
    pub tenant: Option<String>,
    pub authority_host: Option<String>,
}

/// The connection `add` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    pub name: String,
    pub kind: Kind,
    pub provider: ProviderKind,
    pub tenant: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub flow: Option<Flow>,
    pub account: String,
    /// `expect`: the audience and the scopes a good access token carries (Entra's are JWTs;
    /// Google's are opaque, so nothing to expect of them).
    pub expect: Option<(String, Vec<String>)>,
    pub probe: Vec<String>,
    pub authority_host: Option<String>,
}

/// Entra's tenant of personal Microsoft accounts (outlook.com, hotmail.com, live.com).
pub const CONSUMERS_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The domain of `email`, lower-cased, if it is an address at all.
pub fn email_domain(email: &str) -> Result<String, String> {
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or_else(|| format!("`{email}` is not an email address (no @)"))?;
    let domain = domain.trim().to_ascii_lowercase();
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid || email.chars().any(char::is_whitespace) {
        return Err(format!("`{email}` is not an email address"));
    }
    Ok(domain)
}

/// `--provider`, else Google for Gmail addresses, else Entra (Microsoft 365, Outlook.com).
pub fn provider_for(req: &AddRequest) -> Result<ProviderKind, String> {
    let domain = email_domain(&req.email)?;
    let p = req.provider.unwrap_or(
        if matches!(domain.as_str(), "gmail.com" | "googlemail.com") {
            ProviderKind::Google
        } else {
            ProviderKind::Entra
        },
    );
    match p {
        ProviderKind::Entra | ProviderKind::Google => Ok(p),
        other => Err(format!(
            "`add` sets up entra and google connections; for {} write the [[connection]] by \
             hand (`connwatch init` writes a commented example)",
            other.as_str()
        )),
    }
}

/// The tenant's GUID in an Entra discovery document's `issuer`
/// (`https://login.microsoftonline.com/{tid}/v2.0`).
pub fn tenant_from_issuer(issuer: &str) -> Option<String> {
    issuer
        .split('/')
        .find(|seg| is_guid(seg))
        .map(str::to_ascii_lowercase)
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// What a connection of one kind at one provider asks for.
pub struct Preset {
    pub scopes: Vec<&'static str>,
    /// `expect`'s audience and scopes.
    pub expect: Option<(&'static str, Vec<&'static str>)>,
    /// The sign-in flow, when the default (device code) will not do.
    pub flow: Option<Flow>,
}

/// What a connection of `kind` at `provider` asks for: its scopes, what a good token
/// carries, and the sign-in flow when the default (device code) will not do. An error for
/// what `add` cannot fill in, before anything goes to the network.
pub fn preset(provider: ProviderKind, kind: Kind) -> Result<Preset, String> {
    let (scopes, expect, flow) = match (provider, kind) {
        (ProviderKind::Entra, Kind::Mailbox) => (
            vec![
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access",
            ],
            Some((
                "https://outlook.office.com",
                vec!["IMAP.AccessAsUser.All", "SMTP.Send"],
            )),
            None,
        ),
        (ProviderKind::Entra, Kind::SharedCalendar) => (
            vec![
                "https://graph.microsoft.com/Calendars.Read.Shared",
                "offline_access",
            ],
            Some(("https://graph.microsoft.com", vec!["Calendars.Read.Shared"])),
            None,
        ),
        (ProviderKind::Entra, Kind::Calendar) => (
            vec![
                "https://graph.microsoft.com/Calendars.Read",
                "offline_access",
            ],
            Some(("https://graph.microsoft.com", vec!["Calendars.Read"])),
            None,
        ),
        // Google's device flow refuses the Gmail and Calendar scopes: a browser sign-in.
        (ProviderKind::Google, Kind::Mailbox) => {
            (vec!["https://mail.google.com/"], None, Some(Flow::Browser))
        }
        (ProviderKind::Google, Kind::Calendar | Kind::SharedCalendar) => (
            vec!["https://www.googleapis.com/auth/calendar.readonly"],
            None,
            Some(Flow::Browser),
        ),
        (_, Kind::Integration) => {
            return Err(
                "`add` knows the scopes of a mailbox, a calendar and a shared-calendar; an \
                 integration's are its own: write its [[connection]] by hand"
                    .into(),
            );
        }
        (p, _) => return Err(format!("`add` does not set up {} connections", p.as_str())),
    };
    Ok(Preset {
        scopes,
        expect,
        flow,
    })
}

/// `--tenant`: a domain or a GUID (or organizations, common, consumers), which goes into the
/// discovery URL's path as it is.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    let ok = !tenant.is_empty()
        && !tenant.starts_with(['.', '-'])
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--tenant {tenant:?} is neither a domain nor a tenant id (GUID)"
        ))
    }
}

/// `--authority-host`: an http(s) origin such as `https://login.microsoftonline.us`.
pub fn check_authority_host(host: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "--authority-host {host:?} is not a sign-in host: write its address with the \
             scheme, e.g. https://login.microsoftonline.us"
        )
    };
    let u = url::Url::parse(host).map_err(|_| bad())?;
    let path_ok = u.path().is_empty() || u.path() == "/";
    if !matches!(u.scheme(), "https" | "http")
        || u.host_str().is_none()
        || !path_ok
        || u.query().is_some()
        || u.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(host.trim_end_matches('/').to_owned())
}

/// The connection for `req`. `tenant_id` is the discovered Entra tenant (None for Google).
pub fn plan(
    req: &AddRequest,
    provider: ProviderKind,
    tenant_id: Option<&str>,
) -> Result<NewConnection, String> {
    let Preset {
        scopes,
        expect,
        flow,
    } = preset(provider, req.kind)?;
    let tenant = match provider {
        ProviderKind::Entra => {
            let tid = tenant_id.ok_or("no tenant was discovered")?;
            Some(if tid.eq_ignore_ascii_case(CONSUMERS_TID) {
                "consumers".to_owned()
            } else {
                tid.to_owned()
            })
        }
        _ => None,
    };
    let own = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    Ok(NewConnection {
        name: req.name.clone(),
        kind: req.kind,
        provider,
        tenant,
        client_id: req.client_id.clone(),
        scopes: own(scopes),
        flow,
        account: req.email.trim().to_owned(),
        expect: expect.map(|(aud, s)| (aud.to_owned(), own(s))),
        probe: Vec::new(),
        authority_host: req.authority_host.clone(),
    })
}

/// `text` with `conn` appended as one more `[[connection]]`. The new table is rendered on
/// its own and added after the last byte, so everything already there — comments, blank
/// lines, key order, quoting, CRLF line endings, a BOM — stays exactly as it was; `toml_edit`
/// only reads the file to make sure `connection` can take another table.
pub fn append(text: &str, conn: &NewConnection) -> Result<String, String> {
    let doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("the config is not valid TOML: {e}"))?;
    match doc.get("connection") {
        None | Some(Item::ArrayOfTables(_)) => {}
        Some(_) => {
            return Err(
                "`connection` in the config is an inline array or a single value, not \
                 [[connection]] tables; add this one by hand"
                    .into(),
            );
        }
    }
    let mut list = ArrayOfTables::new();
    list.push(table(conn));
    let mut alone = DocumentMut::new();
    alone.insert("connection", Item::ArrayOfTables(list));
    let block = format!(
        "# {} ({}), written by `connwatch add`.\n{alone}",
        conn.account,
        conn.kind.as_str()
    );
    let crlf = text.contains("\r\n");
    let block = if crlf {
        block.replace('\n', "\r\n")
    } else {
        block
    };
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = text.to_owned();
    let body = text.trim_start_matches('\u{feff}');
    if !body.trim().is_empty() {
        if !out.ends_with('\n') {
            out.push_str(nl);
        }
        // One blank line between what was there and the new table.
        if !out.ends_with(&format!("{nl}{nl}")) {
            out.push_str(nl);
        }
    }
    out.push_str(&block);
    Ok(out)
}

fn table(conn: &NewConnection) -> Table {
    let mut t = Table::new();
    t.insert("name", value(&conn.name));
    t.insert("kind", value(conn.kind.as_str()));
    t.insert("provider", value(conn.provider.as_str()));
    if let Some(tenant) = &conn.tenant {
        t.insert("tenant", value(tenant));
    }
    t.insert("client_id", value(&conn.client_id));
    t.insert("scopes", value(array(&conn.scopes)));
    if let Some(flow) = conn.flow {
        t.insert(
            "flow",
            value(match flow {
                Flow::Device => "device",
                Flow::Browser => "browser",
            }),
        );
    }
    t.insert("account", value(&conn.account));
    if let Some((aud, scopes)) = &conn.expect {
        let mut e = InlineTable::new();
        e.insert("audience", aud.into());
        e.insert("scopes", array(scopes).into());
        t.insert("expect", value(e));
    }
    if !conn.probe.is_empty() {
        t.insert("probe", value(array(&conn.probe)));
    }
    if let Some(host) = &conn.authority_host {
        t.insert("authority_host", value(host));
    }
    t
}

fn array(items: &[String]) -> Array {
    items.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(email: &str, kind: Kind) -> AddRequest {
        AddRequest {
            name: "n".into(),
            email: email.into(),
            kind,
            provider: None,
            client_id: "cid".into(),
            tenant: None,
            authority_host: None,
        }
    }

    #[test]
    fn addresses_pick_their_provider() {
        assert_eq!(
            provider_for(&req("a@contoso.com", Kind::Mailbox)),
            Ok(ProviderKind::Entra)
        );
        assert_eq!(
            provider_for(&req("a@GMail.com", Kind::Mailbox)),
            Ok(ProviderKind::Google)
        );
        let mut r = req("a@example.org", Kind::Mailbox);
        r.provider = Some(ProviderKind::Google);
        assert_eq!(provider_for(&r), Ok(ProviderKind::Google));
        r.provider = Some(ProviderKind::Zoom);
        assert!(provider_for(&r).unwrap_err().contains("by hand"));
        for bad in [
            "contoso.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a@.com",
            "a@c_d.com",
        ] {
            assert!(
                provider_for(&req(bad, Kind::Mailbox)).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn the_tenant_is_the_guid_in_the_issuer() {
        assert_eq!(
            tenant_from_issuer(
                "https://login.microsoftonline.com/7C9F4B2A-1d3e-4f5a-8b6c-0d1e2f3a4b5c/v2.0"
            )
            .as_deref(),
            Some("7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c")
        );
        assert_eq!(
            tenant_from_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"),
            None
        );
        let personal = plan(
            &req("a@outlook.com", Kind::Mailbox),
            ProviderKind::Entra,
            Some(CONSUMERS_TID),
        )
        .unwrap();
        assert_eq!(personal.tenant.as_deref(), Some("consumers"));
    }

    #[test]
    fn scopes_and_expectations_follow_the_kind() {
        let cal = plan(
            &req("a@contoso.com", Kind::SharedCalendar),
            ProviderKind::Entra,
            Some("t"),
        )
        .unwrap();
        assert_eq!(
            cal.scopes,
            [
                "https://graph.microsoft.com/Calendars.Read.Shared",
                "offline_access"
            ]
        );
        assert_eq!(
            cal.expect,
            Some((
                "https://graph.microsoft.com".into(),
                vec!["Calendars.Read.Shared".into()]
            ))
        );
        let g = plan(
            &req("a@gmail.com", Kind::Mailbox),
            ProviderKind::Google,
            None,
        )
        .unwrap();
        assert_eq!(
            (g.scopes.as_slice(), g.flow, g.tenant),
            (
                ["https://mail.google.com/".to_owned()].as_slice(),
                Some(Flow::Browser),
                None
            )
        );
        assert!(
            plan(
                &req("a@contoso.com", Kind::Integration),
                ProviderKind::Entra,
                Some("t")
            )
            .is_err()
        );
    }

    #[test]
    fn appending_keeps_what_was_there() {
        let before = "# my notes\ndata_dir = \"/x\"   # here\n\n[[connection]]\nname = 'old'  # mine\nkind = \"mailbox\"\n\n# trailing comment\n";
        let conn = plan(
            &req("a@contoso.com", Kind::Mailbox),
            ProviderKind::Entra,
            Some("t"),
        )
        .unwrap();
        let after = append(before, &conn).unwrap();
        assert!(after.starts_with(before), "{after}");
        let doc: DocumentMut = after.parse().unwrap();
        let list = doc["connection"].as_array_of_tables().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.get(1).unwrap()["tenant"].as_str(), Some("t"));
        assert!(append("connection = 1\n", &conn).is_err());
        assert!(append("[[connection]\n", &conn).is_err());
        // Tables after the connections stay where they are; the new one goes last.
        let keys = "[[connection]]\nname = 'a'\n\n[keys]\nquit = \"q\"\n# end\n";
        let after = append(keys, &conn).unwrap();
        assert!(after.starts_with(keys), "{after}");
        // CRLF files stay CRLF, a BOM stays, a last line without newline gets one.
        for before in ["\u{feff}a = 1\r\n# c\r\n", "a = 1\n# end"] {
            let after = append(before, &conn).unwrap();
            assert!(after.starts_with(before), "{after:?}");
            assert!(after.parse::<DocumentMut>().is_ok(), "{after:?}");
            if before.contains('\r') {
                assert!(!after.replace("\r\n", "").contains('\n'), "{after:?}");
            }
        }
        assert!(
            append("connection = []\n", &conn)
                .unwrap_err()
                .contains("inline array")
        );
        // An empty file gets the connection alone.
        let fresh = append("", &conn).unwrap();
        assert!(fresh.contains("[[connection]]\nname = \"n\""), "{fresh}");
    }
}
