//! What a request writes. A gated view that changes nothing must write nothing: no session save,
//! no sign-out-everywhere mark, no rate-limit counter. Every write to those tables is counted by a
//! trigger installed in the app's database, on SQLite or PostgreSQL alike, and the count is shown
//! to move when something is really written, so the test can fail.

use reqwest::StatusCode;
use sqlx::Connection;

use crate::support::*;

/// The app's tables a request could write to (PostgreSQL: `tower_sessions.session` for the first).
const SQLITE_TABLES: [&str; 3] = ["tower_sessions", "signed_out_everywhere", "rate_limits"];
const POSTGRES_TABLES: [&str; 3] = [
    "tower_sessions.session",
    "signed_out_everywhere",
    "rate_limits",
];

/// A connection to the app's database with a trigger on every table above that adds a row to
/// `test_writes` for each row inserted, updated or deleted.
enum WriteCounter {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteCounter {
    async fn install(db: &TestDb) -> Self {
        match db {
            TestDb::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url)
                    .await
                    .expect("the app's SQLite file");
                let mut ddl = String::from("create table test_writes (tbl text not null);");
                for table in SQLITE_TABLES {
                    for event in ["insert", "update", "delete"] {
                        ddl.push_str(&format!(
                            "create trigger count_{table}_{event} after {event} on {table} \
                             begin insert into test_writes values ('{table}'); end;"
                        ));
                    }
                }
                sqlx::raw_sql(&ddl)
                    .execute(&mut conn)
                    .await
                    .expect("triggers");
                Self::Sqlite(conn)
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url)
                    .await
                    .expect("the app's PostgreSQL database");
                let mut ddl = String::from(
                    "create table test_writes (tbl text not null);
                     create function count_test_write() returns trigger language plpgsql as $$
                     begin insert into test_writes values (tg_table_name); return null; end $$;",
                );
                for (i, table) in POSTGRES_TABLES.iter().enumerate() {
                    ddl.push_str(&format!(
                        "create trigger count_writes_{i} after insert or update or delete on {table} \
                         for each row execute function count_test_write();"
                    ));
                }
                sqlx::raw_sql(&ddl)
                    .execute(&mut conn)
                    .await
                    .expect("triggers");
                Self::Postgres(conn)
            }
        }
    }

    /// The tables written since the triggers went in, one entry per row written.
    async fn writes(&mut self) -> Vec<String> {
        let sql = "select tbl from test_writes";
        match self {
            Self::Sqlite(conn) => sqlx::query_scalar(sql).fetch_all(conn).await,
            Self::Postgres(conn) => sqlx::query_scalar(sql).fetch_all(conn).await,
        }
        .expect("read the write count")
    }
}

#[tokio::test]
async fn gated_views_that_change_nothing_write_nothing() {
    let app = spawn_app().await;
    let email = unique_email("still");
    let browser = app.signed_up("email", &email, "Still Person").await;
    let mut counter = WriteCounter::install(app.database()).await;

    for path in ["/profile", "/profile/email", "/profile/phone", "/profile"].repeat(5) {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(
        counter.writes().await,
        Vec::<String>::new(),
        "twenty gated views and a public page wrote to the database"
    );

    // The counter sees real writes. A day later the same view writes the session (its idle
    // expiry moves, and the session JWT, long expired, is refreshed)...
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let page = browser.get("/profile").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let written = counter.writes().await;
    assert!(
        !written.is_empty() && written.iter().all(|t| t.contains("session")),
        "a view a day later wrote {written:?}"
    );
    // ...and signing out deletes it.
    browser
        .submit("/profile", "/api/session/sign-out", &[])
        .await
        .assert_redirects_to("/");
    let after = counter.writes().await;
    assert!(
        after.len() > written.len(),
        "signing out wrote nothing: {after:?}"
    );
}
