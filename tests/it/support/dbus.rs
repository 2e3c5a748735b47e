//! A real, private D-Bus session bus (`dbus-daemon`, Debian package `dbus-daemon`) and a test
//! notification server registered on it as `org.freedesktop.Notifications`: it records every
//! `Notify` call and emits `ActionInvoked` when the test presses a button.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

/// `dbus-daemon --session` on a socket in `dir`, stopped on drop. `None` (said loudly) when
/// the program is missing and CONNWATCH_REQUIRE_SUITES is not set.
pub struct SessionBus {
    child: Child,
    pub address: String,
}

impl SessionBus {
    pub fn start(dir: &Path) -> Option<SessionBus> {
        let socket = dir.join("bus");
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else {
            assert!(
                std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
                "CONNWATCH_REQUIRE_SUITES is set but dbus-daemon is not installed (apt-get install -y dbus-daemon)"
            );
            eprintln!(
                "dbus-daemon: NOT FOUND — skipping the desktop notification test (apt-get install -y dbus-daemon)"
            );
            return None;
        };
        // The daemon prints its address once it listens.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon said {line:?}");
        Some(SessionBus {
            child,
            address: line.trim().to_owned(),
        })
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `Notify` call as the server received it.
#[derive(Debug, Clone)]
pub struct Notified {
    pub id: u32,
    pub app_name: String,
    pub replaces_id: u32,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub urgency: Option<u8>,
}

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Notified>>,
    next_id: Mutex<u32>,
}

struct Server(Arc<Recorder>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            let mut n = self.0.next_id.lock().unwrap();
            *n += 1;
            *n
        };
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        self.0.calls.lock().unwrap().push(Notified {
            id,
            app_name,
            replaces_id,
            summary,
            body,
            actions,
            urgency,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "connwatch-test".into(),
            "connwatch".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// The test notification server, registered on a bus.
pub struct NotificationServer {
    conn: zbus::Connection,
    rec: Arc<Recorder>,
}

const PATH: &str = "/org/freedesktop/Notifications";

impl NotificationServer {
    pub async fn register(address: &str) -> NotificationServer {
        let rec = Arc::new(Recorder::default());
        let conn = zbus::connection::Builder::address(address)
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at(PATH, Server(rec.clone()))
            .unwrap()
            .build()
            .await
            .unwrap();
        NotificationServer { conn, rec }
    }

    pub fn calls(&self) -> Vec<Notified> {
        self.rec.calls.lock().unwrap().clone()
    }

    /// The first call `pick` accepts, waiting up to `within`.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pick: impl Fn(&Notified) -> bool,
    ) -> Notified {
        let deadline = Instant::now() + within;
        loop {
            if let Some(n) = self.calls().into_iter().find(|n| pick(n)) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "no notification {what}; got {:#?}",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Press Re-authorize on `alert` (connection `name`) and wait for the notification that
    /// replaces it with the device code; that notification and the code.
    pub async fn reauthorize(
        &self,
        alert: &Notified,
        name: &str,
        within: Duration,
    ) -> (Notified, String) {
        self.invoke(alert.id, "reauthorize").await;
        let prefix = format!("{name}: sign in with code ");
        let shown = self
            .wait_for("with the device code", within, |n| {
                n.replaces_id == alert.id && n.summary.starts_with(&prefix)
            })
            .await;
        let code = shown.summary[prefix.len()..].to_owned();
        (shown, code)
    }

    /// Press the button `key` of notification `id`, as a desktop does.
    pub async fn invoke(&self, id: u32, key: &str) {
        let iface = self
            .conn
            .object_server()
            .interface::<_, Server>(PATH)
            .await
            .unwrap();
        Server::action_invoked(iface.signal_emitter(), id, key)
            .await
            .unwrap();
    }
}
