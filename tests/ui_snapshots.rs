//! Whole-screen snapshots of the dashboard (TestBackend, fixed clock).
use connwatch::app::{self, Action, Popup, State};
use connwatch::config::{Kind, ProviderKind};
use connwatch::connection::ConnState;
use connwatch::diagnose::{Cause, Diagnosis};
use connwatch::worker::{ConnectionView, DeviceCodeView, Event};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn t(s: i64) -> Timestamp {
    // 2026-11-24T19:33:20Z
    Timestamp::from_second(1_795_548_800 + s).unwrap()
}

fn diagnosis(cause: Cause, code: &str, summary: &str) -> Diagnosis {
    Diagnosis {
        cause,
        code: Some(code.into()),
        error: Some("invalid_grant".into()),
        suberror: None,
        needs_reauth: true,
        retryable: false,
        retry_after_s: None,
        summary: summary.into(),
        action: "Sign in again.".into(),
        trace_id: Some("0b6a2f1c-1d2e-4f3a-9b8c-7d6e5f4a3b2c".into()),
        correlation_id: Some("5c4b3a29-1807-4f6e-8d5c-4b3a29180706".into()),
        timestamp: Some("2026-11-24 19:33:15Z".into()),
        claims: None,
        http_status: Some(400),
    }
}

fn row(name: &str, kind: Kind, account: &str, tenant: &str, state: ConnState) -> ConnectionView {
    ConnectionView {
        name: name.into(),
        kind,
        provider: ProviderKind::Entra,
        account: Some(account.into()),
        realm: Some(tenant.into()),
        state,
        note: None,
        access_expires_at: Some(t(112)),
        has_refresh_token: true,
        granted_scopes: vec![],
        token_preview: Some("eyJ0…(1187 chars)".into()),
        last_error: None,
        last_error_at: None,
        last_success: Some(t(-8)),
        next_attempt_at: None,
        busy: false,
        history: vec![],
    }
}

/// The four demo rows a few seconds after start.
fn demo_state() -> State {
    let mut s = State::new("demo on http://127.0.0.1:40123", t(0));
    let mut cal = row(
        "team-calendar",
        Kind::SharedCalendar,
        "alice@contoso.com",
        "fabrikam.onmicrosoft.com",
        ConnState::NeedsReauth,
    );
    cal.access_expires_at = Some(t(55));
    cal.last_error = Some(diagnosis(
        Cause::ConditionalAccess,
        "AADSTS53003",
        "Blocked by a Conditional Access policy of tenant fabrikam.onmicrosoft.com.",
    ));
    let mut zoom = row(
        "zoom-scheduler",
        Kind::Integration,
        "scheduling@contoso.com",
        "contoso.onmicrosoft.com",
        ConnState::NeedsReauth,
    );
    zoom.access_expires_at = Some(t(50));
    zoom.last_error = Some(diagnosis(
        Cause::GrantRevoked,
        "AADSTS50173",
        "The grant was revoked: the password changed or sessions were revoked.",
    ));
    let mut legacy = row(
        "legacy-mail",
        Kind::Mailbox,
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        ConnState::Connected,
    );
    legacy.access_expires_at = Some(t(80));
    legacy.has_refresh_token = false;
    legacy.note = Some("no refresh token: offline_access not requested".into());
    for v in [
        row(
            "work-mail",
            Kind::Mailbox,
            "alice@contoso.com",
            "contoso.onmicrosoft.com",
            ConnState::Connected,
        ),
        cal,
        zoom,
        legacy,
    ] {
        app::update(&mut s, Action::Worker(Event::Connection(Box::new(v))));
    }
    s
}

fn render(state: &State, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| connwatch::ui::draw(f, state)).unwrap();
    term.backend().to_string()
}

#[test]
fn demo_table() {
    insta::assert_snapshot!(render(&demo_state(), 140, 12));
}

#[test]
fn demo_table_after_a_second_counts_down() {
    let mut s = demo_state();
    app::update(&mut s, Action::Tick(t(1)));
    let screen = render(&s, 140, 12);
    assert!(screen.contains("1m 51s"), "{screen}");
}

#[test]
fn device_code_popup() {
    let mut s = demo_state();
    s.selected = 1;
    s.popup = Some(Popup::SignIn {
        name: "team-calendar".into(),
        code: Some(DeviceCodeView {
            name: "team-calendar".into(),
            user_code: "GF4KDXP2Q".into(),
            verification_uri: "http://127.0.0.1:40123/devicelogin".into(),
            expires_at: t(900),
            message: None,
        }),
    });
    insta::assert_snapshot!(render(&s, 120, 20));
}

#[test]
fn confirm_purge_popup() {
    let mut s = demo_state();
    s.popup = Some(Popup::ConfirmPurge {
        name: "work-mail".into(),
    });
    insta::assert_snapshot!(render(&s, 100, 14));
}

#[test]
fn selected_failure_shows_its_action() {
    let mut s = demo_state();
    s.selected = 1;
    insta::assert_snapshot!(render(&s, 140, 12));
}

#[test]
fn no_color_keeps_symbols_and_words_but_no_colours() {
    let colours = |color: bool| {
        let mut s = demo_state();
        s.color = color;
        let mut term = Terminal::new(TestBackend::new(140, 12)).unwrap();
        term.draw(|f| connwatch::ui::draw(f, &s)).unwrap();
        let buf = term.backend().buffer().clone();
        let coloured = buf
            .content
            .iter()
            .filter(|c| {
                c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset
            })
            .count();
        (coloured, term.backend().to_string())
    };
    let (with, text_with) = colours(true);
    let (without, text_without) = colours(false);
    assert!(with > 0, "states are coloured by default");
    assert_eq!(without, 0, "--no-color / NO_COLOR: not one coloured cell");
    assert_eq!(
        text_with, text_without,
        "the same symbols and words either way"
    );
    assert!(text_without.contains("✗ team-calendar") && text_without.contains("needs_reauth"));
}
