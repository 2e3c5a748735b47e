//! `connwatch add NAME --email ADDRESS [--kind K] [--provider P] [--client-id ID]`: find the
//! tenant (Entra, from the address's domain), write a correct connection into the config and
//! offer to sign in. The config is edited in place — comments and layout kept — validated as
//! a whole before anything is written, and replaced atomically (0600).
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::exit::CommandError;
use super::{config_path, runtime};
use crate::cli::{AddArgs, Cli, LoginArgs};
use crate::config::add::{self, AddRequest, NewConnection};
use crate::config::{Config, ProviderKind};
use crate::oauth::{HttpClient, OAuthFailure};

pub fn run(cli: &Cli, args: &AddArgs) -> Result<ExitCode, CommandError> {
    let path = config_path(cli)?;
    // A config that is a symlink (dotfiles) is written where it points, and stays a link;
    // it is read and reported under the name the user gave (relative paths in it, such as
    // ca_file, resolve from there, as for every other command).
    let target = link_target(&path);
    let existing = read(&target)?;
    if let Some(text) = &existing {
        // A broken config is shown as `config check` shows it; it is not ours to rewrite.
        let config = Config::parse(&path, text)?;
        if config
            .connections
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&args.name))
        {
            return Err(CommandError::Usage(format!(
                "a connection named {:?} is already in {}; choose another name, or `connwatch \
                 purge {}` and remove its [[connection]] first",
                args.name,
                path.display(),
                args.name
            )));
        }
    }
    if !crate::config::is_valid_name(&args.name) {
        return Err(CommandError::Usage(format!(
            "{:?} cannot be a connection's name: use letters, digits, '.', '_' and '-', at most {}",
            args.name,
            crate::config::MAX_NAME_LEN
        )));
    }
    // Everything that can be refused is, before the network and before any prompt.
    let authority_host = match &args.authority_host {
        Some(h) => Some(add::check_authority_host(h).map_err(CommandError::Usage)?),
        None => None,
    };
    let mut req = AddRequest {
        name: args.name.clone(),
        email: args.email.clone(),
        kind: args.kind,
        provider: args.provider,
        client_id: String::new(),
        tenant: args
            .tenant
            .as_deref()
            .map(|t| t.trim().to_ascii_lowercase()),
        authority_host,
    };
    let provider = add::provider_for(&req).map_err(CommandError::Usage)?;
    add::preset(provider, req.kind).map_err(CommandError::Usage)?;
    if let Some(t) = &req.tenant {
        if provider != ProviderKind::Entra {
            return Err(CommandError::Usage(
                "--tenant is for entra connections only".into(),
            ));
        }
        add::check_tenant(t).map_err(CommandError::Usage)?;
    }
    if args.login && needs_secret(provider) {
        return Err(CommandError::Usage(format!(
            "--login cannot sign in to a {} connection yet: its client secret comes first \
             (client_secret_command or client_secret_env); add it, then `connwatch login {}`",
            provider.as_str(),
            args.name
        )));
    }
    req.client_id = client_id(args, provider)?;
    let tenant_id = match provider {
        ProviderKind::Entra => Some(runtime()?.block_on(discover_tenant(&req))?),
        _ => None,
    };
    let mut conn = add::plan(&req, provider, tenant_id.as_deref()).map_err(CommandError::Usage)?;
    let base = existing
        .clone()
        .unwrap_or_else(|| super::init::TEMPLATE.to_owned());
    // The default probes are the ones connwatch would use anyway; written out, they are
    // there to read and edit. (None with --authority-host: connwatch never probes Microsoft's
    // or Google's hosts for a connection pointed elsewhere.)
    let first = edited(&path, &base, &conn)?;
    conn.probe = crate::provider::probe_targets(&first)
        .into_iter()
        .map(|t| t.url)
        .collect();
    let text = add::append(&base, &conn).map_err(CommandError::Failed)?;
    let written = checked(&path, &text, &conn.name)?;
    // Discovery and prompts take a while: an edit saved meanwhile (an editor, another `add`)
    // is not overwritten.
    if read(&target)? != existing {
        return Err(CommandError::Failed(format!(
            "{} changed while the connection was being prepared; nothing was written: run \
             the command again",
            path.display()
        )));
    }
    super::config_write::write_config(&target, &text)
        .map_err(|e| CommandError::Failed(format!("cannot write {}: {e}", target.display())))?;
    report(&path, &conn, &written, existing.is_none());
    if needs_secret(provider) {
        println!(
            "next: add the client secret, then: connwatch login {}",
            args.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    offer_sign_in(cli, args)
}

/// Google's Desktop-app clients send a client secret to the token endpoint; `add` writes no
/// secret (secrets never go into the config), so their sign-in waits for the user's.
fn needs_secret(provider: ProviderKind) -> bool {
    provider == ProviderKind::Google
}

/// Where `path` leads: itself, or the file its symlinks name (even one not created yet).
fn link_target(path: &Path) -> std::path::PathBuf {
    if let Ok(t) = std::fs::canonicalize(path) {
        return t;
    }
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(next) => {
                p = match p.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            Err(_) => break,
        }
    }
    p
}

