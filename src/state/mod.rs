//! One connection's state, decided in one place by one rule for every process: the
//! dashboard's worker, `watch`, `status` in every format, `check`, `/metrics`, `probe`,
//! `token` and `refresh` (ARCHITECTURE.md, State). Pure: no I/O, no clock of its own.
//!
//! [`Facts`] are what the store holds about a connection (its tokens, reduced to times and
//! flags, and its status record); [`machine::step`] moves them on by one event; [`decide`]
//! says what they mean at a given moment.
pub mod machine;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connection::ConnState;
use crate::diagnose::{self, Diagnosis};

/// What a connection's tokens say, without the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFacts {
    pub obtained_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub has_refresh_token: bool,
}

/// Work in flight on a connection, recorded with the process doing it: a reader shows it
/// beside the last verdict, and ignores it once that process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub kind: ActivityKind,
    pub pid: u32,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    SignIn,
    Refresh,
    Probe,
}

impl Activity {
    /// "sign-in in progress (pid 4242)".
    pub fn describe(&self) -> String {
        let what = match self.kind {
            ActivityKind::SignIn => "sign-in",
            ActivityKind::Refresh => "refresh",
            ActivityKind::Probe => "probe",
        };
        format!("{what} in progress (pid {})", self.pid)
    }
}

/// Everything the state is decided from. The worker holds these in memory; `status` reads
/// them from the token file and the status record; both call [`decide`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub tokens: Option<TokenFacts>,
    /// The token file exists but cannot be used (unreadable, corrupt): why.
    pub store_problem: Option<String>,
    /// The last verdict recorded: `connected`, `disconnected` (the last try failed
    /// transiently), a refusal (`needs_reauth`, `blocked`, `misconfigured`) or `signed_out`.
    pub verdict: Verdict,
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub failures: u64,
    pub activity: Option<Activity>,
    /// When a step last changed the verdict or the error on record: of two records of one
    /// connection (two processes), the later says how things stand.
    pub changed_at: Option<Timestamp>,
}

/// A recorded verdict: a [`ConnState`] that is never `authorizing` or `refreshing` (those
/// are activities, beside the verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict(ConnState);

impl Default for Verdict {
    fn default() -> Self {
        Verdict(ConnState::SignedOut)
    }
}

impl Verdict {
    /// Records written before activities were kept apart said `authorizing` or
    /// `refreshing`: those name no verdict, and read as `connected` (the tokens decide).
    pub fn of(state: ConnState) -> Verdict {
        match state {
            ConnState::Authorizing | ConnState::Refreshing => Verdict(ConnState::Connected),
            s => Verdict(s),
        }
    }

    pub fn state(self) -> ConnState {
        self.0
    }

    /// Only someone's action lifts it (a sign-in, an admin, a config fix).
    pub fn is_refusal(self) -> bool {
        self.0.waits_for_someone()
    }
}

/// What the connection needs from its config to explain itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The connection asks for `offline_access` (whether a missing refresh token is ours).
    pub asks_offline_access: bool,
    /// What to say about holding no refresh token (config::Connection::no_refresh_token_note).
    pub no_refresh_token_note: &'a str,
}

/// The state at one moment, and what goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub state: ConnState,
    /// Why, when no provider's error says it; an activity in progress is named first.
    pub note: Option<String>,
    /// The failure that describes the current tokens (none once newer tokens came).
    pub last_error: Option<Diagnosis>,
    pub last_error_at: Option<Timestamp>,
    /// Work in flight by a live process.
    pub activity: Option<Activity>,
}

/// The one rule (DESIGN.md, "How a state is decided"):
/// - no tokens: `signed_out`, unless a sign-in was refused for a reason only someone else
///   (`blocked`) or the config (`misconfigured`) can lift;
/// - a refusal recorded about the current tokens (at or after they were obtained) stands;
/// - an expired access token is `needs_reauth` without a refresh token, else `disconnected`;
/// - otherwise `connected` (a transient failure is shown, but the token still works).
///
/// `alive` says whether a process still runs; an activity of a dead one is ignored, and so is
/// one older than any sign-in lasts (`limits::MAX_ACTIVITY_S`: the pid may be another
/// program's by now).
pub fn decide(f: &Facts, now: Timestamp, cx: Context<'_>, alive: &dyn Fn(u32) -> bool) -> Decided {
    let fresh =
        |a: &Activity| now.duration_since(a.since).as_secs() <= crate::limits::MAX_ACTIVITY_S;
    let activity = f.activity.filter(|a| fresh(a) && alive(a.pid));
    let mut d = Decided {
        state: ConnState::SignedOut,
        note: None,
        last_error: None,
        last_error_at: None,
        activity,
    };
    let mut note: Option<String> = None;
    if let Some(problem) = &f.store_problem {
        d.state = ConnState::Misconfigured;
        note = Some(problem.clone());
    } else if let Some(t) = f.tokens {
        let about_these = f.last_error_at.is_some_and(|at| at >= t.obtained_at);
        if about_these {
            d.last_error = f.last_error.clone();
            d.last_error_at = f.last_error_at;
        }
        let expired = t.expires_at.is_some_and(|e| e <= now);
        d.state = if about_these && f.verdict.is_refusal() {
            f.verdict.state()
        } else if expired && !t.has_refresh_token {
            if d.last_error.is_none() {
                d.last_error = Some(diagnose::no_refresh_token(cx.asks_offline_access));
                d.last_error_at = t.expires_at;
            }
            ConnState::NeedsReauth
        } else if expired {
            note = Some("access token expired; the next use renews it".into());
            ConnState::Disconnected
        } else {
            ConnState::Connected
        };
        if !t.has_refresh_token && note.is_none() {
            note = Some(cx.no_refresh_token_note.to_owned());
        }
    } else {
        d.last_error = f.last_error.clone();
        d.last_error_at = f.last_error_at;
        d.state = match f.verdict.state() {
            s @ (ConnState::Blocked | ConnState::Misconfigured) if f.last_error.is_some() => s,
            _ => {
                note = Some("not signed in".into());
                ConnState::SignedOut
            }
        };
    }
    d.note = match (activity, note) {
        (Some(a), Some(n)) => Some(format!("{}; {n}", a.describe())),
        (Some(a), None) => Some(a.describe()),
        (None, n) => n,
    };
    d
}

/// Whether process `pid` still runs (on this machine; a pid from elsewhere reads as gone
/// unless it happens to be taken here too).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests;
