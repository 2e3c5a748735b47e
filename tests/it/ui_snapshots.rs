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
        fix_by: connwatch::diagnose::FixBy::User,
        sign_in_frequency_s: None,
        trace_id: Some("0b6a2f1c-1d2e-4f3a-9b8c-7d6e5f4a3b2c".into()),
        correlation_id: Some("5c4b3a29-1807-4f6e-8d5c-4b3a29180706".into()),
        timestamp: Some("2026-11-24 19:33:15Z".into()),
        claims: None,
        http_status: Some(400),
        probe: None,
        transcript: None,
        description: None,
        error_uri: None,
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
        scopes_asked: vec![
            "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
            "offline_access".into(),
        ],
        granted_scopes: vec![],
        obtained_at: None,
        token_preview: Some("eyJ0…(1187 chars)".into()),
        last_error: None,
        last_error_at: None,
        last_success: Some(t(-8)),
        next_attempt_at: None,
        busy: false,
        history: vec![],
        probes: vec![],
        sign_in_by: None,
        sign_in_by_reason: None,
        activity: None,
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
    // What the worker forecasts for it: the access token's expiry.
    legacy.sign_in_by = legacy.access_expires_at;
    legacy.sign_in_by_reason = Some("no refresh token: the access token cannot be renewed".into());
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

/// The demo rows plus one row in each remaining state, with history and scopes.
fn every_state() -> State {
    let mut s = demo_state();
    let mut extra = vec![];
    let mut sso = row(
        "sso",
        Kind::Integration,
        "alice",
        "http://127.0.0.1:9000",
        ConnState::SignedOut,
    );
    sso.provider = ProviderKind::Oidc;
    sso.access_expires_at = None;
    sso.token_preview = None;
    sso.note = Some("not signed in".into());
    extra.push(sso);
    let mut busy = row(
        "shared-0001",
        Kind::Mailbox,
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        ConnState::Refreshing,
    );
    busy.busy = true;
    extra.push(busy);
    let mut auth = row(
        "ops-calendar",
        Kind::Calendar,
        "alice@contoso.com",
        "contoso.onmicrosoft.com",
        ConnState::Authorizing,
    );
    auth.busy = true;
    extra.push(auth);
    let mut down = row(
        "gmail",
        Kind::Mailbox,
        "me@gmail.com",
        "google",
        ConnState::Disconnected,
    );
    down.provider = ProviderKind::Google;
    down.access_expires_at = Some(t(-30));
    let mut d = diagnosis(
        Cause::ServerError,
        "temporarily_unavailable",
        "The identity provider is temporarily unavailable.",
    );
    d.needs_reauth = false;
    d.retryable = true;
    down.last_error = Some(d);
    down.next_attempt_at = Some(t(42));
    extra.push(down);
    let mut bad = row(
        "zoom-app",
        Kind::Integration,
        "ops@contoso.com",
        "zoom",
        ConnState::Misconfigured,
    );
    bad.provider = ProviderKind::Zoom;
    let mut d = diagnosis(
        Cause::InvalidClient,
        "invalid_client",
        "Invalid client_id or client_secret.",
    );
    d.needs_reauth = false;
    bad.last_error = Some(d);
    extra.push(bad);
    for v in extra {
        app::update(&mut s, Action::Worker(Event::Connection(Box::new(v))));
    }
    s
}

/// An unsigned JWT with the claims a Graph calendar token of a guest would carry.
fn guest_token_report() -> connwatch::token::TokenReport {
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let jwt = format!(
        "{}.{}.sig",
        b64(serde_json::json!({"typ": "JWT", "alg": "RS256"})),
        b64(serde_json::json!({
            "aud": "https://graph.microsoft.com",
            "iss": "https://sts.windows.net/0a1b2c3d-0000-4000-8000-00000000fab1/",
            "tid": "0a1b2c3d-0000-4000-8000-00000000fab1",
            "idp": "https://sts.windows.net/7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c/",
            "acct": 1,
            "upn": "alice@contoso.com",
            "scp": "Calendars.Read",
            "iat": 1_795_548_800 - 3545,
            "nbf": 1_795_548_800 - 3545,
            "exp": 1_795_548_800 + 55,
            "ver": "1.0",
        }))
    );
    let expect = connwatch::token::Expectations {
        audience: Some("https://graph.microsoft.com".into()),
        scopes: vec!["Calendars.Read.Shared".into()],
    };
    connwatch::token::inspect(&jwt, &expect, t(0))
}

