//! Desktop notifications over D-Bus (`org.freedesktop.Notifications`, Desktop Notifications
//! spec 1.2), for `watch`. One task owns the bus connection: the caller hands it notes and is
//! never blocked by a slow or silent notification server (every call is bounded), and it
//! hears back only which connection's **Re-authorize** button was pressed. Notes with the same
//! key (a connection's name) replace each other on screen, so a reminder, the device code of
//! the sign-in the button started and the final "connected again" are one notification.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::Notice;
use crate::connection::ConnState;

/// The action key of the Re-authorize button.
pub const REAUTHORIZE: &str = "reauthorize";
/// How long one D-Bus call may take before the note is given up (a hung server).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, zbus::zvariant::Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;

    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

/// The spec's urgency levels (hint `urgency`, a byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Low = 0,
    Normal = 1,
    /// Stays on screen until dismissed.
    Critical = 2,
}

/// One notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Notes with the same key replace each other (the connection's name).
    pub key: String,
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    /// Offer the Re-authorize button.
    pub reauthorize: bool,
}

impl Note {
    /// A connection that needs attention: what is wrong, the provider's code and the action;
    /// the button when a sign-in by the user is the fix. `extra` is added under the action
    /// (e.g. that the email alert could not go out).
    pub fn attention(n: &Notice, extra: Option<&str>) -> Note {
        let mut body = String::new();
        if let Some(c) = &n.cause {
            body.push_str(c);
            if let Some(code) = &n.code {
                body.push_str(&format!(" ({code})"));
            }
        }
        if let Some(a) = &n.action {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(a);
        }
        if let Some(w) = n.who.as_ref().filter(|_| n.state == ConnState::Blocked) {
            body.push_str(&format!("\nWho can fix it: {w}"));
        }
        if let Some(x) = extra {
            body.push('\n');
            body.push_str(x);
        }
        let sign_in = n.state == ConnState::NeedsReauth;
        Note {
            key: n.name.clone(),
            summary: n.headline(),
            body,
            urgency: if sign_in {
                Urgency::Critical
            } else {
                Urgency::Normal
            },
            reauthorize: sign_in,
        }
    }

    /// Something `watch` must say that is no connection's alert (a failed email alert, a
    /// config that no longer parses): normal urgency, no button.
    pub fn info(key: String, summary: String, body: String) -> Note {
        Note {
            key,
            summary,
            body,
            urgency: Urgency::Normal,
            reauthorize: false,
        }
    }

    /// The connection is connected again (`signed_in`: because of a sign-in).
    pub fn recovered(name: &str, signed_in: bool) -> Note {
        Note {
            key: name.to_owned(),
            summary: format!("{name} is connected again"),
            body: if signed_in {
                "Signed in. Its token renews on its own again.".into()
            } else {
                "Its token renews on its own again.".into()
            },
            urgency: Urgency::Low,
            reauthorize: false,
        }
    }

    /// The follow-up of a Re-authorize: a device code to enter, or (no code) the browser
    /// page that was opened.
    pub fn sign_in_started(name: &str, page: &str, user_code: &str) -> Note {
        let (summary, body) = if user_code.is_empty() {
            (
                format!("{name}: finish the sign-in in your browser"),
                format!("The sign-in page is open: {page}"),
            )
        } else {
            (
                format!("{name}: sign in with code {user_code}"),
                format!("Open {page} and enter the code {user_code}."),
            )
        };
        Note {
            key: name.to_owned(),
            summary,
            body,
            urgency: Urgency::Critical,
            reauthorize: false,
        }
    }
}

/// A running notifier: hand it notes; it reports pressed Re-authorize buttons.
#[derive(Clone)]
pub struct Desktop {
    tx: mpsc::UnboundedSender<Note>,
}

