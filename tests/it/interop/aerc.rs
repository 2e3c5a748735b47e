//! aerc 0.14, a terminal program, in a real terminal (a private tmux server): the README's
//! accounts.conf as written (with `from`, which aerc needs to send) reads the inbox over IMAPS
//! and sends over submission with STARTTLS against Dovecot and the interop IdP. Then every
//! failure round of the other clients (`clients.rs`): what aerc shows on its screen is given
//! to explain. aerc (Go) trusts the private CA through SSL_CERT_FILE.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::clients::{
    WITH_MAIL, WITHOUT_MAIL, capture, expire_tokens, explain, explain_followed, recipe, rescope,
    token_cmd,
};
use super::dovecot::test_ca;
use super::{Env, device_login};
use crate::support::tmux::Tmux;

struct Aerc<'a> {
    tmux: Tmux,
    home: PathBuf,
    env: &'a Env,
}

impl Aerc<'_> {
    /// Start aerc with the README's accounts.conf pointed at these ports, trusting `ca`.
    fn start(&self, imaps: u16, submission: u16, ca: &Path) {
        let conf = self.home.join(".config/aerc");
        std::fs::create_dir_all(&conf).unwrap();
        let accounts = recipe("aerc (`accounts.conf`")
            .replace(
                "imaps+xoauth2://alice%40contoso.com@outlook.office365.com",
                &format!("imaps+xoauth2://alice@localhost:{imaps}"),
            )
            .replace(
                "smtp+xoauth2://alice%40contoso.com@smtp.office365.com:587",
                &format!("smtp+xoauth2://alice@localhost:{submission}"),
            )
            .replace("alice@contoso.com", "alice@example.test")
            .replace("connwatch token work-mail", &token_cmd(self.env));
        let path = conf.join("accounts.conf");
        std::fs::write(&path, &accounts).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        // The composer's editor exits at once: a message goes straight to review.
        std::fs::write(conf.join("aerc.conf"), "[compose]\neditor = true\n").unwrap();
        // A clean screen first: what the last run left must not be read as this one's.
        self.tmux.fresh_screen("aerc");
        self.tmux.text(&format!(
            "cd {dir} && HOME={dir} XDG_CONFIG_HOME={dir}/.config SSL_CERT_FILE={ca} aerc",
            dir = self.home.display(),
            ca = ca.display()
        ));
        self.tmux.keys(&["Enter"]);
    }

    /// The screen once aerc shows a failure, or as it is after 8 s if it shows none.
    fn failure(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(8);
        loop {
            let s = self.tmux.screen();
            let said = s.to_ascii_lowercase();
            if said.contains("error") || said.contains("fail") || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Quit aerc if it still runs, and wait for the shell to have the terminal back.
    fn quit(&self) {
        if self.running() {
            self.tmux.text(":quit");
            self.tmux.keys(&["Enter"]);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running() {
            assert!(
                Instant::now() < deadline,
                "aerc did not quit:\n{}",
                self.tmux.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn running(&self) -> bool {
        self.tmux.display("#{pane_current_command}") == "aerc"
    }
}

/// The screen's text without aerc's blank rows (for explain and the fixtures).
fn shown(screen: &str) -> String {
    screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aerc_reads_and_sends_with_the_readme_recipe_and_explain_reads_its_failures() {
    let Some(rig) = super::clients::Rig::start().await else {
        return;
    };
    let Some(tmux) = Tmux::start("aerc") else {
        return;
    };
    let (idp, ca, dc, env, _certs) = rig.parts();
    let pid = std::process::id();
    dc.deliver(
        "alice",
        &format!(
            "From: bob@example.test\nTo: alice@example.test\nSubject: aerc-inbox-{pid}\n\nHello.\n"
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let aerc = Aerc {
        tmux,
        home: home.path().to_owned(),
        env: &env,
    };

    // Read, then send: compose with the headers given, review, y.
    aerc.start(dc.imaps, dc.submission, &ca);
    aerc.tmux.wait_for(&format!("aerc-inbox-{pid}"));
    aerc.tmux.text(&format!(
        ":compose -H \"To: bob@example.test\" -H \"Subject: aerc-sent-{pid}\""
    ));
    aerc.tmux.keys(&["Enter"]);
    aerc.tmux
        .wait("the review screen", |s| s.contains("Send this email"));
    aerc.tmux.keys(&["y"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dc
        .relayed
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains(&format!("aerc-sent-{pid}")))
    {
        assert!(
            Instant::now() < deadline,
            "aerc's message was not relayed:\n{}\n{}",
            aerc.tmux.screen(),
            dc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    aerc.quit();

    // The server down, silent, or with a certificate aerc does not trust.
    let (_held, down) = super::clients::refusing_port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = silent.local_addr().unwrap().port();
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = test_ca(other.path());
    let mut wrong = Vec::new();
    for (mode, port, trust, want) in [
        ("server_down", down, &ca, Some("network")),
        // aerc has no read timeout here: it waits, showing no failure.
        ("server_silent", slow, &ca, None),
        ("tls_untrusted", dc.imaps, &other_ca, Some("tls")),
    ] {
        aerc.start(port, port, trust);
        let screen = shown(&aerc.failure());
        aerc.quit();
        let d = explain(&screen);
        match want {
            Some(cause) => {
                capture("aerc", mode, &screen, &env);
                if d["cause"] != cause || d["needs_reauth"] != false {
                    wrong.push(format!("{mode}: {screen}\n→ {d}"));
                }
            }
            None => {
                let said = screen.to_ascii_lowercase();
                if said.contains("error") || said.contains("fail") {
                    wrong.push(format!("{mode}: now shows a failure: {screen}\n→ {d}"));
                }
            }
        }
    }
    drop(silent);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));

    // The grant is revoked: the server refuses aerc's token.
    super::revoke_grants(&idp).await;
    aerc.start(dc.imaps, dc.submission, &ca);
    let screen = shown(&aerc.failure());
    aerc.quit();
    capture("aerc", "dovecot_revoked", &screen, &env);
    let d = explain(&screen);
    assert_eq!(d["cause"], "bad_credentials", "{screen}\n→ {d}");
    assert_eq!(d["needs_reauth"], true, "{screen}\n→ {d}");
    assert!(
        d["action"].as_str().unwrap().contains("connwatch probe"),
        "{screen}\n→ {d}"
    );

    // The token expires with the grant gone: `token` fails. aerc runs its cred-cmd when it
    // starts, so it does not start ("Failed to load config"), and connwatch's line on stderr
    // is not on its screen; status has the reason.
    expire_tokens(&env, false);
    aerc.start(dc.imaps, dc.submission, &ca);
    let screen = shown(&aerc.failure());
    aerc.quit();
    capture("aerc", "dovecot_token_fails", &screen, &env);
    let d = explain_followed(&screen, &env);
    assert_eq!(d["cause"], "grant_revoked", "{screen}\n→ {d}");
    assert_eq!(d["needs_reauth"], true, "{screen}\n→ {d}");

    // A token without the scope the server needs (the connection stops asking for it):
    // Dovecot refuses it as it refuses a revoked one; explain names the probe.
    rescope(&env, WITH_MAIL, WITHOUT_MAIL);
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 1, "the sign-in's probe meets the refusal: {stderr}");
    aerc.start(dc.imaps, dc.submission, &ca);
    let screen = shown(&aerc.failure());
    aerc.quit();
    capture("aerc", "dovecot_missing_scope", &screen, &env);
    let d = explain(&screen);
    assert_eq!(d["cause"], "bad_credentials", "{screen}\n→ {d}");
    assert_eq!(d["fix_by"], "user", "{screen}\n→ {d}");
    assert!(
        d["action"].as_str().unwrap().contains("connwatch probe"),
        "{screen}\n→ {d}"
    );

    // A static token: signed in without offline_access (no refresh token), then expired.
    rescope(
        &env,
        WITHOUT_MAIL,
        r#"scopes = ["openid", "api:read", "mail"]"#,
    );
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    let saved = std::fs::read_to_string(env.data.join("tokens/sso.json")).unwrap();
    let t: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert!(t["refresh_token"].is_null(), "{t}");
    expire_tokens(&env, false);
    aerc.start(dc.imaps, dc.submission, &ca);
    let screen = shown(&aerc.failure());
    aerc.quit();
    capture("aerc", "static_token_expired", &screen, &env);
    let d = explain_followed(&screen, &env);
    assert_eq!(d["cause"], "missing_offline_access", "{screen}\n→ {d}");
}
