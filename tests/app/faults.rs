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
        // A public page meanwhile: the header still shows the person as signed in.
        let home = browser.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        let home = home.body.replace("<!>", "");
        assert!(home.contains("Signed in as Still Here"), "{home}");
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

/// The app's own database out of service until [`StoreOutage::end`]. SQLite: another connection
/// holds the write lock, as a stuck writer would (every write of the app waits out its busy
/// timeout, then fails; reads go on). PostgreSQL: the database refuses new connections and the
/// open ones are cut, as when the server is down (every read and write fails).
enum StoreOutage {
    Sqlite(sqlx::SqliteConnection),
    Postgres { admin: String, name: String },
}

impl StoreOutage {
    async fn begin(db: &TestDb) -> Self {
        use sqlx::Connection;
        match db {
            TestDb::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url)
                    .await
                    .expect("open the app's SQLite file");
                sqlx::raw_sql("begin immediate")
                    .execute(&mut conn)
                    .await
                    .expect("take the write lock");
                Self::Sqlite(conn)
            }
            TestDb::Postgres { admin, name, .. } => {
                let mut conn = sqlx::PgConnection::connect(admin).await.expect("admin");
                sqlx::raw_sql(&format!(
                    "alter database {name} allow_connections false;
                     select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"
                ))
                .execute(&mut conn)
                .await
                .expect("shut the database");
                Self::Postgres {
                    admin: admin.clone(),
                    name: name.clone(),
                }
            }
        }
    }

    async fn end(self) {
        use sqlx::Connection;
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::raw_sql("rollback")
                    .execute(&mut conn)
                    .await
                    .expect("release the write lock");
                conn.close().await.expect("close");
            }
            Self::Postgres { admin, name } => {
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
                sqlx::raw_sql(&format!("alter database {name} allow_connections true"))
                    .execute(&mut conn)
                    .await
                    .expect("open the database again");
            }
        }
    }
}

