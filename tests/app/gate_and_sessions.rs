//! The gate and the session behind it: who reaches a gated page (`HEAD` too), where `next=` may
//! lead, refreshing an expired session token, the session cookie, sign-out and sign-out
//! everywhere, the header, and the person's details kept in the session between `me` calls.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::ACCEPT;

use crate::support::*;

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
