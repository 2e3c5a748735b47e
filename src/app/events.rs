//! What the worker reports, applied to the state: rows, sign-in codes, decoded tokens, the
//! progress of a refresh-all, and the start of each needs-attention episode (notified once).
use super::{Effects, Notice, Popup, State, view};
use crate::worker::{ConnectionView, Event, Finish, Request};

pub(super) fn on_event(state: &mut State, event: Event) -> Effects {
    let mut fx = Effects::draw();
    match event {
        // The dashboard's one boundary with outside text: what reaches the screen and the
        // clipboard (`c`) carries no control or bidi character (crate::sanitize).
        Event::Connection(view) => on_view(state, view.for_display(), &mut fx),
        Event::DeviceCode(code) => {
            let code = code.for_display();
            if let Some(Popup::SignIn {
                name, code: slot, ..
            }) = &mut state.popup
                && *name == code.name
            {
                *slot = Some(code);
            } else if code.user_code.is_empty() {
                state.flash = Some(format!(
                    "{}: sign in at {}",
                    code.name, code.verification_uri
                ));
            } else {
                state.flash = Some(format!(
                    "{}: enter code {} at {}",
                    code.name, code.user_code, code.verification_uri
                ));
            }
        }
        Event::SignInEnded { name, ok } => {
            if matches!(&state.popup, Some(Popup::SignIn { name: n, .. }) if *n == name) {
                state.popup = None;
            }
            let cancelled = state.flash.as_deref() == Some(&format!("{name}: sign-in cancelled"));
            if ok {
                state.flash = Some(format!("{name}: signed in"));
            } else if !cancelled {
                state.flash = Some(format!("{name}: sign-in did not complete"));
            }
        }
        Event::Watched { pid } => state.watched_by = pid,
        // The end of a job: counts for a refresh-all in progress.
        Event::Finished {
            name,
            outcome,
            probe_refusal,
            ..
        } => {
            let Some(p) = state
                .refresh_all
                .as_mut()
                .filter(|p| p.pending.contains(&name))
            else {
                return Effects::default();
            };
            p.pending.remove(&name);
            let ok = matches!(outcome, Finish::Renewed) && probe_refusal.is_none();
            p.failed += usize::from(!ok);
            if p.pending.is_empty() {
                let p = state.refresh_all.take().unwrap_or_default();
                state.flash = Some(format!(
                    "refreshed {} connection(s): {} ok, {} failed",
                    p.total,
                    p.total - p.failed,
                    p.failed
                ));
            }
        }
        Event::Decoded { name, report } => {
            let report = Box::new(report.for_display());
            if state.detail && state.selected_row().is_some_and(|r| r.name == name) {
                state.detail_report = Some((name, report));
            } else {
                state.popup = Some(Popup::Decoded { name, report });
                state.popup_scroll = 0;
            }
        }
    }
    fx
}

fn on_view(state: &mut State, view: ConnectionView, fx: &mut Effects) {
    let name = view.name.clone();
    let before = state.rows.iter().position(|r| r.name == name);
    let previous = before.map(|i| state.rows[i].state);
    // An episode starts when a connection goes bad and ends when it is connected again; a
    // row that is already bad when first seen opens one silently (the screen shows it).
    if state
        .attention
        .observe(&name, view.state, previous.is_some())
        == Some(true)
    {
        fx.bell = true;
        // A running `watch` sends this episode's notification itself (once, with reminders
        // and a Re-authorize button); a second one from here would double it.
        if state.watched_by.is_none() {
            fx.notices.push(Notice::of(&view));
        }
    }
    let reorder = match before {
        Some(i) => {
            let old = std::mem::replace(&mut state.rows[i], view);
            // Only what the filter and sort look at can move a row.
            state.sort != view::Sort::Config
                && (old.state != state.rows[i].state
                    || old.access_expires_at != state.rows[i].access_expires_at)
                || (!state.filter.is_empty() && old.state != state.rows[i].state)
        }
        None => {
            state.rows.push(view);
            // In config order with no filter a new row simply goes last: no need to rebuild
            // the order for each of a helpdesk's thousands of rows as they arrive.
            if state.sort == view::Sort::Config && state.filter.is_empty() {
                state.visible.push(state.rows.len() - 1);
                false
            } else {
                true
            }
        }
    };
    if reorder {
        view::refresh(state);
    }
    // The detail pane's claims belong to the token they were decoded from.
    if state.detail
        && let Some(r) = state.selected_row()
        && r.name == name
        && before.is_some()
        && state
            .detail_report
            .as_ref()
            .is_some_and(|(n, _)| *n == name)
        && r.token_preview.is_some()
        && !r.busy
    {
        fx.requests.push(Request::Decode { name });
    }
}
