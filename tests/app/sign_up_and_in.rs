//! Signing up and signing in: sign-up, sign-in and sign-up-or-in by every delivery method, what
//! `reveal_account_existence` tells, login ids that do not fit their method, sign-up options and
//! custom claims, step-up and MFA sign-in, and a required audience.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn sign_up_by_email_sends_a_code_and_verifying_it_shows_the_profile() {
    let app = spawn_app().await;
    let email = unique_email("ada");
    let browser = app.signed_up("email", &email, "Ada Lovelace").await;

    let profile = browser.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(
        profile.body.contains("Hello, Ada Lovelace"),
        "{}",
        profile.body
    );
    assert!(
        profile.body.contains(&format!("{email} (verified)")),
        "{}",
        profile.body
    );
    assert!(profile.body.contains("email"), "amr shown");
}

#[tokio::test]
async fn every_delivery_method_signs_up_and_in_through_sign_up_or_in() {
    let app = spawn_app().await;
    for method in ["email", "sms", "voice", "whatsapp"] {
        let login_id = if method == "email" {
            unique_email("any")
        } else {
            unique_phone()
        };
        for round in ["new", "existing"] {
            let browser = app.browser();
            let sent = browser
                .submit(
                    "/sign-up-or-in",
                    "/api/otp/sign-up-or-in",
                    &[("method", method), ("login_id", &login_id)],
                )
                .await;
            assert_eq!(
                sent.location.as_deref(),
                Some("/verify"),
                "{method} {round}: {}",
                sent.body
            );
            let message = app.latest_message(&login_id).await;
            assert_eq!(message["channel"], method, "{round}");
            let verified = browser
                .submit(
                    "/verify",
                    "/api/otp/verify",
                    &[("code", message["code"].as_str().expect("code"))],
                )
                .await;
            assert_eq!(
                verified.location.as_deref(),
                Some("/profile"),
                "{method} {round}"
            );
            let profile = browser.get("/profile").await;
            assert_eq!(profile.status, StatusCode::OK);
            assert!(
                profile.body.contains(&login_id),
                "{method}: {}",
                profile.body
            );
            // Let the next round's message through the emulator's per-recipient cap.
            app.clock.advance(Duration::from_secs(61));
        }
    }
}

#[tokio::test]
async fn with_reveal_account_existence_signing_in_an_unknown_address_says_so_and_offers_sign_up() {
    let app = spawn_app_with(|s| s.reveal_account_existence = true).await;
    let browser = app.browser();
    let failed = browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &unique_email("ghost"))],
        )
        .await;
    assert_eq!(failed.status, StatusCode::FOUND);
    let location = failed.location.clone().expect("redirect back");
    assert!(
        location.contains("/sign-in") && location.contains("__err="),
        "{location}"
    );
    assert!(
        !location.contains("ghost"),
        "the login id must not travel in a URL: {location}"
    );
    let page = browser.follow(&failed).await;
    assert!(
        page.body.contains("find an account for that address"),
        "{}",
        page.body
    );
    assert!(page.body.contains("role=\"alert\""));
}

#[tokio::test]
async fn with_reveal_account_existence_signing_up_an_existing_address_says_it_is_registered() {
    let app = spawn_app_with(|s| s.reveal_account_existence = true).await;
    let email = unique_email("twice");
    app.signed_up("email", &email, "First").await;
    let browser = app.browser();
    let failed = browser
        .submit(
            "/sign-up",
            "/api/otp/sign-up",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    let page = browser.follow(&failed).await;
    assert!(
        page.body
            .contains("An account already exists for that address"),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/sign-in\""), "offers sign-in");
}

#[tokio::test]
async fn a_login_id_that_does_not_fit_its_method_is_refused_before_any_message() {
    let app = spawn_app().await;
    let browser = app.browser();
    let failed = browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "sms"), ("login_id", "ada@example.com")],
        )
        .await;
    let page = browser.follow(&failed).await;
    assert!(page.body.contains("phone number"), "{}", page.body);
    assert!(
        page.body.contains("aria-invalid=\"true\""),
        "the field is marked"
    );
    assert!(
        app.outbox("ada@example.com").await.is_empty(),
        "no message was sent"
    );
}

