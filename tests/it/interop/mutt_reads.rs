//! mutt and neomutt read the inbox with the README's muttrc (`clients.rs` proves sending), in
//! a real terminal (a private tmux server): each opens its spoolfile over IMAPS on Dovecot,
//! which checks the token at the interop IdP, and shows the delivered message.
use std::time::{Duration, Instant};

use super::clients::{recipe, token_cmd};
use crate::support::tmux::Tmux;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutt_and_neomutt_read_the_inbox_with_the_readme_recipe() {
    let Some(rig) = super::clients::Rig::start().await else {
        return;
    };
    let Some(tmux) = Tmux::start("mutt") else {
        return;
    };
    let (_idp, ca, dc, env, _certs) = rig.parts();
    let pid = std::process::id();
    dc.deliver(
        "alice",
        &format!(
            "From: bob@example.test\nTo: alice@example.test\nSubject: mutt-inbox-{pid}\n\nHello.\n"
        ),
    );
    let home = tempfile::tempdir().unwrap();
    for program in ["mutt", "neomutt"] {
        let rc = recipe("mutt / neomutt (`muttrc`")
            .replace(
                "imaps://outlook.office365.com/",
                &format!("imaps://127.0.0.1:{}/", dc.imaps),
            )
            .replace(
                "smtp.office365.com:587",
                &format!("127.0.0.1:{}", dc.submission),
            )
            .replace("smtp://alice@contoso.com@", "smtp://alice@")
            .replace("\"alice@contoso.com\"", "\"alice\"")
            .replace("connwatch token work-mail", &token_cmd(&env))
            + &format!("set certificate_file = \"{}\"\n", ca.display());
        let path = home.path().join(format!("{program}rc"));
        std::fs::write(&path, rc).unwrap();
        tmux.fresh_screen(program);
        tmux.text(&format!(
            "HOME={} {program} -n -F {}",
            home.path().display(),
            path.display()
        ));
        tmux.keys(&["Enter"]);
        let deadline = Instant::now() + Duration::from_secs(45);
        while !tmux.screen().contains(&format!("mutt-inbox-{pid}")) {
            assert!(
                Instant::now() < deadline,
                "{program} did not show the inbox (running: {}):\n{}\n{}",
                tmux.display("#{pane_current_command}"),
                tmux.screen(),
                dc.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        tmux.keys(&["q"]);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut asked = Instant::now();
        while tmux.display("#{pane_current_command}") == program {
            if Instant::now() > deadline {
                panic!("{program} did not quit:\n{}", tmux.screen());
            }
            // It may ask before it quits, or have been busy when q came: ask again.
            let screen = tmux.screen();
            if screen.contains("Quit") || screen.contains("Exit") {
                tmux.keys(&["y"]);
            } else if asked.elapsed() > Duration::from_secs(2) {
                tmux.keys(&["q"]);
                asked = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
