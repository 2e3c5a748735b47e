//! `connwatch purge NAME… [--yes]`: forget the cached tokens (the "clear cached credentials,
//! then sign in again" fix), under each connection's lock like the dashboard's purge. Asks
//! first on a terminal; anywhere else it needs `--yes`, because a purged refresh token can
//! only come back through an interactive sign-in.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::exit::CommandError;
use super::oneshot::{self, Pending};
use super::runtime;
use crate::cli::{Cli, PurgeArgs};
use crate::worker::{Finish, Request};

pub fn run(cli: &Cli, args: &PurgeArgs) -> Result<ExitCode, CommandError> {
    let scope = oneshot::scope(cli, &args.names, false)?;
    let names: Vec<String> = scope
        .config
        .connections
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if !args.yes {
        confirm(&names)?;
    }
    let all_names = names.clone();
    let had_file: Vec<bool> = names
        .iter()
        .map(|n| scope.store.token_path(n).exists())
        .collect();
    runtime()?.block_on(async {
        let mut names = names;
        let mut failed = 0usize;
        if args.revoke {
            let http = crate::oauth::HttpClient::new(std::time::Duration::from_secs(30));
            let mut kept = Vec::new();
            for c in &scope.config.connections {
                match revoke_one(&http, &scope.store, c).await {
                    Ok(msg) => {
                        println!("{}: {msg}", c.name);
                        kept.push(c.name.clone());
                    }
                    Err(msg) => {
                        failed += 1;
                        eprintln!(
                            "{}: {msg}; nothing purged (retry, or purge without --revoke)",
                            c.name
                        );
                    }
                }
            }
            names = kept;
        }
        let mut handle = oneshot::spawn(&scope);
        let views = oneshot::initial_views(&mut handle, scope.config.connections.len()).await;
        let mut pending = Pending::new(views);
        for n in &names {
            pending.send(&mut handle, Request::Purge { name: n.clone() });
        }
        while !pending.is_empty() {
            let Some(event) = handle.events.recv().await else {
                break;
            };
            let Some((v, outcome)) = pending.finished(&event) else {
                continue;
            };
            let had = all_names
                .iter()
                .position(|n| n == &v.name)
                .is_some_and(|i| had_file[i]);
            match outcome {
                Finish::Purged if had => println!(
                    "{}: tokens purged; sign in again with: connwatch login {}",
                    v.name, v.name
                ),
                Finish::Purged => println!("{}: nothing to purge (not signed in)", v.name),
                Finish::Failed(d) => {
                    failed += 1;
                    eprintln!("{}: {}", v.name, crate::sanitize::line(&d.summary));
                }
                _ => {
                    failed += 1;
                    eprintln!("{}: not purged", v.name);
                }
            }
        }
        Ok(oneshot::finish(handle, failed).await)
    })
}

/// Revoke the connection's refresh token (or its access token when it has none) at the
/// provider. `Ok` says what happened, including "cannot" where the provider has no endpoint.
async fn revoke_one(
    http: &crate::oauth::HttpClient,
    store: &crate::store::TokenStore,
    c: &crate::config::Connection,
) -> Result<String, String> {
    use crate::provider;
    let set = match store.load(&c.name) {
        Ok(Some(set)) => set,
        Ok(None) => return Ok("not signed in, nothing to revoke".into()),
        Err(e) => return Err(e.to_string()),
    };
    let endpoints = provider::resolve(http, c).await.map_err(|f| {
        let why = format!(
            "cannot read the provider's discovery document: {}",
            f.diagnose(provider::hint(c.provider)).summary
        );
        crate::sanitize::line(&why).into_owned()
    })?;
    let Some(endpoint) = endpoints.revocation_endpoint else {
        return Ok(match c.provider {
            crate::config::ProviderKind::Entra => "Entra has no token revocation endpoint for users: the tokens are forgotten here but stay valid until they expire; to end them everywhere, revoke the sessions (My Sign-ins, or Revoke-MgUserSignInSession)".into(),
            _ => "the provider publishes no revocation endpoint: the tokens are forgotten here but stay valid until they expire".into(),
        });
    };
    let (token, hint) = match &set.refresh_token {
        Some(rt) => (rt.expose(), "refresh_token"),
        None => (set.access_token.expose(), "access_token"),
    };
    let secret = match &c.client_secret {
        Some(source) => Some(source.read()?),
        None => None,
    };
    let client = provider::client(c, secret.as_ref());
    crate::oauth::revoke(http, &endpoint, &client, token, hint)
        .await
        .map_err(|f| {
            let d = f.diagnose(provider::hint(c.provider));
            let why = format!(
                "revocation failed: {} ({})",
                d.summary,
                d.code.as_deref().unwrap_or(d.cause.as_str())
            );
            crate::sanitize::line(&why).into_owned()
        })?;
    Ok(format!("{hint} revoked at the provider"))
}

/// Ask on the terminal; refuse (usage error) when nobody can answer.
fn confirm(names: &[String]) -> Result<(), CommandError> {
    let list = names.join(", ");
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Usage(format!(
            "purging {list} forgets its refresh token; pass --yes to confirm when not on a terminal"
        )));
    }
    let answer = super::ask(&format!(
        "Forget the tokens of {list}? Signing in again will be needed. [y/N] "
    ))
    .map_err(|e| CommandError::Failed(format!("cannot read the answer: {e}")))?
    .unwrap_or_default();
    if matches!(answer.as_str(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(CommandError::Failed("nothing purged".into()))
    }
}
