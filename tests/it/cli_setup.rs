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
    let template = include_str!("../../assets/config.template.toml");
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

/// With the platform layout (XDG data and state dirs), every directory connwatch owns is
/// 0700 — the `connwatch` directories themselves included, and one an older version left
/// 0755 is tightened — and every file in them (tokens, status, lock, logs) is 0600.
#[cfg(unix)]
#[test]
fn every_connwatch_directory_is_private_and_every_file_0600() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let state = home.path().join("state");
    let old = data.join("connwatch");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[connection]]\nname = \"mail\"\nprovider = \"entra\"\ntenant = \"contoso.onmicrosoft.com\"\nauthority_host = \"http://127.0.0.1:9\"\nclient_id = \"8f1c2d3e-0000-4000-8000-00000000c0de\"\naccount = \"alice@contoso.com\"\nscopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\"]\n",
    )
    .unwrap();
    let out = connwatch()
        .arg("--config")
        .arg(&cfg)
        .args(["watch", "--once"])
        .env("XDG_DATA_HOME", &data)
        .env("XDG_STATE_HOME", &state)
        .env("HOME", home.path())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/connwatch-test-bus",
        )
        .env_remove("CONNWATCH_DATA_DIR")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dirs, files) =
        crate::common::assert_private_tree(&[data.join("connwatch"), state.join("connwatch")]);
    assert!(dirs >= 3, "the data and state roots and the logs: {dirs}");
    assert!(files >= 2, "the lock and a log file at least: {files}");
    assert!(
        std::fs::read_dir(state.join("connwatch").join("logs"))
            .unwrap()
            .count()
            > 0,
        "watch logged to the state dir"
    );
}
