//! `connwatch explain` and `connwatch decode` through the real binary.
use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn cmd() -> Command {
    let mut c = Command::cargo_bin("connwatch").unwrap();
    c.env("NO_COLOR", "1")
        .env("CONNWATCH_CONFIG", "tests/valid_configs/entra_mailbox.toml");
    c
}

fn jwt(header: Value, claims: Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&claims))
}

/// 2026-11-24T19:33:20Z
const NOW: i64 = 1_795_548_800;

fn graph_token(scp: &str, exp: i64) -> String {
    jwt(
        json!({"typ":"JWT","alg":"RS256","kid":"k1","nonce":"abc"}),
        json!({"aud":"00000003-0000-0000-c000-000000000000","iss":"https://sts.windows.net/3e8d1c7b-5a4f-4e2d-9c1b-8a7f6e5d4c3b/",
               "tid":"3e8d1c7b-5a4f-4e2d-9c1b-8a7f6e5d4c3b","idp":"https://sts.windows.net/7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c/","acct":1,
               "scp":scp,"iat":NOW - 600,"nbf":NOW - 600,"exp":exp,"appid":"8f1c2d3e","upn":"alice@contoso.com","idtyp":"user"}),
    )
}

#[test]
fn explain_a_body_from_stdin_human_and_json() {
    let body = std::fs::read("tests/fixtures/errors/entra_53003_conditional_access.json").unwrap();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let input = doc["body"].as_str().unwrap().to_owned();
    let out = cmd()
        .arg("explain")
        .write_stdin(input.clone())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.starts_with("conditional_access (AADSTS53003)"),
        "{text}"
    );
    assert!(
        text.contains("trace id: 0b6a2f1c-1d2e-4f3a-9b8c-7d6e5f4a3b2c"),
        "{text}"
    );
    let out = cmd()
        .args(["explain", "-", "--json"])
        .write_stdin(input)
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["cause"], "conditional_access");
    assert_eq!(v["needs_reauth"], true);
    assert_eq!(v["retryable"], false);
    for k in [
        "cause",
        "code",
        "error",
        "suberror",
        "needs_reauth",
        "retryable",
        "retry_after_s",
        "summary",
        "action",
        "trace_id",
        "correlation_id",
        "timestamp",
        "claims",
        "http_status",
    ] {
        assert!(v.get(k).is_some(), "DESIGN.md's Diagnosis JSON has {k}");
    }
}

#[test]
fn explain_a_bare_code_a_file_and_a_pasted_redirect() {
    let out = cmd().args(["explain", "70043"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("sign-in frequency"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(
        &file,
        r#"{"reason":"Invalid Token!","error":"invalid_grant"}"#,
    )
    .unwrap();
    let out = cmd()
        .arg("explain")
        .arg(&file)
        .arg("--json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["cause"], "grant_revoked");
    let out = cmd()
        .args(["explain", "http://127.0.0.1:8400/?error=consent_required&error_description=AADSTS65001%3A+The+user+or+administrator+has+not+consented+to+use+the+application+with+ID+%27abc%27."])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.starts_with("consent_required (AADSTS65001)"), "{text}");
    assert!(text.contains("'abc'"), "names the app: {text}");
}

#[test]
fn explain_missing_file_and_garbage() {
    let out = cmd()
        .args(["explain", "no/such/file.json"])
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr)
            .contains("no such file: no/such/file.json")
    );
    let out = cmd()
        .args(["explain", "--json"])
        .write_stdin(vec![0xff, 0xfe, 0x00, 0x7b])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["cause"], "unknown");
}

#[test]
fn decode_reports_findings_and_never_echoes_the_token() {
    let token = graph_token("Calendars.Read", NOW + 120);
    let out = cmd()
        .args([
            "decode",
            "--at",
            &NOW.to_string(),
            "--expect-scope",
            "Mail.Read",
            "--expect-audience",
            "https://outlook.office.com",
        ])
        .write_stdin(token.clone())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!text.contains(&token), "the token is never printed back");
    assert!(text.contains("scope Mail.Read is missing"), "{text}");
    assert!(
        text.contains("issued for audience 00000003-0000-0000-c000-000000000000"),
        "{text}"
    );
    assert!(text.contains("expires in 120 s"), "{text}");
    assert!(text.contains("guest account"), "{text}");
    assert!(text.contains("nonce"), "{text}");

    let out = cmd()
        .args(["decode", "--json", "--at", "2026-11-24T19:33:20Z"])
        .write_stdin(graph_token("Mail.Read", NOW - 5))
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["expired", "unverifiable_signature", "guest"]);
    assert_eq!(v["expires_in_s"], -5);
    assert_eq!(v["format"], "jwt");
}

#[test]
fn decode_with_a_connections_expectations() {
    // entra_mailbox.toml expects audience https://outlook.office.com and IMAP.AccessAsUser.All.
    let out = cmd()
        .args([
            "decode",
            "--connection",
            "work-mail",
            "--at",
            &NOW.to_string(),
        ])
        .write_stdin(graph_token("Calendars.Read", NOW + 3600))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("scope IMAP.AccessAsUser.All is missing"),
        "{text}"
    );
    assert!(
        text.contains(
            "but https://outlook.office.com (Exchange Online: IMAP, SMTP, EWS) is expected"
        ),
        "{text}"
    );
    cmd()
        .args(["decode", "--connection", "nope"])
        .write_stdin("x")
        .assert()
        .code(2);
}

