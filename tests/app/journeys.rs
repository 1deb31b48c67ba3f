//! Every journey, one at a time.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::Value;

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
async fn the_verify_page_shows_the_masked_destination_and_never_the_address() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("mask");
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    let page = browser.get("/verify").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    // Without JavaScript the resend button is usable; the server enforces the cooldown.
    let resend_button = page
        .body
        .split("Send a new code")
        .next()
        .and_then(|before| before.rsplit("<button").next())
        .unwrap_or_default();
    assert!(!resend_button.contains("disabled"), "{resend_button}");
    assert!(page.body.contains("inputmode=\"numeric\""));
    assert!(
        page.body.contains("@example.com"),
        "masked address shown: {}",
        page.body
    );
    let local_part = email.split('@').next().expect("local part");
    assert!(
        !page.body.contains(local_part),
        "the full address leaked: {}",
        page.body
    );
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
async fn a_wrong_code_is_refused_and_the_right_one_still_works() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("wrong");
    let code = app.email_code_requested(&browser, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let failed = browser
        .submit("/verify", "/api/otp/verify", &[("code", wrong)])
        .await;
    let page = browser.follow(&failed).await;
    assert!(
        page.body.contains("That code is not right"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(wrong), "the code is not echoed back");

    let verified = browser
        .submit("/verify", "/api/otp/verify", &[("code", &code)])
        .await;
    verified.assert_redirects_to("/profile");
}

#[tokio::test]
async fn too_many_wrong_codes_burn_the_code() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("burn");
    let code = app.email_code_requested(&browser, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut last = String::new();
    for _ in 0..5 {
        let failed = browser
            .submit("/verify", "/api/otp/verify", &[("code", wrong)])
            .await;
        last = browser.follow(&failed).await.body;
    }
    assert!(last.contains("Too many wrong tries"), "{last}");
    let after = browser
        .submit("/verify", "/api/otp/verify", &[("code", &code)])
        .await;
    assert_ne!(
        after.location.as_deref(),
        Some("/profile"),
        "a burned code no longer works"
    );
}

#[tokio::test]
async fn an_expired_code_asks_for_a_new_one() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("late");
    let code = app.email_code_requested(&browser, &email).await;
    app.clock.advance(Duration::from_secs(6 * 60));
    let failed = browser
        .submit("/verify", "/api/otp/verify", &[("code", &code)])
        .await;
    let page = browser.follow(&failed).await;
    assert!(page.body.contains("That code has expired"), "{}", page.body);
}

#[tokio::test]
async fn resend_waits_for_the_cooldown_then_sends_a_fresh_code() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("again");
    browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    let first = app.code_for(&email).await;

    let early = browser.submit("/verify", "/api/otp/resend", &[]).await;
    let page = browser.follow(&early).await;
    assert!(page.body.contains("Try again in"), "{}", page.body);
    assert_eq!(
        app.outbox(&email).await.len(),
        1,
        "nothing sent during the cooldown"
    );

    app.clock.advance(Duration::from_secs(31));
    let resent = browser.submit("/verify", "/api/otp/resend", &[]).await;
    assert_eq!(resent.status, StatusCode::FOUND);
    assert_eq!(app.outbox(&email).await.len(), 2);
    let second = app.code_for(&email).await;
    // The emulator never repeats the code it voids, so this check always runs.
    assert_ne!(first, second);
    let stale = browser
        .submit("/verify", "/api/otp/verify", &[("code", &first)])
        .await;
    assert_ne!(
        stale.location.as_deref(),
        Some("/profile"),
        "the newest code voids the older one"
    );
    let verified = browser
        .submit("/verify", "/api/otp/verify", &[("code", &second)])
        .await;
    verified.assert_redirects_to("/profile");
}

#[tokio::test]
async fn use_a_different_address_forgets_the_waiting_code() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("switch");
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    let cancelled = browser.submit("/verify", "/api/otp/cancel", &[]).await;
    cancelled.assert_redirects_to("/sign-up-or-in");
    let page = browser.get("/verify").await;
    assert!(page.body.contains("No code waiting"), "{}", page.body);
}

