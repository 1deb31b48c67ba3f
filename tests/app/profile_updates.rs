//! Changing the profile: a new email or phone number verified by a code sent to it, the channels
//! a phone may use, an address that belongs to someone else, and the step-up a stale sign-in needs
//! first.

use std::time::Duration;

use crate::support::*;

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
