//! Descope failing, and Descope rotating its keys: a person who was signed in stays signed in.
//! Faults come from the embedded emulator's fault API (`EMULATOR_ALLOW_FAULTS`), time from the
//! shared clock; nothing here sleeps.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Past the session JWT's lifetime (the emulator's is ten minutes), so the next gated request
/// must refresh.
const PAST_SESSION_EXPIRY: Duration = Duration::from_secs(11 * 60);

#[tokio::test]
async fn a_failing_refresh_keeps_the_person_signed_in_until_descope_is_back() {
    // 503, a 5xx with no Descope meaning, 429, and a dropped connection.
    for (status, expected) in [
        (503, StatusCode::SERVICE_UNAVAILABLE),
        (500, StatusCode::SERVICE_UNAVAILABLE),
        (429, StatusCode::TOO_MANY_REQUESTS),
        (0, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let app = spawn_app_with_faults().await;
        let browser = app
            .signed_up("email", &unique_email("f-refresh"), "Still Here")
            .await;
        app.clock.advance(PAST_SESSION_EXPIRY);
        app.inject_fault(
            json!({"path": "/v1/auth/refresh", "status": status, "errorCode": "E000000"}),
        )
        .await;
        for _ in 0..2 {
            let during = browser.get("/profile").await;
            assert_eq!(during.status, expected, "refresh answering {status}");
            assert_no_token(&during.body);
        }
        app.clear_faults().await;
        let after = browser.get("/profile").await;
        assert_eq!(after.status, StatusCode::OK, "after the {status} outage");
        assert!(after.body.contains("Hello, Still Here"), "{}", after.body);
    }
}

#[tokio::test]
async fn a_revoked_refresh_token_still_signs_out() {
    let app = spawn_app_with_faults().await;
    let browser = app
        .signed_up("email", &unique_email("f-revoked"), "Revoked")
        .await;
    app.clock.advance(PAST_SESSION_EXPIRY);
    app.inject_fault(
        json!({"path": "/v1/auth/refresh", "status": 401, "errorCode": "E061005", "times": 1}),
    )
    .await;
    let refused = browser.get("/profile").await;
    refused.assert_redirects_to("/sign-in?next=%2Fprofile");
    // And the session is gone: Descope back to normal does not bring it back.
    browser
        .get("/profile")
        .await
        .assert_redirects_to("/sign-in?next=%2Fprofile");
}

#[tokio::test]
async fn after_a_key_rotation_sessions_survive_and_new_sign_ins_validate() {
    let app = spawn_app_with_faults().await;
    let before = app
        .signed_up("email", &unique_email("f-rotate"), "Rotated")
        .await;
    // The old key is retired: the session JWT in `before`'s session is signed by a key Descope
    // no longer publishes. That is not a forgery: its refresh token gets a new one.
    let rotated = reqwest::Client::new()
        .post(format!("{}/emulator/keys/rotate", app.emulator))
        .json(&json!({"retireOld": true}))
        .send()
        .await
        .expect("the emulator answers");
    assert!(rotated.status().is_success(), "{}", rotated.status());
    // Past the JWKS cooldown, so the unknown kid fetches the keys again.
    app.clock.advance(Duration::from_secs(31));
    let profile = before.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert!(profile.body.contains("Hello, Rotated"));

    let after = app
        .signed_up("email", &unique_email("f-rotate-new"), "New Key")
        .await;
    let profile = after.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(profile.body.contains("Hello, New Key"));
}

#[tokio::test]
async fn during_an_outage_a_gated_page_asks_descope_once() {
    let app = spawn_app_with_faults().await;
    let browser = app
        .signed_up("email", &unique_email("f-once"), "Once")
        .await;
    app.clock.advance(PAST_SESSION_EXPIRY);
    app.inject_fault(
        json!({"path": "/v1/auth/refresh", "status": 503, "errorCode": "E000000", "times": 100}),
    )
    .await;
    let during = browser.get("/profile").await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE);
    let remaining = app.active_faults().await.to_string();
    assert!(
        remaining.contains("\"remaining\":99"),
        "one refresh for one page view: {remaining}"
    );
}
