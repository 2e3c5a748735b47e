//! Mail-probe latency over loopback against a real Dovecot (IMAP and SMTP submission), side by
//! side with the floor: a bare TCP connect that reads the server's greeting. The difference is
//! what a probe costs beyond reaching the server (capabilities, AUTHENTICATE with the token —
//! which Dovecot checks at an introspection endpoint in this process — one harmless command,
//! LOGOUT/QUIT). `cargo bench --bench probe`; needs Debian's dovecot-imapd and
//! dovecot-submissiond (skipped with a message without them). 200 interleaved runs after 10
//! warm-ups; medians and 90th percentiles.
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use connwatch::oauth::HttpClient;
use connwatch::probe::{self, ProbeContext, ProbeTarget};

#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;

const RUNS: usize = 200;

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "probe")
    {
        return;
    }
    if !dovecot::have_dovecot() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The introspection endpoint: every token is alice's and active (the probe is measured,
    // not the IdP).
    let introspect = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/introspect",
            axum::routing::any(|| async {
                axum::Json(serde_json::json!({"active": true, "sub": "alice"}))
            }),
        );
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://127.0.0.1:{port}/introspect")
    });
    let dc = dovecot::start(&introspect, None);
    let ctx = ProbeContext {
        http: HttpClient::new(Duration::from_secs(10)),
        timeout: probe::DEFAULT_TIMEOUT,
        ca_file: None,
        account: Some("alice".into()),
        expect: Default::default(),
        scopes_asked: vec![],
        granted: vec![],
        provider: Default::default(),
    };
    println!("{:<36} {:>10} {:>10}", "", "median", "p90");
    for (proto, port) in [("imap", dc.imap), ("smtp", dc.submission)] {
        let target = ProbeTarget::parse(&format!("{proto}://127.0.0.1:{port}")).unwrap();
        let mut bare = Vec::with_capacity(RUNS);
        let mut full = Vec::with_capacity(RUNS);
        for i in 0..RUNS + 10 {
            let t = Instant::now();
            let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut greeting = String::new();
            BufReader::new(&s).read_line(&mut greeting).unwrap();
            let b = t.elapsed();
            drop(s);
            let t = Instant::now();
            let r = rt.block_on(probe::run(
                &target,
                &ctx,
                "bench-token",
                jiff::Timestamp::now(),
            ));
            let f = t.elapsed();
            assert!(r.ok, "{:?}\n{}", r.diagnosis, dc.log());
            if i >= 10 {
                bare.push(b);
                full.push(f);
            }
        }
        report(&format!("{proto}: TCP connect + greeting"), &mut bare);
        report(&format!("{proto}: connwatch probe (XOAUTH2)"), &mut full);
    }
}

fn report(what: &str, v: &mut [Duration]) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what:<36} {:>8.2}ms {:>8.2}ms",
        ms(v[v.len() / 2]),
        ms(v[v.len() * 9 / 10])
    );
}