fn read(path: &Path) -> Result<Option<String>, CommandError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CommandError::Failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The connection as the edited config reads it (validated with the whole file).
fn edited(
    path: &Path,
    base: &str,
    conn: &NewConnection,
) -> Result<crate::config::Connection, CommandError> {
    let text = add::append(base, conn).map_err(CommandError::Failed)?;
    checked(path, &text, &conn.name)
}

fn checked(path: &Path, text: &str, name: &str) -> Result<crate::config::Connection, CommandError> {
    let config = Config::parse(path, text).map_err(|e| {
        CommandError::Failed(format!(
            "the new connection would not be valid ({}); nothing was written",
            e.one_line()
        ))
    })?;
    config
        .connection(name)
        .cloned()
        .ok_or_else(|| CommandError::Failed(format!("{name} is missing from the edited config")))
}

/// `--client-id`, else asked for on a terminal. There is no default: borrowing another
/// application's registration is the user's choice to make, not ours.
fn client_id(args: &AddArgs, provider: ProviderKind) -> Result<String, CommandError> {
    let where_ = match provider {
        ProviderKind::Google => {
            "the OAuth client ID of a Desktop app (Google Cloud console → APIs & Services → Credentials)"
        }
        _ => {
            "the Application (client) ID of your app registration (Entra admin center → App registrations)"
        }
    };
    if let Some(id) = &args.client_id {
        let id = id.trim();
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(CommandError::Usage(format!(
                "--client-id {id:?} is not a client id: {where_}"
            )));
        }
        return Ok(id.to_owned());
    }
    // A prompt nobody sees (stderr redirected) would look like a hang.
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CommandError::Usage(format!(
            "--client-id is needed: {where_}"
        )));
    }
    let line = super::ask(&format!("client id ({where_}): "))
        .map_err(|e| CommandError::Failed(format!("cannot read stdin: {e}")))?
        .unwrap_or_default();
    match line.as_str() {
        "" => Err(CommandError::Failed(
            "no client id given; nothing was written".into(),
        )),
        id if id.chars().any(char::is_whitespace) => Err(CommandError::Usage(format!(
            "{id:?} is not a client id: {where_}"
        ))),
        id => Ok(id.to_owned()),
    }
}