#[tokio::test]
async fn sign_up_options_put_custom_claims_in_the_session_and_template_options_on_the_message() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("claims");
    let sent = browser
        .submit(
            "/sign-up",
            "/api/otp/sign-up",
            &[
                ("method", "email"),
                ("login_id", &email),
                ("custom_claims", r#"{"plan": "pro", "seats": 3}"#),
                ("template_options", "greeting=Welcome aboard"),
            ],
        )
        .await;
    sent.assert_redirects_to("/verify");
    let message = app.latest_message(&email).await;
    assert_eq!(message["templateOptions"]["greeting"], "Welcome aboard");
    browser
        .submit(
            "/verify",
            "/api/otp/verify",
            &[("code", message["code"].as_str().expect("code"))],
        )
        .await;
    let profile = browser.get("/profile").await;
    assert!(profile.body.contains("Custom claims"), "{}", profile.body);
    assert!(
        profile.body.contains("&quot;pro&quot;") || profile.body.contains("\"pro\""),
        "{}",
        profile.body
    );
}

#[tokio::test]
async fn a_reserved_claim_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let browser = app.browser();
    let failed = browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[
                ("method", "email"),
                ("login_id", &unique_email("sub")),
                ("custom_claims", r#"{"sub": "x"}"#),
            ],
        )
        .await;
    let page = browser.follow(&failed).await;
    assert!(page.body.contains("is set by Descope"), "{}", page.body);
}

#[tokio::test]
async fn step_up_sign_in_marks_the_session_and_needs_a_session_first() {
    let app = spawn_app().await;
    let email = unique_email("stepup");

    let stranger = app.browser();
    let refused = stranger
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &email), ("stepup", "on")],
        )
        .await;
    let page = stranger.follow(&refused).await;
    assert!(page.body.contains("sign in first"), "{}", page.body);

    let browser = app.signed_up("email", &email, "Stepper").await;
    app.clock.advance(Duration::from_secs(61));
    let sent = browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &email), ("stepup", "on")],
        )
        .await;
    sent.assert_redirects_to("/verify");
    app.enter_latest_code(&browser, &email).await;
    let profile = browser.get("/profile").await;
    assert!(profile.body.contains("stepped up"), "{}", profile.body);
}

#[tokio::test]
async fn mfa_sign_in_with_a_second_method_adds_mfa_to_the_session() {
    let app = spawn_app().await;
    let email = unique_email("mfa");
    let phone = unique_phone();
    let browser = app.browser();
    browser
        .submit(
            "/sign-up",
            "/api/otp/sign-up",
            &[("method", "email"), ("login_id", &email), ("phone", &phone)],
        )
        .await;
    app.enter_latest_code(&browser, &email).await;
    // Make the phone a login id of this user, then use it as the second factor.
    let asked = browser
        .submit(
            "/profile/phone",
            "/api/profile/phone",
            &[
                ("method", "sms"),
                ("phone", &phone),
                ("add_to_login_ids", "on"),
            ],
        )
        .await;
    asked.assert_redirects_to("/verify");
    app.enter_latest_code(&browser, &phone).await;

    // The session now rests on the sms code alone; add the email code as a second factor.
    app.clock.advance(Duration::from_secs(61));
    let sent = browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &email), ("mfa", "on")],
        )
        .await;
    sent.assert_redirects_to("/verify");
    app.enter_latest_code(&browser, &email).await;
    let profile = browser.get("/profile").await;
    let amr = profile
        .body
        .split("data-testid=\"amr\"")
        .nth(1)
        .unwrap_or_default();
    let amr = amr.split("</dd>").next().unwrap_or_default();
    assert!(
        amr.contains("mfa") && amr.contains("sms") && amr.contains("email"),
        "{amr}"
    );
}

#[tokio::test]
async fn an_audience_setting_is_required_of_every_session_token() {
    let app = spawn_app_with(|s| s.audience = Some("otp-demo".into())).await;
    let browser = app.signed_up("email", &unique_email("aud"), "Aud").await;
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);
}