fn with_detail(mut s: State) -> State {
    s.select("team-calendar");
    s.detail = true;
    {
        let i = s
            .rows
            .iter()
            .position(|r| r.name == "team-calendar")
            .unwrap();
        let r = &mut s.rows[i];
        r.scopes_asked = vec![
            "https://graph.microsoft.com/Calendars.Read.Shared".into(),
            "offline_access".into(),
        ];
        r.granted_scopes = vec!["https://graph.microsoft.com/Calendars.Read".into()];
        r.obtained_at = Some(t(-3545));
        r.last_error_at = Some(t(-5));
        r.history = vec![
            connwatch::store::HistoryEntry {
                at: t(-3545),
                what: "signed in (device code)".into(),
            },
            connwatch::store::HistoryEntry {
                at: t(-5),
                what: "needs_reauth: AADSTS53003".into(),
            },
        ];
    }
    s.detail_report = Some(("team-calendar".into(), Box::new(guest_token_report())));
    s
}

fn type_keys(s: &mut State, keys: &str) {
    for c in keys.chars() {
        app::update(
            s,
            Action::Key(ratatui::crossterm::event::KeyEvent::new(
                ratatui::crossterm::event::KeyCode::Char(c),
                ratatui::crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
}

fn device_popup(mut s: State) -> State {
    s.select("team-calendar");
    s.popup = Some(Popup::SignIn {
        name: "team-calendar".into(),
        code: Some(DeviceCodeView {
            name: "team-calendar".into(),
            user_code: "GF4KDXP2Q".into(),
            verification_uri: "http://127.0.0.1:40123/devicelogin".into(),
            expires_at: t(900),
            message: None,
            paste: None,
            refused: None,
        }),
        input: Default::default(),
    });
    s
}

/// Each screen at three sizes: the standard 80×24, a 120×40 window and a wide 160×48.
macro_rules! both_sizes {
    ($name:ident, $state:expr) => {
        #[test]
        fn $name() {
            for (w, h) in [(80u16, 24u16), (120, 40), (160, 48)] {
                let mut s = $state;
                s.size = (w, h);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), render(&s, w, h));
            }
        }
    };
}

both_sizes!(table_in_every_state, every_state());
both_sizes!(selected_failure_shows_its_action, {
    let mut s = every_state();
    s.select("team-calendar");
    s
});
both_sizes!(detail_pane, with_detail(every_state()));
both_sizes!(help, {
    let mut s = every_state();
    type_keys(&mut s, "?");
    s
});
both_sizes!(filter_as_you_type, {
    let mut s = every_state();
    type_keys(&mut s, "/mail");
    s
});
both_sizes!(sorted_by_severity, {
    let mut s = every_state();
    type_keys(&mut s, "s");
    s.flash = None;
    s
});
both_sizes!(device_code_popup, device_popup(every_state()));
both_sizes!(browser_sign_in_popup, {
    let mut s = every_state();
    s.select("zoom-scheduler");
    s.popup = Some(Popup::SignIn {
        name: "zoom-scheduler".into(),
        code: Some(DeviceCodeView {
            name: "zoom-scheduler".into(),
            user_code: String::new(),
            verification_uri: "http://127.0.0.1:40123/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=8f1c2d3e&response_type=code".into(),
            expires_at: t(300),
            message: None,
            paste: None,
            refused: None,
        }),
        input: Default::default(),
    });
    s
});
both_sizes!(sign_in_paste_back, {
    let mut s = every_state();
    s.select("work-mail");
    s.popup = Some(Popup::SignIn {
        name: "work-mail".into(),
        code: Some(DeviceCodeView {
            name: "work-mail".into(),
            user_code: String::new(),
            verification_uri: "http://127.0.0.1:40123/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=8f1c2d3e&response_type=code".into(),
            expires_at: t(300),
            message: None,
            paste: Some("https://localhost/callback".into()),
            refused: Some("That is the sign-in page itself. Open it, sign in, then paste the address the browser ends on.".into()),
        }),
        input: connwatch::app::PasteField("https://localhost/callback?code=0.AXoA-secret&state=s".into()),
    });
    s
});
both_sizes!(confirm_purge, {
    let mut s = every_state();
    s.popup = Some(Popup::ConfirmPurge {
        name: "work-mail".into(),
    });
    s
});

#[test]
fn narrow_terminal_drops_columns_by_priority() {
    let mut s = every_state();
    s.size = (60, 20);
    insta::assert_snapshot!(render(&s, 60, 20));
}

#[test]
fn narrow_detail_pane_goes_below_the_table() {
    let mut s = with_detail(every_state());
    s.size = (100, 40);
    insta::assert_snapshot!(render(&s, 100, 40));
}

#[test]
fn demo_table_after_a_second_counts_down() {
    let mut s = demo_state();
    app::update(&mut s, Action::Tick(t(1)));
    let screen = render(&s, 140, 12);
    assert!(screen.contains("1m 51s"), "{screen}");
}

#[test]
fn ten_thousand_rows_render_only_what_fits_and_keep_the_selection_visible() {
    let mut s = State::new("scale", t(0));
    for i in 0..10_000 {
        let v = row(
            &format!("shared-{i:05}"),
            Kind::Mailbox,
            "alice@contoso.com",
            "contoso.onmicrosoft.com",
            ConnState::Connected,
        );
        app::update(&mut s, Action::Worker(Event::Connection(Box::new(v))));
    }
    type_keys(&mut s, "G");
    let screen = render(&s, 80, 24);
    assert!(screen.contains("shared-09999"), "{screen}");
    assert!(!screen.contains("shared-00000"));
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

/// A mailbox whose token renews while SMTP refuses it (the demo's `smtp-send`): the table's
/// last error is the probe's, and the detail pane lists each probe with the end of the masked
/// transcript.
#[test]
fn refused_probe_in_the_table_and_the_detail_pane() {
    use connwatch::probe::ProbeResult;
    let mut s = demo_state();
    let mut smtp = row(
        "smtp-send",
        Kind::Mailbox,
        "reports@northwind.com",
        "northwind.onmicrosoft.com",
        ConnState::Blocked,
    );
    smtp.access_expires_at = Some(t(3500));
    let transcript: Vec<String> = [
        "S: 220 DEMO01.namprd01.prod.outlook.com Microsoft ESMTP MAIL Service ready",
        "C: EHLO localhost",
        "S: 250-DEMO01.namprd01.prod.outlook.com Hello [127.0.0.1]",
        "S: 250-AUTH LOGIN XOAUTH2",
        "S: 250 SMTPUTF8",
        "C: AUTH XOAUTH2 ***",
        "S: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        "C: QUIT",
        "S: 221 2.0.0 Service closing transmission channel",
    ]
    .map(String::from)
    .to_vec();
    let mut d = connwatch::diagnose::diagnose_text(&transcript.join("\n"), Default::default());
    d.probe = Some("smtp://smtp.office365.com:587".into());
    d.transcript = Some(transcript.clone());
    smtp.last_error = Some(d.clone());
    smtp.last_error_at = Some(t(-3));
    smtp.probes = vec![ProbeResult {
        url: "smtp://smtp.office365.com:587".into(),
        ok: false,
        checked_at: t(-3),
        latency_ms: 212,
        diagnosis: Some(d),
        transcript,
    }];
    app::update(&mut s, Action::Worker(Event::Connection(Box::new(smtp))));
    s.select("smtp-send");
    s.detail = true;
    insta::assert_snapshot!(render(&s, 120, 40));
}

/// Draw once to learn how far the pane and popup can scroll (as the terminal edge does).
fn measure(s: &mut State, w: u16, h: u16) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut limits = s.scroll_limits;
    term.draw(|f| limits = connwatch::ui::draw_measured(f, s))
        .unwrap();
    s.scroll_limits = limits;
}

/// At 80×24 the pane of the refused shared calendar leads with its code, who can fix it and
/// the action; `J` scrolls it to its very end (the last finding) and no further, `K` back.
#[test]
fn detail_pane_scrolls_to_its_end_at_80x24() {
    let mut s = with_detail(every_state());
    s.size = (80, 24);
    let top = render(&s, 80, 24);
    assert!(
        top.contains("AADSTS53003") && top.contains("fix by     you"),
        "{top}"
    );
    measure(&mut s, 80, 24);
    let max = s.scroll_limits.detail;
    assert!(max > 10, "the pane holds more than fits: {max}");
    type_keys(&mut s, &"J".repeat(max + 5));
    assert_eq!(s.detail_scroll, max, "clamped to the end");
    insta::assert_snapshot!(render(&s, 80, 24));
    type_keys(&mut s, "K");
    assert_eq!(s.detail_scroll, max - 1);
    // Another connection starts at its top.
    type_keys(&mut s, "j");
    assert_eq!(s.detail_scroll, 0);
}

/// The decode popup scrolls the same way; the time claims read as times.
#[test]
fn decode_popup_scrolls_and_shows_times() {
    let mut s = every_state();
    s.size = (80, 24);
    app::update(
        &mut s,
        Action::Worker(Event::Decoded {
            name: "team-calendar".into(),
            report: Box::new(guest_token_report()),
        }),
    );
    measure(&mut s, 80, 24);
    let max = s.scroll_limits.popup;
    assert!(max > 0, "the claims do not fit at 80×24");
    type_keys(&mut s, "G");
    assert_eq!(s.popup_scroll, max);
    let screen = render(&s, 80, 24);
    insta::assert_snapshot!(screen);
    type_keys(&mut s, "g");
    assert_eq!(s.popup_scroll, 0);
}
