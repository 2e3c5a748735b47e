//! `connwatch login NAME --browser` driven as a person would: the page it prints on stderr
//! is read back, the test plays the browser, and for a paste-back redirect the final address
//! (or whatever the test wants to paste) goes to its stdin. stderr is read to the end, never
//! closed under the login.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

pub struct PasteLogin {
    child: Child,
    lines: Lines<BufReader<ChildStderr>>,
    /// The authorization URL the login printed (`open: …`).
    pub url: String,
}

/// Start `cmd` (a `login --browser`) with piped stdio and wait for the page it prints.
pub async fn spawn(mut cmd: Command) -> PasteLogin {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            if let Some(url) = line.unwrap().trim().strip_prefix("open: ") {
                return (url.to_owned(), lines);
            }
        }
        panic!("no URL on stderr");
    });
    let (url, lines) = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("login prints the page to open")
        .unwrap();
    PasteLogin { child, lines, url }
}

impl PasteLogin {
    /// Paste each of `pastes` as a line, close stdin and wait (at most `within`) for the
    /// login to end: (exit code, stdout, the rest of stderr).
    pub async fn paste(mut self, pastes: &[String], within: Duration) -> (i32, String, String) {
        let mut stdin = self.child.stdin.take().unwrap();
        for p in pastes {
            writeln!(stdin, "{p}").unwrap();
        }
        drop(stdin);
        let (child, lines) = (self.child, self.lines);
        let out = tokio::task::spawn_blocking(move || {
            let rest: Vec<String> = lines.map_while(Result::ok).collect();
            (child.wait_with_output().unwrap(), rest.join("\n"))
        });
        let (out, rest) = tokio::time::timeout(within, out)
            .await
            .expect("login ends once stdin is closed")
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            rest,
        )
    }
}

impl PasteLogin {
    /// Nothing to paste (a loopback redirect): close stdin and wait for the end.
    pub async fn finish(self, within: Duration) -> (i32, String, String) {
        self.paste(&[], within).await
    }
}

/// A client that stops at the first redirect, to read its Location as a browser's address
/// bar would show it.
pub fn no_follow() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}
