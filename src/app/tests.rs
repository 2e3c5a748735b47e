use jiff::Timestamp;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::config::{Kind, ProviderKind};
use crate::worker::DeviceCodeView;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_795_000_000 + s).unwrap()
}

fn view(name: &str, state: ConnState) -> ConnectionView {
    ConnectionView {
        name: name.into(),
        kind: Kind::Mailbox,
        provider: ProviderKind::Entra,
        account: Some("alice@contoso.com".into()),
        realm: Some("contoso.onmicrosoft.com".into()),
        state,
        note: None,
        access_expires_at: Some(t(120)),
        has_refresh_token: true,
        granted_scopes: vec![],
        token_preview: Some("eyJ0…(1200 chars)".into()),
        last_error: None,
        last_error_at: None,
        last_success: None,
        next_attempt_at: None,
        busy: false,
        history: vec![],
    }
}

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn state_with(names: &[&str]) -> State {
    let mut s = State::new("test", t(0));
    for n in names {
        update(
            &mut s,
            Action::Worker(Event::Connection(Box::new(view(n, ConnState::Connected)))),
        );
    }
    s
}

#[test]
fn keys_select_and_ask_the_worker() {
    let mut s = state_with(&["a", "b", "c"]);
    assert_eq!(update(&mut s, key('j')).requests, vec![]);
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
    );
    update(&mut s, key('j')); // stays on the last row
    assert_eq!(s.selected, 2);
    update(&mut s, key('k'));
    assert_eq!(
        update(&mut s, key('r')).requests,
        vec![Request::Refresh { name: "b".into() }]
    );
    assert_eq!(
        update(&mut s, key('d')).requests,
        vec![Request::Decode { name: "b".into() }]
    );
}

#[test]
fn purge_asks_first() {
    let mut s = state_with(&["a"]);
    assert_eq!(update(&mut s, key('p')).requests, vec![]);
    assert_eq!(s.popup, Some(Popup::ConfirmPurge { name: "a".into() }));
    assert_eq!(update(&mut s, key('n')).requests, vec![]);
    assert_eq!(s.popup, None);
    update(&mut s, key('p'));
    assert_eq!(
        update(&mut s, key('y')).requests,
        vec![Request::Purge { name: "a".into() }]
    );
    assert_eq!(s.popup, None);
}

#[test]
fn reauthorize_shows_the_code_and_closes_on_success() {
    let mut s = state_with(&["a"]);
    assert_eq!(
        update(&mut s, key('a')).requests,
        vec![Request::SignIn { name: "a".into() }]
    );
    let code = DeviceCodeView {
        name: "a".into(),
        user_code: "GF4KDXP2Q".into(),
        verification_uri: "http://127.0.0.1:1/devicelogin".into(),
        expires_at: t(900),
        message: None,
    };
    update(&mut s, Action::Worker(Event::DeviceCode(code.clone())));
    assert_eq!(
        s.popup,
        Some(Popup::SignIn {
            name: "a".into(),
            code: Some(code)
        })
    );
    update(
        &mut s,
        Action::Worker(Event::SignInEnded {
            name: "a".into(),
            ok: true,
        }),
    );
    assert_eq!(s.popup, None);
    assert_eq!(s.flash.as_deref(), Some("a: signed in"));
}

#[test]
fn escape_cancels_a_sign_in() {
    let mut s = state_with(&["a"]);
    update(&mut s, key('a'));
    let fx = update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    assert_eq!(
        fx.requests,
        vec![Request::CancelSignIn { name: "a".into() }]
    );
    assert_eq!(s.popup, None);
    assert!(!s.quit);
}

#[test]
fn selection_follows_the_connection_when_rows_update() {
    let mut s = state_with(&["a", "b"]);
    update(&mut s, key('j'));
    update(
        &mut s,
        Action::Worker(Event::Connection(Box::new(view(
            "b",
            ConnState::NeedsReauth,
        )))),
    );
    assert_eq!(s.selected_row().unwrap().name, "b");
    assert_eq!(s.selected_row().unwrap().state, ConnState::NeedsReauth);
}

#[test]
fn ticks_only_matter_while_something_counts_down() {
    let mut s = state_with(&["a"]);
    assert!(s.counting_down());
    assert!(update(&mut s, Action::Tick(t(1))).dirty);
    assert!(
        !update(&mut s, Action::Tick(t(1))).dirty,
        "same second: nothing to redraw"
    );
    update(&mut s, Action::Tick(t(200)));
    assert!(
        !s.counting_down(),
        "expired token and nothing in flight: no tick needed"
    );
}

#[test]
fn quit_keys() {
    let mut s = state_with(&["a"]);
    update(&mut s, key('q'));
    assert!(s.quit);
    let mut s = state_with(&[]);
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(s.quit);
    // No rows: keys that need a row do nothing.
    let mut s = state_with(&[]);
    assert_eq!(update(&mut s, key('r')).requests, vec![]);
    assert_eq!(update(&mut s, key('a')).requests, vec![]);
}
