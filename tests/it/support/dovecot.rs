//! A real Dovecot 2.3 for the mail-probe tests and benchmarks (Debian's dovecot-imapd,
//! -pop3d, -submissiond): started in a temp dir on free 127.0.0.1 ports, its oauth2 passdb
//! asking an introspection URL about each token. Shared by tests/it/interop/dovecot.rs and
//! benches/probe.rs. On a machine without Dovecot `have_dovecot` says so loudly and callers
//! skip, unless CONNWATCH_REQUIRE_SUITES is set (CI), where a missing Dovecot fails.
#![allow(dead_code)]
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn have_dovecot() -> bool {
    let found = Command::new("dovecot")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
            "CONNWATCH_REQUIRE_SUITES is set but dovecot is not installed (apt-get install -y dovecot-imapd dovecot-pop3d dovecot-submissiond)"
        );
        eprintln!(
            "dovecot: NOT FOUND — skipping the real-mail-server tests (apt-get install -y dovecot-imapd dovecot-pop3d dovecot-submissiond)"
        );
    }
    found
}

/// A free port on 127.0.0.1 (bound, read, released: Dovecot's `port = 0` disables a listener).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where Dovecot's submission service relays accepted mail: a minimal SMTP sink (Dovecot
/// connects to it when a client connects, before AUTH).
/// Messages the sink received, each as its DATA text.
pub type Relayed = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn smtp_sink() -> (u16, Relayed) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let relayed: Relayed = Default::default();
    let keep = relayed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let _ = w.write_all(b"220 sink ESMTP\r\n");
                let mut data: Option<String> = None;
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(d) = &mut data {
                        if line.trim_end() == "." {
                            keep.lock().unwrap().push(std::mem::take(d));
                            data = None;
                            let _ = w.write_all(b"250 2.0.0 queued\r\n");
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    if w.write_all(reply).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, relayed)
}

pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    pub imap: u16,
    pub submission: u16,
    pub pop3: u16,
    pub imaps: u16,
    /// What Dovecot's submission service relayed (accepted mail).
    pub relayed: Relayed,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dovecot {
    /// Put `message` in `user`'s INBOX as a delivery agent would (a new maildir file): what
    /// the submission service relayed, delivered back.
    pub fn deliver(&self, user: &str, message: &str) {
        use std::os::unix::fs::PermissionsExt;
        let root = self.dir.path().join("mail").join(user);
        for sub in ["cur", "new", "tmp"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = root.join("new").join(format!("{n}.connwatch-test"));
        std::fs::write(&path, message).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

/// Start Dovecot judging tokens at `introspection_url` (Dovecot's oauth2 passdb, introspection
/// mode `auth`: it sends the token as a bearer token there); with `tls` (cert, key) it
/// requires TLS: STARTTLS on the plain listeners, implicit TLS on `imaps`.
pub fn start(introspection_url: &str, tls: Option<(&Path, &Path)>) -> Dovecot {
    start_attempt(introspection_url, tls, 1)
}

/// One try. Ports are found free and then handed to Dovecot, so another server started
/// meanwhile (suites run in parallel) can take one first: Dovecot then cannot bind and
/// exits. That is retried with new ports, twice at most.
fn start_attempt(introspection_url: &str, tls: Option<(&Path, &Path)>, attempt: u32) -> Dovecot {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Dovecot's unprivileged processes (dovenull, nobody) must reach the sockets and mail.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (imap, submission, pop3, imaps) = (free_port(), free_port(), free_port(), free_port());
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("oauth2.conf.ext"),
        format!(
            "introspection_mode = auth\nintrospection_url = {introspection_url}\nusername_attribute = sub\nactive_attribute = active\nactive_value = true\nforce_introspection = yes\n"
        ),
    )
    .unwrap();
    let ssl = match tls {
        Some((cert, key)) => format!(
            "ssl = required\nssl_cert = <{}\nssl_key = <{}\n",
            cert.display(),
            key.display()
        ),
        None => "ssl = no\n".to_owned(),
    };
    let imaps_port = if tls.is_some() { imaps } else { 0 };
    let (relay_port, relayed) = smtp_sink();
    let conf = format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
instance_name = connwatch-test-{imap}
listen = 127.0.0.1
protocols = imap pop3 submission
{ssl}disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
# Dovecot delays every failure by 2 s; the tests do not need to wait for that.
auth_failure_delay = 0
# And anvil's per-IP penalty grows each failure from 127.0.0.1 to 2, 4, 8, 15 s: a suite that
# fails on purpose would wait longer each time (mail clients hit their 5 s bound). Turned
# off the documented way (doc.dovecot.org, "Authentication penalty support").
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
log_path = {d}/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{d}/mail/%u
submission_relay_host = 127.0.0.1
submission_relay_port = {relay}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission}
  }}
}}
"#,
        relay = relay_port,
    );
    let conf_path = dir.path().join("dovecot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("dovecot")
        .arg("-F")
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut dovecot = Dovecot {
        child,
        dir,
        imap,
        submission,
        pop3,
        imaps,
        relayed,
    };
    // Ready when every listener answers (bounded).
    let deadline = Instant::now() + Duration::from_secs(15);
    for port in [imap, submission, pop3] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = dovecot.log();
            // The master exits when a listener cannot bind (it says so in its log).
            let exited = dovecot.child.try_wait().ok().flatten().is_some();
            if attempt < 3 && (exited || log.contains("Address already in use")) {
                drop(dovecot);
                return start_attempt(introspection_url, tls, attempt + 1);
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not listen on {port}: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    dovecot
}