/// The other end of a [`Desktop`]: which connections' Re-authorize button was pressed.
pub struct Buttons {
    pub reauthorize: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Desktop {
    /// Connect to the session bus (`DBUS_SESSION_BUS_ADDRESS`, else the XDG runtime dir's
    /// `bus`). `None` when there is none to reach: desktop notifications are then off, which
    /// is said once in the log.
    pub async fn connect() -> Option<(Desktop, Buttons)> {
        let conn = match tokio::time::timeout(CALL_TIMEOUT, zbus::Connection::session()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::info!("desktop notifications off: no session bus ({e})");
                return None;
            }
            Err(_) => {
                tracing::warn!("desktop notifications off: the session bus did not answer");
                return None;
            }
        };
        let proxy = match NotificationsProxy::new(&conn).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("desktop notifications off: {e}");
                return None;
            }
        };
        // Subscribe before the first note goes out, so no button press is missed.
        let invoked = proxy.receive_action_invoked().await.ok();
        let closed = proxy.receive_notification_closed().await.ok();
        // Whether the server renders markup decides whether `<` and `&` must be escaped. A
        // server that does not answer yet (one may be started on demand) is taken as plain.
        let markup = match tokio::time::timeout(CALL_TIMEOUT, proxy.get_capabilities()).await {
            Ok(Ok(caps)) => caps.iter().any(|c| c == "body-markup"),
            _ => false,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (press_tx, press_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(proxy, markup, rx, invoked, closed, press_tx, conn));
        Some((
            Desktop { tx },
            Buttons {
                reauthorize: press_rx,
                task,
            },
        ))
    }

    pub fn show(&self, note: Note) {
        let _ = self.tx.send(note);
    }
}

impl Buttons {
    /// Wait (bounded) until every note handed over before `desktop` was dropped is sent.
    pub async fn flush(self, desktop: Desktop) {
        drop(desktop);
        let _ = tokio::time::timeout(CALL_TIMEOUT * 2, self.task).await;
    }
}

/// Which notification on screen belongs to which key, both ways.
#[derive(Default)]
struct Ids {
    by_key: HashMap<String, u32>,
    by_id: HashMap<u32, String>,
    /// Re-authorize presses on ids not known yet: the signal can overtake the reply to our
    /// own `Notify` (seen on a loaded machine), so a press is kept until that reply names
    /// its id. Bounded: presses on other programs' notifications land here too.
    early: std::collections::VecDeque<u32>,
}

/// How many early presses are kept (the newest).
const EARLY_PRESSES: usize = 16;

impl Ids {
    fn forget(&mut self, id: u32) {
        if let Some(k) = self.by_id.remove(&id) {
            self.by_key.remove(&k);
        }
    }
}

async fn serve(
    proxy: NotificationsProxy<'static>,
    markup: bool,
    mut notes: mpsc::UnboundedReceiver<Note>,
    invoked: Option<ActionInvokedStream>,
    closed: Option<NotificationClosedStream>,
    press: mpsc::UnboundedSender<String>,
    _conn: zbus::Connection,
) {
    let ids = Arc::new(Mutex::new(Ids::default()));
    let early_press = press.clone();
    // Button presses and closings arrive as signals, for every client's notifications: only
    // ours (known ids) count.
    let listen = {
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut invoked = invoked.map(StreamExt::boxed);
            let mut closed = closed.map(StreamExt::boxed);
            loop {
                tokio::select! {
                    Some(s) = next(&mut invoked) => {
                        let Ok(a) = s.args() else { continue };
                        if a.action_key != REAUTHORIZE {
                            continue;
                        }
                        let key = {
                            let mut ids = ids.lock().unwrap_or_else(|e| e.into_inner());
                            let key = ids.by_id.get(&a.id).cloned();
                            if key.is_none() {
                                if ids.early.len() == EARLY_PRESSES {
                                    ids.early.pop_front();
                                }
                                ids.early.push_back(a.id);
                            }
                            key
                        };
                        if let Some(key) = key
                            && press.send(key).is_err()
                        {
                            return;
                        }
                    }
                    Some(s) = next(&mut closed) => {
                        if let Ok(a) = s.args() {
                            ids.lock().unwrap_or_else(|e| e.into_inner()).forget(a.id);
                        }
                    }
                    else => return,
                }
            }
        })
    };
    while let Some(note) = notes.recv().await {
        let replaces = ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(&note.key)
            .copied()
            .unwrap_or(0);
        let body = if markup {
            escape(&note.body)
        } else {
            note.body.clone()
        };
        let actions: &[&str] = if note.reauthorize {
            &[REAUTHORIZE, "Re-authorize"]
        } else {
            &[]
        };
        let mut hints = HashMap::new();
        hints.insert("urgency", zbus::zvariant::Value::U8(note.urgency as u8));
        let category = match note.urgency {
            Urgency::Low => "network.connected",
            _ => "network.error",
        };
        hints.insert("category", zbus::zvariant::Value::from(category));
        let call = proxy.notify(
            "connwatch",
            replaces,
            "",
            &note.summary,
            &body,
            actions,
            hints,
            -1,
        );
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(id)) => {
                let mut ids = ids.lock().unwrap_or_else(|e| e.into_inner());
                if replaces != 0 && replaces != id {
                    ids.forget(replaces);
                }
                ids.by_key.insert(note.key.clone(), id);
                // A press that overtook this reply counts now.
                if let Some(i) = ids.early.iter().position(|e| *e == id) {
                    ids.early.remove(i);
                    if note.reauthorize {
                        let _ = early_press.send(note.key.clone());
                    }
                }
                ids.by_id.insert(id, note.key);
            }
            Ok(Err(e)) => tracing::warn!(key = %note.key, "desktop notification not shown: {e}"),
            Err(_) => {
                tracing::warn!(key = %note.key, "desktop notification not shown: the notification server did not answer in time")
            }
        }
    }
    listen.abort();
}

