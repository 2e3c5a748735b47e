//! Telling someone a connection needs attention: when (once per episode — it starts when a
//! connection goes bad and ends when it is connected again) and how (`notify_command`). Below
//! both the dashboard (`app`, `tui`) and `watch`, so neither imports the other. No token ever
//! goes into a notice.
pub mod desktop;

use std::collections::HashSet;

use crate::connection::ConnState;
use crate::worker::ConnectionView;

/// One connection that needs attention, with what a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub name: String,
    pub state: ConnState,
    pub cause: Option<String>,
    /// The provider's or server's own code (`AADSTS53003`, `535 5.7.139`).
    pub code: Option<String>,
    /// The diagnosis' action, with how to sign in when that is the fix.
    pub action: Option<String>,
    /// The diagnosis in plain words.
    pub summary: Option<String>,
    /// Who can fix it (the diagnosis' `fix_by`).
    pub fix_by: Option<crate::diagnose::FixBy>,
    /// The same in words, with the tenant when known: "the admin of fabrikam.onmicrosoft.com".
    pub who: Option<String>,
    /// A forecast, not a failure: sign in before this instant (`Notice::forecast`).
    pub sign_in_by: Option<jiff::Timestamp>,
}

impl Notice {
    pub fn of(view: &ConnectionView) -> Notice {
        // Notices go to desktops, notifier commands' environment and mail: outside text in
        // them is defused (crate::sanitize).
        let error = view.last_error.as_ref().map(|d| d.for_display());
        Notice {
            name: view.name.clone(),
            state: view.state,
            cause: error.as_ref().map(|d| d.cause.to_string()),
            code: error.as_ref().and_then(|d| d.code.clone()),
            action: error.as_ref().map(|d| d.action_for(&view.name)),
            summary: error.as_ref().map(|d| d.summary_with_words()),
            fix_by: view.last_error.as_ref().map(|d| d.fix_by),
            who: view
                .last_error
                .as_ref()
                .map(|d| d.fix_by.who(view.realm.as_deref())),
            sign_in_by: None,
        }
    }

    /// Ahead of a forecast sign-in: the connection still works, and will stop at `by` unless
    /// someone signs in (`crate::forecast`).
    pub fn forecast(view: &ConnectionView, by: jiff::Timestamp, reason: &str) -> Notice {
        let at = by.strftime("%H:%M UTC");
        Notice {
            name: view.name.clone(),
            state: view.state,
            cause: Some("sign_in_forecast".into()),
            code: None,
            action: Some(format!(
                "Sign in before {at} so {} does not drop (press a in the dashboard, or run: connwatch login {}).",
                view.name, view.name
            )),
            summary: Some(format!("{reason}; the next sign-in is due at {at}.")),
            fix_by: Some(crate::diagnose::FixBy::User),
            who: Some("you".into()),
            sign_in_by: Some(by),
        }
    }
}

impl Notice {
    /// The subject of an email alert: `[connwatch] team-calendar needs a sign-in`.
    pub fn subject(&self) -> String {
        format!("[connwatch] {}", self.headline())
    }

    /// What happened, in a few words: `team-calendar needs a sign-in`.
    pub fn headline(&self) -> String {
        if let Some(by) = self.sign_in_by {
            return format!(
                "{} needs a sign-in before {}",
                self.name,
                by.strftime("%H:%M UTC")
            );
        }
        let what = match self.state {
            ConnState::NeedsReauth => "needs a sign-in",
            ConnState::Blocked => {
                let who = match (self.fix_by, &self.who) {
                    (Some(f), Some(w)) if f.is_someone_else() => w.as_str(),
                    _ => "someone else",
                };
                return format!("{} is blocked until {who} acts", self.name);
            }
            ConnState::Misconfigured => "cannot work as configured",
            ConnState::Disconnected => "cannot renew its token",
            ConnState::Connected => "is connected again",
            ConnState::SignedOut => "is signed out",
            ConnState::Authorizing | ConnState::Refreshing => "is busy",
        };
        format!("{} {what}", self.name)
    }

    /// The text of an email alert: the diagnosis and the command or key that fixes it.
    pub fn body(&self) -> String {
        let mut out = format!("Connection: {}\nState: {}\n", self.name, self.state);
        if let Some(c) = &self.cause {
            let code = self
                .code
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            out.push_str(&format!("Cause: {c}{code}\n"));
        }
        if let Some(s) = &self.summary {
            out.push_str(&format!("\n{s}\n"));
        }
        if let Some(a) = &self.action {
            out.push_str(&format!("\nWhat to do: {a}\n"));
        }
        if let Some(w) = &self.who {
            out.push_str(&format!("Who can fix it: {w}\n"));
        }
        out.push_str(&format!("\nDetails: connwatch status {}\n", self.name));
        out
    }
}

