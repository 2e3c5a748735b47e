//! `connwatch config check`: validate, then show what each connection will talk to.
use std::process::ExitCode;

use super::exit::CommandError;
use super::load_config;
use crate::cli::Cli;
use crate::provider::{self, EndpointSource};
use crate::store::StorePaths;

pub fn run(cli: &Cli) -> Result<ExitCode, CommandError> {
    let config = load_config(cli)?;
    println!(
        "{}: OK, {} connection(s)",
        config.path.display(),
        config.connections.len()
    );
    if let Some(p) = StorePaths::resolve(config.data_dir.as_deref()) {
        println!("tokens: {}", p.tokens_dir.display());
    }
    for c in &config.connections {
        println!();
        println!("{} ({}, {})", c.name, c.kind.as_str(), c.provider.as_str());
        match provider::endpoint_source(c) {
            EndpointSource::Fixed(e) => {
                println!("  token endpoint:  {}", e.token_endpoint);
                if let Some(d) = &e.device_authorization_endpoint {
                    println!("  device endpoint: {d}");
                }
                if let Some(a) = &e.authorization_endpoint {
                    println!("  browser sign-in: {a}");
                }
                match &e.revocation_endpoint {
                    Some(r) => println!("  revocation:      {r}"),
                    None => println!("  revocation:      none (purge --revoke cannot revoke here)"),
                }
            }
            EndpointSource::Discovery { issuer } => {
                println!("  discovery:       {issuer}/.well-known/openid-configuration");
            }
        }
        println!("  scopes:          {}", c.scopes.join(" "));
        println!(
            "  sign-in flow:    {}",
            match c.flow {
                crate::config::Flow::Device => "device code",
                crate::config::Flow::Browser => "browser (PKCE, loopback redirect)",
            }
        );
        let default = if c.redirect_uri.is_none() {
            " (the provider's default; set redirect_uri to what the app registration lists)"
        } else {
            ""
        };
        println!("  redirect URI:    {}{default}", c.redirect().describe());
        match &c.client_secret {
            Some(crate::config::SecretSource::Command(argv)) => {
                println!(
                    "  client secret:   from the command {:?}",
                    argv.first().map(String::as_str).unwrap_or_default()
                )
            }
            Some(crate::config::SecretSource::Env(v)) => {
                println!("  client secret:   from ${v}")
            }
            None => println!("  client secret:   none (public client)"),
        }
        println!("  refresh before:  {:?}", c.refresh_before);
        println!(
            "  never sooner:    {:?} after the last refresh",
            c.min_refresh_interval
        );
        let probes = crate::provider::probe_targets(c);
        if probes.is_empty() {
            println!("  probes:          none (the token is not tested with a resource)");
        }
        for (i, t) in probes.iter().enumerate() {
            let how = match (t.protocol, t.security) {
                (crate::probe::Protocol::Https, _) => "GET with the bearer token".to_owned(),
                (_, crate::probe::Security::Implicit) => format!("{}, TLS", t.mechanism.as_str()),
                (_, crate::probe::Security::StartTls) => {
                    format!("{}, STARTTLS required", t.mechanism.as_str())
                }
                (_, _) => format!("{}, STARTTLS when offered (loopback)", t.mechanism.as_str()),
            };
            let default = if c.probe.is_empty() { ", default" } else { "" };
            let label = if i == 0 { "probes:" } else { "" };
            println!("  {label:<16} {} ({how}{default})", t.url);
        }
        if let Some(ca) = &c.ca_file {
            println!("  ca_file:         {}", ca.display());
        }
        if let Some(e) = c.probe_interval() {
            println!("  probe every:     {e:?}");
        }
        if !c.asks_offline_access() {
            println!("  warning:         no offline_access scope: no refresh token will be issued");
        }
    }
    Ok(ExitCode::SUCCESS)
}
