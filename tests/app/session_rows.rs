//! The session store (`src/server/session/store.rs`): each row names its person, one read brings
//! the row and that person's sign-out-everywhere mark, the mark is never written into the record,
//! and a row written before rows named their person still meets the mark (by a query of its own);
//! the record is sealed (no token in clear), a row written in clear before sealing is still read
//! and sealed when next written, and a row that does not open signs its browser out.

use std::time::Duration;

use descope_otp::server::db::Db;
use descope_otp::server::session::MARK_KEY;
use descope_otp::server::session::seal::{self, SessionKey, SessionKeys};
use descope_otp::server::session::store::SessionRows;
use reqwest::StatusCode;
use serde_json::Value;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};

use crate::support::*;

/// The row of session `id` as stored: its `user_id` column and its `data`, unopened.
async fn raw_row(db: &Db, id: &Id) -> (Option<String>, Vec<u8>) {
    match db {
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
    .expect("the session row is stored")
}

/// The row of session `id` as stored: its `user_id` column and its record, opened and decoded.
async fn stored_row(db: &Db, id: &Id) -> (Option<String>, Record) {
    let (user_id, blob) = raw_row(db, id).await;
    let plain = test_session_keys()
        .open(&id.to_string(), &blob)
        .expect("the row opens with the test key");
    let record =
        rmp_serde::from_slice(&plain).expect("the record decodes as tower-sessions wrote it");
    (user_id, record)
}

/// Replaces session `id`'s `data` with `data`, as written by hand.
async fn overwrite_data(db: &Db, id: &Id, data: &[u8]) {
    update_row(db, id, "data = $2", Some(data)).await;
}

/// Runs `update <the session table> set <assignment> where id = $1` on session `id`'s row, with
/// `$2` bound to `value` when there is one, and checks that it found the row.
async fn update_row(db: &Db, id: &Id, assignment: &str, value: Option<&[u8]>) {
    let table = match db {
        Db::Sqlite(_) => "tower_sessions",
        Db::Postgres(_) => "tower_sessions.session",
    };
    let sql = format!("update {table} set {assignment} where id = $1");
    let done = descope_otp::on_pool!(db, |pool| {
        let query = sqlx::query(&sql).bind(id.to_string());
        match value {
            Some(value) => query.bind(value),
            None => query,
        }
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .expect("the row is updated");
    assert_eq!(done, 1);
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
    update_row(db, id, "user_id = null", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_row_names_its_person_and_one_read_brings_their_mark() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "rows").await;
    let store = SessionRows::new(app.state.db.clone(), test_session_keys());

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
    let store = SessionRows::new(app.state.db.clone(), test_session_keys());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_session_row_holds_no_token_in_clear() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "sealed").await;
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);

    let (column, raw) = raw_row(&app.state.db, &id).await;
    let (_, record) = stored_row(&app.state.db, &id).await;
    let signed_in = &record.data["signed_in"];
    let tokens = ["session_jwt", "refresh_jwt"].map(|field| {
        signed_in[field]
            .as_str()
            .unwrap_or_else(|| panic!("the record holds the {field}: {signed_in}"))
            .to_owned()
    });
    assert!(tokens.iter().all(|token| token.starts_with("eyJ")));
    assert!(seal::is_sealed(&raw), "the row is sealed");
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(b"eyJ"), "no JWT in the stored bytes");
    for token in &tokens {
        assert!(!contains(token.as_bytes()), "a token is stored in clear");
        let signature = token.rsplit('.').next().expect("a signature");
        assert!(
            !contains(signature.as_bytes()),
            "a token's signature is stored in clear"
        );
    }
    // The person's id stays in clear for the join; it is Descope's opaque id, not an address.
    assert_eq!(column.as_deref(), signed_in["user_id"].as_str());
    assert!(!contains(b"@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_written_in_clear_before_sealing_is_read_and_sealed_when_next_written() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "clear").await;
    let (_, record) = stored_row(&app.state.db, &id).await;
    // The row as the store wrote it before sealing: MessagePack of the record, nothing more.
    let clear = rmp_serde::to_vec(&record).expect("encodes");
    overwrite_data(&app.state.db, &id, &clear).await;
    assert!(!seal::is_sealed(&raw_row(&app.state.db, &id).await.1));

    // Read as it is: the person is still signed in.
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);

    // A day on, the gate refreshes the session token and writes the record back: sealed now.
    app.clock.advance(Duration::from_secs(25 * 3600));
    let a_day_on = app.clock.now_ms();
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);
    let (_, raw) = raw_row(&app.state.db, &id).await;
    assert!(seal::is_sealed(&raw), "sealed on its next write");
    assert!(!raw.windows(3).any(|w| w == b"eyJ"));
    let (_, rewritten) = stored_row(&app.state.db, &id).await;
    assert!(
        rewritten.data["signed_in"]["touched_at_ms"].as_i64() >= Some(a_day_on),
        "the record was written again: {:?}",
        rewritten.data["signed_in"]["touched_at_ms"]
    );
    assert_eq!(browser.get("/profile").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_does_not_open_signs_its_browser_out_without_an_error() {
    let app = spawn_app().await;
    let (browser, id) = signed_in_with_id(&app, "unopenable").await;
    let (_, mut raw) = raw_row(&app.state.db, &id).await;
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    overwrite_data(&app.state.db, &id, &raw).await;

    let store = SessionRows::new(app.state.db.clone(), test_session_keys());
    assert!(store.load(&id).await.expect("no error").is_none());
    let profile = browser.get("/profile").await;
    assert_eq!(profile.status, StatusCode::SEE_OTHER, "{}", profile.body);
    assert!(
        profile
            .location
            .as_deref()
            .is_some_and(|to| to.starts_with("/sign-in")),
        "{:?}",
        profile.location
    );
    assert_eq!(browser.get("/").await.status, StatusCode::OK);

    // A row sealed with another key (a secret changed without keeping the old one as previous)
    // is the same: signed out, no error.
    let (other, other_id) = signed_in_with_id(&app, "other-key").await;
    let (_, record) = stored_row(&app.state.db, &other_id).await;
    let another_key = SessionKeys::new(
        SessionKey::parse(&"ab".repeat(32)).expect("a valid key"),
        Vec::new(),
    );
    let sealed = another_key
        .seal(
            &other_id.to_string(),
            &rmp_serde::to_vec(&record).expect("encodes"),
        )
        .expect("sealed");
    overwrite_data(&app.state.db, &other_id, &sealed).await;
    assert_eq!(other.get("/profile").await.status, StatusCode::SEE_OTHER);
}

/// A database in memory keeps and reads its sessions: it has no connections of the store's own
/// (its pool's connections share it under a name of sqlx's), so the pool serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_a_database_in_memory_is_read_through_the_pool() {
    let db = Db::connect("sqlite::memory:", 1)
        .await
        .expect("the database opens");
    let store = SessionRows::new(db, test_session_keys());
    let mut record = Record {
        id: Id::default(),
        data: [("seen".to_owned(), Value::from(1))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.expect("create");
    let loaded = store.load(&record.id).await.expect("load").expect("stored");
    assert_eq!(loaded.data, record.data);
}
