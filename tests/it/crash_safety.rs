//! Crash safety of the token store: a writer process is killed with SIGKILL at random
//! moments while it saves token files; afterwards every file is one complete version (old or
//! new), never empty, torn or missing. The child is this test binary itself, re-run with an
//! environment variable that turns it into the writer.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use connwatch::secret::Secret;
use connwatch::store::{StorePaths, TokenSet, TokenStore};

const WRITER_ENV: &str = "CONNWATCH_CRASH_WRITER_DIR";
const NAMES: [&str; 3] = ["mail", "cal", "zoom"];

fn version(n: u64) -> TokenSet {
    TokenSet {
        version: 1,
        // Long values so a write takes several blocks and a torn write would show.
        access_token: Secret::new(format!("at-{n}-{}", "x".repeat(4000))),
        refresh_token: Some(Secret::new(format!("rt-{n}"))),
        id_token: None,
        expires_at: Some(jiff::Timestamp::from_second(2_000_000_000 + n as i64).unwrap()),
        granted_scopes: vec!["Mail.Read".into(), "offline_access".into()],
        obtained_at: jiff::Timestamp::from_second(1_900_000_000 + n as i64).unwrap(),
        signed_in_at: None,
    }
}

/// The writer: save ever newer versions of each file, printing each number once it is
/// durable, until killed.
#[test]
fn writer_child() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return; // only meaningful as the child of `sigkill_never_leaves_a_torn_token_file`
    };
    let store = TokenStore::new(StorePaths::under(std::path::Path::new(&dir)));
    let start: u64 = std::env::var("CONNWATCH_CRASH_WRITER_START")
        .unwrap()
        .parse()
        .unwrap();
    for n in start.. {
        for name in NAMES {
            store.save(name, &version(n)).unwrap();
        }
        println!("{n}");
    }
}

#[test]
fn sigkill_never_leaves_a_torn_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(StorePaths::under(dir.path()));
    for name in NAMES {
        store.save(name, &version(0)).unwrap();
    }
    let me = std::env::current_exe().unwrap();
    // This suite is a module of the `it` binary: the child runs only the writer, by its full
    // test name (`crash_safety::writer_child`, the module path without the crate).
    let writer = format!(
        "{}::writer_child",
        module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, m)| m)
    );
    let mut next = 1u64;
    // Every file is at least this version (a killed round may have moved some files one
    // further, which is why the next writer starts one round later).
    let mut durable = 0u64;
    let mut upper = 0u64;
    let mut kills = 0;
    let mut writes = 0u64;
    // ~1000 rounds of writes in all, killed at pseudo-random points (fixed seed: reproducible
    // inputs, while the exact kill moment is up to the scheduler).
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    while writes < 1000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(&me)
            .args(["--exact", &writer, "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, dir.path())
            .env("CONNWATCH_CRASH_WRITER_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it complete a random number of rounds, then kill it mid-way through the next.
        let rounds = 1 + seed % 60;
        let mut last_durable = durable;
        let mut printed = false;
        for _ in 0..rounds {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(n) = round(&l) {
                        last_durable = n;
                        printed = true;
                    }
                }
                _ => break,
            }
        }
        std::thread::sleep(Duration::from_micros(seed % 700));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        kills += 1;
        // The child may have finished more rounds than we read: drain what it printed.
        for l in lines.map_while(Result::ok) {
            if let Some(n) = round(&l) {
                last_durable = n;
                printed = true;
            }
        }
        // The newest version a file can hold: one round past the last durable one, or this
        // writer's first round if it printed nothing, or an earlier writer's killed round.
        upper = upper.max(if printed { last_durable + 1 } else { next });
        for name in NAMES {
            let set = store
                .load(name)
                .unwrap_or_else(|e| panic!("{name} unreadable after kill {kills}: {e}"))
                .unwrap_or_else(|| panic!("{name} missing after kill {kills}"));
            let n = set.obtained_at.as_second() as u64 - 1_900_000_000;
            assert_eq!(set, version(n), "{name} is one complete version");
            // Never older than what a writer reported durable; at most one round newer than
            // that, or the killed round of an earlier writer.
            assert!(
                n >= last_durable && n <= upper,
                "{name}: version {n}, last durable {last_durable}, newest possible {upper}"
            );
        }
        writes += last_durable.saturating_sub(durable);
        durable = last_durable;
        next = next.max(last_durable + 2);
    }
    // No temp files pile up beyond the ones killed writers left (they are harmless, 0600,
    // and never read); the token files themselves are intact, which is what matters.
    let torn_temps = std::fs::read_dir(dir.path().join("tokens"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        })
        .count();
    eprintln!(
        "{kills} kills over {writes} rounds ({} file writes); {torn_temps} writes were cut \
         short (their temp files remain), no token file was ever torn",
        writes * NAMES.len() as u64
    );
    assert!(kills >= 10, "{kills} kills");
}

