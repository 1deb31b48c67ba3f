//! The defences a fork ships with, each on by default: cross-site requests refused, rate limits
//! before any Descope call, no account enumeration, strict headers, errors a URL cannot forge,
//! bounded input.

use std::time::{Duration, Instant};

use descope_otp::server::settings::{RateLimits, RateRule, Settings};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, ORIGIN, REFERER};
use serde_json::Value;

use crate::support::*;

/// A form post as another site's page would make it, with the headers a browser adds.
async fn cross_site_post(
    browser: &Browser,
    action: &str,
    fields: &[(&str, &str)],
    headers: &[(&'static str, &str)],
) -> Page {
    let mut request = browser
        .http
        .post(format!("{}{action}", browser.app_base))
        .header(ACCEPT, "text/html")
        .form(fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Page::read(request.send().await.expect("answers")).await
}

const FOREIGN: [&[(&str, &str)]; 3] = [
    &[("origin", "https://evil.example")],
    &[("referer", "https://evil.example/free-prizes")],
    &[
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ],
];

#[tokio::test]
async fn a_cross_site_post_sends_no_code_and_touches_no_session() {
    let app = spawn_app().await;
    let browser = app.browser();
    let email = unique_email("relay");
    for headers in FOREIGN {
        let refused = cross_site_post(
            &browser,
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
            headers,
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            refused.body.contains("came from another site"),
            "{}",
            refused.body
        );
        assert!(refused.session_cookie().is_none(), "no session was made");
    }
    assert!(app.outbox(&email).await.is_empty(), "no code went out");

    // The same form from the app's own page works, with JavaScript off.
    let same_site = browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    same_site.assert_redirects_to("/verify");
}

#[tokio::test]
async fn cross_site_sign_out_and_address_changes_are_refused() {
    let app = spawn_app().await;
    let browser = app
        .signed_up("email", &unique_email("victim"), "Victim")
        .await;
    let new_email = unique_email("attacker");
    for (action, fields) in [
        ("/api/session/sign-out", vec![]),
        ("/api/session/sign-out-everywhere", vec![]),
        ("/api/profile/email", vec![("email", new_email.as_str())]),
    ] {
        for headers in FOREIGN {
            let refused = cross_site_post(&browser, action, &fields, headers).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{action} {headers:?}"
            );
        }
    }
    assert!(app.outbox(&new_email).await.is_empty());
    assert_eq!(
        browser.get("/profile").await.status,
        StatusCode::OK,
        "still signed in"
    );
    // A hydrated page's JSON call is checked the same way.
    let json = browser
        .http
        .post(format!("{}/api/session/sign-out", browser.app_base))
        .header(ACCEPT, "application/json")
        .header(ORIGIN, "https://evil.example")
        .form(&[("x", "1")])
        .send()
        .await
        .expect("answers");
    assert_eq!(json.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        json.json::<Value>().await.expect("json"),
        serde_json::json!("CrossSite")
    );
}

#[tokio::test]
async fn behind_a_proxy_app_origin_names_the_public_origin() {
    let app = spawn_app_with(|s| {
        s.app_origin = Some(
            url::Url::parse("https://app.example.com")
                .expect("url")
                .origin(),
        )
    })
    .await;
    let browser = app.browser();
    let email = unique_email("proxied");
    let from_public_origin = cross_site_post(
        &browser,
        "/api/otp/sign-up-or-in",
        &[("method", "email"), ("login_id", &email)],
        &[("origin", "https://app.example.com")],
    )
    .await;
    from_public_origin.assert_redirects_to("/verify");
    // The Host the proxy forwards to is no longer enough on its own.
    let own_host = app.base.clone();
    let refused = cross_site_post(
        &browser,
        "/api/otp/sign-up-or-in",
        &[("method", "email"), ("login_id", &email)],
        &[("origin", own_host.as_str())],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

async fn ask_code_json(browser: &Browser, login_id: &str) -> reqwest::Response {
    browser
        .http
        .post(format!("{}/api/otp/sign-up-or-in", browser.app_base))
        .header(ACCEPT, "application/json")
        .form(&[("method", "email"), ("login_id", login_id)])
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
async fn a_script_asking_codes_for_many_addresses_is_stopped_within_ten() {
    let app = spawn_app().await;
    let browser = app.browser();
    let mut sent = 0;
    let mut refused = None;
    for i in 0..30 {
        let email = unique_email(&format!("pump{i}"));
        let response = ask_code_json(&browser, &email).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response.headers().get("retry-after").cloned();
            refused = Some((
                i,
                retry_after,
                response.json::<Value>().await.expect("json"),
            ));
            assert!(
                app.outbox(&email).await.is_empty(),
                "nothing sent when limited"
            );
            break;
        }
        assert_eq!(response.status(), StatusCode::OK, "request {i}");
        sent += 1;
    }
    let (at, retry_after, body) = refused.expect("the limit was reached");
    assert_eq!(
        (sent, at),
        (10, 10),
        "the default is 10 codes per client per 10 minutes"
    );
    let wait: u64 = retry_after
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(body["RateLimited"]["retry_after_secs"], wait);

    // Without JavaScript the form comes back with the wait written out.
    let page = browser
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &unique_email("pumpform"))],
        )
        .await;
    let shown = browser.follow(&page).await;
    assert!(
        shown.body.contains("Too many requests. Try again in"),
        "{}",
        shown.body
    );

    // The limit lifts as time passes.
    app.clock.advance(Duration::from_secs(wait));
    let response = ask_code_json(&browser, &unique_email("later")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn codes_for_one_address_and_tries_at_one_code_are_limited() {
    let app = spawn_app_with(|s| {
        s.rate_limits = RateLimits {
            send_per_address: Some(RateRule::new(2, 600)),
            verify_per_address: Some(RateRule::new(3, 600)),
            ..RateLimits::off()
        }
    })
    .await;
    let email = unique_email("target");
    for _ in 0..2 {
        let response = ask_code_json(&app.browser(), &email).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Past the emulator's own per-recipient cap, so only the app's limit can refuse.
        app.clock.advance(Duration::from_secs(61));
    }
    let limited = ask_code_json(&app.browser(), &email.to_uppercase()).await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "case does not matter"
    );

    let browser = app.browser();
    app.clock.advance(Duration::from_secs(600));
    app.email_code_requested(&browser, &email).await;
    for _ in 0..3 {
        let wrong = browser
            .submit("/verify", "/api/otp/verify", &[("code", "000000")])
            .await;
        assert!(
            !browser
                .follow(&wrong)
                .await
                .body
                .contains("Too many requests")
        );
    }
    let limited = browser
        .submit("/verify", "/api/otp/verify", &[("code", "000000")])
        .await;
    let page = browser.follow(&limited).await;
    assert!(
        page.body.contains("Too many requests. Try again in"),
        "{}",
        page.body
    );
}

/// A page body with what differs between any two responses taken out, to compare two answers:
/// this response's nonce (Leptos writes it into the hydration script's `nonce` and the preload
/// links' `crossorigin`) and the resend countdown, which a second boundary between the two
/// requests may change.
pub fn without_nonces(body: &str) -> String {
    let cut = |text: String, marker: &str, until: fn(char) -> bool| {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(marker) {
            out.push_str(&rest[..at + marker.len()]);
            rest = &rest[at + marker.len()..];
            let end = rest.find(until).unwrap_or(rest.len());
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    };
    let text = cut(body.to_owned(), "nonce=\"", |c| c == '"');
    let text = cut(text, "crossorigin=\"", |c| c == '"');
    let text = cut(text, "a new code in ", |c| !c.is_ascii_digit());
    let text = cut(text, "resend_in_secs\\\":", |c| !c.is_ascii_digit());
    // The code form's island carries it too, in its HTML-escaped `data-props`.
    cut(text, "resend_in_secs&quot;:", |c| !c.is_ascii_digit())
}

#[tokio::test]
async fn sign_in_answers_a_known_and_an_unknown_address_alike() {
    let app = spawn_app().await;
    // Both mask to s***@example.com.
    let known = format!("s-known-{}@example.com", uuid_like());
    let unknown = format!("s-ghost-{}@example.com", uuid_like());
    app.signed_up("email", &known, "Known").await;
    app.clock.advance(Duration::from_secs(61));

    let mut answers = Vec::new();
    for login_id in [&known, &unknown] {
        let browser = app.browser();
        let sent = browser
            .submit(
                "/sign-in",
                "/api/otp/sign-in",
                &[("method", "email"), ("login_id", login_id)],
            )
            .await;
        let page = browser.follow(&sent).await;
        let wrong = browser
            .submit("/verify", "/api/otp/verify", &[("code", "000000")])
            .await;
        let after_wrong = browser.follow(&wrong).await;
        answers.push((sent, page, wrong, after_wrong));
    }
    let (known_answer, unknown_answer) = (&answers[0], &answers[1]);
    assert_eq!(known_answer.0.status, unknown_answer.0.status);
    assert_eq!(known_answer.0.location, unknown_answer.0.location);
    assert_eq!(known_answer.0.location.as_deref(), Some("/verify"));
    assert_eq!(
        known_answer.0.session_cookie().is_some(),
        unknown_answer.0.session_cookie().is_some()
    );
    assert_eq!(known_answer.1.status, unknown_answer.1.status);
    assert_eq!(
        without_nonces(&known_answer.1.body),
        without_nonces(&unknown_answer.1.body)
    );
    assert!(known_answer.1.body.contains("If an account exists for"));
    assert_eq!(
        without_nonces("a new code in 29 s.resend_in_secs\\\":29,resend_in_secs&quot;:29,"),
        without_nonces("a new code in 30 s.resend_in_secs\\\":30,resend_in_secs&quot;:30,"),
        "the countdown is cut"
    );
    assert_eq!(known_answer.2.location, unknown_answer.2.location);
    assert_eq!(
        without_nonces(&known_answer.3.body),
        without_nonces(&unknown_answer.3.body)
    );
    assert!(known_answer.3.body.contains("That code is not right"));
    assert!(
        app.outbox(&unknown).await.is_empty(),
        "no message to an address with no account"
    );
    assert_eq!(
        app.outbox(&known).await.len(),
        2,
        "the known address got its code"
    );
}

#[tokio::test]
async fn sign_up_of_an_existing_address_reveals_nothing_and_signs_that_person_in() {
    let app = spawn_app().await;
    let taken = format!("t-taken-{}@example.com", uuid_like());
    let fresh = format!("t-fresh-{}@example.com", uuid_like());
    app.signed_up("email", &taken, "Taken").await;
    app.clock.advance(Duration::from_secs(61));

    let before = app.latest_message_id().await;
    let mut pages = Vec::new();
    for login_id in [&taken, &fresh] {
        let browser = app.browser();
        let sent = browser
            .submit(
                "/sign-up",
                "/api/otp/sign-up",
                &[
                    ("method", "email"),
                    ("login_id", login_id),
                    ("name", "Someone"),
                ],
            )
            .await;
        sent.assert_redirects_to("/verify");
        pages.push((browser.follow(&sent).await, browser));
    }
    assert_eq!(
        without_nonces(&pages[0].0.body),
        without_nonces(&pages[1].0.body)
    );
    // The code that went to the existing account (sent after the answer) signs its owner in.
    let message = app.message_after(&taken, before).await;
    assert_eq!(message["templateOptions"], Value::Null, "{message}");
    let verified = pages[0]
        .1
        .submit(
            "/verify",
            "/api/otp/verify",
            &[("code", message["code"].as_str().expect("a code"))],
        )
        .await;
    verified.assert_redirects_to("/profile");
    let profile = pages[0].1.get("/profile").await;
    assert!(profile.body.contains("Hello, Taken"), "{}", profile.body);
}

/// Known and unknown addresses cost the app different work (no Descope call at all to refuse an
/// unknown address's code; one call more to sign up a taken address), so every such answer is
/// held to the `CODE_ANSWER_MIN_MS` floor. Rounds interleave the cases so that a slow moment of
/// the machine falls on both alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_and_unknown_addresses_take_the_same_time_to_answer() {
    let floor = Settings::from_lookup(|_| None)
        .expect("default settings")
        .code_answer_min;
    assert!(
        floor >= Duration::from_millis(100),
        "the default floor is on"
    );
    let app = spawn_app_with(|s| s.code_answer_min = floor).await;
    let cases = [
        "sign-in (known)",
        "sign-in (unknown)",
        "wrong code (known)",
        "wrong code (unknown)",
        "sign-up (taken)",
        "sign-up (new)",
    ];
    let mut took: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..3 {
        let known = format!("k{round}-{}@example.com", uuid_like());
        app.signed_up("email", &known, "Known").await;
        app.clock.advance(Duration::from_secs(600));
        let unknown = format!("u{round}-{}@example.com", uuid_like());
        let fresh = format!("n{round}-{}@example.com", uuid_like());
        for (i, login_id) in [&known, &unknown].into_iter().enumerate() {
            let browser = app.browser();
            let started = Instant::now();
            let sent = browser
                .submit(
                    "/sign-in",
                    "/api/otp/sign-in",
                    &[("method", "email"), ("login_id", login_id)],
                )
                .await;
            took[i].push(started.elapsed());
            sent.assert_redirects_to("/verify");
            let started = Instant::now();
            let wrong = browser
                .submit("/verify", "/api/otp/verify", &[("code", "000000")])
                .await;
            took[2 + i].push(started.elapsed());
            let back = wrong.location.as_deref().unwrap_or_default();
            assert!(
                back.starts_with("/verify?") && back.contains("__err="),
                "{back}"
            );
        }
        for (i, login_id) in [&known, &fresh].into_iter().enumerate() {
            let started = Instant::now();
            let sent = app
                .browser()
                .submit(
                    "/sign-up",
                    "/api/otp/sign-up",
                    &[
                        ("method", "email"),
                        ("login_id", login_id),
                        ("name", "Someone"),
                    ],
                )
                .await;
            took[4 + i].push(started.elapsed());
            sent.assert_redirects_to("/verify");
        }
        app.clock.advance(Duration::from_secs(600));
    }
    let fastest = |d: &[Duration]| d.iter().min().copied().unwrap_or_default();
    for (case, times) in cases.iter().zip(&took) {
        for t in times {
            assert!(
                *t >= floor,
                "{case} answered in {t:?}, before the {floor:?} floor"
            );
        }
    }
    // Each pair: the fastest answers of the two within the floor of each other. The fastest, not
    // the median: a busy machine only ever adds time, so the minimum is what the app itself took
    // (a median moved by 340 ms on a loaded machine in a 20-run trial). Without the floor an
    // unknown address's wrong code answers in about a millisecond, and the check above fails.
    for pair in took.chunks(2) {
        let (a, b) = (fastest(&pair[0]), fastest(&pair[1]));
        let gap = a.max(b) - a.min(b);
        assert!(
            gap < floor,
            "fastest answers {a:?} and {b:?} differ by {gap:?}: {took:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_address_locks_after_as_many_wrong_tries_as_a_real_code() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &unique_email("nobody"))],
        )
        .await;
    let mut last = String::new();
    for _ in 0..5 {
        let wrong = browser
            .submit("/verify", "/api/otp/verify", &[("code", "123456")])
            .await;
        last = browser.follow(&wrong).await.body;
    }
    assert!(last.contains("Too many wrong tries"), "{last}");
}

#[tokio::test]
async fn every_page_carries_strict_headers_and_a_nonce_for_its_script() {
    let app = spawn_app().await;
    let browser = app
        .signed_up("email", &unique_email("headers"), "Headers")
        .await;
    for (path, no_store) in [
        ("/", true),
        ("/sign-in", true),
        ("/verify", true),
        ("/profile", true),
        ("/no/such/page", true),
    ] {
        let response = browser
            .http
            .get(format!("{}{path}", browser.app_base))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("answers");
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp:?}"));
        assert!(nonce.len() >= 16, "{path}: {nonce}");
        assert!(
            body.contains(&format!("<script type=\"module\" nonce=\"{nonce}\"")),
            "{path}: the hydration script carries this response's nonce"
        );
        for part in [
            "default-src 'none'",
            "script-src 'self' 'nonce-",
            "'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        if no_store {
            assert_eq!(header("cache-control"), "no-store", "{path}");
        }
        assert_eq!(
            header("strict-transport-security"),
            "",
            "HSTS is for production mode"
        );
    }
    // Two responses never share a nonce.
    let nonce_of = |page: &Page| {
        page.body
            .split("nonce=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
    };
    let (first, second) = (browser.get("/").await, browser.get("/").await);
    assert_ne!(nonce_of(&first), nonce_of(&second));
}

fn url_value(json: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

#[tokio::test]
async fn an_error_in_the_url_shows_only_what_the_server_wrote() {
    let app = spawn_app().await;
    let browser = app.browser();
    let forged = url_value(
        r#"{"InvalidInput":{"field":"login_id","message":"Your account is locked. Call +1 555 0100 now."}}"#,
    );
    let page = browser
        .get(&format!(
            "/sign-in?next=%2Fprofile&__path=%2Fapi%2Fotp%2Fsign-in&__err={forged}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    page.assert_redirects_to("/sign-in?next=%2Fprofile");
    for junk in [
        "%%%",
        "bm90IGpzb24",
        &url_value(r#"{"Internal":{"error_id":"see evil.example"}}"#),
    ] {
        let page = browser
            .get(&format!(
                "/sign-in?__path=%2Fapi%2Fotp%2Fsign-in&__err={junk}"
            ))
            .await;
        page.assert_redirects_to("/sign-in");
    }
    // An error the server writes is shown, with its message and nothing else.
    let genuine = url_value(r#"{"InvalidInput":{"field":"code","problem":"CodeNotDigits"}}"#);
    let page = browser
        .get(&format!(
            "/verify?__path=%2Fapi%2Fotp%2Fverify&__err={genuine}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_post_never_redirects_off_site() {
    let app = spawn_app().await;
    let browser = app.browser();
    // Not a browser (no Origin), so not refused as cross-site, but with a made-up Referer.
    let response = browser
        .http
        .post(format!("{}/api/otp/sign-in", browser.app_base))
        .header(ACCEPT, "text/html")
        .header(REFERER, "https://evil.example/phish")
        .header("sec-fetch-site", "same-origin")
        .form(&[("method", "email"), ("login_id", "not an email")])
        .send()
        .await
        .expect("answers");
    let page = Page::read(response).await;
    let location = page.location.expect("a redirect");
    assert!(location.starts_with("/phish?"), "{location}");
}

#[tokio::test]
async fn oversized_and_non_utf8_bodies_get_their_own_clear_answer() {
    let app = spawn_app().await;
    let browser = app.browser();
    let post = |body: Vec<u8>| {
        browser
            .http
            .post(format!("{}/api/otp/sign-up-or-in", browser.app_base))
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let huge = format!(
        "method=email&login_id=a@example.com&template_options={}",
        "x".repeat(3 << 20)
    );
    let too_large = post(huge.into_bytes()).await.expect("answers");
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        too_large.json::<Value>().await.expect("json"),
        serde_json::json!("TooLarge")
    );

    for body in [
        b"method=email&login_id=%FF%FE".to_vec(),
        vec![b'm', b'=', 0xff, 0xfe],
    ] {
        // Whatever Content-Type a client claims, the body is read as a form.
        let claimed_text = browser
            .http
            .post(format!("{}/api/otp/sign-up-or-in", browser.app_base))
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "text/plain")
            .body(body.clone())
            .send()
            .await
            .expect("answers");
        assert_eq!(claimed_text.status(), StatusCode::BAD_REQUEST);
        let not_utf8 = post(body).await.expect("answers");
        assert_eq!(not_utf8.status(), StatusCode::BAD_REQUEST);
        let error: Value = not_utf8.json().await.expect("json");
        assert_eq!(error["InvalidInput"]["problem"], "NotUtf8");
    }
}

#[tokio::test]
async fn every_field_is_bounded_and_says_what_is_wrong() {
    let app = spawn_app().await;
    let browser = app.browser();
    let long_email = format!("{}@example.com", "a".repeat(300));
    let long_code = "1".repeat(200);
    // (server function, form fields, the problem it must name)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/api/otp/sign-up-or-in",
            vec![("method", "email"), ("login_id", &long_email)],
            "EmailTooLong",
        ),
        (
            "/api/otp/sign-up-or-in",
            vec![
                ("method", "sms"),
                ("login_id", "+1 415 555 2671 0000000000000000000000"),
            ],
            "PhoneTooLong",
        ),
        (
            "/api/otp/sign-up-or-in",
            vec![
                ("method", "email"),
                ("login_id", "ok@example.com"),
                ("template_options", "greeting=hi\u{7}there"),
            ],
            "TemplateValueInvalid",
        ),
        ("/api/otp/verify", vec![("code", &long_code)], "CodeTooLong"),
    ];
    for (action, fields, problem) in cases {
        let response = browser
            .http
            .post(format!("{}{action}", browser.app_base))
            .header(ACCEPT, "application/json")
            .form(&fields)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{problem}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["InvalidInput"]["problem"], problem);
    }
}

/// Asks for a code by `method` as a client whose request reaches the app with `forwarded_for`
/// in `X-Forwarded-For`, as a proxy (or a client pretending to be one) writes it.
async fn ask_code_forwarded(
    app: &TestApp,
    method: &str,
    login_id: &str,
    forwarded_for: &str,
) -> reqwest::Response {
    let browser = app.browser();
    browser
        .http
        .post(format!("{}/api/otp/sign-up-or-in", browser.app_base))
        .header(ACCEPT, "application/json")
        .header("x-forwarded-for", forwarded_for)
        .form(&[("method", method), ("login_id", login_id)])
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
async fn the_global_budget_stops_sms_voice_and_whatsapp_from_every_client_but_not_email() {
    let app = spawn_app_with(|s| {
        // The test client is the proxy, so that each request can come from an address of its own.
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("literal")];
        s.trusted_proxy_hops = 1;
        s.rate_limits.send_global = Some(RateRule::new(3, 3600));
    })
    .await;
    for (i, method) in (1..).zip(["sms", "voice", "whatsapp"]) {
        let phone = unique_phone();
        let response = ask_code_forwarded(&app, method, &phone, &format!("198.51.100.{i}")).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{method} within the budget"
        );
        assert_eq!(app.outbox(&phone).await.len(), 1, "{method} sent");
    }
    for (i, method) in (10..).zip(["sms", "voice", "whatsapp"]) {
        let phone = unique_phone();
        let response = ask_code_forwarded(&app, method, &phone, &format!("203.0.113.{i}")).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{method} from a fresh client, to a fresh number, once the budget is spent"
        );
        assert!(response.headers().get("retry-after").is_some());
        assert!(
            app.outbox(&phone).await.is_empty(),
            "nothing sent when limited"
        );
    }
    for i in 20..25 {
        let email = unique_email(&format!("budget{i}"));
        let response = ask_code_forwarded(&app, "email", &email, &format!("192.0.2.{i}")).await;
        assert_eq!(response.status(), StatusCode::OK, "email is not counted");
        assert_eq!(app.outbox(&email).await.len(), 1);
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_from_a_client_outside_the_trusted_proxies_escapes_no_limit() {
    let app = spawn_app_with(|s| {
        // A proxy the test client is not: its X-Forwarded-For must be ignored.
        s.trusted_proxies = vec!["10.0.0.0/8".parse().expect("literal")];
        s.trusted_proxy_hops = 1;
        s.rate_limits = RateLimits {
            send_per_ip: Some(RateRule::new(2, 600)),
            ..RateLimits::off()
        };
    })
    .await;
    let mut answers = Vec::new();
    for i in 1..=5 {
        let email = unique_email(&format!("forged{i}"));
        let response = ask_code_forwarded(&app, "email", &email, &format!("198.51.100.{i}")).await;
        answers.push(response.status());
    }
    assert_eq!(
        answers,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
        ],
        "every request is the one client at 127.0.0.1, whatever address it claims"
    );
}
