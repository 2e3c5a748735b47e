//! A real terminal for tests: a private tmux server with a plain shell, keys sent to it and
//! its screen read back with `capture-pane`. `Tmux::start` is `None` (with a message) when
//! tmux is not installed; `.ci/run` installs it, so CI never skips.
#![allow(dead_code)] // each test file uses its own part

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
                "CONNWATCH_REQUIRE_SUITES is set but tmux is not installed (apt-get install -y tmux)"
            );
            eprintln!("tmux not installed: skipping the real-terminal test");
            return None;
        }
        let t = Tmux {
            socket: format!("connwatch-test-{}-{name}", std::process::id()),
        };
        // A plain shell with a fixed prompt, 120×32, no user config.
        let ok = t
            .cmd(&[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "32",
                "-s",
                "t",
            ])
            .env("PS1", "$ ")
            .env("ENV", "/dev/null")
            .arg("sh")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux could not start");
        Some(t)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).args(args);
        c
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().unwrap().success());
    }

    /// Type text literally (no key-name lookup).
    pub fn text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "t", "-l", text])
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn display(&self, format: &str) -> String {
        let out = self
            .cmd(&["display", "-p", "-t", "t", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Poll the screen until `pred` holds (short waits, generous deadline).
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clear the screen and wait until the shell has done it (a line only the shell's echo
    /// prints), so nothing a program showed before can be read as what comes next.
    pub fn fresh_screen(&self, tag: &str) {
        self.text(&format!("clear; echo {tag}-ready"));
        self.keys(&["Enter"]);
        let mark = format!("{tag}-ready");
        self.wait(&mark, |s| s.lines().any(|l| l.trim() == mark));
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }

    /// The dashboard is gone and the shell's terminal is as it was: normal screen, line
    /// editing and echo on.
    pub fn assert_restored(&self, tag: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.display("#{alternate_on}") != "0" {
            assert!(
                Instant::now() < deadline,
                "{tag}: still on the alternate screen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.text(&format!("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo :{tag}-done"));
        self.keys(&["Enter"]);
        // The answer line, not the echoed command line (which also ends with the tag).
        let answer =
            |l: &str| l.trim_end().ends_with(&format!(":{tag}-done")) && !l.contains("stty");
        let s = self.wait(tag, |s| s.lines().any(answer));
        let line = s.lines().find(|l| answer(l)).unwrap_or_default().to_owned();
        assert!(
            line.contains("icanon")
                && !line.contains("-icanon")
                && line.contains("echo")
                && !line.contains("-echo"),
            "{tag}: terminal modes not restored: {line:?}\n{s}"
        );
    }

    pub fn start_demo(&self) {
        self.text(&format!("clear; {} demo", env!("CARGO_BIN_EXE_connwatch")));
        self.keys(&["Enter"]);
        self.wait("the dashboard", |s| {
            s.contains("work-mail") && s.contains("legacy-mail")
        });
    }

    /// The pid of the dashboard (the shell's child).
    pub fn dashboard_pid(&self) -> String {
        let shell = self.display("#{pane_pid}");
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}
