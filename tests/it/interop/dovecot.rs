//! Against a real mail server: Dovecot 2.3 (tests/it/support/dovecot.rs), its oauth2 passdb
//! asking the interop IdP's resource endpoint about each token — so Dovecot judges the very
//! tokens connwatch got from oidc-provider. `.ci/run` installs Dovecot; on a machine without
//! it these tests say so and skip, unless CONNWATCH_REQUIRE_SUITES is set (CI).
use std::path::PathBuf;

use super::{Env, Idp, device_login, env_with, node_project, run, saved, start_idp, status_json};

use crate::support::dovecot as server;

use server::{Dovecot, have_dovecot};

/// The interop IdP and a plain-text Dovecot judging its tokens, or `None` (said) without
/// Dovecot or node.
fn servers() -> Option<(Idp, Dovecot)> {
    if !have_dovecot() {
        return None;
    }
    let idp = start_idp(&node_project()?);
    let dc = start_dovecot(&idp, None);
    Some((idp, dc))
}

pub(super) fn start_dovecot(idp: &Idp, tls: Option<(&PathBuf, &PathBuf)>) -> Dovecot {
    let url = format!("{}/test/introspect", idp.issuer);
    server::start(&url, tls.map(|(c, k)| (c.as_path(), k.as_path())))
}