#[test]
fn decode_opaque_and_bad_input() {
    let out = cmd()
        .args(["decode", "--json"])
        .write_stdin("ya29.a0AfH6SMBx-opaque-google-token")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["format"], "opaque");
    assert_eq!(v["findings"][0]["kind"], "opaque");
    let out = cmd().arg("decode").write_stdin("").assert().code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("no token given"));
    let out = cmd()
        .args(["decode", "--at", "yesterday"])
        .write_stdin("a.b.c")
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("RFC 3339"));
}

#[test]
fn explain_a_success_response_without_refresh_token() {
    let resp = r#"{"token_type":"Bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJub25jZSI6IkFRQUIifQ.eyJhdWQiOiJ4In0.c2ln"}"#;
    let out = cmd().arg("explain").write_stdin(resp).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("refresh token: no"), "{text}");
    assert!(text.contains("offline_access was not requested"), "{text}");
    assert!(!text.contains("eyJ0eXAi"), "never echoes the token: {text}");
    let out = cmd()
        .args(["explain", "--json"])
        .write_stdin(resp)
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    // Something is wrong, so `explain --json` speaks Diagnosis JSON (DESIGN.md).
    assert_eq!(v["cause"], "missing_offline_access");
    assert_eq!(v["needs_reauth"], true);
    assert!(v["summary"].as_str().unwrap().contains("no refresh token"));
    assert!(!out.get_output().stdout.windows(8).any(|w| w == b"eyJ0eXAi"));
    // With a refresh token nothing failed: the response's facts, still without the tokens.
    let ok = r#"{"token_type":"Bearer","scope":"Mail.Read offline_access","expires_in":3599,"access_token":"eyJ0eXAi.e30.c2ln","refresh_token":"0.AVYA-secret"}"#;
    let out = cmd()
        .args(["explain", "--json"])
        .write_stdin(ok)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["has_refresh_token"], true);
    assert!(
        !text.contains("0.AVYA-secret") && !text.contains("eyJ0eXAi"),
        "{text}"
    );
}

#[test]
fn explain_names_what_the_provider_named() {
    let body = std::fs::read("tests/fixtures/errors/entra_50020_not_in_tenant.json").unwrap();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let out = cmd()
        .arg("explain")
        .write_stdin(doc["body"].as_str().unwrap().to_owned())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.starts_with("tenant_mismatch (AADSTS50020)"), "{text}");
    assert!(
        text.contains("'alice@contoso.com'") && text.contains("tenant 'Fabrikam'"),
        "{text}"
    );
    assert!(text.contains("connwatch login <connection>"), "{text}");
}

#[test]
fn explain_a_raw_http_answer_and_provider_codes() {
    let out = cmd()
        .args(["explain", "--json"])
        .write_stdin("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS90033: A transient error has occurred. Please try again.\",\"error_codes\":[90033]}")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["cause"], "server_error");
    assert_eq!(v["retryable"], true);
    assert_eq!(v["retry_after_s"], 30);
    assert_eq!(v["http_status"], 503);
    let out = cmd()
        .args(["explain", "124", "--provider", "zoom", "--json"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        (v["cause"].as_str(), v["code"].as_str()),
        (Some("token_expired"), Some("124"))
    );
    cmd()
        .args(["explain", "124", "--provider", "yahoo"])
        .assert()
        .code(2);
}

#[test]
fn explain_a_file_name_that_does_not_exist() {
    let out = cmd().args(["explain", "error-body.json"]).assert().code(1);
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr).contains("no such file: error-body.json")
    );
    // A code or a sentence is never taken for a file name.
    cmd().args(["explain", "AADSTS50173"]).assert().success();
    cmd()
        .args(["explain", "Token has been expired or revoked."])
        .assert()
        .success();
}

#[test]
fn decode_a_token_inside_what_carried_it_and_from_a_file() {
    let token = graph_token("Mail.Read", NOW + 3600);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.txt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    for input in [
        format!("Authorization: Bearer {token}"),
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#),
    ] {
        let out = cmd()
            .args(["decode", "--json", "--at", &NOW.to_string()])
            .write_stdin(input)
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], "jwt");
        assert_eq!(v["scopes"][0], "Mail.Read");
        assert!(!text.contains(&token));
    }
    let out = cmd()
        .arg("decode")
        .arg(&file)
        .args(["--at", "2026-11-24T19:33:20Z"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("issuer     v1.0 token"), "{text}");
    assert!(text.contains("2026-11-24T20:33:20Z"), "the expiry: {text}");
    assert!(!text.contains(&token));
}

/// mbsync 1.4 prints its whole SASL string: explain warns that the pasted text holds a live
/// token, and never prints it back.
#[test]
fn explain_warns_when_the_pasted_text_holds_a_live_token() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWEtbGl2ZS10b2tlbg";
    let sasl = base64::engine::general_purpose::STANDARD.encode(format!(
        "user=alice@contoso.com\x01auth=Bearer {token}\x01\x01"
    ));
    let text = format!(
        "IMAP command 'AUTHENTICATE XOAUTH2 {sasl}' returned an error: NO AUTHENTICATE failed."
    );
    let out = cmd().arg("explain").write_stdin(text).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success());
    assert!(stderr.contains("holds a bearer token"), "{stderr}");
    for t in [token, sasl.as_str()] {
        assert!(
            !stdout.contains(t) && !stderr.contains(t),
            "{stdout}{stderr}"
        );
    }
}
