//! `connwatch add` through the real binary: the Entra tenant discovered from the address's
//! domain at the demo IdP (through `authority_host`), scopes by kind, Google by address, and
//! every refusal leaving the config exactly as it was.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use connwatch::config::Config;
use connwatch::demo::CLIENT_ID;
use connwatch::demo::idp::{CONTOSO_TID, DemoIdp, FABRIKAM_TID, IdpOptions};

fn add(config: &Path, args: &[&str]) -> Run {
    let mut all = vec!["add"];
    all.extend_from_slice(args);
    run_connwatch(config, &all)
}

/// A config as people write them: comments above, beside and below, odd spacing, a
/// connection of their own.
fn commented(dir: &Path, base_url: &str) -> String {
    format!(
        "# My connwatch config — hand-written, please keep.\n\
         data_dir = {:?}   # next to the tests\n\
         \n\
         [[connection]]\n\
         # the old one\n\
         name   = 'old-mail'\n\
         provider = \"entra\"\n\
         tenant = \"contoso.com\"\n\
         authority_host = {base_url:?}\n\
         client_id = {CLIENT_ID:?}\n\
         scopes = [ \"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\" ]\n\
         \n\
         # more to come\n",
        dir.join("data").display().to_string()
    )
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_mailbox_is_added_below_the_users_comments_and_signs_in() {
    let idp = DemoIdp::start(IdpOptions {
        device_interval_s: 1,
        auto_approve_after: Some(Duration::ZERO),
        ..fast_idp()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let before = commented(dir.path(), &idp.base_url());
    std::fs::write(&path, &before).unwrap();
    let r = add(
        &path,
        &[
            "work-mail",
            "--email",
            "alice@contoso.com",
            "--client-id",
            CLIENT_ID,
            "--authority-host",
            &idp.base_url(),
            "--login",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let after = std::fs::read_to_string(&path).unwrap();
    // Every byte the user wrote is still there, in place; the connection follows it.
    assert!(after.starts_with(&before), "{after}");
    assert_eq!(mode(&path), 0o600);
    let config = Config::load(&path).unwrap();
    let c = config.connection("work-mail").unwrap();
    assert_eq!(c.tenant.as_deref(), Some(CONTOSO_TID));
    assert_eq!(c.account.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        c.scopes,
        [
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access"
        ]
    );
    assert_eq!(
        c.expect.audience.as_deref(),
        Some("https://outlook.office.com")
    );
    assert_eq!(c.expect.scopes, ["IMAP.AccessAsUser.All", "SMTP.Send"]);
    // Pointed at the demo: no default probe on Microsoft's hosts is written.
    assert!(c.probe.is_empty());
    assert!(
        r.stdout.contains(&format!("tenant: {CONTOSO_TID}")),
        "{}",
        r.stdout
    );
    // --login signed in there and then.
    assert!(r.stdout.contains("work-mail: signed in"), "{}", r.stdout);
    let saved = store(&config).load("work-mail").unwrap().unwrap();
    assert!(idp.refresh_token_is_live(saved.refresh_token.unwrap().expose()));
    for s in idp.issued_secrets() {
        assert!(!r.stdout.contains(&s) && !r.stderr.contains(&s));
    }
    // No temp file left beside the config.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_calendar_of_another_tenant_uses_that_tenant_and_graph() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, commented(dir.path(), &idp.base_url())).unwrap();
    let r = add(
        &path,
        &[
            "team-cal",
            "--email",
            "alice@contoso.com",
            "--kind",
            "shared-calendar",
            "--tenant",
            "fabrikam.com",
            "--client-id",
            CLIENT_ID,
            "--authority-host",
            &format!("{}/", idp.base_url()),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Off a terminal it does not ask; it says what comes next.
    assert!(
        r.stdout.ends_with("next: connwatch login team-cal\n"),
        "{}",
        r.stdout
    );
    let config = Config::load(&path).unwrap();
    let c = config.connection("team-cal").unwrap();
    assert_eq!(c.kind, connwatch::config::Kind::SharedCalendar);
    assert_eq!(c.tenant.as_deref(), Some(FABRIKAM_TID));
    assert_eq!(
        c.scopes,
        [
            "https://graph.microsoft.com/Calendars.Read.Shared",
            "offline_access"
        ]
    );
    assert_eq!(
        c.expect.audience.as_deref(),
        Some("https://graph.microsoft.com")
    );
    assert_eq!(c.authority_host.as_deref(), Some(idp.base_url().as_str()));
    assert_eq!(config.connections.len(), 2);

    // A plain calendar of one's own tenant: Calendars.Read, the address's tenant.
    let r = add(
        &path,
        &[
            "my-cal",
            "--email",
            "reports@northwind.com",
            "--kind",
            "calendar",
            "--client-id",
            CLIENT_ID,
            "--authority-host",
            &idp.base_url(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = Config::load(&path).unwrap();
    let c = c.connection("my-cal").unwrap();
    assert_eq!(
        c.scopes,
        [
            "https://graph.microsoft.com/Calendars.Read",
            "offline_access"
        ]
    );
    assert_eq!(
        c.tenant.as_deref(),
        Some("9a2b3c4d-6e7f-4a8b-9c0d-1e2f3a4b5c6d")
    );

    // A multi-tenant authority is written as named: there is no tenant of its own to find
    // (so a dead host does not matter).
    let r = add(
        &path,
        &[
            "any-mail",
            "--email",
            "alice@contoso.com",
            "--tenant",
            "Organizations",
            "--client-id",
            CLIENT_ID,
            "--authority-host",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = Config::load(&path).unwrap();
    assert_eq!(
        c.connection("any-mail").unwrap().tenant.as_deref(),
        Some("organizations")
    );
}

#[test]
fn google_by_address_or_by_flag_signs_in_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    // No config yet: the template is written with the connection below it.
    let path = dir.path().join("conf").join("config.toml");
    let r = add(
        &path,
        &[
            "gmail",
            "--email",
            "bob@gmail.com",
            "--client-id",
            "123-abc.apps.googleusercontent.com",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("client_secret_command"), "{}", r.stdout);
    // Its sign-in waits for the secret: not offered, and --login is refused up front.
    assert!(
        r.stdout
            .ends_with("next: add the client secret, then: connwatch login gmail\n"),
        "{}",
        r.stdout
    );
    let r = add(
        &path,
        &[
            "gmail2",
            "--email",
            "bob@gmail.com",
            "--client-id",
            "123-abc.apps.googleusercontent.com",
            "--login",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("gmail2"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(connwatch::commands::init::TEMPLATE));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let config = Config::load(&path).unwrap();
    let c = config.connection("gmail").unwrap();
    assert_eq!(c.provider, connwatch::config::ProviderKind::Google);
    assert_eq!(c.scopes, ["https://mail.google.com/"]);
    assert_eq!(c.flow, connwatch::config::Flow::Browser);
    assert_eq!(c.tenant, None);
    // On Google's real endpoints the default probes are written out to read and edit.
    let urls: Vec<&str> = c.probe.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(
        urls,
        ["imaps://imap.gmail.com:993", "smtp://smtp.gmail.com:587"]
    );

    let r = add(
        &path,
        &[
            "work-cal",
            "--email",
            "bob@example.org",
            "--provider",
            "google",
            "--kind",
            "calendar",
            "--client-id",
            "123-abc.apps.googleusercontent.com",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = Config::load(&path).unwrap();
    let c = config.connection("work-cal").unwrap();
    assert_eq!(
        c.scopes,
        ["https://www.googleapis.com/auth/calendar.readonly"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_the_config_as_it_was() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let before = commented(dir.path(), &idp.base_url());
    std::fs::write(&path, &before).unwrap();
    let host = idp.base_url();
    let entra = |name: &'static str, email: &'static str| {
        vec![
            name.to_owned(),
            "--email".into(),
            email.into(),
            "--client-id".into(),
            CLIENT_ID.into(),
            "--authority-host".into(),
            host.clone(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        add(&path, &args)
    };

    // A domain no tenant has: Entra's AADSTS90002, said plainly, with what to do.
    let r = run(entra("x", "carol@nowhere.example"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no tenant for nowhere.example (AADSTS90002)")
            && r.stderr.contains("--provider")
            && r.stderr.contains("Nothing was written"),
        "{}",
        r.stderr
    );

    // A name already taken.
    let r = run(entra("old-mail", "alice@contoso.com"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already in"), "{}", r.stderr);

    // A name the config would refuse, an address that is none, a kind add cannot fill in.
    let r = run(entra("bad name", "alice@contoso.com"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot be a connection's name"),
        "{}",
        r.stderr
    );
    let r = run(entra("y", "alice.contoso.com"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not an email address"), "{}", r.stderr);
    // Refused before the network: the host named here does not answer.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut integration = entra("y", "alice@contoso.com");
    integration[6] = dead.clone();
    integration.extend(["--kind".into(), "integration".into()]);
    let r = run(integration);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("by hand"), "{}", r.stderr);
    let mut tenant = entra("y", "alice@contoso.com");
    tenant[6] = dead.clone();
    tenant.extend(["--tenant".into(), "contoso.com/../x?y".into()]);
    let r = run(tenant);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("neither a domain nor a tenant id"),
        "{}",
        r.stderr
    );
    let mut host = entra("y", "alice@contoso.com");
    host[6] = "login.microsoftonline.us".into();
    let r = run(host);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("with the scheme"), "{}", r.stderr);
    let r = run(vec![
        "y".into(),
        "--email".into(),
        "alice@contoso.com".into(),
        "--kind".into(),
        "inbox".into(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("mailbox"), "{}", r.stderr);

    // No client id and no terminal to ask on.
    let r = run(vec![
        "y".into(),
        "--email".into(),
        "alice@contoso.com".into(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--client-id"), "{}", r.stderr);

    // A dead identity provider: said so, nothing written, no hang.
    let mut args = entra("y", "alice@contoso.com");
    args[6] = dead;
    let r = run(args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);

    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    // A broken config is reported as `config check` would, and not rewritten.
    let broken = format!("{before}[[connection]\n");
    std::fs::write(&path, &broken).unwrap();
    let r = run(entra("y", "alice@contoso.com"));
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

/// Files as they are found in the wild: CRLF line endings with a BOM, a config reached
/// through a symlink (dotfiles), an inline `connection = [...]` that cannot take a table.
#[test]
fn crlf_symlinked_and_inline_configs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let google = |path: &Path, name: &str| {
        add(
            path,
            &[
                name,
                "--email",
                "bob@gmail.com",
                "--client-id",
                "123-abc.apps.googleusercontent.com",
            ],
        )
    };

    let crlf = dir.path().join("crlf.toml");
    let before = format!("\u{feff}# Windows notepad\r\ndata_dir = {data:?}\r\n");
    std::fs::write(&crlf, &before).unwrap();
    let r = google(&crlf, "g");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = std::fs::read_to_string(&crlf).unwrap();
    assert!(after.starts_with(&before), "{after:?}");
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "one line ending throughout: {after:?}"
    );
    assert!(Config::load(&crlf).unwrap().connection("g").is_some());

    // The link stays a link; the file it names gets the connection.
    let dots = dir.path().join("dotfiles");
    std::fs::create_dir(&dots).unwrap();
    let real = dots.join("connwatch.toml");
    std::fs::write(&real, format!("data_dir = {data:?}\n")).unwrap();
    let link = dir.path().join("config.toml");
    std::os::unix::fs::symlink("dotfiles/connwatch.toml", &link).unwrap();
    let r = google(&link, "g");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("name = \"g\"")
    );
    assert_eq!(mode(&real), 0o600);
    // A link to a file not there yet: the file is created where it points.
    let dangling = dir.path().join("later.toml");
    std::os::unix::fs::symlink("dotfiles/later.toml", &dangling).unwrap();
    let r = google(&dangling, "g");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(dots.join("later.toml").exists());

    let inline = dir.path().join("inline.toml");
    let before = format!("data_dir = {data:?}\nconnection = []\n");
    std::fs::write(&inline, &before).unwrap();
    let r = google(&inline, "g");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("inline array"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&inline).unwrap(), before);
}
