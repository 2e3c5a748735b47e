//! The real binary in a real terminal: `connwatch demo` inside tmux, driven with keys, its
//! screen read back with `capture-pane`; then the terminal must be back to normal (alternate
//! screen left, canonical mode and echo restored) after `q`, SIGTERM and SIGINT.
//! Skips (with a message) when tmux is not installed.
#![cfg(unix)]

use crate::support::tmux;

use std::process::Command;

use tmux::Tmux;

#[test]
fn the_dashboard_in_a_real_terminal_answers_keys_and_restores_it() {
    let Some(t) = Tmux::start("keys") else { return };
    t.start_demo();

    t.text("?");
    t.wait_for("this help");
    t.keys(&["Escape"]);
    t.wait("help closed", |s| !s.contains("this help"));

    t.text("/team");
    let s = t.wait_for("1 of 5 connections shown");
    assert!(
        s.contains("team-calendar") && !s.contains("work-mail "),
        "{s}"
    );
    t.keys(&["Escape"]);
    t.wait_for("· 5 connections");

    // The filter left team-calendar selected: re-authorize it.
    t.text("a");
    t.wait_for("Sign in: team-calendar");
    t.wait_for("and enter the code");
    t.keys(&["Escape"]);
    t.wait_for("sign-in cancelled");

    t.text("q");
    t.assert_restored("after-q");
}

#[test]
fn sigterm_and_sigint_restore_the_terminal() {
    let Some(t) = Tmux::start("signals") else {
        return;
    };
    for (signal, tag) in [("TERM", "after-term"), ("INT", "after-int")] {
        t.start_demo();
        let pid = t.dashboard_pid();
        assert!(!pid.is_empty(), "the dashboard runs");
        assert!(
            Command::new("kill")
                .args(["-s", signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        t.assert_restored(tag);
    }
}
