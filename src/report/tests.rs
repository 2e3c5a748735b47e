//! Pure derivation of `status` rows and `check` verdicts from what the store holds.
use std::time::Duration;

use jiff::Timestamp;

use super::check::{Level, evaluate, judge};
use super::*;
use crate::config::{Flow, Kind, ProviderKind};
use crate::diagnose::Cause;
use crate::secret::Secret;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn at(offset_s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + offset_s).unwrap()
}

fn conn(scopes: &[&str]) -> Connection {
    Connection {
        name: "mail".into(),
        kind: Kind::Mailbox,
        provider: ProviderKind::Entra,
        tenant: Some("contoso.onmicrosoft.com".into()),
        issuer: None,
        client_id: "c".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        flow: Flow::Device,
        account: Some("alice@contoso.com".into()),
        expect: Default::default(),
        probe: Vec::new(),
        ca_file: None,
        probe_every: None,
        refresh_before: Duration::from_secs(300),
        min_refresh_interval: Duration::from_secs(30),
        authority_host: None,
        token_url: None,
        device_url: None,
        client_secret: None,
        redirect_uri: None,
        auth_params: Vec::new(),
        login_hint: None,
    }
}

fn tokens(obtained: i64, expires: i64, rt: bool) -> TokenSet {
    TokenSet {
        version: 1,
        access_token: Secret::new("at"),
        refresh_token: rt.then(|| Secret::new("rt")),
        id_token: None,
        expires_at: Some(at(expires)),
        granted_scopes: vec!["Mail.Read".into()],
        obtained_at: at(obtained),
        signed_in_at: None,
    }
}

fn refused(state: ConnState, when: i64) -> StatusRecord {
    let mut d = Diagnosis::of(
        Cause::ConditionalAccess,
        false,
        true,
        "blocked".into(),
        "sign in",
    );
    d.code = Some("AADSTS53003".into());
    StatusRecord {
        state,
        last_error: Some(d),
        last_error_at: Some(at(when)),
        last_success: Some(at(-7200)),
        failures: 3,
        history: Vec::new(),
        probes: Vec::new(),
        sign_in_frequency_s: None,
        activity: None,
        changed_at: None,
    }
}

const OFFLINE: &[&str] = &["Mail.Read", "offline_access"];

#[test]
fn no_token_file_is_signed_out() {
    let s = derive(&conn(OFFLINE), Ok(None), None, now());
    assert_eq!(s.state, ConnState::SignedOut);
    assert_eq!(
        judge(&s, now(), Duration::from_secs(600)).0,
        Level::Critical
    );
}

#[test]
fn a_refusal_after_the_tokens_were_obtained_stands() {
    let s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-3600, 600, true))),
        Some(refused(ConnState::NeedsReauth, -10)),
        now(),
    );
    assert_eq!(s.state, ConnState::NeedsReauth);
    assert_eq!(
        s.last_error.as_ref().unwrap().code.as_deref(),
        Some("AADSTS53003")
    );
    assert_eq!(s.failures, 3);
    let (level, line) = evaluate(&[s], now(), Duration::from_secs(600));
    assert_eq!(level, Level::Critical);
    assert!(
        line.starts_with("CONNWATCH CRITICAL - mail needs_reauth (AADSTS53003); 0 OK | "),
        "{line}"
    );
}

#[test]
fn tokens_obtained_after_a_refusal_supersede_it() {
    let s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-5, 3600, true))),
        Some(refused(ConnState::NeedsReauth, -10)),
        now(),
    );
    assert_eq!(s.state, ConnState::Connected);
    assert!(s.last_error.is_none());
    assert_eq!(s.last_success, Some(at(-5)));
    assert_eq!(judge(&s, now(), Duration::from_secs(600)).0, Level::Ok);
}

