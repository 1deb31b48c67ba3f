//! The pages around the journeys and the emulator through the app: the 404 page, the outbox link,
//! server functions answering JSON with the status of their error, the fault API with and without
//! `EMULATOR_ALLOW_FAULTS`, and the emulator's fixed codes and uncapped test users.

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn unknown_pages_answer_404_with_a_page() {
    let app = spawn_app().await;
    let page = app.browser().get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
}

#[tokio::test]
async fn the_header_links_to_the_emulator_outbox() {
    let app = spawn_app().await;
    let page = app.browser().get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("{}/outbox", app.emulator)),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn server_functions_answer_json_without_tokens_to_hydrated_pages() {
    let app = spawn_app().await;
    let browser = app.signed_up("email", &unique_email("json"), "Json").await;
    let response = browser
        .http
        .post(format!("{}/api/profile", browser.app_base))
        .header(ACCEPT, "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert_no_token(&body);
    let profile: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(profile["name"], "Json");
}

#[tokio::test]
async fn a_failed_server_function_answers_with_the_status_of_its_error() {
    let app = spawn_app_with(|s| s.reveal_account_existence = true).await;
    let browser = app.browser();
    let call = |path: &'static str, form: Vec<(&'static str, String)>| {
        let request = browser
            .http
            .post(format!("{}{path}", browser.app_base))
            .header(ACCEPT, "application/json")
            .form(&form);
        async move { request.send().await.expect("answers") }
    };
    let unknown = call(
        "/api/otp/sign-in",
        vec![
            ("method", "email".into()),
            ("login_id", unique_email("nobody")),
        ],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let body: Value = unknown.json().await.expect("JSON error");
    assert_eq!(body, serde_json::json!("UnknownUser"));

    let not_signed_in = call("/api/profile", vec![]).await;
    assert_eq!(not_signed_in.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_emulator_allow_faults_an_injected_outage_is_a_clear_503_and_passes() {
    let app = spawn_app_with_faults().await;
    app.inject_fault(serde_json::json!({
        "path": "/v1/auth/otp/signup-in", "status": 503, "errorCode": "E000000", "times": 1
    }))
    .await;

    let browser = app.browser();
    let ask = || {
        browser
            .http
            .post(format!("{}/api/otp/sign-up-or-in", browser.app_base))
            .header(ACCEPT, "application/json")
            .form(&[("method", "email"), ("login_id", "outage@example.com")])
            .send()
    };
    let during = ask().await.expect("answers");
    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = during.json().await.expect("json");
    assert!(body["ServiceUnavailable"]["error_id"].is_string(), "{body}");
    // The fault was for one call: the next one goes through.
    assert_eq!(ask().await.expect("answers").status(), StatusCode::OK);
}

#[tokio::test]
async fn without_emulator_allow_faults_the_fault_api_does_not_exist() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(format!("{}/emulator/faults", app.emulator))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The emulator's test conveniences through the app: a listed number's code is known in advance
/// (no outbox read), and, with test users uncapped, a test user signs in past the message cap.
#[tokio::test]
async fn emulator_fixed_codes_and_uncapped_test_users_work_through_the_app() {
    let fixed = unique_phone();
    let fixed_entry = fixed.clone();
    let app = spawn_app_with(move |s| {
        if let descope_otp::server::settings::DescopeTarget::Emulator(emulator) = &mut s.descope {
            emulator.fixed_codes = [(fixed_entry, "246810".to_string())].into();
            emulator.test_users_uncapped = true;
        }
        // The app's own per-address limit would stop the loop below before the emulator's cap.
        s.rate_limits.send_per_address = None;
    })
    .await;

    let browser = app.browser();
    browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "sms"), ("login_id", &fixed)],
        )
        .await
        .assert_redirects_to("/verify");
    browser
        .submit("/verify", "/api/otp/verify", &[("code", "246810")])
        .await
        .assert_redirects_to("/profile");
    assert!(browser.get("/profile").await.body.contains(&fixed));

    // A test user of the emulator's management API: seven codes in a row (the cap is 5 a
    // minute), the last one verified.
    let email = unique_email("uncapped");
    let created = reqwest::Client::new()
        .post(format!("{}/v1/mgmt/user/create/test", app.emulator))
        .bearer_auth(format!(
            "{}:{}",
            descope_otp::emulator::DEFAULT_PROJECT_ID,
            descope_otp::emulator::DEFAULT_MANAGEMENT_KEY
        ))
        .json(&serde_json::json!({"loginId": email, "email": email, "verifiedEmail": true}))
        .send()
        .await
        .expect("create a test user");
    assert_eq!(created.status(), StatusCode::OK);
    let browser = app.browser();
    for round in 0..7 {
        let sent = browser
            .submit(
                "/sign-in",
                "/api/otp/sign-in",
                &[("method", "email"), ("login_id", &email)],
            )
            .await;
        assert_eq!(
            sent.location.as_deref(),
            Some("/verify"),
            "round {round}: {}",
            sent.body
        );
    }
    app.enter_latest_code(&browser, &email)
        .await
        .assert_redirects_to("/profile");
}
