//! A hostile provider's words reach people's terminals, logs and monitoring defused: an
//! `error` and `error_description` carrying escape sequences (window title, clear screen,
//! clipboard via OSC 52), a bidi override, a newline and a `|` go through `refresh`,
//! `status`, `check` and the log without a control character, a forged line or forged
//! perfdata, while `status --json` keeps the exact text (escaped by JSON).
use crate::common::*;
use connwatch::demo::idp::{DemoIdp, Fault};

/// ESC ] 0 (title), BEL, ESC ] 52 (clipboard), CSI 2J (clear), C1 CSI, RLO, newline, `|`.
const HOSTILE: &str =
    "evil\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp\nOK|'x'=1";

/// `mail`, due for renewal, at an IdP whose next answer is HOSTILE as `error` and
/// `error_description`.
async fn hostile_idp() -> (DemoIdp, tempfile::TempDir, connwatch::config::Config) {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    seed_mail(&idp, &cfg, 30);
    let body = serde_json::json!({ "error": HOSTILE, "error_description": HOSTILE }).to_string();
    idp.inject(Fault::Raw { status: 400, body }, 1);
    (idp, dir, cfg)
}

fn assert_defused(what: &str, text: &str) {
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{what} carries a control or bidi character: {text:?}"
    );
    assert!(!text.contains("\nOK|"), "{what}: a forged line: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_is_defused_everywhere_but_json() {
    let (_idp, _dir, cfg) = hostile_idp().await;

    let refresh = run_connwatch(&cfg.path, &["refresh", "mail"]);
    assert_eq!(refresh.code, 1, "{}", refresh.stderr);
    assert!(refresh.stderr.contains("evil"), "{}", refresh.stderr);
    assert_defused("refresh's stderr", &refresh.stderr);
    assert_defused("refresh's stdout", &refresh.stdout);

    let status = run_connwatch(&cfg.path, &["status"]);
    assert_defused("status", &status.stdout);

    let check = run_connwatch(&cfg.path, &["check"]);
    assert_defused("check", &check.stdout);
    assert_eq!(
        check.stdout.matches('|').count(),
        1,
        "one perfdata separator: {}",
        check.stdout
    );

    let json = run_connwatch(&cfg.path, &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let text = doc.to_string();
    assert!(
        text.contains("\\u001b]0;pwned"),
        "--json keeps the exact text: {text}"
    );

    let logs = store(&cfg).paths().logs_dir.clone();
    if let Ok(entries) = std::fs::read_dir(&logs) {
        for e in entries {
            let log = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            assert_defused("the log", &log);
        }
    }
}

/// The same error in a real terminal (tmux, with applications allowed to set its clipboard):
/// after `refresh` and `status` print it, the window title is unchanged, the screen was not
/// cleared and no clipboard buffer was written. A control run of the raw bytes proves the
/// terminal would have obeyed them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_cannot_drive_a_real_terminal() {
    let Some(t) = crate::support::tmux::Tmux::start("hostile") else {
        return;
    };
    assert!(
        t.cmd(&["set-option", "-g", "set-clipboard", "on"])
            .status()
            .unwrap()
            .success()
    );
    let (_idp, _dir, cfg) = hostile_idp().await;

    let title = t.display("#{pane_title}");
    t.text("echo MARKER-BEFORE\n");
    t.wait_for("MARKER-BEFORE");
    let bin = env!("CARGO_BIN_EXE_connwatch");
    let cfg_path = cfg.path.display().to_string();
    t.text(&format!(
        "{bin} --config {cfg_path} refresh mail; {bin} --config {cfg_path} status; echo DONE-$((40+2))\n"
    ));
    let screen = t.wait_for("DONE-42");
    assert!(screen.contains("evil"), "{screen}");
    assert!(
        screen.contains("MARKER-BEFORE"),
        "the screen was cleared:\n{screen}"
    );
    assert_eq!(t.display("#{pane_title}"), title, "the title changed");
    let buffers = t.cmd(&["list-buffers"]).output().unwrap();
    assert!(
        buffers.stdout.is_empty(),
        "a clipboard buffer was written: {}",
        String::from_utf8_lossy(&buffers.stdout)
    );

    // Control: the raw bytes do set the title and a buffer in this terminal.
    t.text("printf '\\033]0;pwned\\007\\033]52;c;ZXZpbA==\\007'; echo CONTROL-$((40+2))\n");
    t.wait_for("CONTROL-42");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.display("#{pane_title}") != "pwned" {
        assert!(
            std::time::Instant::now() < deadline,
            "the control sequence did not take: the test could not have seen an injection"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let buffers = t.cmd(&["list-buffers"]).output().unwrap();
    assert!(
        !buffers.stdout.is_empty(),
        "OSC 52 did not reach tmux in the control"
    );
}

/// A provider that quotes the refresh token back in its refusal: masked in what `refresh`
/// prints, in the status record and in `status --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_echoed_by_the_provider_is_masked_everywhere() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &idp.base_url(), &[mail("5m")]);
    let seeded = seed_mail(&idp, &cfg, 30);
    let rt = seeded.refresh_token.unwrap().expose().to_owned();
    // In the code (shown as it came for a code connwatch does not know) and the description.
    let body = serde_json::json!({
        "error": format!("bad_grant:{rt}"),
        "error_description": format!("AADSTS70000: the grant {rt} is not valid."),
    })
    .to_string();
    idp.inject(Fault::Raw { status: 400, body }, 1);
    let refresh = run_connwatch(&cfg.path, &["refresh", "mail"]);
    assert_eq!(refresh.code, 1, "{}", refresh.stderr);
    let json = run_connwatch(&cfg.path, &["status", "--json"]);
    let record = serde_json::to_string(&store(&cfg).load_status("mail")).unwrap();
    for (what, text) in [
        ("refresh", refresh.stderr.as_str()),
        ("status --json", json.stdout.as_str()),
        ("the status record", record.as_str()),
    ] {
        assert!(
            !text.contains(&rt),
            "{what} holds the refresh token: {text}"
        );
    }
}
