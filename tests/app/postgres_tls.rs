//! PostgreSQL over TLS: with `?sslmode=require` in `DATABASE_URL` the app's own connections are
//! encrypted, as the server itself reports (`pg_stat_ssl`), through a whole sign-in journey. The
//! same server with `sslmode=disable` reports plaintext, so the check can tell the two apart.
//!
//! These need a PostgreSQL with TLS on (the CI service and the development machine have one,
//! with a self-signed certificate, which `require` accepts: it encrypts without checking who
//! answers; `verify-full` with `sslrootcert` also checks that). Without PostgreSQL they skip,
//! saying so, unless `TEST_DATABASE=postgres`.

use descope_otp::server::db::Db;

use crate::support::{TestApp, TestDb, postgres_or_skip, spawn_app_on_db, unique_email};

/// `url` with its `sslmode` (if any) replaced by `mode`.
fn with_sslmode(url: &str, mode: &str) -> String {
    let mut url = url::Url::parse(url).expect("the admin URL is a URL");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "sslmode" && key != "ssl-mode")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("sslmode", mode);
    url.to_string()
}

/// Whether the app's own pool talks to PostgreSQL over TLS, as the server sees it.
async fn pool_uses_tls(app: &TestApp) -> bool {
    let Db::Postgres(pool) = &app.state.db else {
        panic!("this app runs on PostgreSQL");
    };
    sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .expect("pg_stat_ssl answers")
}

/// A fresh database on `admin`'s server, an app on it with `sslmode=mode`, and a person signed
/// up and in through it (their session row written and read through that pool).
async fn app_signed_in_through(admin: &str, mode: &str) -> TestApp {
    let db = TestDb::fresh_postgres(&with_sslmode(admin, mode)).await;
    assert!(
        db.url().ends_with(&format!("sslmode={mode}")),
        "the database URL keeps its query: {}",
        db.url()
    );
    let app = spawn_app_on_db(db, |_| {}).await;
    let browser = app
        .signed_up("email", &unique_email("tls"), "Ada Lovelace")
        .await;
    let profile = browser.get("/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    app
}

#[tokio::test]
async fn with_sslmode_require_the_apps_connections_are_encrypted() {
    let Some(admin) =
        postgres_or_skip("postgres_tls::with_sslmode_require_the_apps_connections_are_encrypted")
            .await
    else {
        return;
    };
    let app = app_signed_in_through(&admin, "require").await;
    assert!(
        pool_uses_tls(&app).await,
        "sslmode=require, yet the server sees a plaintext connection"
    );
}

#[tokio::test]
async fn with_sslmode_disable_the_same_server_sees_plaintext() {
    let Some(admin) =
        postgres_or_skip("postgres_tls::with_sslmode_disable_the_same_server_sees_plaintext").await
    else {
        return;
    };
    let app = app_signed_in_through(&admin, "disable").await;
    assert!(
        !pool_uses_tls(&app).await,
        "sslmode=disable, yet the server sees TLS"
    );
}