/// States a person must do something about.
pub fn needs_attention(state: ConnState) -> bool {
    state.needs_attention()
}

/// Which connections are in an episode.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Episodes {
    open: HashSet<String>,
}

impl Episodes {
    /// Observe a connection's new state. `Some(true)`: an episode starts (notify);
    /// `Some(false)`: it ended (the connection is connected again); `None`: nothing new.
    /// `announce` is false for a connection already bad when first seen: the episode opens
    /// silently (the dashboard shows it; `watch` passes true to say it once at start-up).
    pub fn observe(&mut self, name: &str, state: ConnState, announce: bool) -> Option<bool> {
        if needs_attention(state) {
            (self.open.insert(name.to_owned()) && announce).then_some(true)
        } else if state == ConnState::Connected {
            self.open.remove(name).then_some(false)
        } else {
            None
        }
    }

    pub fn is_open(&self, name: &str) -> bool {
        self.open.contains(name)
    }
}

/// At most this many `notify_command` children run at once; more notices wait their turn
/// (200 alerts at once once started 138 notifiers in parallel).
pub const MAX_NOTIFIERS: usize = 4;

/// The variables a notifier inherits from connwatch's own environment: what a desktop or
/// mail notifier needs to find the session, the user and the locale. Nothing else passes (a
/// secret in connwatch's environment stays there).
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
];

/// The part of `parent` a notifier inherits: the names in `INHERITED` and the locale's
/// `LC_*`. Pure, so the rule is tested without touching the process environment.
pub fn inherited_env(
    parent: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    parent
        .into_iter()
        .filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| INHERITED.contains(&k) || k.starts_with("LC_"))
        })
        .collect()
}

/// Notifier commands waiting for a slot; how many run; how many were taken from the queue
/// and are being started (so `flush` does not see an empty queue too early).
struct Queue {
    waiting: std::collections::VecDeque<std::process::Command>,
    running: usize,
    starting: usize,
}

static QUEUE: std::sync::Mutex<Queue> = std::sync::Mutex::new(Queue {
    waiting: std::collections::VecDeque::new(),
    running: 0,
    starting: 0,
});

/// The most notices waiting for a slot; past it the oldest is dropped (and logged): four
/// notifiers that never end must not make the queue grow without bound.
const MAX_WAITING: usize = 1000;

