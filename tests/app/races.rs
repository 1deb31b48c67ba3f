//! Requests of one cookie racing each other, on a multi-threaded runtime as in production: a
//! sign-out while other requests refresh the session, many gated requests after the session JWT
//! expired, two instances refreshing one rotating token, and concurrent wrong codes.
//!
//! The emulator's delay faults hold a Descope call in flight for as long as a test needs, and the
//! fault's count of calls left tells how many calls were made, so nothing here waits on luck: each
//! test waits for a call to be in flight (bounded polling), then acts.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE};
use serde_json::json;

use descope_otp::server::settings::DescopeTarget;

use crate::support::*;

/// How many calls the fault on `path` has taken, for a fault added with `times: FAULT_TIMES`.
async fn calls_taken(app: &TestApp, path: &str) -> u64 {
    let faults = app.active_faults().await;
    let remaining = faults["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["path"] == path)
        .and_then(|f| f["remaining"].as_u64())
        .unwrap_or(0);
    FAULT_TIMES - remaining
}

/// A fault's number of calls: more than any test makes, so it never runs out.
const FAULT_TIMES: u64 = 1_000;

/// Holds the answer of every call to `path` for `delay_ms` after the emulator handled it,
/// counting the calls.
async fn hold_answers(app: &TestApp, path: &str, delay_ms: u64) {
    app.inject_fault(json!({"path": path, "times": FAULT_TIMES, "answerDelayMs": delay_ms}))
        .await;
}

/// Waits (bounded) until the fault on `path` has taken at least `count` calls.
async fn until_calls(app: &TestApp, path: &str, count: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while calls_taken(app, path).await < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: {} calls after 20 s, {count} expected",
            calls_taken(app, path).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A client that sends `cookie` and nothing else: the signed-out cookie as someone who kept a
/// copy of it would send it, whatever later answers told the browser to store.
fn replaying(cookie: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(COOKIE, cookie.parse().expect("a header value"));
    headers.insert(ACCEPT, "text/html".parse().expect("a header value"));
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A new person signed in by email in a new browser, with the `sid=…` pair of its session cookie.
async fn signed_in_with_cookie(app: &TestApp, tag: &str) -> (Browser, String) {
    let email = unique_email(tag);
    let browser = app.browser();
    app.email_code_requested(&browser, &email).await;
    let verified = app.enter_latest_code(&browser, &email).await;
    verified.assert_redirects_to("/profile");
    let cookie = verified
        .session_cookie()
        .and_then(|c| c.split(';').next())
        .expect("the verify sets the session cookie")
        .to_owned();
    (browser, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_out_while_requests_refresh_the_session_sticks() {
    let app = spawn_app_with_faults().await;
    let (browser, cookie) = signed_in_with_cookie(&app, "race").await;

    // The session JWT expires; every gated request now refreshes it, and each refresh is held.
    app.clock.advance(Duration::from_secs(11 * 60));
    hold_answers(&app, "/v1/auth/refresh", 1_500).await;
    let gated: Vec<_> = (0..4)
        .map(|_| {
            let client = replaying(&cookie);
            let url = format!("{}/profile", app.base);
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    // Once the emulator has taken a refresh (handled at once, its answer held), the requests
    // behind it have read the session row, and the sign-out below meets a refresh in flight.
    until_calls(&app, "/v1/auth/refresh", 1).await;
    browser
        .submit("/profile", "/api/session/sign-out", &[])
        .await
        .assert_redirects_to("/");
    for request in gated {
        // Whatever these answered (the page, or sign-in), they finish before the check below.
        let _ = request.await.expect("no panic");
    }

    for attempt in 0..3 {
        let after = replaying(&cookie)
            .get(format!("{}/profile", app.base))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            after.status(),
            StatusCode::SEE_OTHER,
            "attempt {attempt}: the signed-out cookie opened /profile again"
        );
    }
}

/// An app whose emulator takes faults and rotates refresh tokens, as a Descope project with
/// rotation on: a refresh token is good for one refresh.
async fn rotating_app() -> TestApp {
    spawn_app_with(|s| {
        allow_faults(s);
        if let DescopeTarget::Emulator(emulator) = &mut s.descope {
            emulator.rotate_refresh_tokens = true;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_after_expiry_make_one_refresh_and_all_get_the_page() {
    let app = rotating_app().await;
    let (_browser, cookie) = signed_in_with_cookie(&app, "flight").await;
    app.clock.advance(Duration::from_secs(11 * 60));
    // Held, so that the requests arrive while the first refresh is in flight.
    hold_answers(&app, "/v1/auth/refresh", 500).await;

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let (client, barrier) = (replaying(&cookie), barrier.clone());
            let url = format!("{}/profile", app.base);
            tokio::spawn(async move {
                barrier.wait().await;
                let answer = client.get(url).send().await.expect("answers");
                (answer.status(), answer.text().await.unwrap_or_default())
            })
        })
        .collect();
    for request in requests {
        let (status, body) = request.await.expect("no panic");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("Your profile"), "{body}");
    }
    assert_eq!(calls_taken(&app, "/v1/auth/refresh").await, 1);
    // And the session goes on with the rotated token.
    let later = replaying(&cookie)
        .get(format!("{}/profile", app.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(later.status(), StatusCode::OK);
}
