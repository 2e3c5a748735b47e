//! Browser sign-in (authorization code + PKCE S256, loopback redirect) against the demo IdP.
//! The test plays the browser with plain HTTP requests; no browser is ever opened
//! (CONNWATCH_NO_BROWSER).
use crate::support::paste_login;

use std::time::Duration;

use crate::common::*;
use connwatch::connection::ConnState;
use connwatch::demo::CLIENT_ID;
use connwatch::demo::idp::{AuthorizeReply, DemoIdp};
use connwatch::diagnose::{Cause, Diagnosis, ProviderHint};
use connwatch::oauth::browser::{self, AuthorizeOptions};
use connwatch::oauth::redirect::{LoopbackRedirect, Redirect};
use connwatch::store::StatusRecord;

fn browser_config(dir: &std::path::Path, idp: &DemoIdp) -> connwatch::config::Config {
    config(dir, &idp.base_url(), &[mail("5m")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_in_the_browser_with_pkce_saves_tokens() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = browser_config(dir.path(), &idp);
    let (code, stdout, stderr) = login_in_browser(&cfg, "mail").await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("mail: signed in; access token expires in"),
        "{stdout}"
    );
    let saved = store(&cfg).load("mail").unwrap().unwrap();
    assert!(idp.refresh_token_is_live(saved.refresh_token.unwrap().expose()));
    let reqs = idp.authorize_requests();
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["login_hint"], "alice@contoso.com");
    // Entra's default: MSAL's http://localhost, with the free port chosen (no path).
    let uri = &q["redirect_uri"];
    let port = uri
        .strip_prefix("http://localhost:")
        .expect("http://localhost:<port>");
    assert!(port.parse::<u16>().is_ok(), "{uri}");
    assert_eq!(q["state"].len(), 22, "128 bits of state");
    for s in idp.issued_secrets() {
        assert!(
            !stdout.contains(&s) && !stderr.contains(&s),
            "no secret printed"
        );
    }
    let rec = store(&cfg).load_status("mail").unwrap();
    assert_eq!(rec.state, ConnState::Connected);
    assert!(rec.history.iter().any(|h| h.what == "signed in (browser)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_consent_is_diagnosed_from_the_redirect() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    idp.script_authorize(vec![AuthorizeReply::Decline]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = browser_config(dir.path(), &idp);
    let (code, stdout, stderr) = login_in_browser(&cfg, "mail").await;
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("mail: sign-in failed: access_denied (AADSTS65004)"),
        "{stderr}"
    );
    assert!(store(&cfg).load("mail").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_challenge_rides_on_the_next_sign_in() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = browser_config(dir.path(), &idp);
    // The last error was a CAE challenge from the resource.
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1795548800"}}}"#;
    let mut d = Diagnosis::of(
        Cause::ClaimsChallenge,
        false,
        true,
        "The resource asks for a new token".into(),
        "Sign in again.",
    );
    d.claims = Some(claims.into());
    store(&cfg)
        .save_status(
            "mail",
            &StatusRecord {
                state: ConnState::NeedsReauth,
                last_error: Some(d),
                last_error_at: Some(jiff::Timestamp::now()),
                last_success: None,
                failures: 1,
                history: vec![],
                probes: vec![],
                sign_in_frequency_s: None,
                activity: None,
                changed_at: None,
            },
        )
        .unwrap();
    let (code, _, stderr) = login_in_browser(&cfg, "mail").await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(idp.authorize_requests()[0]["claims"], claims);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_another_state_is_refused_and_its_code_never_used() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let endpoint = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        idp.base_url()
    );
    let scopes = vec![IMAP.to_owned(), "offline_access".to_owned()];
    let auth = browser::start(
        &endpoint,
        CLIENT_ID,
        &scopes,
        &Redirect::Loopback(LoopbackRedirect::ipv4()),
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap();
    let forged = format!("{}?code=stolen&state=not-ours", auth.redirect_uri);
    let (answer, page) = tokio::join!(auth.wait_for_code(Duration::from_secs(10)), async {
        let r = reqwest::get(&forged).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    let d = answer.unwrap_err();
    assert_eq!(d.code.as_deref(), Some("state_mismatch"));
    assert!(!d.needs_reauth && !d.retryable);
    assert_eq!(page.0, 400);
    assert!(page.1.contains("Refused"));
    assert_eq!(idp.token_requests(), 0, "no code was exchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idp_refuses_a_code_with_the_wrong_verifier_or_redirect() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let base = format!("{}/contoso.onmicrosoft.com/oauth2/v2.0", idp.base_url());
    let scopes = vec![IMAP.to_owned(), "offline_access".to_owned()];
    let auth = browser::start(
        &format!("{base}/authorize"),
        CLIENT_ID,
        &scopes,
        &Redirect::Loopback(LoopbackRedirect::ipv4()),
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap();
    // Take the code from the IdP's redirect without delivering it.
    let no_follow = paste_login::no_follow();
    let r = no_follow.get(&auth.url).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let post = |verifier: &str, redirect: &str| {
        no_follow
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let wrong = post("a-verifier-that-is-not-the-one", &auth.redirect_uri)
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 400);
    let body = wrong.bytes().await.unwrap();
    let d = connwatch::diagnose::diagnose(&connwatch::diagnose::HttpFailure {
        status: Some(400),
        headers: vec![],
        body: &body,
        provider: ProviderHint::Entra,
    });
    assert_eq!(d.code.as_deref(), Some("AADSTS501481"), "{d:?}");
    // A code is single-use: refused even with the right verifier now.
    let again = post("x", &auth.redirect_uri).await.unwrap();
    assert_eq!(again.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sign_in_nobody_finishes_times_out() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let endpoint = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        idp.base_url()
    );
    let auth = browser::start(
        &endpoint,
        CLIENT_ID,
        &[],
        &Redirect::Loopback(LoopbackRedirect::ipv4()),
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap();
    let d = auth
        .wait_for_code(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(d.summary.contains("not completed"), "{}", d.summary);
}

/// A registration that lists `http://127.0.0.1/callback` (any port): that exact URI, with the
/// chosen port, goes to the authorization and token endpoints, and the listener answers on
/// that path only; `config check` says which URI will be sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_redirect_uri_with_a_path_is_sent_and_served() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = browser_config(dir.path(), &idp);
    let text = std::fs::read_to_string(&cfg.path).unwrap().replacen(
        "name = \"mail\"\n",
        "name = \"mail\"\nredirect_uri = \"http://127.0.0.1/callback\"\n",
        1,
    );
    std::fs::write(&cfg.path, text).unwrap();
    let cfg = connwatch::config::Config::load(&cfg.path).unwrap();
    let (code, _, stderr) = login_in_browser(&cfg, "mail").await;
    assert_eq!(code, 0, "{stderr}");
    let q = &idp.authorize_requests()[0];
    let uri = &q["redirect_uri"];
    let rest = uri.strip_prefix("http://127.0.0.1:").expect(uri);
    let (port, path) = rest.split_once('/').unwrap();
    assert!(port.parse::<u16>().is_ok() && path == "callback", "{uri}");
    assert!(store(&cfg).load("mail").unwrap().is_some());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"))
        .arg("--config")
        .arg(&cfg.path)
        .args(["config", "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("redirect URI:    http://127.0.0.1:<free port>/callback"),
        "{text}"
    );
}

/// `auth_params` reach the authorization request (a `prompt` of the config's replaces the
/// provider's), and `login_hint` wins over `account`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_params_and_login_hint_are_in_the_authorization_request() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = browser_config(dir.path(), &idp);
    let text = std::fs::read_to_string(&cfg.path).unwrap().replacen(
        "name = \"mail\"\n",
        "name = \"mail\"\nauth_params = { domain_hint = \"contoso.com\", prompt = \"select_account\", ui_locales = \"fr\" }\nlogin_hint = \"alice+work@contoso.com\"\n",
        1,
    );
    std::fs::write(&cfg.path, text).unwrap();
    let cfg = connwatch::config::Config::load(&cfg.path).unwrap();
    let (code, _, stderr) = login_in_browser(&cfg, "mail").await;
    assert_eq!(code, 0, "{stderr}");
    let q = &idp.authorize_requests()[0];
    assert_eq!(q["domain_hint"], "contoso.com");
    assert_eq!(q["prompt"], "select_account");
    assert_eq!(q["ui_locales"], "fr");
    assert_eq!(q["login_hint"], "alice+work@contoso.com");
    assert_eq!(
        q["code_challenge_method"], "S256",
        "connwatch's own fields stay"
    );
}

/// A config whose redirect is `uri` (not on this machine: pasted back).
fn paste_back_config(dir: &std::path::Path, idp: &DemoIdp, uri: &str) -> connwatch::config::Config {
    let cfg = browser_config(dir, idp);
    let text = std::fs::read_to_string(&cfg.path).unwrap().replacen(
        "name = \"mail\"\n",
        &format!("name = \"mail\"\nredirect_uri = \"{uri}\"\n"),
        1,
    );
    std::fs::write(&cfg.path, text).unwrap();
    connwatch::config::Config::load(&cfg.path).unwrap()
}

/// Run `login mail --browser` for a pasted-back redirect: play the browser (the IdP's answer
/// is a redirect to an address nothing serves; its Location is what the address bar shows),
/// then write `pastes(location)` to stdin line by line. Returns (exit code, stdout, stderr).
async fn login_pasting(
    cfg: &connwatch::config::Config,
    pastes: impl FnOnce(&str) -> Vec<String>,
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_connwatch"));
    cmd.arg("--config")
        .arg(&cfg.path)
        .args(["login", "mail", "--browser"])
        .env("CONNWATCH_NO_BROWSER", "1")
        .env("NO_COLOR", "1");
    let login = paste_login::spawn(cmd).await;
    let url = login.url.clone();
    let r = paste_login::no_follow().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (code, stdout, rest) = login
        .paste(&pastes(&location), Duration::from_secs(30))
        .await;
    (code, stdout, format!("{url}\n{rest}"))
}

/// A client whose only redirect is `https://localhost/callback`: nothing can listen there,
/// so the address the browser ends on is pasted back. Garbage gets a reason and a second
/// chance; the real address signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_back_signs_in_after_a_second_chance() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = paste_back_config(dir.path(), &idp, "https://localhost/callback");
    let (code, stdout, stderr) = login_pasting(&cfg, |location| {
        assert!(
            location.starts_with("https://localhost/callback?code="),
            "{location}"
        );
        vec!["not an address".into(), location.to_owned()]
    })
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("mail: signed in;"), "{stdout}");
    assert!(stderr.contains("paste it here"), "{stderr}");
    assert!(
        stderr.contains("not taken: That is neither an address nor a code"),
        "{stderr}"
    );
    let q = &idp.authorize_requests()[0];
    assert_eq!(q["redirect_uri"], "https://localhost/callback");
    assert!(store(&cfg).load("mail").unwrap().is_some());
    for s in idp.issued_secrets() {
        assert!(
            !stdout.contains(&s) && !stderr.contains(&s),
            "no secret printed"
        );
    }
    // The query alone, or the bare code, works as well.
    let (code, _, stderr) = login_pasting(&cfg, |location| {
        vec![location.split_once('?').unwrap().1.to_owned()]
    })
    .await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = login_pasting(&cfg, |location| {
        let u = url::Url::parse(location).unwrap();
        vec![
            u.query_pairs()
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .into_owned(),
        ]
    })
    .await;
    assert_eq!(code, 0, "{stderr}");
}

/// An address with another sign-in's state is refused and its code never used; closing stdin
/// abandons the sign-in; the tokens on disk stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_address_with_another_state_is_refused() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = paste_back_config(dir.path(), &idp, "https://localhost/callback");
    let (code, stdout, stderr) = login_pasting(&cfg, |location| {
        let u = url::Url::parse(location).unwrap();
        let code = u
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        vec![format!(
            "https://localhost/callback?code={code}&state=not-ours"
        )]
    })
    .await;
    assert_ne!(code, 0);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("state_mismatch"), "{stderr}");
    assert_eq!(idp.token_requests(), 0, "the code was never exchanged");
    assert!(store(&cfg).load("mail").unwrap().is_none());

    let (code, _, stderr) = login_pasting(&cfg, |_| Vec::new()).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("nothing was pasted"), "{stderr}");
}

/// A redirect URI the app registration does not list: the IdP says AADSTS50011 on its own
/// page (as Entra does), and `explain` reads that page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_redirect_uri_gets_aadsts50011() {
    let idp = DemoIdp::start(fast_idp()).await.unwrap();
    let base = format!("{}/contoso.onmicrosoft.com/oauth2/v2.0", idp.base_url());
    let auth = browser::start(
        &format!("{base}/authorize"),
        CLIENT_ID,
        &[IMAP.to_owned()],
        &Redirect::Paste("https://app.example.com/oauth".into()),
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap();
    let r = reqwest::get(&auth.url).await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("AADSTS50011") && page.contains("https://app.example.com/oauth"),
        "{page}"
    );
    let d = connwatch::diagnose::diagnose_text(&page, ProviderHint::Entra);
    assert_eq!(d.code.as_deref(), Some("AADSTS50011"));
    assert_eq!(d.fix_by, connwatch::diagnose::FixBy::AppOwner);
    // A loopback one on another path is not registered either; on another port it is.
    for (redirect, ok) in [
        ("http://127.0.0.1/elsewhere", false),
        ("http://127.0.0.1:4999/callback", true),
    ] {
        let u = auth.url.replace(
            "redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth",
            &format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
            ),
        );
        let no_follow = paste_login::no_follow();
        let status = no_follow.get(&u).send().await.unwrap().status();
        assert_eq!(status == 302, ok, "{redirect}: {status}");
    }
}
