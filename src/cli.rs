//! Command-line definitions (clap). One enum of subcommands; `main.rs` dispatches.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "connwatch",
    version,
    about = "Watch and repair OAuth-backed mail, calendar and integration connections"
)]
pub struct Cli {
    /// Config file (default: the platform config dir, connwatch/config.toml).
    #[arg(long, global = true, env = "CONNWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Never use colour (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log level for the log file: error, warn, info, debug, trace.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The dashboard on the embedded demo identity provider (or only the IdP with `serve`).
    Demo(DemoArgs),
    /// Explain an error body, a pasted redirect query string or a bare code (AADSTS70043, invalid_grant).
    Explain(ExplainArgs),
    /// Decode a token (no signature check) and report what is wrong with it.
    Decode(DecodeArgs),
    /// Print a valid access token for NAME on stdout (refreshing first if it expires within a
    /// minute), for mail clients: msmtp passwordeval, isync PassCmd, aerc, mutt.
    Token {
        /// The connection's name.
        name: String,
    },
    /// State of each connection from the store (no network): a table, JSON or Prometheus text.
    Status(StatusArgs),
    /// Monitoring-plugin check: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; one line + perfdata.
    Check {
        /// The connections to check (default: all).
        names: Vec<String>,
        /// Warn when an access token without a refresh token expires, or a forecast sign-in is
        /// due, within this window.
        #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_window)]
        warn: std::time::Duration,
    },
    /// Refresh now (under each connection's lock, like the dashboard).
    Refresh {
        /// The connections to refresh.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Refresh every connection that has tokens.
        #[arg(long)]
        all: bool,
    },
    /// Ask each resource now whether it takes the token (IMAP, SMTP, POP with XOAUTH2 or
    /// OAUTHBEARER; HTTPS with a bearer token), refreshing first when the token is due. Exit 0
    /// when every probe accepted, 1 when any refused.
    Probe {
        /// The connections to probe (default: all).
        names: Vec<String>,
        /// One JSON document: every probe's answer, diagnosis and masked transcript.
        #[arg(long)]
        json: bool,
    },
    /// Keep every connection refreshed and probed with no terminal: notify once per episode,
    /// serve /metrics and /healthz, reload the config on SIGHUP, drain on SIGTERM. One per store.
    Watch {
        /// Serve Prometheus metrics (/metrics) and /healthz here, e.g. 127.0.0.1:9464.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        /// One round of refresh + probe for every connection (notifications included), then
        /// exit 0 if all are connected, 1 otherwise (cron, tests).
        #[arg(long)]
        once: bool,
    },
    /// Interactive sign-in; the URL and code go to stderr, the result to stdout.
    Login(LoginArgs),
    /// Forget a connection's cached tokens (clear cached credentials, then sign in again).
    Purge(PurgeArgs),
    /// Check the config file.
    Config(ConfigArgs),
    /// Write a correct connection into the config (the tenant found from the address's
    /// domain, scopes by kind, expect and probes), keeping its comments; then offer to sign in.
    Add(AddArgs),
    /// Write a commented config template to the config path (never over an existing one).
    Init {
        /// Replace an existing config file.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `connwatch man > connwatch.1`, or one command's page.
    Man {
        /// A command, for its own page (connwatch-login(1)).
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The connections to show (default: all).
    pub names: Vec<String>,
    /// The versioned JSON document of assets/status.schema.json.
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Prometheus text exposition, for node_exporter's textfile collector.
    #[arg(long)]
    pub prometheus: bool,
}

/// `--kind` and `--provider`: the config's own spelling (mailbox, shared-calendar, entra…),
/// with serde's list of the accepted values when it is not one of them.
fn parse_config_word<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s))
        .map_err(|e| e.to_string())
}

