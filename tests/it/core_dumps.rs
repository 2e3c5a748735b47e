//! A connwatch process holds tokens in memory, so it never leaves a core dump: a SIGQUIT once
//! left a 14 MB core with both tokens in it. Checked against a control: the same signal to a
//! plain `sleep` under the same limits does leave one, so the absence means something.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Run `cmd` in `dir` with core dumps allowed (soft limit raised to the hard one, SIGQUIT
/// at its default), wait until it has printed a line, SIGQUIT it; whether a core appeared.
fn core_after_sigquit(mut cmd: Command, dir: &Path) -> bool {
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls (getrlimit, setrlimit, signal) between fork and
    // exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_CORE, &mut l);
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_CORE, &l);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "the child printed nothing");
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGQUIT);
    }
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGQUIT), "{status:?}");
    std::fs::read_dir(dir)
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("core"))
}

#[test]
fn a_connwatch_process_leaves_no_core_dump() {
    let control_dir = tempfile::tempdir().unwrap();
    let mut control = Command::new("sh");
    control.args(["-c", "echo ready; exec sleep 30"]);
    if !core_after_sigquit(control, control_dir.path()) {
        let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
        assert!(
            std::env::var_os("CONNWATCH_REQUIRE_SUITES").is_none(),
            "CONNWATCH_REQUIRE_SUITES is set but this machine writes no core dumps for a plain process (core_pattern {pattern:?}), so the test cannot judge"
        );
        eprintln!(
            "core_dumps: this machine writes no core dumps (core_pattern {pattern:?}) — SKIPPING"
        );
        return;
    }
    // `demo serve` starts the demo IdP and signs connections in: tokens in memory. It prints
    // its config once it is serving.
    let dir = tempfile::tempdir().unwrap();
    let mut cw = Command::new(env!("CARGO_BIN_EXE_connwatch"));
    cw.args(["demo", "serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("HOME", dir.path());
    let dumped = core_after_sigquit(cw, dir.path());
    assert!(!dumped, "connwatch left a core dump");
}
