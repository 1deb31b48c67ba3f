//! Many instances on one database, as behind a load balancer: one person's requests alternate
//! between two app instances that share one database and one Descope (a standalone emulator),
//! and instances starting or cleaning up at the same moment do not trip over each other.

use std::sync::Arc;
use std::time::Duration;

use descope_otp::clock::Clock;
use descope_otp::emulator::{Emulator, EmulatorConfig};
use descope_otp::models::DeliveryMethod;
use descope_otp::server::db::Db;
use descope_otp::server::limits::Action;
use descope_otp::server::session::store::SessionRows;
use descope_otp::server::settings::{DescopeTarget, RateLimits, RateRule, Settings};
use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::ExpiredDeletion;

use crate::support::{
    TestApp, TestDb, postgres_or_skip, start, test_session_keys, test_settings, unique_email,
    unique_phone,
};

/// Two instances on `db`, started at the same moment (their migrations meet), both talking to
/// one standalone emulator on the same clock.
async fn two_instances(
    db: TestDb,
    clock: &Clock,
    adjust: impl Fn(&mut Settings),
) -> (TestApp, TestApp, Emulator) {
    two_instances_on(EmulatorConfig::default(), db, clock, adjust).await
}

/// [`two_instances`], their emulator configured by `config`.
async fn two_instances_on(
    config: EmulatorConfig,
    db: TestDb,
    clock: &Clock,
    adjust: impl Fn(&mut Settings),
) -> (TestApp, TestApp, Emulator) {
    let emulator = Emulator::start(
        config,
        "127.0.0.1:0".parse().expect("literal"),
        clock.clone(),
    )
    .await
    .expect("the emulator starts");
    let db = Arc::new(db);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let instance = || {
        let mut settings = test_settings(db.url());
        settings.descope = DescopeTarget::Project {
            project_id: emulator.project_id().to_owned(),
            base_url: Some(emulator.base_url().to_owned()),
        };
        adjust(&mut settings);
        start(
            settings,
            clock.clone(),
            Some(emulator.base_url().to_owned()),
            Arc::clone(&db),
            Arc::clone(&dir),
        )
    };
    let (a, b) = tokio::join!(instance(), instance());
    (a, b, emulator)
}

async fn ask_code_json(app: &TestApp, login_id: &str) -> StatusCode {
    app.browser()
        .http
        .post(format!("{}/api/otp/sign-up-or-in", app.base))
        .header(ACCEPT, "application/json")
        .form(&[("method", "email"), ("login_id", login_id)])
        .send()
        .await
        .expect("answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_serve_one_person() {
    let Some(admin) =
        postgres_or_skip("instances::two_instances_on_one_postgres_database_serve_one_person")
            .await
    else {
        return;
    };
    let clock = Clock::system();
    // Three codes per address: the sign-up, the email change (counted for the login id too) and
    // the second browser's sign-in stay within it.
    let (a, b, _emulator) = two_instances(TestDb::fresh_postgres(&admin).await, &clock, |s| {
        s.rate_limits = RateLimits {
            send_per_address: Some(RateRule::new(3, 600)),
            ..RateLimits::off()
        };
    })
    .await;

    // Signed in on A, the profile shows on B.
    // By phone, so that the email change below leaves the login id alone.
    let phone = unique_phone();
    let first_on_a = a.signed_up("sms", &phone, "Two Instances").await;
    let first_on_b = first_on_a.on(&b);
    let profile = first_on_b.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert!(profile.body.contains("Two Instances"), "{}", profile.body);

    // An email change asked for on B is verified on A.
    let new_email = unique_email("two-moved");
    let asked = first_on_b
        .submit(
            "/profile/email",
            "/api/profile/email",
            &[("email", &new_email), ("add_to_login_ids", "on")],
        )
        .await;
    asked.assert_redirects_to("/verify");
    let verified = a.enter_latest_code(&first_on_a, &new_email).await;
    verified.assert_redirects_to("/profile");
    let profile = first_on_b.get("/profile").await;
    assert!(
        profile.body.contains(&format!("{new_email} (verified)")),
        "{}",
        profile.body
    );

    // Another browser of the same person, on A.
    clock.advance(Duration::from_secs(61));
    let second_on_a = a.browser();
    second_on_a
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "sms"), ("login_id", &phone)],
        )
        .await
        .assert_redirects_to("/verify");
    a.enter_latest_code(&second_on_a, &phone)
        .await
        .assert_redirects_to("/profile");
    assert_eq!(second_on_a.get("/profile").await.status, StatusCode::OK);

    // Signed out everywhere on B: A refuses the other browser on its very next request.
    first_on_b
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await
        .assert_redirects_to("/sign-in");
    let refused = second_on_a.get("/profile").await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
    assert_eq!(
        first_on_a.get("/profile").await.status,
        StatusCode::SEE_OTHER
    );

    // A rate limit reached through A holds on B.
    let limited = unique_email("two-limited");
    for _ in 0..3 {
        assert_eq!(ask_code_json(&a, &limited).await, StatusCode::OK);
    }
    assert_eq!(
        ask_code_json(&b, &limited).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        ask_code_json(&a, &limited).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Runs on this run's backend: one SQLite file (SQLite has no migration lock, so this is where
/// a start-up race showed), or one PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_one_database_both_start_and_share_it() {
    let clock = Clock::system();
    let (a, b, _emulator) = two_instances(TestDb::fresh().await, &clock, |_| {}).await;
    let email = unique_email("at-once");
    let browser = a.signed_up("email", &email, "At Once").await;
    assert_eq!(browser.on(&b).get("/profile").await.status, StatusCode::OK);
}