async fn next<S: futures_util::Stream + Unpin>(s: &mut Option<S>) -> Option<S::Item> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The body under the spec's markup rules: `&`, `<` and `>` as entities.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(state: ConnState) -> Notice {
        Notice {
            name: "team-calendar".into(),
            state,
            cause: Some("conditional_access".into()),
            code: Some("AADSTS53003".into()),
            action: Some("Sign in again: connwatch login team-calendar".into()),
            summary: Some("Blocked by Conditional Access.".into()),
            fix_by: Some(crate::diagnose::FixBy::User),
            who: Some("you".into()),
            sign_in_by: None,
        }
    }

    #[test]
    fn a_sign_in_needed_is_critical_with_the_button() {
        let n = Note::attention(&notice(ConnState::NeedsReauth), None);
        assert_eq!(n.summary, "team-calendar needs a sign-in");
        assert_eq!(
            n.body,
            "conditional_access (AADSTS53003)\nSign in again: connwatch login team-calendar"
        );
        assert_eq!(n.urgency, Urgency::Critical);
        assert!(n.reauthorize);
    }

    #[test]
    fn other_trouble_has_no_button() {
        let n = Note::attention(
            &notice(ConnState::Misconfigured),
            Some("The email alert was not sent."),
        );
        assert!(!n.reauthorize);
        assert_eq!(n.urgency, Urgency::Normal);
        assert!(n.body.ends_with("\nThe email alert was not sent."));
    }

    #[test]
    fn a_blocked_connection_says_whom_to_ask_and_offers_no_button() {
        let mut n = notice(ConnState::Blocked);
        n.fix_by = Some(crate::diagnose::FixBy::Admin);
        n.who = Some("the admin of northwind.onmicrosoft.com".into());
        let note = Note::attention(&n, None);
        assert_eq!(
            note.summary,
            "team-calendar is blocked until the admin of northwind.onmicrosoft.com acts"
        );
        assert!(
            note.body
                .ends_with("\nWho can fix it: the admin of northwind.onmicrosoft.com")
        );
        assert!(!note.reauthorize, "a sign-in does not lift a block");
    }

    #[test]
    fn follow_ups_replace_by_key() {
        let d = Note::sign_in_started("cal", "https://idp/device", "ABCD-EFGH");
        assert_eq!(d.key, "cal");
        assert!(d.body.contains("ABCD-EFGH") && d.body.contains("https://idp/device"));
        let b = Note::sign_in_started("cal", "https://idp/authorize?x=1", "");
        assert!(b.summary.contains("browser"));
        assert_eq!(Note::recovered("cal", true).key, "cal");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("a < b & c > d"), "a &lt; b &amp; c &gt; d");
    }
}
