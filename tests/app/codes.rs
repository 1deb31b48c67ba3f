//! The code a person types: a wrong one, too many wrong ones, an expired one, a new one sent after
//! the cooldown, giving up on the address it went to, and the page it is typed on.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::*;

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