/// Without the retry, the second of two instances migrating one fresh SQLite file at once
/// failed on `_sqlx_migrations.version`; a few rounds, each on a fresh file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_racing_on_one_fresh_sqlite_file_both_succeed() {
    for _ in 0..5 {
        let db = TestDb::fresh_sqlite();
        let (first, second) = tokio::join!(Db::connect(db.url(), 4), Db::connect(db.url(), 4));
        first.expect("the first instance migrates");
        second.expect("the second instance migrates");
    }
}

/// Every instance cleans up on its own schedule; two doing it at the same moment must both
/// succeed, delete what expired exactly once between them, and keep what has not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_cleaning_up_at_once_is_harmless() {
    let clock = Clock::frozen();
    let (a, b, _emulator) = two_instances(TestDb::fresh().await, &clock, |s| {
        s.rate_limits = RateLimits {
            send_per_address: Some(RateRule::new(1, 60)),
            ..RateLimits::off()
        };
    })
    .await;

    // Rate-limit counters: three spent once the window passes, one still counting.
    for n in 0..3 {
        let address = format!("spent-{n}@example.com");
        a.state
            .limiter
            .check(Action::Send(DeliveryMethod::Email), None, &[&address])
            .await
            .expect("counted");
    }
    clock.advance(Duration::from_secs(60));
    a.state
        .limiter
        .check(
            Action::Send(DeliveryMethod::Email),
            None,
            &["live@example.com"],
        )
        .await
        .expect("counted");
    let (on_a, on_b) = tokio::join!(
        a.state.limiter.delete_spent(),
        b.state.limiter.delete_spent()
    );
    let deleted = on_a.expect("A cleans up") + on_b.expect("B cleans up");
    // Each instance's own hourly clean-up also runs once at start-up and may, on a busy machine,
    // get to the spent counters first: so no more than three deletions, and none left after.
    assert!(
        deleted <= 3,
        "each spent counter deleted once, not {deleted} times"
    );
    assert_eq!(
        a.state.limiter.delete_spent().await.expect("A cleans up"),
        0,
        "every spent counter is gone"
    );
    assert!(
        b.state
            .limiter
            .check(
                Action::Send(DeliveryMethod::Email),
                None,
                &["live@example.com"]
            )
            .await
            .is_err(),
        "the live counter was kept"
    );

    // Sessions: one expired, one live, deleted by both instances' stores at once.
    let expired = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let live = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let store_a = SessionRows::new(a.state.db.clone(), test_session_keys());
    let store_b = SessionRows::new(b.state.db.clone(), test_session_keys());
    for expiry_date in [expired, live] {
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date,
        };
        store_a.create(&mut record).await.expect("a session row");
    }
    let (on_a, on_b) = tokio::join!(store_a.delete_expired(), store_b.delete_expired());
    on_a.expect("A deletes expired sessions");
    on_b.expect("B deletes expired sessions");
    // Counted in the table itself: a load would hide an expired row that was left behind.
    let remaining: i64 = match &a.state.db {
        Db::Postgres(pool) => sqlx::query_scalar("select count(*) from tower_sessions.session")
            .fetch_one(pool)
            .await
            .expect("count"),
        Db::Sqlite(pool) => sqlx::query_scalar("select count(*) from tower_sessions")
            .fetch_one(pool)
            .await
            .expect("count"),
    };
    assert_eq!(remaining, 1, "only the live session is left");
}

