//! The side doors of account enumeration and of lockout, each shut by default: a signed-in person
//! changing their address, stepping up or adding a factor; concurrent wrong codes; the time a
//! sign-up takes; the code page's mask; a second contact at sign-up; and the visitor's words in a
//! message. Each test compares what a known and an unknown address get, and finds no difference.

use std::time::{Duration, Instant};

use descope_otp::models::DeliveryMethod;
use descope_otp::server::mask;
use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::json;

use crate::support::*;

/// `body` with the masked forms of `addresses` blanked, and the per-response nonces and
/// countdowns cut: what must be equal between a known and an unknown address.
fn comparable(body: &str, addresses: &[(DeliveryMethod, &str)]) -> String {
    let mut text = body.to_owned();
    for (method, address) in addresses {
        text = text.replace(&mask::address(*method, address), "<address>");
    }
    crate::security::without_nonces(&text)
}

/// An answer and the page it leads to, side by side for two addresses.
struct Seen {
    status: StatusCode,
    location: Option<String>,
    page: String,
}

async fn seen(browser: &Browser, answer: Page) -> Seen {
    let page = match &answer.location {
        Some(_) => browser.follow(&answer).await.body,
        None => answer.body.clone(),
    };
    Seen {
        status: answer.status,
        location: answer.location,
        page,
    }
}

#[track_caller]
fn assert_alike(a: &Seen, b: &Seen, addresses: &[(DeliveryMethod, &str)]) {
    assert_eq!(a.status, b.status);
    assert_eq!(a.location, b.location);
    assert_eq!(
        comparable(&a.page, addresses),
        comparable(&b.page, addresses)
    );
}

#[tokio::test]
async fn changing_to_an_address_in_use_looks_like_any_change_and_no_code_opens_it() {
    let app = spawn_app().await;
    // Each pair masks alike in its first letter and domain, so pages differ only where blanked.
    let taken_email = format!("c-taken-{}@example.com", uuid_like());
    let free_email = format!("c-free-{}@example.com", uuid_like());
    let (taken_phone, free_phone) = (unique_phone(), unique_phone());
    app.signed_up("email", &taken_email, "Owner").await;
    app.signed_up("sms", &taken_phone, "Owner").await;

    let cases = [
        (
            "/profile/email",
            "/api/profile/email",
            DeliveryMethod::Email,
            ("email", &taken_email),
            ("email", &free_email),
        ),
        (
            "/profile/phone",
            "/api/profile/phone",
            DeliveryMethod::Sms,
            ("phone", &taken_phone),
            ("phone", &free_phone),
        ),
    ];
    for (page, action, method, taken, free) in cases {
        let addresses = [(method, taken.1.as_str()), (method, free.1.as_str())];
        let mut answers = Vec::new();
        for (field, address) in [taken, free] {
            let browser = app
                .signed_up("email", &unique_email("mover"), "Mover")
                .await;
            let mut fields = vec![(field, address.as_str())];
            if method.is_phone() {
                fields.push(("method", "sms"));
            }
            let asked = seen(&browser, browser.submit(page, action, &fields).await).await;
            let wrong = browser
                .submit("/verify", "/api/otp/verify", &[("code", "000000")])
                .await;
            answers.push((asked, seen(&browser, wrong).await));
        }
        let ((taken_asked, taken_wrong), (free_asked, free_wrong)) = (&answers[0], &answers[1]);
        assert_eq!(taken_asked.location.as_deref(), Some("/verify"));
        assert_alike(taken_asked, free_asked, &addresses);
        assert_alike(taken_wrong, free_wrong, &addresses);
        assert!(
            taken_wrong.page.contains("That code is not right"),
            "{}",
            taken_wrong.page
        );
        assert_eq!(
            app.outbox(taken.1).await.len(),
            1,
            "only the owner's own sign-up code: nothing sent for the change"
        );
        assert_eq!(
            app.outbox(free.1).await.len(),
            1,
            "the free address got its code"
        );
    }
}

#[tokio::test]
async fn step_up_and_mfa_take_only_the_persons_own_login_ids() {
    let app = spawn_app().await;
    let registered = format!("o-known-{}@example.com", uuid_like());
    let unknown = format!("o-ghost-{}@example.com", uuid_like());
    app.signed_up("email", &registered, "Someone").await;
    let own = unique_email("own");
    let browser = app.signed_up("email", &own, "Me").await;
    app.clock.advance(Duration::from_secs(61));
    let before = app.outbox(&registered).await.len();
    let addresses = [
        (DeliveryMethod::Email, registered.as_str()),
        (DeliveryMethod::Email, unknown.as_str()),
    ];

    for flag in ["stepup", "mfa"] {
        let mut answers = Vec::new();
        for login_id in [&registered, &unknown] {
            let fields = [("method", "email"), ("login_id", login_id), (flag, "on")];
            let answer = browser
                .submit("/sign-in", "/api/otp/sign-in", &fields)
                .await;
            answers.push(seen(&browser, answer).await);
        }
        assert_alike(&answers[0], &answers[1], &addresses);
        assert!(
            answers[0]
                .page
                .contains("only with a login id of the account you are signed in to"),
            "{}",
            answers[0].page
        );
    }
    assert_eq!(app.outbox(&registered).await.len(), before, "nothing sent");

    // The person's own login id still steps up.
    let own_step_up = browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &own), ("stepup", "on")],
        )
        .await;
    own_step_up.assert_redirects_to("/verify");
}

