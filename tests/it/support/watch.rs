//! Running `connwatch watch` in tests: a child killed on drop, signals, `/metrics` polled until
//! it shows something (bounded), `promtool check metrics`, and the lines a `notify_command`
//! wrote. Shared by the demo-IdP suite (`cli_watch`) and the oidc-provider interop suite.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A top-level `notify_command` that appends each notice's environment to `log` as one line:
/// `NAME|STATE|CAUSE|CODE|ACTION`.
pub fn notify_command_line(log: &std::path::Path) -> String {
    let line = "echo \"$CONNWATCH_NAME|$CONNWATCH_STATE|$CONNWATCH_CAUSE|$CONNWATCH_CODE|$CONNWATCH_ACTION\" >> \"$0\"";
    format!(
        "notify_command = [\"sh\", \"-c\", {line:?}, {:?}]\n",
        log.display().to_string()
    )
}

pub fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The notes file once it has `n` lines (bounded), or what it has then.
pub async fn wait_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while lines_of(path).len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A moment more, so that an extra (wrong) line would show.
    tokio::time::sleep(Duration::from_millis(100)).await;
    lines_of(path)
}

pub struct Running {
    pub child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn get(url: &str) -> Option<(u16, String)> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let code = r.status().as_u16();
    Some((code, r.text().await.ok()?))
}

/// `/metrics` until `pick` accepts it (bounded).
pub async fn metrics_until(port: u16, what: &str, pick: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some((200, body)) = get(&format!("http://127.0.0.1:{port}/metrics")).await
            && pick(&body)
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} in /metrics"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// `promtool check metrics` (Debian's prometheus package) on what /metrics served.
pub fn promtool_check(body: &str) {
    use std::io::Write;
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
            "CONNWATCH_REQUIRE_SUITES is set but promtool is not installed (apt-get install -y prometheus)"
        );
        eprintln!(
            "promtool: NOT FOUND — skipping `promtool check metrics` (apt-get install -y prometheus)"
        );
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
