//! An outcome reached outside the worker (`connwatch token` refreshing on its own) is
//! recorded as the worker records its own: one machine step (crate::state::machine) on the
//! status record, under the connection's lock, so `status`, `check`, `/metrics` and every
//! dashboard see it.
use jiff::Timestamp;

use crate::state::machine::{self, Input};
use crate::store::TokenStore;

/// Step the record of `name` with `input` and save it. A record that cannot be written is
/// logged: the outcome itself (tokens saved, or the error shown) has already happened.
pub async fn record_outcome(store: &TokenStore, name: &str, input: Input, now: Timestamp) {
    let store = store.clone();
    let name = name.to_owned();
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let _lock = store.lock(&name)?;
        let mut record = store.load_status(&name).unwrap_or_default();
        let mut facts = record.facts();
        facts.tokens = store.load(&name).ok().flatten().map(|t| t.facts());
        let line = match &input {
            Input::Renewed(_) => Some("refreshed (by connwatch token)".to_owned()),
            Input::RefreshFailed(d) => Some(format!(
                "refresh refused (by connwatch token): {}",
                d.code.clone().unwrap_or_else(|| d.cause.to_string())
            )),
            _ => None,
        };
        // `token` claims no work: whatever claim is on record (a dashboard's sign-in) is
        // that process's to end.
        let activity = facts.activity;
        let (mut facts, _) = machine::step(facts, input, now);
        facts.activity = activity;
        record.set_facts(&facts);
        if let Some(what) = line {
            crate::store::push_history(&mut record.history, now, what);
        }
        store.save_status(&name, &record)
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot record the outcome: {e}"),
        Err(e) => tracing::warn!("cannot record the outcome: {e}"),
    }
}