/// The outcome of `tries` wrong codes entered at once in one browser: how many said "too many".
async fn too_many_of_concurrent_wrong_codes(app: &TestApp, login_id: &str, tries: usize) -> usize {
    let browser = app.browser();
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", login_id)],
        )
        .await
        .assert_redirects_to("/verify");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tries));
    let answers: Vec<_> = (0..tries)
        .map(|_| {
            let (http, barrier) = (browser.http.clone(), barrier.clone());
            let url = format!("{}/api/otp/verify", app.base);
            tokio::spawn(async move {
                barrier.wait().await;
                let answer = http
                    .post(url)
                    .header(ACCEPT, "application/json")
                    .form(&[("code", "000000")])
                    .send()
                    .await
                    .expect("answers");
                answer.text().await.unwrap_or_default()
            })
        })
        .collect();
    let mut too_many = 0;
    for answer in answers {
        let body = answer.await.expect("no panic");
        assert!(
            body.contains("WrongCode") || body.contains("TooManyAttempts"),
            "{body}"
        );
        too_many += usize::from(body.contains("TooManyAttempts"));
    }
    too_many
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_lock_an_unknown_address_as_they_lock_a_known_one() {
    let app = spawn_app().await;
    let known = unique_email("w-known");
    app.signed_up("email", &known, "Known").await;
    app.clock.advance(Duration::from_secs(61));
    let known_locked = too_many_of_concurrent_wrong_codes(&app, &known, 8).await;
    let unknown_locked =
        too_many_of_concurrent_wrong_codes(&app, &unique_email("w-ghost"), 8).await;
    assert_eq!(
        known_locked, 4,
        "a real code takes four wrong tries, then locks"
    );
    assert_eq!(unknown_locked, known_locked);
}

/// With Descope slow (every code call held 600 ms, above the answer floor), a sign-up of a taken
/// address must not take a second call longer than a sign-up of a new one: its owner's sign-in
/// code is sent after the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_of_a_taken_address_takes_as_long_as_of_a_new_one_with_descope_slow() {
    let app = spawn_app_with(|s| {
        allow_faults(s);
        s.code_answer_min = Duration::from_millis(400);
    })
    .await;
    let delay = Duration::from_millis(600);
    let mut fastest = [Duration::MAX; 2];
    for round in 0..3 {
        let taken = format!("d{round}-{}@example.com", uuid_like());
        app.signed_up("email", &taken, "Taken").await;
        app.clock.advance(Duration::from_secs(600));
        app.inject_fault(json!({"path": "/v1/auth/otp/sign", "delayMs": delay.as_millis() as u64}))
            .await;
        let fresh = format!("d{round}-new-{}@example.com", uuid_like());
        for (i, login_id) in [&taken, &fresh].into_iter().enumerate() {
            let started = Instant::now();
            app.browser()
                .submit(
                    "/sign-up",
                    "/api/otp/sign-up",
                    &[("method", "email"), ("login_id", login_id)],
                )
                .await
                .assert_redirects_to("/verify");
            fastest[i] = fastest[i].min(started.elapsed());
        }
        app.clear_faults().await;
    }
    let [taken, fresh] = fastest;
    assert!(fresh >= delay && taken >= delay, "{taken:?} {fresh:?}");
    // Two calls would be 1.2 s; a busy machine only adds time, so the fastest of each is what
    // the app itself took.
    let gap = taken.max(fresh) - taken.min(fresh);
    assert!(
        gap < delay / 2,
        "taken {taken:?} and new {fresh:?} differ by {gap:?}"
    );
}

#[tokio::test]
async fn the_code_page_masks_what_was_typed_not_where_the_account_now_gets_its_codes() {
    let app = spawn_app().await;
    let login_id = format!("a-{}@example.com", uuid_like());
    let moved = format!("z-{}@elsewhere.example", uuid_like());
    let browser = app.signed_up("email", &login_id, "Mover").await;
    // The account's email becomes another address; its login id stays.
    browser
        .submit("/profile/email", "/api/profile/email", &[("email", &moved)])
        .await
        .assert_redirects_to("/verify");
    app.enter_latest_code(&browser, &moved)
        .await
        .assert_redirects_to("/profile");

    app.clock.advance(Duration::from_secs(61));
    let stranger = app.browser();
    let sent = stranger
        .submit(
            "/sign-up-or-in",
            "/api/otp/sign-up-or-in",
            &[("method", "email"), ("login_id", &login_id)],
        )
        .await;
    let page = stranger.follow(&sent).await;
    assert!(page.body.contains(&mask::email(&login_id)), "{}", page.body);
    assert!(!page.body.contains("elsewhere.example"), "{}", page.body);
}