/// A test CA and a certificate for 127.0.0.1 and localhost signed by it (PEM files in `dir`):
/// (ca.pem, cert.pem, key.pem).
pub(super) fn test_ca(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "connwatch test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

/// A config for the interop IdP's client with these scopes and probes (and `extra` lines).
pub(super) fn mail_env(idp: &Idp, scopes: &[&str], probes: &[String], extra: &str) -> Env {
    let scopes: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    let probes: Vec<String> = probes.iter().map(|s| format!("{s:?}")).collect();
    env_with(
        &format!(
            "kind = \"mailbox\"\nscopes = [{}]\nprobe = [{}]\n{extra}",
            scopes.join(", "),
            probes.join(", ")
        ),
        idp,
    )
}

fn access_token(env: &Env) -> String {
    saved(env, "access_token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_accepts_a_token_with_the_mail_scope_over_imap_smtp_and_pop() {
    let Some((idp, dc)) = servers() else { return };
    let probes = vec![
        format!("imap://127.0.0.1:{}", dc.imap),
        format!("smtp://127.0.0.1:{}", dc.submission),
        format!("pop3://127.0.0.1:{}", dc.pop3),
        format!("imap://127.0.0.1:{}?auth=oauthbearer", dc.imap),
        format!("smtp://127.0.0.1:{}?auth=oauthbearer", dc.submission),
    ];
    let env = mail_env(
        &idp,
        &["openid", "offline_access", "api:read", "mail"],
        &probes,
        "",
    );
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, out, err) = run(&env, &["probe", "sso"]);
    assert_eq!(code, 0, "{out}{err}\n{}", dc.log());
    assert_eq!(
        out.lines().filter(|l| l.contains("  accepted  ")).count(),
        5,
        "{out}"
    );
    let s = status_json(&env);
    assert_eq!(s["state"], "connected", "{s}");
    assert!(
        s["probes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["ok"] == true),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_refuses_a_token_without_the_mail_scope_and_the_transcript_holds_no_token() {
    let Some((idp, dc)) = servers() else { return };
    let probes = vec![
        format!("imap://127.0.0.1:{}", dc.imap),
        format!("smtp://127.0.0.1:{}", dc.submission),
    ];
    let env = mail_env(&idp, &["openid", "offline_access", "api:read"], &probes, "");
    // The sign-in itself works; its probe already meets the refusal (exit 1, said on stderr).
    let (code, stdout, stderr) = device_login(&env).await;
    assert!(
        code == 1 && stdout.starts_with("sso: signed in;"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("refuses the token"), "{stderr}");
    let (code, out, err) = run(&env, &["probe", "sso", "--json"]);
    assert_eq!(code, 1, "{out}{err}\n{}", dc.log());
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = doc["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["diagnosis"]["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["NO [AUTHENTICATIONFAILED]", "535 5.7.8"], "{out}");
    // Dovecot's error challenge was answered and decoded.
    let smtp = &doc["probes"][1]["transcript"];
    assert!(smtp.to_string().contains("334 eyJ"), "{smtp}");
    let s = status_json(&env);
    assert_ne!(s["state"], "connected", "{s}");
    assert_eq!(s["last_error"]["code"], "NO [AUTHENTICATIONFAILED]", "{s}");
    let token = access_token(&env);
    for text in [out.as_str(), s.to_string().as_str(), err.as_str()] {
        assert!(!text.contains(&token), "the access token leaked");
        assert!(
            !text.contains(&token[..40]),
            "part of the access token leaked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_refuses_the_token_of_a_revoked_grant() {
    let Some((idp, dc)) = servers() else { return };
    let env = mail_env(
        &idp,
        &["openid", "offline_access", "api:read", "mail"],
        &[format!("imap://127.0.0.1:{}", dc.imap)],
        "",
    );
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, out, err) = run(&env, &["probe"]);
    assert_eq!(code, 0, "{out}{err}");
    super::revoke_grants(&idp).await;
    let (code, out, err) = run(&env, &["probe"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("refused") && out.contains("NO [AUTHENTICATIONFAILED]"),
        "{out}"
    );
    assert_eq!(status_json(&env)["state"], "needs_reauth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_over_tls_is_trusted_through_ca_file_and_refused_without_it() {
    if !have_dovecot() {
        return;
    }
    let Some(dir) = node_project() else { return };
    let idp = start_idp(&dir);
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(certs.path());
    let dc = start_dovecot(&idp, Some((&cert, &key)));
    let probes = vec![
        format!("imaps://127.0.0.1:{}", dc.imaps),
        format!("imap://127.0.0.1:{}", dc.imap),
        format!("smtp://127.0.0.1:{}", dc.submission),
    ];
    let scopes = ["openid", "offline_access", "api:read", "mail"];
    let trusted = mail_env(
        &idp,
        &scopes,
        &probes,
        &format!("ca_file = {:?}\n", ca.display().to_string()),
    );
    let (code, _, stderr) = device_login(&trusted).await;
    assert_eq!(code, 0, "{stderr}\n{}", dc.log());
    let (code, out, err) = run(&trusted, &["probe", "--json"]);
    assert_eq!(code, 0, "{out}{err}\n{}", dc.log());
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for p in doc["probes"].as_array().unwrap() {
        let t = p["transcript"].to_string();
        assert!(
            p["url"].as_str().unwrap().starts_with("imaps") || t.contains("TLS handshake"),
            "{t}"
        );
    }

    // The same server, the same kind of token, no ca_file: a tls diagnosis naming the host.
    let untrusted = mail_env(&idp, &scopes, &probes, "");
    let (code, stdout, stderr) = device_login(&untrusted).await;
    assert!(
        code == 1 && stdout.starts_with("sso: signed in;"),
        "{stdout}{stderr}"
    );
    let (code, out, err) = run(&untrusted, &["probe", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for p in doc["probes"].as_array().unwrap() {
        assert_eq!(p["diagnosis"]["cause"], "tls", "{p}");
        let summary = p["diagnosis"]["summary"].as_str().unwrap();
        assert!(
            summary.contains("127.0.0.1:") && summary.contains("CA"),
            "{summary}"
        );
    }
}

/// `notify_email`, as Zoom alerts: a broken connection's alert goes out through the user's
/// own mailbox (its token, XOAUTH2 at Dovecot's submission service) and reaches the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_alert_goes_through_dovecot_submission_with_xoauth2() {
    let Some((idp, dc)) = servers() else { return };
    let env = mail_env(
        &idp,
        &["openid", "offline_access", "api:read", "mail"],
        &[format!("smtp://127.0.0.1:{}", dc.submission)],
        "\n[[connection]]\nname = \"broken\"\nprovider = \"oidc\"\nissuer = \"http://127.0.0.1:9\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\nscopes = [\"offline_access\"]\n",
    );
    let text = format!(
        "notify_email = {{ via = \"sso\", to = \"ops@example.test\" }}\n{}",
        std::fs::read_to_string(&env.config).unwrap()
    );
    std::fs::write(&env.config, text).unwrap();
    let (code, _, stderr) = device_login(&env).await;
    assert_eq!(code, 0, "{stderr}");
    // `broken` holds an expired token whose IdP is gone: it cannot renew.
    let path = env.data.join("tokens/broken.json");
    std::fs::write(
        &path,
        r#"{"version":1,"access_token":"expired","refresh_token":"rt","id_token":null,"expires_at":"2020-01-01T00:00:00Z","granted_scopes":["offline_access"],"obtained_at":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (code, out, err) = run(&env, &["watch", "--once"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("alert emailed to ops@example.test through sso"),
        "{err}\n{}",
        dc.log()
    );
    let relayed = dc.relayed.lock().unwrap().clone();
    assert_eq!(relayed.len(), 1, "{relayed:?}\n{}", dc.log());
    let m = &relayed[0];
    assert!(
        m.contains("Subject: [connwatch] broken cannot renew its token"),
        "{m}"
    );
    assert!(
        m.contains("To: <ops@example.test>") && m.contains("connwatch status broken"),
        "{m}"
    );
    let token = access_token(&env);
    assert!(
        !m.contains(&token) && !err.contains(&token),
        "a token in the alert or the log"
    );
}