/// The counters are one row per key, updated atomically: requests racing through two instances
/// at once are allowed exactly the burst between them, never more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_racing_through_two_instances_never_exceed_the_burst() {
    let clock = Clock::frozen();
    let (a, b, _emulator) = two_instances(TestDb::fresh().await, &clock, |s| {
        s.rate_limits = RateLimits {
            send_per_ip: Some(RateRule::new(25, 3600)),
            ..RateLimits::off()
        };
    })
    .await;
    let client = Some("203.0.113.9".parse().expect("literal"));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..100 {
        let limiter = Arc::clone(&if n % 2 == 0 { &a } else { &b }.state.limiter);
        tasks.spawn(async move {
            limiter
                .check(Action::Send(DeliveryMethod::Email), client, &[])
                .await
                .is_ok()
        });
    }
    let mut allowed = 0;
    while let Some(ok) = tasks.join_next().await {
        allowed += usize::from(ok.expect("no panic"));
    }
    assert_eq!(allowed, 25);
}

/// With refresh-token rotation, a refresh spends the token it used. Two instances refreshing one
/// session at the same moment: the first spends the token, the second is refused and must take
/// the newer token the first stored, not sign the person out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_instance_that_loses_a_rotation_takes_the_stored_token_and_stays_signed_in() {
    let clock = Clock::system();
    let config = EmulatorConfig {
        rotate_refresh_tokens: true,
        allow_faults: true,
        ..EmulatorConfig::default()
    };
    let (a, b, _emulator) = two_instances_on(config, TestDb::fresh().await, &clock, |_| {}).await;
    let email = unique_email("rotating");
    let on_a = a.browser();
    a.email_code_requested(&on_a, &email).await;
    a.enter_latest_code(&on_a, &email)
        .await
        .assert_redirects_to("/profile");
    let on_b = on_a.on(&b);

    clock.advance(Duration::from_secs(11 * 60));
    // A's refresh is handled at once (the token is spent) and its answer held; B's refresh, made
    // meanwhile with the same token, is refused at once.
    a.inject_fault(serde_json::json!({
        "path": "/v1/auth/refresh", "times": 1, "answerDelayMs": 300
    }))
    .await;
    let first = {
        let on_a = on_a.http.clone();
        let url = format!("{}/profile", a.base);
        tokio::spawn(async move {
            on_a.get(url)
                .header(ACCEPT, "text/html")
                .send()
                .await
                .map(|r| r.status())
        })
    };
    // The fault is gone once A's refresh took it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while a.active_faults().await["faults"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
    {
        assert!(tokio::time::Instant::now() < deadline, "A never refreshed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = on_b.get("/profile").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(
        first.await.expect("no panic").expect("answers"),
        StatusCode::OK
    );
    // Both instances go on with the newer token.
    assert_eq!(on_a.get("/profile").await.status, StatusCode::OK);
    assert_eq!(on_b.get("/profile").await.status, StatusCode::OK);
}