/// A notifier still running after this is killed, so a hung one cannot hold its slot.
const NOTIFIER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn queue() -> std::sync::MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Start a notifier now when fewer than `MAX_NOTIFIERS` run (so a process that exits
/// right after, like `watch --once`, has started it), else queue it. A thread waits for each
/// running one and then starts the next queued. Nobody waits for a notifier.
fn enqueue(c: std::process::Command) {
    let mut q = queue();
    if q.running >= MAX_NOTIFIERS {
        if q.waiting.len() >= MAX_WAITING
            && let Some(old) = q.waiting.pop_front()
        {
            tracing::warn!(
                "notify_command {:?}: {MAX_WAITING} notices waiting; the oldest was dropped",
                old.get_program()
            );
        }
        q.waiting.push_back(c);
        return;
    }
    q.running += 1;
    drop(q);
    run_from(c);
}

/// Run `c`, then the queued ones one by one, on a reaper thread; give the slot back when
/// the queue is empty.
fn run_from(mut c: std::process::Command) {
    let child = start(&mut c);
    std::thread::spawn(move || {
        if let Some(child) = child {
            reap(child);
        }
        loop {
            let next = {
                let mut q = queue();
                let next = q.waiting.pop_front();
                match next {
                    Some(_) => q.starting += 1,
                    None => q.running -= 1,
                }
                next
            };
            let Some(mut c) = next else { return };
            let child = start(&mut c);
            queue().starting -= 1;
            if let Some(child) = child {
                reap(child);
            }
        }
    });
}

fn start(c: &mut std::process::Command) -> Option<std::process::Child> {
    c.spawn()
        .map_err(|e| tracing::warn!("notify_command {:?} failed to start: {e}", c.get_program()))
        .ok()
}

/// Wait for a notifier, killing it after `NOTIFIER_TIMEOUT`.
fn reap(mut child: std::process::Child) {
    let deadline = std::time::Instant::now() + NOTIFIER_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if std::time::Instant::now() >= deadline => {
                tracing::warn!(
                    "notify_command (pid {}) still running after {} s: killed",
                    child.id(),
                    NOTIFIER_TIMEOUT.as_secs()
                );
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// Wait (up to `within`) until every queued notifier has been started: for a process about
/// to exit (`watch --once`), so no notice is lost in the queue.
pub fn flush(within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let pending = {
            let q = queue();
            !q.waiting.is_empty() || q.starting > 0
        };
        if !pending || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Run `notify_command` for one notice without waiting for it (queued; at most
/// `MAX_NOTIFIERS` at once). Its environment: CONNWATCH_NAME, _STATE, _CAUSE, _CODE,
/// _FIX_BY, _ACTION and, when a sign-in page is known, _URL — never a token — plus the few
/// variables of `INHERITED`; nothing else of connwatch's environment.
pub fn run_command(cmd: &[String], n: &Notice, url: Option<&str>) {
    let Some((program, args)) = cmd.split_first() else {
        return;
    };
    let mut c = std::process::Command::new(program);
    c.env_clear()
        .envs(inherited_env(std::env::vars_os()))
        .args(args)
        .env("CONNWATCH_NAME", &n.name)
        .env("CONNWATCH_STATE", n.state.as_str())
        .env("CONNWATCH_CAUSE", n.cause.as_deref().unwrap_or(""))
        .env("CONNWATCH_CODE", n.code.as_deref().unwrap_or(""))
        .env("CONNWATCH_FIX_BY", n.fix_by.map_or("", |f| f.as_str()))
        .env(
            "CONNWATCH_SIGN_IN_BY",
            n.sign_in_by.map(|t| t.to_string()).unwrap_or_default(),
        )
        .env("CONNWATCH_ACTION", n.action.as_deref().unwrap_or(""))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(u) = url {
        c.env("CONNWATCH_URL", u);
    }
    enqueue(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notifier_inherits_only_the_session_the_user_and_the_locale() {
        let parent = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/a"),
            ("LC_TIME", "de_DE.UTF-8"),
            ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
            ("GITHUB_TOKEN", "ghp_secret"),
            ("CONNWATCH_CLIENT_SECRET", "s3cret"),
            ("AWS_SECRET_ACCESS_KEY", "k"),
            ("LD_PRELOAD", "/tmp/evil.so"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let mut got: Vec<String> = inherited_env(parent)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, ["DBUS_SESSION_BUS_ADDRESS", "HOME", "LC_TIME", "PATH"]);
    }

    /// 40 notices at once: every notifier runs, never more than MAX_NOTIFIERS at a time.
    #[test]
    fn notifiers_are_bounded_and_all_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // Each notifier appends "+" when it starts and "-" when it ends.
        let script = "echo + >> \"$0\"; sleep 0.05; echo - >> \"$0\"";
        let cmd: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            log.display().to_string(),
        ];
        let n = Notice {
            name: "a".into(),
            state: ConnState::NeedsReauth,
            cause: None,
            code: None,
            action: None,
            summary: None,
            fix_by: None,
            who: None,
            sign_in_by: None,
        };
        for _ in 0..40 {
            run_command(&cmd, &n, None);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let lines = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 80 || std::time::Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let (mut now, mut peak, mut started) = (0i32, 0i32, 0);
        for l in lines.lines() {
            if l == "+" {
                now += 1;
                started += 1;
                peak = peak.max(now);
            } else {
                now -= 1;
            }
        }
        assert_eq!(started, 40, "every notifier ran");
        assert!(peak as usize <= MAX_NOTIFIERS, "{peak} at once");
    }

    #[test]
    fn one_notice_per_episode() {
        let mut e = Episodes::default();
        assert_eq!(e.observe("a", ConnState::Connected, true), None);
        assert_eq!(e.observe("a", ConnState::NeedsReauth, true), Some(true));
        assert_eq!(e.observe("a", ConnState::Misconfigured, true), None);
        assert_eq!(e.observe("a", ConnState::Refreshing, true), None);
        assert_eq!(e.observe("a", ConnState::Connected, true), Some(false));
        assert_eq!(e.observe("a", ConnState::Disconnected, true), Some(true));
        // Already bad when first seen, not announced: silent, but the episode is open.
        assert_eq!(e.observe("b", ConnState::NeedsReauth, false), None);
        assert!(e.is_open("b"));
        assert_eq!(e.observe("b", ConnState::NeedsReauth, true), None);
    }
}
