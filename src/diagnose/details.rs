//! The names a provider's text mentions (tenant, account, app, resource, lifetime, scopes),
//! so a summary can say *which* tenant's policy blocked you, not only that one did.
//! Entra's descriptions are "subject to change" (reference §1): every field is optional and a
//! summary without it still reads well.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Details {
    pub tenant: Option<String>,
    pub account: Option<String>,
    pub idp: Option<String>,
    pub app: Option<String>,
    pub resource: Option<String>,
    /// Conditional Access sign-in frequency, human ("12 h").
    pub lifetime: Option<String>,
    /// The same in seconds, as the provider wrote it.
    pub lifetime_s: Option<u64>,
    /// When the grant stopped being valid (50173's TokensValidFrom).
    pub revoked_at: Option<String>,
    /// Scopes a resource says are missing (Zoom 4711: "does not contain scopes:[a, b]").
    pub scopes: Option<String>,
}

impl Details {
    pub fn from_text(text: &str) -> Details {
        let named_app = quoted_after(text, " named '");
        let lifetime_s = word_after(text, "maximum allowed lifetime for this request is ")
            .and_then(|s| s.trim_end_matches('.').parse::<u64>().ok());
        Details {
            tenant: quoted_after(text, "tenant '")
                .or_else(|| quoted_after(text, "directory '"))
                .or_else(|| phrase_after(text, "tenant named ")),
            account: quoted_after(text, "user account '")
                .or_else(|| quoted_after(text, "account '")),
            idp: quoted_after(text, "identity provider '"),
            app: named_app
                .or_else(|| quoted_after(text, "application with id '"))
                .or_else(|| quoted_after(text, "application with identifier '"))
                .or_else(|| quoted_after(text, "application '")),
            resource: quoted_after(text, "to access '")
                .or_else(|| word_after(text, "resource principal named "))
                .or_else(|| quoted_after(text, "resource '"))
                .map(|r| resource_name(&r)),
            lifetime: lifetime_s.map(human_duration),
            lifetime_s,
            revoked_at: quoted_after(text, "are not valid) is '"),
            scopes: between_marks(text, "scopes:[", "]"),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        match key {
            "tenant" => self.tenant.as_deref(),
            "account" => self.account.as_deref(),
            "idp" => self.idp.as_deref(),
            "app" => self.app.as_deref(),
            "resource" => self.resource.as_deref(),
            "lifetime" => self.lifetime.as_deref(),
            "revoked_at" => self.revoked_at.as_deref(),
            "scopes" => self.scopes.as_deref(),
            _ => None,
        }
    }
}

/// Fill a summary template: `{key}` is replaced by the detail ('quoted'); a `[…]` segment is
/// kept only when every `{key}` in it is known; `[a|b]` takes the first alternative that is
/// complete; `{key|fallback}` uses the fallback text when the detail is unknown.
pub(super) fn render(template: &str, d: &Details) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&fill(&rest[..open], d).unwrap_or_default());
        let Some(len) = rest[open..].find(']') else {
            break;
        };
        // `[a|b]`: the first alternative whose names are all known, else nothing.
        if let Some(seg) = alternatives(&rest[open + 1..open + len]).find_map(|a| fill(a, d)) {
            out.push_str(&seg);
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(&fill(rest, d).unwrap_or_default());
    out
}

/// A segment split at its `|`s that are outside `{…}`.
fn alternatives(segment: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    let mut cuts = vec![0];
    for (i, c) in segment.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => cuts.push(i + 1),
            _ => {}
        }
    }
    let ends: Vec<usize> = cuts[1..]
        .iter()
        .map(|c| c - 1)
        .chain([segment.len()])
        .collect();
    cuts.into_iter().zip(ends).map(move |(a, b)| &segment[a..b])
}

/// `None` when a `{key}` without fallback is unknown.
fn fill(text: &str, d: &Details) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let len = rest[open..].find('}')?;
        let inner = &rest[open + 1..open + len];
        let (key, fallback) = match inner.split_once('|') {
            Some((k, f)) => (k, Some(f)),
            None => (inner, None),
        };
        match (d.get(key), fallback) {
            (Some(v), _) if key == "lifetime" || key == "scopes" => out.push_str(v),
            (Some(v), _) => out.push_str(&format!("'{v}'")),
            (None, Some(f)) => out.push_str(f),
            (None, None) => return None,
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The '…'-quoted value right after `marker` (found in any case).
fn quoted_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(marker)? + marker.len();
    let len = text[start..].find('\'')?;
    clean(&text[start..start + len])
}

/// The word right after `marker`, without a sentence's closing dot.
fn word_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(marker)? + marker.len();
    let word = text[start..].split_whitespace().next()?;
    clean(word.trim_end_matches(['.', ',', ';']))
}

/// The words right after `marker`, up to the end of the sentence.
fn phrase_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(marker)? + marker.len();
    let rest = &text[start..];
    let end = [". ", ".\r", ".\n", "\r", "\n"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    clean(rest[..end].trim_end_matches('.'))
}

fn between_marks(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    clean(&text[start..start + len])
}

fn clean(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= 200).then(|| v.to_owned())
}

/// Well-known first-party resources by app id, as people know them.
fn resource_name(r: &str) -> String {
    match r.trim_end_matches('/') {
        "00000003-0000-0000-c000-000000000000" => "Microsoft Graph".into(),
        "00000002-0000-0ff1-ce00-000000000000" => "Exchange Online".into(),
        other => other.to_owned(),
    }
}

/// A provider's period in words: "12 h", "90 d", "15 min".
pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_entra_descriptions() {
        let d = Details::from_text(
            "AADSTS50020: User account 'bob@fabrikam.com' from identity provider 'live.com' does not exist in tenant 'Contoso' and cannot access the application '8f1c'(connwatch) in that tenant.",
        );
        assert_eq!(d.account.as_deref(), Some("bob@fabrikam.com"));
        assert_eq!(d.idp.as_deref(), Some("live.com"));
        assert_eq!(d.tenant.as_deref(), Some("Contoso"));
        assert_eq!(d.app.as_deref(), Some("8f1c"));
        let d = Details::from_text(
            "AADSTS500011: The resource principal named https://outlook.office365.com was not found in the tenant named Contoso Ltd. This can happen…",
        );
        assert_eq!(d.resource.as_deref(), Some("https://outlook.office365.com"));
        assert_eq!(d.tenant.as_deref(), Some("Contoso Ltd"));
        let d = Details::from_text(
            "The token was issued on 2026-11-24T07:31:02Z and the maximum allowed lifetime for this request is 43200.",
        );
        assert_eq!(d.lifetime.as_deref(), Some("12 h"));
        let d = Details::from_text(
            "you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        );
        assert_eq!(d.resource.as_deref(), Some("Microsoft Graph"));
    }

    #[test]
    fn templates_drop_what_is_unknown() {
        let d = Details {
            tenant: Some("Contoso".into()),
            ..Details::default()
        };
        assert_eq!(
            render("Blocked[ by tenant {tenant}][ for {account}].", &d),
            "Blocked by tenant 'Contoso'."
        );
        assert_eq!(
            render("Not a member of {account|this account}.", &d),
            "Not a member of this account."
        );
        assert_eq!(
            render("Not in [tenant {tenant}|the tenant].", &d),
            "Not in tenant 'Contoso'."
        );
        assert_eq!(
            render("Not in [account {account}|this account].", &d),
            "Not in this account."
        );
        assert_eq!(render("broken [ {x", &d), "broken ");
        assert_eq!(render("a {tenant", &d), "");
    }
}