/// "10m", "90s", "1h" — the config's duration syntax.
fn parse_window(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The connection's name.
    pub name: String,
    /// Sign in with a device code (enter a short code on another device).
    #[arg(long, conflicts_with = "browser")]
    pub device: bool,
    /// Sign in in a browser (authorization code + PKCE, loopback redirect); the page opens
    /// by itself unless CONNWATCH_NO_BROWSER is set, and is printed for copy either way.
    #[arg(long)]
    pub browser: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The new connection's name: letters, digits, '.', '_' and '-'.
    pub name: String,
    /// The account's address: its domain finds the Entra tenant; gmail.com means Google.
    #[arg(long, value_name = "ADDRESS")]
    pub email: String,
    /// mailbox (IMAP + SMTP), calendar or shared-calendar (Graph).
    #[arg(long, default_value = "mailbox", value_name = "KIND", value_parser = parse_config_word::<crate::config::Kind>)]
    pub kind: crate::config::Kind,
    /// entra or google (default: google for gmail.com addresses, else entra).
    #[arg(long, value_name = "PROVIDER", value_parser = parse_config_word::<crate::config::ProviderKind>)]
    pub provider: Option<crate::config::ProviderKind>,
    /// The app registration's client id (asked for on a terminal when not given).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Entra: the tenant to sign in to when it is not the address's own, as a domain or
    /// GUID — a calendar shared from another tenant needs that tenant.
    #[arg(long, value_name = "DOMAIN")]
    pub tenant: Option<String>,
    /// Another sign-in host (a sovereign cloud: https://login.microsoftonline.us; the demo).
    #[arg(long, value_name = "URL")]
    pub authority_host: Option<String>,
    /// Sign in right after writing, without asking.
    #[arg(long)]
    pub login: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The connections whose tokens to forget.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also revoke the refresh token at the provider (RFC 7009) where it has a revocation
    /// endpoint; if revoking fails nothing is purged, so it can be tried again.
    #[arg(long)]
    pub revoke: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print each connection's resolved endpoints.
    Check,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Add this many generated, healthy mailboxes after the five story rows (try the table at
    /// a helpdesk's scale).
    #[arg(long, global = true, default_value_t = 0, value_name = "N")]
    pub extra_rows: usize,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Run only the demo identity provider and print a config that points at it.
    Serve {
        /// Port to listen on (127.0.0.1); 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seed the demo scenarios' tokens into this data directory (and name it in the config).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A file holding the error body, `-` for stdin (the default), or a bare code.
    pub input: Option<String>,
    /// Print the diagnosis as JSON.
    #[arg(long)]
    pub json: bool,
    /// Who answered, when the input alone does not say (a bare Zoom code such as 124).
    #[arg(long, value_name = "PROVIDER", value_parser = ["entra", "zoom", "google", "oidc"])]
    pub provider: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token, or `-` for stdin (the default, so tokens stay out of shell history).
    pub token: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Judge expiry at this instant (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The audience the token should have.
    #[arg(long, value_name = "AUDIENCE")]
    pub expect_audience: Option<String>,
    /// A scope the token should carry (repeatable).
    #[arg(long, value_name = "SCOPE")]
    pub expect_scope: Vec<String>,
    /// Take the expectations from this connection of the config.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
}

/// `token NAME`, `--config FILE token NAME` or `--config=FILE token NAME` — exactly the forms
/// mail-client configs use — parsed without clap. `None` for anything else (then clap parses
/// it, with its help and errors). The result equals what clap would produce.
pub fn fast_token(args: impl Iterator<Item = std::ffi::OsString>) -> Option<Cli> {
    let args: Vec<String> = args.map(|a| a.into_string().ok()).collect::<Option<_>>()?;
    let (config, rest) = match args.as_slice() {
        [flag, file, rest @ ..] if flag == "--config" => (Some(file.clone()), rest),
        [flag, rest @ ..] if flag.starts_with("--config=") => {
            (Some(flag["--config=".len()..].to_owned()), rest)
        }
        rest => (None, rest),
    };
    let [cmd, name] = rest else { return None };
    if cmd != "token" || name.starts_with('-') || config.as_ref().is_some_and(|c| c.is_empty()) {
        return None;
    }
    let config = config.map(PathBuf::from).or_else(|| {
        std::env::var_os("CONNWATCH_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    Some(Cli {
        config,
        no_color: false,
        log_level: None,
        command: Some(Command::Token { name: name.clone() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(args: &[&str]) -> Option<Cli> {
        fast_token(args.iter().map(std::ffi::OsString::from))
    }

    fn clap(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("connwatch").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_fast_path_reads_what_clap_reads() {
        for args in [
            &["--config", "/x/c.toml", "token", "work-mail"][..],
            &["--config=/x/c.toml", "token", "work-mail"],
        ] {
            let (f, c) = (fast(args).unwrap(), clap(args));
            assert_eq!(f.config, c.config, "{args:?}");
            assert!(matches!(f.command, Some(Command::Token { ref name }) if name == "work-mail"));
            assert!(!f.no_color && f.log_level.is_none());
        }
    }

    #[test]
    fn anything_else_goes_to_clap() {
        for args in [
            &["token"][..],
            &["token", "--help"],
            &["token", "a", "b"],
            &["--no-color", "token", "a"],
            &["token", "a", "--config", "x"],
            &["status", "a"],
            &["--config", "", "token", "a"],
            &["--config="],
        ] {
            assert!(fast(args).is_none(), "{args:?}");
        }
    }
}