/// The tenant's GUID from `{authority_host}/{domain}/v2.0/.well-known/openid-configuration`:
/// Entra answers for every verified domain of a tenant with that tenant's issuer.
async fn discover_tenant(req: &AddRequest) -> Result<String, CommandError> {
    let host = req
        .authority_host
        .as_deref()
        .unwrap_or(crate::provider::ENTRA_AUTHORITY_HOST);
    let segment = match &req.tenant {
        Some(t) => t.clone(),
        None => add::email_domain(&req.email).map_err(CommandError::Usage)?,
    };
    // Entra's multi-tenant authorities have no tenant of their own to discover: the
    // account's home tenant answers at sign-in.
    if matches!(segment.as_str(), "organizations" | "common" | "consumers") {
        return Ok(segment);
    }
    let url = format!("{host}/{segment}/v2.0/.well-known/openid-configuration");
    let http = HttpClient::new(Duration::from_secs(15));
    let body = match http.get(&url).await {
        Ok(b) => b,
        Err(OAuthFailure::Network(detail)) => {
            return Err(CommandError::Failed(format!(
                "cannot reach {host} to find the tenant of {segment}: {detail}; nothing was written"
            )));
        }
        Err(f) => {
            let d = f.diagnose(crate::diagnose::ProviderHint::Entra);
            if d.code.as_deref() == Some("AADSTS90002") {
                let hint = if req.tenant.is_some() {
                    "check the --tenant given".to_owned()
                } else {
                    format!(
                        "{segment} is not a verified domain of any Microsoft 365 tenant: if the \
                         mailbox is hosted elsewhere pass --provider, or name the tenant with \
                         --tenant DOMAIN_OR_GUID"
                    )
                };
                return Err(CommandError::Failed(format!(
                    "Microsoft Entra knows no tenant for {segment} (AADSTS90002); {hint}. \
                     Nothing was written"
                )));
            }
            return Err(CommandError::Failed(format!(
                "finding the tenant of {segment} at {url} failed: {}{}. Nothing was written",
                d.summary,
                d.code.map(|c| format!(" ({c})")).unwrap_or_default()
            )));
        }
    };
    #[derive(serde::Deserialize)]
    struct Doc {
        issuer: String,
    }
    let doc: Doc = serde_json::from_slice(&body).map_err(|e| {
        CommandError::Failed(format!(
            "{url} is not an OpenID configuration document ({e}); nothing was written"
        ))
    })?;
    add::tenant_from_issuer(&doc.issuer).ok_or_else(|| {
        CommandError::Failed(format!(
            "the issuer {:?} at {url} names no tenant id; nothing was written",
            doc.issuer
        ))
    })
}

fn report(path: &Path, conn: &NewConnection, written: &crate::config::Connection, new: bool) {
    let verb = if new { "written" } else { "added to" };
    println!("{}: {verb} {}", conn.name, path.display());
    let mut lines = vec![format!(
        "  {} {} for {}",
        conn.provider.as_str(),
        conn.kind.as_str(),
        conn.account
    )];
    if let Some(t) = &conn.tenant {
        lines.push(format!("  tenant: {t}"));
    }
    lines.push(format!("  scopes: {}", conn.scopes.join(" ")));
    if conn.probe.is_empty() {
        lines.push("  probes: none (add probe = [...] to ask the resource itself)".into());
    } else {
        lines.push(format!("  probes: {}", conn.probe.join(" ")));
    }
    lines.push(format!(
        "  sign-in: {}",
        match written.flow {
            crate::config::Flow::Device => "device code".to_owned(),
            crate::config::Flow::Browser =>
                format!("browser, redirect {}", written.redirect().describe()),
        }
    ));
    for l in lines {
        println!("{l}");
    }
    if needs_secret(conn.provider) {
        println!(
            "  Google's Desktop clients also send their client secret: add \
             client_secret_command = [\"pass\", \"show\", \"google/secret\"] (or \
             client_secret_env = \"VAR\") to it"
        );
    }
}

/// `--login` signs in at once; on a terminal the user is asked; otherwise the next step is
/// printed.
fn offer_sign_in(cli: &Cli, args: &AddArgs) -> Result<ExitCode, CommandError> {
    let ask = !args.login && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let go = args.login
        || (ask
            // End of input (Ctrl-D) is no answer, and no answer is no.
            && super::ask(&format!("Sign in to {} now? [Y/n] ", args.name)).is_ok_and(|a| {
                a.is_some_and(|a| matches!(a.to_ascii_lowercase().as_str(), "" | "y" | "yes"))
            }));
    if !go {
        println!("next: connwatch login {}", args.name);
        return Ok(ExitCode::SUCCESS);
    }
    super::login::run(
        cli,
        &LoginArgs {
            name: args.name.clone(),
            device: false,
            browser: false,
        },
    )
}
