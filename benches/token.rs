//! `connwatch token NAME` with a valid cached token, whole process, side by side with the floor
//! (a trivial Rust hello-world built with the same optimisation) and with MSAL for Python's
//! acquire_token_silent when `msal` is installed. `cargo bench --bench token`.
//! 50 interleaved runs of each after 5 warm-ups; the store is seeded from the embedded demo
//! IdP (in this process, on 127.0.0.1), which `token` must not even contact.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use connwatch::demo;
use connwatch::store::{StorePaths, TokenStore};

const RUNS: usize = 50;

fn main() {
    // `cargo bench` passes --bench; a filter argument other than ours means skip.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "token")
    {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp = rt
        .block_on(demo::idp::DemoIdp::start(demo::demo_idp_options()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, demo::config_text(&idp, Some(&data), 0)).unwrap();
    demo::seed(&idp, &TokenStore::new(StorePaths::under(&data)), 0).unwrap();
    let hello = build_hello(dir.path());

    let connwatch = env!("CARGO_BIN_EXE_connwatch");
    let token = || {
        let out = Command::new(connwatch)
            .args(["--config", config.to_str().unwrap(), "token", "work-mail"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let floor = || {
        let out = Command::new(&hello).output().unwrap();
        assert!(out.status.success());
    };
    for _ in 0..5 {
        token();
        floor();
    }
    // MSAL for Python, when installed (pip install msal): a token helper that loads a
    // serialized cache holding the same access token and calls acquire_token_silent.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/msal_token.py");
    let cache = dir.path().join("msal-cache.json");
    let msal_ready = Command::new("python3")
        .args(["-c", "import msal"])
        .output()
        .is_ok_and(|o| o.status.success());
    if msal_ready {
        let at = TokenStore::new(StorePaths::under(&data))
            .load("work-mail")
            .unwrap()
            .unwrap()
            .access_token;
        let ok = Command::new("python3")
            .arg(script)
            .arg("--write")
            .arg(&cache)
            .arg(at.expose())
            .status()
            .unwrap()
            .success();
        assert!(ok, "writing the MSAL cache failed");
    }
    let msal = || {
        let out = Command::new("python3")
            .arg(script)
            .arg(&cache)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let requests_before = idp.token_requests();
    let (mut t_token, mut t_floor, mut t_msal) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        t_token.push(time(token));
        t_floor.push(time(floor));
    }
    // MSAL in a block of its own: a 150 ms Python start between two 1 ms runs would evict
    // their caches and measure that instead.
    if msal_ready {
        msal();
        for _ in 0..RUNS {
            t_msal.push(time(msal));
        }
    }
    assert_eq!(
        idp.token_requests(),
        requests_before,
        "a cached token needs no network"
    );
    let (m_token, m_floor) = (median(&mut t_token), median(&mut t_floor));
    println!("`token NAME`, valid cached token, {RUNS} runs each (interleaved)\n");
    println!("| program | median | p10 | p90 | vs hello-world |");
    println!("|---|---|---|---|---|");
    row("Rust hello-world (floor)", &t_floor, m_floor);
    row("connwatch token work-mail", &t_token, m_floor);
    if msal_ready {
        median(&mut t_msal);
        row("MSAL for Python, acquire_token_silent", &t_msal, m_floor);
    }
    println!(
        "\nratio {:.2}× (goal ≤ 1.3×){}",
        m_token.as_secs_f64() / m_floor.as_secs_f64(),
        if msal_ready {
            ""
        } else {
            "; MSAL not measured (pip install msal)"
        }
    );
    rt.block_on(idp.shutdown());
}

fn build_hello(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("hello.rs");
    std::fs::write(&src, "fn main() { println!(\"hello\"); }\n").unwrap();
    let exe = dir.join("hello");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args(["-C", "opt-level=3", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    exe
}

fn time(f: impl Fn()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(name: &str, v: &[Duration], floor: Duration) {
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let m = v[v.len() / 2];
    println!(
        "| {name} | {} | {} | {} | {:.2}× |",
        ms(m),
        ms(v[v.len() / 10]),
        ms(v[v.len() * 9 / 10]),
        m.as_secs_f64() / floor.as_secs_f64()
    );
}