#[tokio::test]
async fn a_head_request_for_a_page_meets_the_gate_like_a_get() {
    let app = spawn_app().await;
    let head = |browser: &crate::support::Browser, path: &str| {
        browser
            .http
            .head(format!("{}{path}", browser.app_base))
            .header(ACCEPT, "text/html")
            .send()
    };
    let stranger = app.browser();
    let gated = head(&stranger, "/profile").await.expect("answers");
    assert_eq!(gated.status(), StatusCode::SEE_OTHER);
    let public = head(&stranger, "/").await.expect("answers");
    assert_eq!(public.status(), StatusCode::OK);
    let person = app.signed_up("email", &unique_email("head"), "Head").await;
    let profile = head(&person, "/profile").await.expect("answers");
    assert_eq!(profile.status(), StatusCode::OK);
    let missing = head(&person, "/no-such-page").await.expect("answers");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_gate_sends_a_signed_out_browser_to_sign_in_and_back_afterwards() {
    let app = spawn_app().await;
    let email = unique_email("gate");
    app.signed_up("email", &email, "Gate").await;

    let browser = app.browser();
    let gated = browser.get("/profile").await;
    assert_eq!(gated.status, StatusCode::SEE_OTHER);
    gated.assert_redirects_to("/sign-in?next=%2Fprofile");

    let sent = browser
        .submit(
            "/sign-in?next=%2Fprofile",
            "/api/otp/sign-in",
            &[
                ("method", "email"),
                ("login_id", &email),
                ("next", "/profile"),
            ],
        )
        .await;
    sent.assert_redirects_to("/verify");
    let verified = app.enter_latest_code(&browser, &email).await;
    verified.assert_redirects_to("/profile");
}

#[tokio::test]
async fn only_local_paths_are_followed_after_sign_in() {
    let app = spawn_app().await;
    let email = unique_email("open");
    app.signed_up("email", &email, "Open").await;
    let browser = app.browser();
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[
                ("method", "email"),
                ("login_id", &email),
                ("next", "//evil.example/steal"),
            ],
        )
        .await;
    let verified = app.enter_latest_code(&browser, &email).await;
    verified.assert_redirects_to("/profile");
}

#[tokio::test]
async fn an_expired_session_token_is_refreshed_without_signing_out() {
    let app = spawn_app().await;
    let browser = app.signed_up("sms", &unique_phone(), "Refresh").await;
    // Past the 10-minute session JWT, well inside the 30-day refresh JWT.
    app.clock.advance(Duration::from_secs(11 * 60));
    let profile = browser.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert!(profile.body.contains("Hello, Refresh"));
}

#[tokio::test]
async fn a_refresh_token_past_its_life_signs_the_browser_out() {
    let app = spawn_app().await;
    let browser = app.signed_up("email", &unique_email("old"), "Old").await;
    app.clock.advance(Duration::from_secs(31 * 24 * 3600));
    let gated = browser.get("/profile").await;
    assert_eq!(gated.status, StatusCode::SEE_OTHER);
    gated.assert_redirects_to("/sign-in?next=%2Fprofile");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_and_rotated_at_sign_in() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("cookie");
    let sent = browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    let before = sent
        .session_cookie()
        .expect("a session for the pending code")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(before.contains(attribute), "{attribute} missing: {before}");
    }
    assert!(
        !before.contains("Secure"),
        "Secure is off unless COOKIE_SECURE is set"
    );

    let verified = app.enter_latest_code(&browser, &email).await;
    let after = verified
        .session_cookie()
        .expect("a new id at sign-in")
        .to_owned();
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_owned();
    assert_ne!(
        id(&before),
        id(&after),
        "the session id is cycled at sign-in"
    );
}

#[tokio::test]
async fn cookie_secure_marks_the_session_cookie_secure() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;
    let browser = app.browser();
    let sent = browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &unique_email("secure"))],
        )
        .await;
    assert!(sent.session_cookie().expect("cookie").contains("Secure"));
}

