//! Every config shape a user may write is a file; the real binary checks each one
//! (`connwatch config check`): valid ones pass, invalid ones exit 78 with file:line:column,
//! the key and a message that says what to do.
use std::path::Path;

use assert_cmd::Command;

fn check(path: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("connwatch")
        .unwrap()
        .args(["--config"])
        .arg(path)
        .args(["config", "check"])
        .env(
            "CONNWATCH_DATA_DIR",
            std::env::temp_dir().join("connwatch-config-tests"),
        )
        .env("NO_COLOR", "1")
        .assert()
}

#[test]
fn every_valid_config_passes() {
    let mut n = 0;
    for entry in std::fs::read_dir("tests/valid_configs").unwrap() {
        let path = entry.unwrap().path();
        let out = check(&path).success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(stdout.contains(": OK,"), "{}: {stdout}", path.display());
        n += 1;
    }
    assert!(n >= 4, "expected the valid config files, found {n}");
}

#[test]
fn the_shipped_example_config_is_valid() {
    check(Path::new("assets/config.example.toml")).success();
}

/// (file, "line:column", what the message must say)
const INVALID: &[(&str, &str, &[&str])] = &[
    (
        "unknown_key.toml",
        "4:1",
        &["unknown field `tennant`", "spelling"],
    ),
    (
        "duplicate_name.toml",
        "9:8",
        &["duplicate connection name \"mail\"", "line 2"],
    ),
    (
        "duplicate_name_case.toml",
        "9:8",
        &["duplicate connection name \"Mail\"", "line 2 (case aside)"],
    ),
    (
        "name_too_long.toml",
        "2:8",
        &["invalid connection name \"xxxx", "at most 64"],
    ),
    (
        "bad_duration.toml",
        "7:18",
        &["invalid duration \"soon\"", "\"5m\""],
    ),
    ("negative_duration.toml", "7:18", &["must not be negative"]),
    (
        "min_refresh_interval_zero.toml",
        "7:24",
        &["min_refresh_interval \"0s\" is shorter than 1 s"],
    ),
    (
        "http_non_loopback.toml",
        "5:18",
        &["plain http to a non-loopback host", "use https"],
    ),
    (
        "http_private_ip.toml",
        "4:10",
        &["plain http to a non-loopback host"],
    ),
    ("missing_tenant.toml", "2:8", &["needs a tenant"]),
    ("missing_issuer.toml", "2:8", &["needs an issuer"]),
    (
        "bad_name.toml",
        "2:8",
        &["invalid connection name \"work mail\"", "letters, digits"],
    ),
    (
        "unknown_provider.toml",
        "3:12",
        &["unknown variant `yahoo`", "entra"],
    ),
    ("syntax_error.toml", "2:", &["invalid"]),
    ("empty_scopes.toml", "2:8", &["scopes is empty"]),
    ("wrong_type.toml", "6:10", &["invalid type"]),
    (
        "inline_secret.toml",
        "5:17",
        &[
            "secrets never go in the config file",
            "client_secret_command",
        ],
    ),
    (
        "key_bound_twice.toml",
        "2:11",
        &["key q is bound to both refresh and quit", "Keys section"],
    ),
    (
        "unknown_key_command.toml",
        "2:10",
        &["unknown command \"refrsh\" in [keys]", "refresh"],
    ),
    (
        "zoom_without_secret.toml",
        "2:8",
        &["needs the app's client secret", "client_secret_env"],
    ),
    (
        "mail_probe_without_account.toml",
        "7:9",
        &["needs the mailbox's user", "account ="],
    ),
    (
        "probe_bad_mechanism.toml",
        "8:9",
        &["unknown SASL mechanism \"plain\"", "oauthbearer"],
    ),
    (
        "probe_unknown_scheme.toml",
        "8:9",
        &["unsupported probe scheme \"jmap\"", "imaps://"],
    ),
    ("ca_file_missing.toml", "1:11", &["no-such-ca.pem", "PEM"]),
    // A shared directory is refused, not chmodded (it once was, by a mere `status`).
    (
        "data_dir_shared.toml",
        "1:12",
        &["data_dir /tmp can be written by everyone (mode 1777)"],
    ),
    // An endless file is read to 4 MiB, not to the end (it once took 24 GB).
    (
        "ca_file_endless.toml",
        "1:11",
        &["/dev/zero is longer than 4 MiB", "the most connwatch reads"],
    ),
    (
        "probe_every_too_short.toml",
        "1:15",
        &["shorter than 30 s", "\"0\""],
    ),
    (
        "notify_email_unknown_via.toml",
        "1:16",
        &[
            "notify_email.via names no connection: \"work\"",
            "mailbox connections",
        ],
    ),
    (
        "remind_every_bad.toml",
        "1:16",
        &["invalid duration \"sometimes\"", "reminders off"],
    ),
    (
        "auth_params_reserved.toml",
        "7:15",
        &["auth_params cannot set state", "connwatch sets it itself"],
    ),
    (
        "redirect_uri_bad_port.toml",
        "7:16",
        &["has an invalid port", "http://localhost"],
    ),
    (
        "desktop_notifications_not_bool.toml",
        "1:25",
        &["expected a boolean"],
    ),
];

#[test]
fn every_invalid_config_is_refused_precisely() {
    let on_disk = std::fs::read_dir("tests/invalid_configs").unwrap().count();
    assert_eq!(
        on_disk,
        INVALID.len(),
        "every invalid config file needs an expectation here"
    );
    for (file, at, says) in INVALID {
        let path = Path::new("tests/invalid_configs").join(file);
        let out = check(&path).code(78);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("{}:{at}", path.display())),
            "{file}: want location {at} in the first line: {stderr}"
        );
        for s in *says {
            assert!(stderr.contains(s), "{file}: want {s:?} in: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    }
}

#[test]
fn missing_config_file_says_how_to_start() {
    let out = check(Path::new("tests/no-such-config.toml")).code(78);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
    assert!(stderr.contains("connwatch demo"), "{stderr}");
}