#[test]
fn an_expired_token_with_a_refresh_token_is_disconnected_until_renewed() {
    let s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-7200, -10, true))),
        None,
        now(),
    );
    // The worker says the same (DESIGN.md, one truth): not connected past expiry.
    assert_eq!(s.state, ConnState::Disconnected);
    assert_eq!(s.access_expires_in_s(now()), Some(-10));
    assert!(s.note.as_deref().unwrap().contains("next use renews"));
    assert_eq!(judge(&s, now(), Duration::from_secs(600)).0, Level::Warning);
}

#[test]
fn without_a_refresh_token_expiry_warns_then_needs_reauth() {
    let soon = derive(
        &conn(&["Mail.Read"]),
        Ok(Some(tokens(-3000, 300, false))),
        None,
        now(),
    );
    assert_eq!(soon.state, ConnState::Connected);
    let (level, why) = judge(&soon, now(), Duration::from_secs(600));
    assert_eq!(level, Level::Warning);
    assert_eq!(why.unwrap(), "mail expires in 300s without a refresh token");
    assert_eq!(judge(&soon, now(), Duration::from_secs(60)).0, Level::Ok);

    let gone = derive(
        &conn(&["Mail.Read"]),
        Ok(Some(tokens(-3600, -1, false))),
        None,
        now(),
    );
    assert_eq!(gone.state, ConnState::NeedsReauth);
    assert_eq!(
        gone.last_error.as_ref().unwrap().cause,
        Cause::MissingOfflineAccess
    );
}

#[test]
fn a_transient_failure_warns_and_disconnected_warns() {
    let mut d = Diagnosis::of(Cause::ServerError, true, false, "503".into(), "wait");
    d.code = Some("temporarily_unavailable".into());
    let rec = StatusRecord {
        state: ConnState::Disconnected,
        last_error: Some(d),
        last_error_at: Some(at(-1)),
        last_success: None,
        failures: 1,
        history: Vec::new(),
        probes: Vec::new(),
        sign_in_frequency_s: None,
        activity: None,
        changed_at: None,
    };
    let s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-3600, -5, true))),
        Some(rec),
        now(),
    );
    assert_eq!(s.state, ConnState::Disconnected);
    assert_eq!(
        judge(&s, now(), Duration::from_secs(600)),
        (
            Level::Warning,
            Some("mail disconnected (temporarily_unavailable)".into())
        )
    );
}

#[test]
fn an_unreadable_store_is_unknown_and_outranks_warning() {
    let io = StoreError::Io {
        path: "/x/mail.json".into(),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    };
    let s = derive(&conn(OFFLINE), Err(io), None, now());
    assert!(s.unreadable);
    let warn = derive(
        &conn(&["Mail.Read"]),
        Ok(Some(tokens(-3000, 300, false))),
        None,
        now(),
    );
    let (level, _) = evaluate(&[warn, s], now(), Duration::from_secs(600));
    assert_eq!(level, Level::Unknown);
    assert_eq!(level.exit_code(), 3);
}

#[test]
fn prometheus_labels_are_escaped_and_every_state_is_present() {
    let mut s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-60, 3540, true))),
        None,
        now(),
    );
    s.account = Some("a\"b\\c\nd\u{1b}]0;t\u{7}".into());
    let text = prometheus::render(&[s], now());
    assert!(
        text.contains("account=\"a\\\"b\\\\c\\nd\u{FFFD}]0;t\u{FFFD}\""),
        "{text}"
    );
    assert_eq!(text.matches("connwatch_connection_state{").count(), 8);
    assert!(text.contains("connwatch_connection_state{connection=\"mail\",state=\"connected\"} 1"));
    assert!(text.contains("connwatch_access_token_expires_in_seconds{connection=\"mail\"} 3540"));
}

#[test]
fn the_json_document_never_carries_a_token() {
    let s = derive(
        &conn(OFFLINE),
        Ok(Some(tokens(-60, 3540, true))),
        None,
        now(),
    );
    let text = json::render(&[s], now(), Some(4242));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["watched_by"], 4242);
    assert_eq!(v["connections"][0]["state"], "connected");
    assert!(!text.contains("\"at\"") && !text.contains("\"rt\""));
}