/// A round number the writer printed. With `--nocapture` libtest prints "test
/// crash_safety::writer_child ... " without a newline first, so the first number shares its line: take the last word.
fn round(line: &str) -> Option<u64> {
    line.split_whitespace().last()?.parse().ok()
}

/// `mail` signed in at a provider that retires a refresh token once it is used (Zoom,
/// oidc-provider), its access token due for renewal.
async fn rotating_mail() -> (
    connwatch::demo::idp::DemoIdp,
    tempfile::TempDir,
    connwatch::config::Config,
    TokenSet,
) {
    let idp = connwatch::demo::idp::DemoIdp::start(connwatch::demo::idp::IdpOptions {
        revoke_rotated: true,
        ..crate::common::fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::common::config(dir.path(), &idp.base_url(), &[crate::common::mail("5m")]);
    let before = crate::common::seed_mail(&idp, &cfg, 30);
    (idp, dir, cfg, before)
}

/// A full disk (here a file-size limit, which fails allocation like ENOSPC does) refuses the
/// refresh before its request is sent: the rotating refresh token is not spent, the tokens on
/// disk are untouched, and the message says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_room_for_the_answer_means_no_request_and_no_lost_grant() {
    use std::os::unix::process::CommandExt;
    let (idp, _dir, cfg, before) = rotating_mail().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connwatch"));
    cmd.arg("--config")
        .arg(&cfg.path)
        .args(["refresh", "mail"])
        .env("NO_COLOR", "1");
    // SAFETY: only async-signal-safe calls (signal, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let l = libc::rlimit {
                rlim_cur: 8 * 1024,
                rlim_max: 8 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &l);
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No room to save new tokens")
            && stderr.contains("the refresh was not sent"),
        "{stderr}"
    );
    assert_eq!(idp.token_requests(), 0, "nothing was sent");
    let store = crate::common::store(&cfg);
    assert_eq!(store.load("mail").unwrap().unwrap(), before);
    assert!(idp.refresh_token_is_live(before.refresh_token.unwrap().expose()));
    assert!(!store.refresh_was_cut_off("mail"), "no marker left behind");
}

/// connwatch killed after its refresh reached a rotating provider, before the answer was
/// saved: the next refresh is refused, and says exactly why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_cut_off_mid_flight_is_named_when_the_grant_is_gone() {
    let (idp, _dir, cfg, before) = rotating_mail().await;
    let store = crate::common::store(&cfg);
    // What the killed process did: it reserved room (the marker), and its request spent the
    // refresh token at the provider; the answer never reached the disk.
    let _ = store.reserve("mail", &before).map(std::mem::forget);
    assert!(store.refresh_was_cut_off("mail"));
    let token_url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        idp.base_url()
    );
    let spent = connwatch::oauth::refresh(
        &connwatch::oauth::HttpClient::new(Duration::from_secs(5)),
        &token_url,
        &connwatch::oauth::Client::public(connwatch::demo::CLIENT_ID),
        before.refresh_token.as_ref().unwrap().expose(),
        &[crate::common::IMAP.to_owned(), "offline_access".to_owned()],
    )
    .await;
    assert!(spent.is_ok(), "the killed process's request went through");

    let run = crate::common::run_connwatch(&cfg.path, &["refresh", "mail"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("An earlier refresh was cut off"),
        "{}",
        run.stderr
    );
    assert!(
        !store.refresh_was_cut_off("mail"),
        "said once, then cleared"
    );
}

/// A refresh whose answer never arrives (the connection broke after sending) may have spent
/// the refresh token: the marker stays to say so; a refusal (an answer without tokens)
/// spends nothing and clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_leaves_the_marker_and_a_refusal_clears_it() {
    let (idp, _dir, cfg, _) = rotating_mail().await;
    let store = crate::common::store(&cfg);
    idp.inject(connwatch::demo::idp::Fault::DropConnection, 1);
    let run = crate::common::run_connwatch(&cfg.path, &["refresh", "mail"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(store.refresh_was_cut_off("mail"), "{}", run.stderr);
    idp.inject(connwatch::demo::idp::Fault::Status500, 1);
    let run = crate::common::run_connwatch(&cfg.path, &["refresh", "mail"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!store.refresh_was_cut_off("mail"));
}
