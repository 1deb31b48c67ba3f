//! The session store (`src/server/session_store.rs`): each row names its person, one read brings
//! the row and that person's sign-out-everywhere mark, the mark is never written into the record,
//! and a row written before rows named their person still meets the mark (by a query of its own).

use std::time::Duration;

use descope_otp::server::db::Db;
use descope_otp::server::session_store::{MARK_KEY, SessionRows};
use reqwest::StatusCode;
use serde_json::Value;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};

use crate::support::*;

/// The row of session `id` as stored: its `user_id` column and its record, decoded.
async fn stored_row(db: &Db, id: &Id) -> (Option<String>, Record) {
    let (user_id, blob): (Option<String>, Vec<u8>) = match db {
        Db::Sqlite(pool) => {
            sqlx::query_as("select user_id, data from tower_sessions where id = $1")
                .bind(id.to_string())
                .fetch_one(pool)
                .await
        }
        Db::Postgres(pool) => {
            sqlx::query_as("select user_id, data from tower_sessions.session where id = $1")
                .bind(id.to_string())
                .fetch_one(pool)
                .await
        }
    }
    .expect("the session row is stored");
    let record =
        rmp_serde::from_slice(&blob).expect("the record decodes as tower-sessions wrote it");
    (user_id, record)
}

/// A new person signed in by email in a new browser, and the id of their session.
async fn signed_in_with_id(app: &TestApp, tag: &str) -> (Browser, Id) {
    let email = unique_email(tag);
    let browser = app.browser();
    app.email_code_requested(&browser, &email).await;
    let id = app
        .enter_latest_code(&browser, &email)
        .await
        .session_id()
        .expect("the verify sets the session cookie");
    (browser, id)
}

/// Makes session `id`'s row look as it did before rows named their person.
async fn forget_person_column(db: &Db, id: &Id) {
    let done = match db {
        Db::Sqlite(pool) => sqlx::query("update tower_sessions set user_id = null where id = $1")
            .bind(id.to_string())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()),
        Db::Postgres(pool) => {
            sqlx::query("update tower_sessions.session set user_id = null where id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        }
    }
    .expect("the row is updated");
    assert_eq!(done, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_row_names_its_person_and_one_read_brings_their_mark() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "rows").await;
    let store = SessionRows::new(app.state.db.clone());

    let (column, stored) = stored_row(&app.state.db, &id).await;
    let user_id = stored.data["signed_in"]["user_id"]
        .as_str()
        .expect("the record holds the signed-in person")
        .to_owned();
    assert_eq!(column.as_deref(), Some(user_id.as_str()));
    assert!(!stored.data.contains_key(MARK_KEY));

    // No mark yet: the read says so (null), rather than leaving the gate to ask again.
    let loaded = store.load(&id).await.expect("load").expect("stored");
    assert_eq!(loaded.data.get(MARK_KEY), Some(&Value::Null));

    // A mark made elsewhere (another browser, another instance) comes with the very next read.
    let at_ms = app.clock.now_ms();
    app.state
        .db
        .mark_signed_out_everywhere(&user_id, at_ms)
        .await
        .expect("mark");
    let loaded = store.load(&id).await.expect("load").expect("stored");
    assert_eq!(loaded.data.get(MARK_KEY), Some(&Value::from(at_ms)));
    assert_eq!(browser.get("/profile").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_written_again_keeps_its_person_and_never_stores_the_mark() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "rewritten").await;
    let (before, _) = stored_row(&app.state.db, &id).await;

    // A day on, the session JWT has expired: the gate refreshes it and writes the record it
    // loaded (mark included) back.
    app.clock.advance(Duration::from_secs(25 * 3600));
    let a_day_on = app.clock.now_ms();
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);
    let (after, stored) = stored_row(&app.state.db, &id).await;
    assert!(before.is_some());
    assert_eq!(after, before, "the row still names its person");
    assert!(
        !stored.data.contains_key(MARK_KEY),
        "the mark lives in its own table, never in the record"
    );
    assert!(
        stored.data["signed_in"]["touched_at_ms"].as_i64() >= Some(a_day_on),
        "the record was written again: {:?}",
        stored.data["signed_in"]["touched_at_ms"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_from_before_rows_named_their_person_still_meets_sign_out_everywhere() {
    let app = spawn_app().await;
    let email = unique_email("legacy");
    let first = app.signed_up("email", &email, "Legacy").await;

    let (second, verified) = app.signed_in_again(&email).await;
    let id = verified
        .session_id()
        .expect("the verify sets the session cookie");
    forget_person_column(&app.state.db, &id).await;

    // Read as it is: no mark with it (the store could not look), and the person stays signed in.
    let store = SessionRows::new(app.state.db.clone());
    let loaded = store.load(&id).await.expect("load").expect("stored");
    assert!(!loaded.data.contains_key(MARK_KEY));
    assert_eq!(second.get("/profile").await.status, StatusCode::OK);

    // The gate looks the mark up itself for such a row.
    first
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await
        .assert_redirects_to("/sign-in");
    assert_eq!(second.get("/profile").await.status, StatusCode::SEE_OTHER);
}