#[tokio::test]
async fn naming_someones_address_as_a_second_contact_does_not_lock_them_out() {
    let app = spawn_app().await;
    let victim = unique_email("victim");
    for _ in 0..7 {
        app.browser()
            .submit(
                "/sign-up",
                "/api/otp/sign-up",
                &[
                    ("method", "sms"),
                    ("login_id", &unique_phone()),
                    ("email", &victim),
                ],
            )
            .await
            .assert_redirects_to("/verify");
    }
    assert!(
        app.outbox(&victim).await.is_empty(),
        "no code went to the second contact"
    );
    let own = app.browser();
    app.email_code_requested(&own, &victim).await;
}

#[tokio::test]
async fn template_options_go_only_into_messages_to_an_account_that_is_the_visitors() {
    let app = spawn_app().await;
    let known = unique_email("t-known");
    app.signed_up("email", &known, "Known").await;
    app.clock.advance(Duration::from_secs(61));
    let options = ("template_options", "greeting=Click this link");

    // Sign-up-or-in and a plain sign-in may reach someone else's account: refused, for any
    // address alike, before any message.
    for (page, action) in [
        ("/sign-up-or-in", "/api/otp/sign-up-or-in"),
        ("/sign-in", "/api/otp/sign-in"),
    ] {
        let mut answers = Vec::new();
        for login_id in [known.clone(), unique_email("t-ghost")] {
            let browser = app.browser();
            let fields = [
                ("method", "email"),
                ("login_id", login_id.as_str()),
                options,
            ];
            let answer = browser.submit(page, action, &fields).await;
            answers.push(seen(&browser, answer).await);
        }
        assert_alike(&answers[0], &answers[1], &[]);
        assert!(
            answers[0]
                .page
                .contains("Template options go only into messages"),
            "{}",
            answers[0].page
        );
    }
    assert_eq!(app.outbox(&known).await.len(), 1, "only the sign-up's code");

    // Their own account: a step-up carries them.
    let (browser, _) = app.signed_in_again(&known).await;
    app.clock.advance(Duration::from_secs(61));
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[
                ("method", "email"),
                ("login_id", &known),
                ("stepup", "on"),
                options,
            ],
        )
        .await
        .assert_redirects_to("/verify");
    let message = app.latest_message(&known).await;
    assert_eq!(message["templateOptions"]["greeting"], "Click this link");
}

/// The answer to one wrong code entered in `browser`, as the error it names.
async fn wrong_code_answer(browser: &Browser) -> String {
    let answer = browser
        .http
        .post(format!("{}/api/otp/verify", browser.app_base))
        .header(ACCEPT, "application/json")
        .form(&[("code", "000000")])
        .send()
        .await
        .expect("answers");
    let body = answer.text().await.unwrap_or_default();
    ["WrongCode", "TooManyAttempts", "CodeExpired"]
        .into_iter()
        .find(|e| body.contains(e))
        .unwrap_or_else(|| panic!("not a code's refusal: {body}"))
        .to_owned()
}

/// A new browser that asked for a sign-in code for `login_id`.
async fn asked_sign_in(app: &TestApp, login_id: &str) -> Browser {
    let browser = app.browser();
    browser
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", login_id)],
        )
        .await
        .assert_redirects_to("/verify");
    browser
}

#[tokio::test]
async fn a_code_never_sent_expires_as_a_real_one_does() {
    let app = spawn_app().await;
    let known = unique_email("x-known");
    app.signed_up("email", &known, "Known").await;
    app.clock.advance(Duration::from_secs(61));
    let (on_known, on_unknown) = (
        asked_sign_in(&app, &known).await,
        asked_sign_in(&app, &unique_email("x-ghost")).await,
    );
    // Past the emulator's own expiry (5 minutes) as well as the app's (3).
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(wrong_code_answer(&on_known).await, "CodeExpired");
    assert_eq!(wrong_code_answer(&on_unknown).await, "CodeExpired");
}

/// Descope keeps one code per login id, the newest, whichever browser asked for it: a code asked
/// for in a second browser unlocks the first browser's tries, for an address without an account
/// as for one with.
#[tokio::test]
async fn a_new_code_for_the_address_starts_its_wrong_tries_again_in_every_browser() {
    let app = spawn_app().await;
    let known = unique_email("n-known");
    app.signed_up("email", &known, "Known").await;
    app.clock.advance(Duration::from_secs(61));
    let mut answers = Vec::new();
    for login_id in [known.clone(), unique_email("n-ghost")] {
        let first = asked_sign_in(&app, &login_id).await;
        for _ in 0..5 {
            wrong_code_answer(&first).await;
        }
        assert_eq!(wrong_code_answer(&first).await, "TooManyAttempts");
        app.clock.advance(Duration::from_secs(61));
        asked_sign_in(&app, &login_id).await;
        answers.push(wrong_code_answer(&first).await);
    }
    assert_eq!(answers, ["WrongCode", "WrongCode"]);
}
