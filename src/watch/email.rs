//! Email alerts (`notify_email`): sent through one of the connections' own SMTP server,
//! with its token, XOAUTH2 as its account.
use std::sync::Arc;
use std::time::Duration;

use crate::notify::Notice;
use crate::notify::desktop::{Desktop, Note};
use crate::store::TokenStore;
use crate::worker;

/// Email `n` to `to` through the connection `via`: its token (refreshed under its lock when
/// due), its SMTP server, XOAUTH2 as its account. The outcome goes to the log.
pub(super) async fn email(
    via: crate::config::Connection,
    store: TokenStore,
    to: String,
    n: Notice,
    desktop: Option<Desktop>,
) {
    if let Err(why) = try_email(&via, &store, &to, &n).await {
        // It quotes the provider and the mail server: one defused line.
        let why = crate::sanitize::line(&why).into_owned();
        tracing::error!(connection = %n.name, "the email alert to {to} through {} failed: {why}", via.name);
        if let Some(d) = desktop {
            d.show(Note::info(
                format!("{}/email", n.name),
                format!("connwatch could not email the alert about {}", n.name),
                format!("To {to} through {}: {why}", via.name),
            ));
        }
    }
}

/// Send one email alert; why not, in a sentence.
async fn try_email(
    via: &crate::config::Connection,
    store: &TokenStore,
    to: &str,
    n: &Notice,
) -> Result<(), String> {
    use crate::probe::{self, Message, Protocol};
    let http = crate::oauth::HttpClient::new(Duration::from_secs(30));
    let target = crate::provider::probe_targets(via)
        .into_iter()
        .find(|t| t.protocol == Protocol::Smtp)
        .ok_or_else(|| format!("{} has no SMTP server to send through", via.name))?;
    let set = match store.load(&via.name) {
        Ok(Some(set)) => set,
        Ok(None) => return Err(format!("{} is not signed in", via.name)),
        Err(e) => return Err(format!("{}: {e}", via.name)),
    };
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
    let set = if set.expires_at.is_some_and(|e| e <= soon) {
        let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
        let known = Some(set.access_token.expose().to_owned());
        worker::refresh_connection(via, store, &http, clock, known)
            .await
            .map_err(|d| {
                format!(
                    "{} cannot renew its token ({}): {}",
                    via.name, d.cause, d.summary
                )
            })?
    } else {
        set
    };
    let ctx = worker::probe_context(via, http);
    let m = Message {
        to: to.to_owned(),
        subject: n.subject(),
        body: n.body(),
    };
    probe::send_mail(&target, &ctx, set.access_token.expose(), &m)
        .await
        .map_err(|d| {
            let code = d.code.map(|c| format!(" ({c})")).unwrap_or_default();
            format!("{}{code}: {}", d.cause, d.summary)
        })?;
    tracing::info!(connection = %n.name, "alert emailed to {to} through {}", via.name);
    Ok(())
}
