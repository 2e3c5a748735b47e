//! `connwatch token NAME`: the access token alone on stdout, for mail clients. With a token
//! valid for more than a minute, or still valid and obtained less than
//! `min_refresh_interval` ago, it touches neither the network nor the lock; otherwise it
//! refreshes under the connection's lock, exactly like the dashboard, so the two never
//! spend one rotating refresh token twice. On failure: nothing on stdout, one line on stderr.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::exit::CommandError;
use super::{load_config, oneshot, runtime};
use crate::cli::Cli;
use crate::clock::{Clock, SystemClock};
use crate::oauth::HttpClient;

fn clock_now() -> jiff::Timestamp {
    SystemClock.now()
}

/// Refresh first when the token expires sooner than this.
const MIN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

pub fn run(cli: &Cli, name: &str) -> Result<ExitCode, CommandError> {
    let config = load_config(cli)?;
    let conn = oneshot::find(&config, name)?;
    let store = oneshot::store_for(&config)?;
    let set = store
        .load(name)
        .map_err(|e| CommandError::Failed(format!("{name}: {e}")))?
        .ok_or_else(|| {
            CommandError::Failed(format!(
                "{name}: not signed in; run: connwatch login {name}"
            ))
        })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fresh_until = clock
        .now()
        .checked_add(MIN_LIFETIME)
        .unwrap_or(jiff::Timestamp::MAX);
    // A token that still works and was obtained less than min_refresh_interval ago is
    // printed as it is: a mail client polling on tokens that live under a minute must not
    // turn into a refresh loop (worker::schedule).
    let recent = crate::worker::schedule::floor(&set, conn.min_refresh_interval) > clock.now();
    let still_valid = set.expires_at.is_some_and(|e| e > clock.now());
    // Obtained moments ago and already expired (a provider answering `expires_in: 0`): a
    // refresh now would be one per call of a polling mail client. Say so and when to retry.
    if recent && !still_valid && set.expires_at.is_some() {
        return Err(CommandError::Failed(format!(
            "{name}: the provider's newest access token (obtained {}s ago) has already expired; connwatch renews at most every {}s (min_refresh_interval), so try again shortly",
            clock.now().duration_since(set.obtained_at).as_secs().max(0),
            conn.min_refresh_interval.as_secs()
        )));
    }
    if set.expires_at.is_none_or(|e| e > fresh_until) || (recent && still_valid) {
        println!("{}", set.access_token.expose());
        return Ok(ExitCode::SUCCESS);
    }
    // Renewal is due. What is on record decides first (crate::state::decide): a refusal of
    // these tokens is not asked again on every call of a polling mail client (a refused
    // grant retried in a loop is what makes Entra lock it: AADSTS50196).
    let now = clock.now();
    let status = crate::report::derive(conn, Ok(Some(set.clone())), store.load_status(name), now);
    // The provider's refusal (a resource's refusal says nothing about renewing).
    let refused = status
        .last_error
        .as_ref()
        .filter(|d| status.state.waits_for_someone() && d.probe.is_none());
    // A transient failure moments ago (throttled, 5xx, no answer): not asked again before
    // its Retry-After, nor sooner than min_refresh_interval.
    let backing_off = status
        .last_error
        .as_ref()
        .filter(|d| d.retryable && d.probe.is_none())
        .filter(|d| {
            let wait = d
                .retry_after_s
                .unwrap_or(0)
                .max(conn.min_refresh_interval.as_secs());
            let wait = jiff::SignedDuration::from_secs(i64::try_from(wait).unwrap_or(i64::MAX));
            status
                .last_error_at
                .and_then(|at| at.checked_add(wait).ok())
                .is_some_and(|until| until > now)
        });
    let failure = if let Some(d) = refused.or(backing_off) {
        Some(oneshot::failure_line(name, d))
    } else if set.refresh_token.is_none() {
        let d = crate::diagnose::no_refresh_token(conn.asks_offline_access());
        Some(oneshot::failure_line(name, &d))
    } else {
        let http = HttpClient::new(Duration::from_secs(30));
        let known = Some(set.access_token.expose().to_owned());
        let refreshed = runtime()?.block_on(crate::worker::refresh_connection(
            conn, &store, &http, clock, known,
        ));
        match refreshed {
            // Tokens another process renewed meanwhile come back too: printed only while
            // they work (a provider answering `expires_in: 0` gives dead ones).
            Ok(new) if new.expires_at.is_none_or(|e| e > clock_now()) => {
                println!("{}", new.access_token.expose());
                return Ok(ExitCode::SUCCESS);
            }
            Ok(_) => Some(format!(
                "{name}: the provider's newest access token has already expired; connwatch renews at most every {}s (min_refresh_interval), so try again shortly",
                conn.min_refresh_interval.as_secs()
            )),
            Err(d) => Some(oneshot::failure_line(name, &d)),
        }
    };
    let why = failure.unwrap_or_default();
    // The renewal may have taken a while (discovery, the lock, the request): judge the
    // token in hand again now.
    let now = clock_now();
    let still_valid = set.expires_at.is_some_and(|e| e > now);
    // The access token in hand still works for its last seconds: the mail client gets it
    // (this fetch succeeds), and the reason it will not be renewed goes to stderr. Once it
    // has expired there is nothing to print (README, "For mail clients").
    if still_valid {
        let left = set
            .expires_at
            .map_or(0, |e| e.duration_since(now).as_secs().max(0));
        eprintln!("{why} (the current token works for {left}s more)");
        println!("{}", set.access_token.expose());
        return Ok(ExitCode::SUCCESS);
    }
    Err(CommandError::Failed(why))
}
