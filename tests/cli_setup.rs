//! Setup helpers: `init`, `completions`, `man`.
use assert_cmd::Command;

fn connwatch() -> Command {
    let mut c = Command::cargo_bin("connwatch").unwrap();
    c.env_remove("CONNWATCH_CONFIG").env("NO_COLOR", "1");
    c
}

#[test]
fn init_writes_a_template_that_checks_clean_and_never_overwrites_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("config.toml");
    let out = connwatch()
        .arg("--config")
        .arg(&path)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("offline_access") && text.contains("Never put secrets"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The template is a valid config as written.
    let chk = connwatch()
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(
        chk.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&chk.stderr)
    );

    // A config of the user's own is never replaced without --force.
    std::fs::write(&path, "# mine\n").unwrap();
    let again = connwatch()
        .arg("--config")
        .arg(&path)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    let forced = connwatch()
        .arg("--config")
        .arg(&path)
        .args(["init", "--force"])
        .output()
        .unwrap();
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn every_template_connection_is_valid_once_uncommented() {
    // Uncommenting the example blocks must give a config that passes validation, so the
    // template never teaches a key that does not exist.
    let template = include_str!("../assets/config.template.toml");
    let mut text = String::new();
    for line in template.lines() {
        let t = line.strip_prefix("# ").unwrap_or(line);
        let is_toml = t.starts_with("[[connection]]")
            || t.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
        if is_toml && !t.starts_with("data_dir") {
            text.push_str(t);
            text.push('\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).unwrap();
    let chk = connwatch()
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&chk.stdout);
    assert_eq!(
        chk.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&chk.stderr)
    );
    assert!(stdout.contains("3 connection(s)"), "{stdout}");
}

#[test]
fn completions_for_each_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = connwatch().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in [
            "status", "check", "token", "login", "refresh", "purge", "explain", "decode",
        ] {
            assert!(text.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    let bad = connwatch().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_come_from_the_command_line_definitions() {
    let out = connwatch().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH connwatch 1"), "{page}");
    assert!(page.contains("status") && page.contains("login"));
    let login = connwatch().args(["man", "login"]).output().unwrap();
    let page = String::from_utf8_lossy(&login.stdout);
    assert!(
        page.contains(".TH connwatch\\-login 1") || page.contains(".TH connwatch-login 1"),
        "{page}"
    );
    assert!(page.contains("device"));
    assert_eq!(
        connwatch()
            .args(["man", "nope"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}