#[tokio::test]
async fn sign_out_drops_the_session_and_the_gate_closes() {
    let app = spawn_app().await;
    let browser = app.signed_up("email", &unique_email("bye"), "Bye").await;
    let out = browser
        .submit("/profile", "/api/session/sign-out", &[])
        .await;
    out.assert_redirects_to("/");
    let removal = out.session_cookie().expect("the cookie is removed");
    assert!(
        removal.contains("Max-Age=0") || removal.contains("Expires="),
        "{removal}"
    );
    let gated = browser.get("/profile").await;
    assert_eq!(gated.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_out_everywhere_closes_other_browsers_on_their_next_request() {
    let app = spawn_app().await;
    let email = unique_email("all");
    let first = app.signed_up("email", &email, "All").await;

    let (second, _) = app.signed_in_again(&email).await;
    assert_eq!(second.get("/profile").await.status, StatusCode::OK);

    let out = first
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await;
    out.assert_redirects_to("/sign-in");
    // The second browser's session JWT has not expired, yet it is refused at once.
    assert_eq!(second.get("/profile").await.status, StatusCode::SEE_OTHER);
    assert_eq!(first.get("/profile").await.status, StatusCode::SEE_OTHER);

    // Signing in again afterwards works.
    let (again, _) = app.signed_in_again(&email).await;
    assert_eq!(again.get("/profile").await.status, StatusCode::OK);
}

#[tokio::test]
async fn update_email_sends_a_code_to_the_new_address_and_marks_it_verified() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let browser = app.signed_up("sms", &phone, "Mover").await;
    let new_email = unique_email("moved");

    let asked = browser
        .submit(
            "/profile/email",
            "/api/profile/email",
            &[("email", &new_email), ("add_to_login_ids", "on")],
        )
        .await;
    asked.assert_redirects_to("/verify");
    let message = app.latest_message(&new_email).await;
    assert_eq!(message["purpose"], "update-email");
    let verified = browser
        .submit(
            "/verify",
            "/api/otp/verify",
            &[("code", message["code"].as_str().expect("code"))],
        )
        .await;
    verified.assert_redirects_to("/profile");
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains(&format!("{new_email} (verified)")),
        "{}",
        profile.body
    );
    let login_ids = profile.body.split("Login ids").nth(1).unwrap_or_default();
    let login_ids = login_ids.split("</ul>").next().unwrap_or_default();
    assert!(
        login_ids.contains(&new_email),
        "added as a login id: {login_ids}"
    );
    assert!(
        login_ids.contains(&phone),
        "the old login id stays: {login_ids}"
    );
}

#[tokio::test]
async fn update_phone_by_sms_voice_or_whatsapp_marks_the_new_number_verified() {
    let app = spawn_app().await;
    let browser = app
        .signed_up("email", &unique_email("phone"), "Caller")
        .await;
    for method in ["sms", "voice", "whatsapp"] {
        let phone = unique_phone();
        let asked = browser
            .submit(
                "/profile/phone",
                "/api/profile/phone",
                &[("method", method), ("phone", &phone)],
            )
            .await;
        assert_eq!(
            asked.location.as_deref(),
            Some("/verify"),
            "{method}: {}",
            asked.body
        );
        let message = app.latest_message(&phone).await;
        assert_eq!(message["channel"], method);
        assert_eq!(message["purpose"], "update-phone");
        let code = message["code"].as_str().expect("code");
        browser
            .submit("/verify", "/api/otp/verify", &[("code", code)])
            .await;
        let profile = browser.get("/profile").await;
        assert!(
            profile.body.contains(&format!("{phone} (verified)")),
            "{method}: {}",
            profile.body
        );
    }
}

