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
        scopes_asked: vec![
            "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
            "offline_access".into(),
        ],
        granted_scopes: vec![],
        obtained_at: None,
        token_preview: Some("eyJ0…(1200 chars)".into()),
        last_error: None,
        last_error_at: None,
        last_success: None,
        next_attempt_at: None,
        busy: false,
        history: vec![],
        probes: vec![],
        sign_in_by: None,
        sign_in_by_reason: None,
        activity: None,
    }
}

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn key_code(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
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
        paste: None,
        refused: None,
    };
    update(&mut s, Action::Worker(Event::DeviceCode(code.clone())));
    assert_eq!(
        s.popup,
        Some(Popup::SignIn {
            name: "a".into(),
            code: Some(code),
            input: crate::app::PasteField::default(),
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

fn special(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn send_view(s: &mut State, v: ConnectionView) -> Effects {
    update(s, Action::Worker(Event::Connection(Box::new(v))))
}

#[test]
fn filter_as_you_type_keeps_the_selection_and_esc_clears_it() {
    let mut s = state_with(&["work-mail", "team-calendar", "legacy-mail"]);
    update(&mut s, key('G')); // legacy-mail
    for c in "/mail".chars() {
        update(&mut s, key(c));
    }
    assert!(s.filtering);
    let shown: Vec<&str> = s.visible.iter().map(|&i| s.rows[i].name.as_str()).collect();
    assert_eq!(shown, ["work-mail", "legacy-mail"]);
    assert_eq!(
        s.selected_row().unwrap().name,
        "legacy-mail",
        "selection kept"
    );
    // Typing a key bound to a command goes into the filter, not to the command.
    update(&mut s, key('q'));
    assert!(!s.quit);
    update(&mut s, special(KeyCode::Backspace));
    update(&mut s, special(KeyCode::Enter));
    assert!(!s.filtering);
    assert_eq!(s.filter, "mail");
    update(&mut s, special(KeyCode::Esc));
    assert_eq!(s.filter, "");
    assert_eq!(s.visible.len(), 3);
    assert_eq!(s.selected_row().unwrap().name, "legacy-mail");
}

#[test]
fn sort_cycles_and_follows_updates() {
    let mut s = state_with(&["a", "b", "c"]);
    update(&mut s, key('s'));
    assert_eq!(s.sort, Sort::Severity);
    assert_eq!(s.selected_row().unwrap().name, "a");
    send_view(&mut s, view("c", ConnState::NeedsReauth));
    let order: Vec<&str> = s.visible.iter().map(|&i| s.rows[i].name.as_str()).collect();
    assert_eq!(order, ["c", "a", "b"], "worst first, as it changes");
    assert_eq!(
        s.selected_row().unwrap().name,
        "a",
        "the selection stays on a"
    );
    update(&mut s, key('s'));
    assert_eq!(s.sort, Sort::Expiry);
    update(&mut s, key('s'));
    update(&mut s, key('s'));
    assert_eq!(s.sort, Sort::Config);
}

#[test]
fn details_ask_for_the_decoded_token_of_the_selected_row() {
    let mut s = state_with(&["a", "b"]);
    let fx = update(&mut s, special(KeyCode::Enter));
    assert!(s.detail);
    assert_eq!(fx.requests, vec![Request::Decode { name: "a".into() }]);
    let fx = update(&mut s, key('j'));
    assert_eq!(fx.requests, vec![Request::Decode { name: "b".into() }]);
    // The answer fills the pane instead of opening a popup.
    let report = crate::token::inspect("not-a-jwt", &Default::default(), t(0));
    update(
        &mut s,
        Action::Worker(Event::Decoded {
            name: "b".into(),
            report: Box::new(report),
        }),
    );
    assert!(s.popup.is_none());
    assert_eq!(s.detail_report.as_ref().unwrap().0, "b");
    update(&mut s, special(KeyCode::Esc));
    assert!(!s.detail && !s.quit, "Esc closes the pane, never quits");
}

#[test]
fn refresh_all_goes_through_the_worker_and_counts_progress() {
    let mut s = state_with(&["a", "b"]);
    let fx = update(&mut s, key('R'));
    assert_eq!(fx.requests, vec![Request::RefreshAll]);
    assert_eq!(s.refresh_all.as_ref().unwrap().total, 2);
    let mut busy = view("a", ConnState::Connected);
    busy.busy = true;
    send_view(&mut s, busy);
    assert!(
        s.tick_every().unwrap() < std::time::Duration::from_secs(1),
        "spinner ticks"
    );
    // A view going idle is not the end: the job's own Finished is.
    send_view(&mut s, view("a", ConnState::Connected));
    assert_eq!(s.refresh_all.as_ref().unwrap().done(), 0);
    let finished = |name: &str, outcome: crate::worker::Finish| Event::Finished {
        id: None,
        name: name.into(),
        outcome,
        probe_refusal: None,
        took: std::time::Duration::from_millis(5),
    };
    update(
        &mut s,
        Action::Worker(finished("a", crate::worker::Finish::Renewed)),
    );
    assert_eq!(s.refresh_all.as_ref().unwrap().done(), 1);
    let revoked = crate::diagnose::Diagnosis::of(
        crate::diagnose::Cause::GrantRevoked,
        false,
        true,
        "revoked".into(),
        "sign in",
    );
    let mut failed = view("b", ConnState::NeedsReauth);
    failed.last_error = Some(revoked.clone());
    send_view(&mut s, failed);
    update(
        &mut s,
        Action::Worker(finished(
            "b",
            crate::worker::Finish::Failed(Box::new(revoked)),
        )),
    );
    assert!(s.refresh_all.is_none());
    assert_eq!(
        s.flash.as_deref(),
        Some("refreshed 2 connection(s): 1 ok, 1 failed")
    );
}

#[test]
fn a_connection_going_bad_notifies_once_per_episode() {
    let mut s = state_with(&["a"]);
    let bad = || {
        let mut v = view("a", ConnState::NeedsReauth);
        v.last_error = Some(crate::diagnose::Diagnosis::of(
            crate::diagnose::Cause::ConditionalAccess,
            false,
            true,
            "blocked".into(),
            "sign in",
        ));
        v
    };
    let fx = send_view(&mut s, bad());
    assert!(fx.bell);
    assert_eq!(
        fx.notices,
        vec![Notice {
            name: "a".into(),
            state: ConnState::NeedsReauth,
            cause: Some("conditional_access".into()),
            code: None,
            action: Some("sign in (press a in the dashboard, or run: connwatch login a).".into()),
            summary: Some("blocked".into()),
            fix_by: Some(crate::diagnose::FixBy::User),
            who: Some("you".into()),
            sign_in_by: None,
        }]
    );
    // Still bad, or bad in another way: the same episode, no second notice.
    assert!(send_view(&mut s, bad()).notices.is_empty());
    assert!(!send_view(&mut s, view("a", ConnState::Disconnected)).bell);
    // Recovered, then bad again: a new episode.
    send_view(&mut s, view("a", ConnState::Connected));
    assert!(send_view(&mut s, bad()).bell);
    // A row that is already bad when first seen is on screen; no bell for it.
    let mut fresh = view("z", ConnState::NeedsReauth);
    fresh.access_expires_at = None;
    assert!(!send_view(&mut s, fresh).bell);
}

#[test]
fn the_sign_in_popup_copies_the_code_and_opens_the_page() {
    let mut s = state_with(&["a"]);
    update(&mut s, key('a'));
    let code = DeviceCodeView {
        name: "a".into(),
        user_code: "GF4KDXP2Q".into(),
        verification_uri: "http://127.0.0.1:1/devicelogin".into(),
        expires_at: t(900),
        message: None,
        paste: None,
        refused: None,
    };
    update(&mut s, Action::Worker(Event::DeviceCode(code)));
    assert_eq!(update(&mut s, key('c')).copy.as_deref(), Some("GF4KDXP2Q"));
    assert_eq!(
        update(&mut s, key('o')).open.as_deref(),
        Some("http://127.0.0.1:1/devicelogin")
    );
    assert!(s.popup.is_some(), "copying and opening keep the popup");
    assert_eq!(
        update(&mut s, key('b')).requests,
        vec![],
        "other keys do nothing while the popup is up"
    );
}

#[test]
fn b_signs_in_in_the_browser_and_help_opens_and_closes() {
    let mut s = state_with(&["a"]);
    assert_eq!(
        update(&mut s, key('b')).requests,
        vec![Request::SignInBrowser { name: "a".into() }]
    );
    update(&mut s, special(KeyCode::Esc));
    update(&mut s, key('?'));
    assert_eq!(s.popup, Some(Popup::Help));
    update(&mut s, key('?'));
    assert_eq!(s.popup, None);
}

#[test]
fn paging_top_bottom_and_the_mouse() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let names: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut s = state_with(&refs);
    update(&mut s, Action::Resize(80, 24));
    update(&mut s, special(KeyCode::PageDown));
    assert_eq!(
        s.selected, 18,
        "one screen: 24 rows minus title, hint, footer, borders, header"
    );
    update(&mut s, key('G'));
    assert_eq!(s.selected, 99);
    update(&mut s, key('g'));
    assert_eq!(s.selected, 0);
    let mouse = |kind, row| {
        Action::Mouse(MouseEvent {
            kind,
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    update(&mut s, mouse(MouseEventKind::ScrollDown, 5));
    assert_eq!(s.selected, 1);
    // Row 3 of the screen is the first table row (title, border, header above it).
    update(&mut s, mouse(MouseEventKind::Down(MouseButton::Left), 7));
    assert_eq!(s.selected, 4);
    assert!(!update(&mut s, mouse(MouseEventKind::Down(MouseButton::Left), 0)).dirty);
}

#[test]
fn keys_from_the_config_replace_the_defaults() {
    let mut s = state_with(&["a"]);
    s.keymap = Keymap::with_overrides(&[("refresh".into(), vec!["f5".into()])]).unwrap();
    assert_eq!(update(&mut s, key('r')).requests, vec![]);
    assert_eq!(
        update(&mut s, special(KeyCode::F(5))).requests,
        vec![Request::Refresh { name: "a".into() }]
    );
}

#[test]
fn while_a_watch_keeps_the_store_it_notifies_and_the_header_says_so() {
    let mut s = state_with(&["a"]);
    update(&mut s, Action::Worker(Event::Watched { pid: Some(4242) }));
    assert_eq!(s.watched_by, Some(4242));
    let mut bad = view("a", ConnState::NeedsReauth);
    bad.last_error_at = Some(t(1));
    let fx = send_view(&mut s, bad.clone());
    assert!(fx.bell, "the terminal still rings");
    assert!(fx.notices.is_empty(), "watch notifies, not the dashboard");
    // The watch ended: the dashboard notifies again, from the next episode on.
    update(&mut s, Action::Worker(Event::Watched { pid: None }));
    assert_eq!(s.watched_by, None);
    send_view(&mut s, view("a", ConnState::Connected));
    assert_eq!(send_view(&mut s, bad).notices.len(), 1);
}

#[test]
fn the_wheel_scrolls_the_pane_under_it_and_keys_stop_at_its_end() {
    use ratatui::crossterm::event::{MouseEvent, MouseEventKind};
    let mut s = state_with(&["a", "b", "c"]);
    s.size = (160, 48);
    update(&mut s, special(KeyCode::Enter));
    assert!(s.detail);
    s.scroll_limits.detail = 4;
    let wheel = |kind, column| {
        Action::Mouse(MouseEvent {
            kind,
            column,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Side by side at 160 columns: the pane is on the right.
    update(&mut s, wheel(MouseEventKind::ScrollDown, 150));
    assert_eq!((s.detail_scroll, s.selected), (3, 0));
    update(&mut s, wheel(MouseEventKind::ScrollDown, 150));
    assert_eq!(
        s.detail_scroll, 4,
        "no further than the last frame measured"
    );
    assert!(
        !update(&mut s, key('J')).dirty,
        "at the end: nothing to draw"
    );
    update(&mut s, key('K'));
    assert_eq!(s.detail_scroll, 3);
    // Over the table the wheel moves the selection, and the new row's pane starts at its top.
    update(&mut s, wheel(MouseEventKind::ScrollDown, 10));
    assert_eq!((s.selected, s.detail_scroll), (1, 0));
}

#[test]
fn a_pasted_address_goes_to_the_worker_and_a_refusal_asks_again() {
    let mut s = state_with(&["a"]);
    update(&mut s, key('b'));
    let code = DeviceCodeView {
        name: "a".into(),
        user_code: String::new(),
        verification_uri: "http://127.0.0.1:1/authorize?client_id=x".into(),
        expires_at: t(300),
        message: None,
        paste: Some("https://localhost/callback".into()),
        refused: None,
    };
    update(&mut s, Action::Worker(Event::DeviceCode(code.clone())));
    // Typing goes into the field: `c` and `o` are letters here, not copy and open.
    for c in "code".chars() {
        assert!(update(&mut s, key(c)).requests.is_empty());
    }
    update(&mut s, key_code(KeyCode::Backspace));
    update(&mut s, Action::Paste("e=abc&state=s\n".into()));
    let Some(Popup::SignIn { input, .. }) = &s.popup else {
        panic!("the popup closed")
    };
    assert_eq!(input.0, "code=abc&state=s");
    assert_eq!(format!("{input:?}"), "PasteField(16 chars)");
    let fx = update(&mut s, key_code(KeyCode::Enter));
    assert_eq!(
        fx.requests,
        vec![Request::Pasted {
            name: "a".into(),
            text: crate::secret::Secret::new("code=abc&state=s"),
        }]
    );
    // The worker says why it was not taken: the popup shows it and the field is empty.
    let refused = DeviceCodeView {
        refused: Some("Nothing was pasted.".into()),
        ..code
    };
    update(&mut s, Action::Worker(Event::DeviceCode(refused.clone())));
    assert!(
        matches!(&s.popup, Some(Popup::SignIn { code: Some(c), input, .. })
        if c.refused.is_some() && input.0.is_empty())
    );
    // Enter on an empty field sends nothing; Esc cancels the sign-in.
    assert!(update(&mut s, key_code(KeyCode::Enter)).requests.is_empty());
    assert_eq!(
        update(&mut s, key_code(KeyCode::Esc)).requests,
        vec![Request::CancelSignIn { name: "a".into() }]
    );
    assert_eq!(s.popup, None);
}

/// A hostile provider's user code, page address and error reach the screen and the
/// clipboard (`c`) defused: no control or bidi character survives the worker → dashboard
/// boundary (crate::sanitize), whatever the renderer would have dropped by itself.
#[test]
fn a_hostile_code_and_error_are_defused_for_the_screen_and_the_clipboard() {
    let hostile = "X\u{1b}]52;c;ZXZpbA==\u{7}\u{202e}Y\u{9b}2J";
    let unsafe_char = |c: char| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c);
    let mut s = state_with(&["a"]);
    let mut v = view("a", ConnState::NeedsReauth);
    let mut d = crate::diagnose::Diagnosis::of(
        crate::diagnose::Cause::Unknown,
        false,
        true,
        hostile.to_owned(),
        hostile,
    );
    d.code = Some(hostile.into());
    v.last_error = Some(d);
    update(&mut s, Action::Worker(Event::Connection(Box::new(v))));
    let shown = s.rows[0].last_error.clone().unwrap();
    for text in [shown.summary, shown.action, shown.code.unwrap()] {
        assert!(!text.chars().any(unsafe_char), "{text:?}");
    }
    update(&mut s, key('a'));
    let code = DeviceCodeView {
        name: "a".into(),
        user_code: hostile.into(),
        verification_uri: format!("http://127.0.0.1:1/{hostile}"),
        expires_at: t(900),
        message: Some(hostile.into()),
        paste: None,
        refused: None,
    };
    update(&mut s, Action::Worker(Event::DeviceCode(code)));
    let fx = update(&mut s, key('c'));
    let copied = fx.copy.expect("c copies the code");
    assert!(
        copied.starts_with('X') && !copied.chars().any(unsafe_char),
        "{copied:?}"
    );
}