#[tokio::test]
async fn the_store_failing_answers_503_and_everything_works_once_it_is_back() {
    let app = spawn_app().await;
    let email = unique_email("f-store");
    let signed_in = app.signed_up("email", &email, "Stored").await;
    // Past the session JWT's lifetime: the next profile view refreshes and writes the session.
    app.clock.advance(PAST_SESSION_EXPIRY);
    let newcomer = app.browser();
    let newcomer_email = unique_email("f-store-new");
    let ask_code = || {
        newcomer
            .http
            .post(format!("{}/api/otp/sign-up-or-in", app.base))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("method", "email"), ("login_id", newcomer_email.as_str())])
            .send()
    };

    let outage = StoreOutage::begin(app.database()).await;
    // A gated page whose session must be written: 503 with an error id, never an empty 500.
    let profile = signed_in.get("/profile").await;
    assert_eq!(
        profile.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        profile.body
    );
    assert!(profile.body.contains("Error id"), "{}", profile.body);
    // A server function that must write (its rate limit, then the pending code): the same, as
    // JSON that names the error.
    let asked = ask_code().await.expect("answers");
    assert_eq!(asked.status(), StatusCode::SERVICE_UNAVAILABLE);
    let asked: serde_json::Value = asked.json().await.expect("JSON");
    assert!(
        asked["ServiceUnavailable"]["error_id"].is_string(),
        "{asked}"
    );
    outage.end().await;

    // Back: the signed-in person is still signed in, the newcomer gets a code and signs in.
    let profile = signed_in.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert!(profile.body.contains("Hello, Stored"), "{}", profile.body);
    let asked = ask_code().await.expect("answers");
    assert!(asked.status().is_success(), "{}", asked.status());
    let verified = app.enter_latest_code(&newcomer, &newcomer_email).await;
    verified.assert_redirects_to("/profile");
    assert_eq!(newcomer.get("/profile").await.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_out_while_descope_is_down_still_signs_this_browser_out() {
    // Descope answering 503, and Descope dropping the connection.
    for status in [503, 0] {
        let app = spawn_app_with_faults().await;
        let browser = app
            .signed_up("email", &unique_email("f-logout"), "Leaving")
            .await;
        app.inject_fault(
            json!({"path": "/v1/auth/logout", "status": status, "errorCode": "E000000"}),
        )
        .await;
        let out = browser
            .submit("/profile", "/api/session/sign-out", &[])
            .await;
        assert!(
            out.status.is_redirection(),
            "logout answering {status}: {}",
            out.status
        );
        app.clear_faults().await;
        browser
            .get("/profile")
            .await
            .assert_redirects_to("/sign-in?next=%2Fprofile");
    }
}

/// Signing out everywhere must work in the app even while Descope cannot revoke the tokens: the
/// other browser is refused at once, and the person is told that Descope's half did not happen.
#[tokio::test]
async fn sign_out_everywhere_during_a_descope_outage_still_signs_out_every_browser_here() {
    let app = spawn_app_with_faults().await;
    let email = unique_email("outage-all");
    let first = app.signed_up("email", &email, "Leaving").await;
    let (second, _) = app.signed_in_again(&email).await;
    assert_eq!(second.get("/profile").await.status, StatusCode::OK);

    app.inject_fault(json!({"path": "/v1/auth/logoutall", "status": 503}))
        .await;
    let out = first
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await;
    out.assert_redirects_to("/sign-in?signed_out=app-only");
    let told = first.follow(&out).await;
    assert!(
        told.body.contains("Descope could not be reached"),
        "{}",
        told.body
    );
    assert_eq!(second.get("/profile").await.status, StatusCode::SEE_OTHER);
    assert_eq!(first.get("/profile").await.status, StatusCode::SEE_OTHER);
    app.clear_faults().await;
}

/// A person with a change of email waiting for its code in `first`, who then signs out
/// everywhere from a second browser while Descope cannot revoke the tokens (so Descope itself
/// would still take the code). Returns the first browser, their email and the new one.
async fn pending_change_then_signed_out_everywhere(app: &TestApp) -> (Browser, String, String) {
    let email = unique_email("keep");
    let first = app.signed_up("email", &email, "Keeper").await;
    let (second, _) = app.signed_in_again(&email).await;
    let new_email = unique_email("stolen");
    first
        .submit(
            "/profile/email",
            "/api/profile/email",
            &[("email", &new_email)],
        )
        .await
        .assert_redirects_to("/verify");
    app.inject_fault(json!({"path": "/v1/auth/logoutall", "status": 503}))
        .await;
    second
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await;
    app.clear_faults().await;
    (first, email, new_email)
}

/// A change of address finishes only for a session the gate still lets through: signed out
/// everywhere meanwhile (here while Descope could not revoke the tokens, so Descope itself would
/// still take the code), the code for the new address changes nothing.
#[tokio::test]
async fn a_pending_change_cannot_be_finished_after_a_sign_out_everywhere() {
    let app = spawn_app_with_faults().await;
    let (first, email, new_email) = pending_change_then_signed_out_everywhere(&app).await;

    let entered = app.enter_latest_code(&first, &new_email).await;
    assert_ne!(
        entered.location.as_deref(),
        Some("/profile"),
        "{}",
        entered.body
    );
    let (again, _) = app.signed_in_again(&email).await;
    let profile = again.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(!profile.body.contains(&new_email), "{}", profile.body);
    assert!(
        profile.body.contains(&format!("{email} (verified)")),
        "{}",
        profile.body
    );
}

/// With Descope down and the session JWT expired, the gate cannot check the session, yet a
/// person who asks to be signed out everywhere is, in this app: the mark needs only the session
/// row.
#[tokio::test]
async fn sign_out_everywhere_works_while_descope_cannot_refresh_the_session() {
    let app = spawn_app_with_faults().await;
    let email = unique_email("down-all");
    let first = app.signed_up("email", &email, "Leaving").await;
    let (second, _) = app.signed_in_again(&email).await;
    app.clock.advance(Duration::from_secs(11 * 60));
    app.inject_fault(json!({"path": "/v1/auth/", "status": 503}))
        .await;
    let out = first
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await;
    out.assert_redirects_to("/sign-in?signed_out=app-only");
    // Refused from the mark alone, before Descope would be asked.
    assert_eq!(second.get("/profile").await.status, StatusCode::SEE_OTHER);
    app.clear_faults().await;
    assert_eq!(second.get("/profile").await.status, StatusCode::SEE_OTHER);
}

/// A pending change's code is not sent again for a session signed out everywhere since.
#[tokio::test]
async fn a_pending_change_is_not_sent_again_after_a_sign_out_everywhere() {
    let app = spawn_app_with_faults().await;
    let (first, _, new_email) = pending_change_then_signed_out_everywhere(&app).await;
    app.clock.advance(Duration::from_secs(61));
    let again = first.submit("/verify", "/api/otp/resend", &[]).await;
    assert_eq!(app.outbox(&new_email).await.len(), 1, "no second code");
    // The gate signed the session out, and the waiting change with it.
    let page = first.follow(&again).await;
    assert!(page.body.contains("No code waiting"), "{}", page.body);
}