#[tokio::test]
async fn update_phone_refuses_email_as_the_channel() {
    let app = spawn_app().await;
    let browser = app.signed_up("email", &unique_email("chan"), "Chan").await;
    let refused = browser
        .submit(
            "/profile/phone",
            "/api/profile/phone",
            &[("method", "email"), ("phone", &unique_phone())],
        )
        .await;
    let page = browser.follow(&refused).await;
    assert!(
        page.body
            .contains("Choose text message, voice call or WhatsApp"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn with_reveal_account_existence_an_address_that_belongs_to_someone_else_is_refused() {
    let app = spawn_app_with(|s| s.reveal_account_existence = true).await;
    let taken = unique_email("taken");
    app.signed_up("email", &taken, "Owner").await;
    let browser = app
        .signed_up("email", &unique_email("other"), "Other")
        .await;
    let refused = browser
        .submit(
            "/profile/email",
            "/api/profile/email",
            &[("email", &taken), ("add_to_login_ids", "on")],
        )
        .await;
    let page = browser.follow(&refused).await;
    assert!(
        page.body.contains("already belongs to another account"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_stale_sign_in_must_step_up_before_changing_the_email() {
    let app = spawn_app().await;
    let email = unique_email("stale");
    let browser = app.signed_up("email", &email, "Stale").await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let new_email = unique_email("fresh");

    let asked = browser
        .submit(
            "/profile/email",
            "/api/profile/email",
            &[("email", &new_email)],
        )
        .await;
    asked.assert_redirects_to("/verify");
    assert!(
        app.outbox(&new_email).await.is_empty(),
        "nothing to the new address yet"
    );
    let step_up = app.latest_message(&email).await;
    let page = browser.get("/verify").await;
    assert!(page.body.contains("Confirm it"), "{}", page.body);

    let stepped = browser
        .submit(
            "/verify",
            "/api/otp/verify",
            &[("code", step_up["code"].as_str().expect("code"))],
        )
        .await;
    stepped.assert_redirects_to("/verify");
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains("stepped up"),
        "the session carries su: {}",
        profile.body
    );
    let verified = app.enter_latest_code(&browser, &new_email).await;
    verified.assert_redirects_to("/profile");
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains(&format!("{new_email} (verified)")),
        "{}",
        profile.body
    );
}

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

// --- Benchmark -------------------------------------------------------------------------------
// Not part of the normal run. Measures, in one go, against baselines measured alongside:
//   cargo test --release --features ssr --test app -- --ignored --nocapture benchmark

async fn mean_micros<F, Fut>(rounds: u32, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        f().await;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
}

#[tokio::test]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn benchmark_the_gate_and_the_jwks_cache() {
    use descope_otp::descope::{DescopeClient, DescopeConfig, SignUpOptions};
    use descope_otp::models::DeliveryMethod;
    use secrecy::ExposeSecret;

    let app = spawn_app().await;
    let browser = app
        .signed_up("email", &unique_email("bench"), "Bench")
        .await;

    // A session JWT of our own, issued by the same emulator.
    let config = || {
        let mut c = DescopeConfig::new(descope_otp::emulator::DEFAULT_PROJECT_ID);
        c.base_url = Some(app.emulator.clone());
        c
    };
    let client = DescopeClient::new(config(), app.clock.clone()).expect("client");
    let email = unique_email("bench-token");
    client
        .sign_up_or_in(DeliveryMethod::Email, &email, &SignUpOptions::default())
        .await
        .expect("code sent");
    let code = app.code_for(&email).await;
    let auth = client
        .verify(DeliveryMethod::Email, &email, &code)
        .await
        .expect("verified");
    let token = auth.session_jwt.expose_secret().to_owned();

    let rounds = 300;
    // Warm everything once.
    browser.get("/").await;
    browser.get("/profile").await;
    client.validate_session(&token).await.expect("valid");

    let home = mean_micros(rounds, || async {
        assert_eq!(browser.get("/").await.status, StatusCode::OK)
    })
    .await;
    let profile = mean_micros(rounds, || async {
        assert_eq!(browser.get("/profile").await.status, StatusCode::OK)
    })
    .await;
    // Baseline: what every validation would cost without the cache (a new client fetches the JWKS).
    let uncached = mean_micros(rounds / 3, || async {
        let fresh = DescopeClient::new(config(), app.clock.clone()).expect("client");
        fresh.validate_session(&token).await.expect("valid");
    })
    .await;

    // The signature check alone, three ways, on the same token: ring with n and e decoded once
    // (the bare verify: the baseline), jsonwebtoken's rust_crypto backend (what the app used to
    // do), and the app's whole validation (header, cached key, ring, claims).
    let jwks: Value = reqwest::get(format!(
        "{}/v2/keys/{}",
        app.emulator,
        descope_otp::emulator::DEFAULT_PROJECT_ID
    ))
    .await
    .expect("jwks")
    .json()
    .await
    .expect("json");
    let jwk = &jwks["keys"][0];
    let (n, e) = (
        jwk["n"].as_str().expect("n").to_owned(),
        jwk["e"].as_str().expect("e").to_owned(),
    );
    let (bare, cached) = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = ring::signature::RsaPublicKeyComponents {
            n: b64.decode(&n).expect("n"),
            e: b64.decode(&e).expect("e"),
        };
        let (message, signature) = token.rsplit_once('.').expect("a JWS");
        let signature = b64.decode(signature).expect("signature");
        // The two figures whose ratio is the target (≤ 1.2x) are taken in turns, nine rounds
        // each, and the median round counts: a burst of noise on a shared machine then moves
        // neither, instead of one.
        let mut bare_rounds = Vec::new();
        let mut cached_rounds = Vec::new();
        for _ in 0..9 {
            bare_rounds.push(
                mean_micros(rounds * 2, || {
                    key.verify(
                        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                        message.as_bytes(),
                        &signature,
                    )
                    .expect("verifies");
                    std::future::ready(())
                })
                .await,
            );
            cached_rounds.push(
                mean_micros(rounds * 2, || async {
                    client.validate_session(&token).await.expect("valid");
                })
                .await,
            );
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        (median(bare_rounds), median(cached_rounds))
    };
    let rust_crypto = {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let key = DecodingKey::from_rsa_components(&n, &e).expect("key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        mean_micros(rounds * 3, || {
            jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies");
            std::future::ready(())
        })
        .await
    };

    // The gate alone, as `require_user` runs it on a gated request, without HTTP or a render:
    // the session row and its sign-out-everywhere mark read through the app's own store and pool
    // (one query), and the token check. Against the bare verify; on SQLite also through a pool that pings
    // each connection it hands out (sqlx's default, which the app turns off for SQLite).
    let (gate, gate_pinging) = {
        use descope_otp::server::db::Db;
        use descope_otp::server::session_store::{MARK_KEY, SessionRows};
        use tower_sessions::SessionStore;
        // A session of its own, to read its id off the cookie the verify sets.
        let person = app.browser();
        let email = unique_email("bench-gate");
        app.email_code_requested(&person, &email).await;
        let verified = app.enter_latest_code(&person, &email).await;
        let id = verified
            .session_id()
            .expect("the verify sets the session cookie");
        let gate_on = |db: Db| {
            let client = &client;
            let token = &token;
            mean_micros(rounds * 3, move || {
                let db = db.clone();
                async move {
                    // The session row and, joined to it, the person's sign-out-everywhere mark:
                    // one query, as the gate makes it.
                    let record = SessionRows::new(db, test_session_keys())
                        .load(&id)
                        .await
                        .expect("the store answers")
                        .expect("the session is there");
                    assert!(
                        record.data.contains_key(MARK_KEY),
                        "the row names its person, so the mark came with it"
                    );
                    client.validate_session(token).await.expect("valid");
                }
            })
        };
        let gate = gate_on(app.state.db.clone()).await;
        let pinging = match &app.state.db {
            Db::Sqlite(_) => {
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(app.state.settings.database_pool_size)
                    .test_before_acquire(true)
                    .connect(app.database().url())
                    .await
                    .expect("a second pool on the app's file");
                Some(gate_on(Db::Sqlite(pool)).await)
            }
            Db::Postgres(_) => None,
        };
        (gate, pinging)
    };

    println!(
        "\nbenchmark (mean per call, {} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("  GET /          (public page, baseline)      {home:>10.1} µs   1.00x");
    println!(
        "  GET /profile   (gate + session + render)     {profile:>10.1} µs   {:.2}x",
        profile / home
    );
    println!("  validate_session, JWKS uncached (baseline)   {uncached:>10.1} µs   1.00x");
    println!(
        "  validate_session, a token seen before        {cached:>10.1} µs   {:.3}x",
        cached / uncached
    );
    println!("  RS256 verify, ring, key prebuilt (baseline)  {bare:>10.1} µs   1.00x");
    println!(
        "  jsonwebtoken decode, rust_crypto backend     {rust_crypto:>10.1} µs   {:.2}x",
        rust_crypto / bare
    );
    println!(
        "  validate_session, a token seen before        {cached:>10.1} µs   {:.2}x  (remembered: claims checked, no signature; medians of 9 alternating rounds)",
        cached / bare
    );
    println!(
        "  the gate: session row + mark (1 query) + validate {gate:>6.1} µs   {:.2}x",
        gate / bare
    );
    if let Some(pinging) = gate_pinging {
        println!(
            "  the gate, pool pinging on acquire (SQLite)   {pinging:>10.1} µs   {:.2}x  ({:.2}x the app's)",
            pinging / bare,
            pinging / gate
        );
    }
    assert!(
        cached < uncached,
        "the JWKS cache must make validation cheaper"
    );
    let load = load_profile_and_home(&app).await;
    println!("{load}");
}

/// `GET /` and `GET /profile` under load, interleaved A B C A B C so that all see the same
/// machine: 64 connections (eight browsers, eight connections each) for two seconds per turn,
/// then one connection. `/` twice: signed out (no session, no gate: the render alone, the
/// baseline) and signed in (its header runs the whole gate, as every page's does). Prints
/// requests per second, p50 and p99 per target, the throughput ratios, and the process's peak
/// RSS (app, emulator and load generator together: they share this test process).
async fn load_profile_and_home(app: &TestApp) -> String {
    let mut signed_in = Vec::new();
    for i in 0..8 {
        signed_in.push(
            app.signed_up("email", &unique_email(&format!("load{i}")), "Load")
                .await,
        );
    }
    let signed_out: Vec<Browser> = (0..8).map(|_| app.browser()).collect();
    let browsers = std::sync::Arc::new([signed_out, signed_in]);
    // (label, path, which browsers)
    let targets = [
        ("GET / signed out", "/", 0),
        ("GET / signed in", "/", 1),
        ("GET /profile", "/profile", 1),
    ];
    let mut out = String::from("\nload (2 s turns, A B C A B C)\n");
    for connections in [64usize, 1] {
        let mut lat: [Vec<std::time::Duration>; 3] = Default::default();
        let mut secs = [0f64; 3];
        for _round in 0..2 {
            for (i, (_, path, who)) in targets.into_iter().enumerate() {
                let started = std::time::Instant::now();
                let until = started + std::time::Duration::from_secs(2);
                let mut tasks = tokio::task::JoinSet::new();
                for c in 0..connections {
                    let browsers = browsers.clone();
                    tasks.spawn(async move {
                        let browser = &browsers[who][c % browsers[who].len()];
                        let mut took = Vec::new();
                        let url = format!("{}{path}", browser.app_base);
                        while std::time::Instant::now() < until {
                            let t = std::time::Instant::now();
                            // The bytes only: the load generator shares the process with the
                            // app, so it does no more work per answer than a client must (the
                            // token scan of `Browser::get` would cost more on the larger page).
                            let response = browser.http.get(&url).send().await.expect("answer");
                            assert_eq!(response.status(), StatusCode::OK, "{path}");
                            response.bytes().await.expect("body");
                            took.push(t.elapsed());
                        }
                        took
                    });
                }
                while let Some(took) = tasks.join_next().await {
                    lat[i].extend(took.expect("load task"));
                }
                secs[i] += started.elapsed().as_secs_f64();
            }
        }
        let mut rps = [0f64; 3];
        for (i, (label, _, _)) in targets.into_iter().enumerate() {
            lat[i].sort();
            let q = |p: f64| lat[i][((lat[i].len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
            rps[i] = lat[i].len() as f64 / secs[i];
            out.push_str(&format!(
                "  {connections:>2} conn  {label:<17} {:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms\n",
                rps[i],
                q(0.50),
                q(0.99)
            ));
        }
        out.push_str(&format!(
            "  {connections:>2} conn  /profile ÷ / signed out {:.2}x   ÷ / signed in {:.2}x\n",
            rps[2] / rps[0],
            rps[2] / rps[1]
        ));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: n/a");
    out.push_str(&format!(
        "  peak RSS of the whole test process: {}\n",
        peak.trim_start_matches("VmHWM:").trim()
    ));
    out
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

/// The profile shows the details kept in the session: with every `me` call failing, twenty
/// profile views still show the person, and the fault that would have answered `me` is untouched.
/// With `USER_DETAILS_MAX_AGE_MINUTES=0` every view asks `me` again.
#[tokio::test]
async fn profile_views_make_no_descope_call_until_the_details_are_old() {
    for (max_age_minutes, me_calls) in [(60u64, 0u32), (0, 3)] {
        let app = spawn_app_with(|s| {
            allow_faults(s);
            s.user_details_max_age = Duration::from_secs(max_age_minutes * 60);
        })
        .await;
        let email = unique_email("p-details");
        let browser = app.signed_up("email", &email, "Kept Details").await;
        app.inject_fault(serde_json::json!({
            "path": "/v1/auth/me", "status": 503, "errorCode": "E000000", "times": 1000
        }))
        .await;
        let views = if me_calls == 0 { 20 } else { me_calls };
        for _ in 0..views {
            let profile = browser.get("/profile").await;
            if me_calls == 0 {
                assert_eq!(profile.status, StatusCode::OK);
                assert!(
                    profile.body.contains("Hello, Kept Details"),
                    "{}",
                    profile.body
                );
                assert!(profile.body.contains(&format!("{email} (verified)")));
            } else {
                assert_eq!(profile.status, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        let remaining = app.active_faults().await.to_string();
        assert!(
            remaining.contains(&format!("\"remaining\":{}", 1000 - me_calls)),
            "max age {max_age_minutes} min: {me_calls} me calls expected: {remaining}"
        );
    }
}

/// The header is rendered on the server (no JavaScript here) and tells the truth: signed out, it
/// offers sign-up or sign-in; signed in, the person's name, the profile and a sign-out form; and
/// after sign-out everywhere from another browser, signed out again.
#[tokio::test]
async fn the_header_knows_who_is_signed_in() {
    let app = spawn_app().await;
    let header = |page: &Page| {
        let start = page.body.find("<header").expect("a header");
        let end = page.body[start..].find("</header>").expect("its end") + start;
        // Without the hydration markers between text nodes.
        page.body[start..end].replace("<!>", "")
    };
    let stranger = header(&app.browser().get("/").await);
    assert!(stranger.contains("Sign up or sign in"), "{stranger}");
    assert!(!stranger.contains("Sign out") && !stranger.contains("Signed in as"));

    let email = unique_email("h-header");
    let browser = app.signed_up("email", &email, "Header Person").await;
    let mine = header(&browser.get("/").await);
    assert!(mine.contains("Signed in as Header Person"), "{mine}");
    assert!(mine.contains("href=\"/profile\""));
    assert!(mine.contains("action=\"/api/session/sign-out\""), "{mine}");
    assert!(!mine.contains("Sign up or sign in"));
    assert_no_token(&mine);

    // The header's sign-out works without JavaScript.
    let out = browser.submit("/", "/api/session/sign-out", &[]).await;
    out.assert_redirects_to("/");
    let after = header(&browser.get("/").await);
    assert!(after.contains("Sign up or sign in"), "{after}");
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
