//! Two hundred people signing up at once: sign-up → code → verify → profile, all concurrent,
//! against one app with its embedded emulator on SQLite (or PostgreSQL with `TEST_DATABASE`).
//! Not part of the normal run (it measures); `.ci/test` runs it once in release mode:
//!
//!   cargo test --release --features ssr --test app -- --ignored --nocapture two_hundred
//!
//! Every defence stays on. Each journey comes from a client address of its own (the app trusts
//! one proxy, at 127.0.0.1, and each client names its address in `X-Forwarded-For`), so the
//! per-client limits hold as they would for two hundred real people. The only setting changed from the
//! defaults is the answer-time floor of code-sending answers (`CODE_ANSWER_MIN_MS`, a timer
//! that would make every sign-up take 400 ms and measure nothing else).
//!
//! Prints per step the p50, p99 and slowest answer and the errors; fails on any error, and
//! unless all two hundred sessions work at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::support::*;

const JOURNEYS: usize = 200;
/// The whole run stops by itself: a hang is a failure, not a stuck CI job.
const BOUND: Duration = Duration::from_secs(180);
const STEPS: [&str; 4] = ["sign-up", "read code", "verify", "profile"];

#[derive(Default)]
struct Journey {
    took: [Duration; 4],
    /// The first step that did not answer as it should, and what it answered.
    failed: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test; run with --ignored --nocapture"]
async fn two_hundred_concurrent_sign_ups_all_end_signed_in() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("literal")];
            s.trusted_proxy_hops = 1;
        })
        .await,
    );
    let start = Arc::new(tokio::sync::Barrier::new(JOURNEYS));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..JOURNEYS {
        let (app, start) = (app.clone(), start.clone());
        tasks.spawn(async move {
            let browser = browser_at(&app, n);
            start.wait().await;
            let journey = journey(&app, &browser, n).await;
            (n, browser, journey)
        });
    }
    let finished = tokio::time::timeout(BOUND, tasks.join_all())
        .await
        .expect("the load test finishes within its bound");
    let wall = started.elapsed();

    // Afterwards: every session works.
    let mut working = 0;
    for (n, browser, _) in &finished {
        let page = browser.get("/profile").await;
        if page.status == StatusCode::OK && page.body.contains(&format!("Hello, Load {n}")) {
            working += 1;
        }
    }

    let mut report = format!(
        "\n{JOURNEYS} concurrent journeys ({} build), {:.1} s wall\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        wall.as_secs_f64()
    );
    for (i, step) in STEPS.iter().enumerate() {
        let mut took: Vec<Duration> = finished
            .iter()
            .filter(|(_, _, j)| j.failed.is_none())
            .map(|(_, _, j)| j.took[i])
            .collect();
        took.sort();
        let at = |q: f64| {
            took.get(((took.len().max(1) - 1) as f64 * q) as usize)
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        report.push_str(&format!(
            "  {step:<10} p50 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms\n",
            at(0.50),
            at(0.99),
            at(1.0)
        ));
    }
    let errors: Vec<&String> = finished
        .iter()
        .filter_map(|(_, _, j)| j.failed.as_ref())
        .collect();
    report.push_str(&format!(
        "  errors {}   working sessions at the end {working} of {JOURNEYS}\n",
        errors.len()
    ));
    println!("{report}");
    assert!(
        errors.is_empty(),
        "{} journeys failed: {errors:#?}",
        errors.len()
    );
    assert_eq!(working, JOURNEYS, "every session works at the end");
}

/// A browser of its own, at a client address of its own behind the one trusted proxy.
fn browser_at(app: &TestApp, n: usize) -> Browser {
    let mut headers = HeaderMap::new();
    let address = format!("10.20.{}.{}", n / 250, n % 250 + 1);
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(&address).expect("an address is a header value"),
    );
    Browser {
        app_base: app.base.clone(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .timeout(BOUND)
            .build()
            .expect("client"),
    }
}

async fn journey(app: &TestApp, browser: &Browser, n: usize) -> Journey {
    let mut journey = Journey::default();
    let email = unique_email(&format!("load{n}"));
    let name = format!("Load {n}");

    let t = Instant::now();
    let sent = browser
        .submit(
            "/sign-up",
            "/api/otp/sign-up",
            &[("method", "email"), ("login_id", &email), ("name", &name)],
        )
        .await;
    journey.took[0] = t.elapsed();
    if sent.location.as_deref() != Some("/verify") {
        journey.failed = Some(format!("sign-up: {} {:?}", sent.status, sent.location));
        return journey;
    }

    let t = Instant::now();
    let code = app.code_for(&email).await;
    journey.took[1] = t.elapsed();

    let t = Instant::now();
    let verified = browser
        .submit("/verify", "/api/otp/verify", &[("code", &code)])
        .await;
    journey.took[2] = t.elapsed();
    if verified.location.as_deref() != Some("/profile") {
        journey.failed = Some(format!(
            "verify: {} {:?}",
            verified.status, verified.location
        ));
        return journey;
    }

    let t = Instant::now();
    let profile = browser.get("/profile").await;
    journey.took[3] = t.elapsed();
    if profile.status != StatusCode::OK || !profile.body.contains(&format!("Hello, {name}")) {
        journey.failed = Some(format!("profile: {}", profile.status));
    }
    journey
}
