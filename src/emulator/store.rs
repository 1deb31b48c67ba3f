//! The emulator's SQLite store: signing key, users (with their login ids) and refresh tokens.
//!
//! Pending codes, rate-limit windows and the outbox deliberately stay in memory (see
//! `state.rs`): codes live minutes, a restart voiding them is the same as the user asking for a
//! new one, and the outbox is a development aid, not a record.

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, Sqlite, Transaction};
use tokio::sync::Mutex;

use super::DbLocation;

/// A Descope user as the emulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub user_id: String,
    pub login_ids: Vec<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    pub verified_email: bool,
    pub verified_phone: bool,
    pub test: bool,
    pub has_signed_in: bool,
    pub created_time: i64,
}

impl User {
    /// The user object of src/descope/API.md §8, as verify, refresh and `me` return it.
    pub fn to_json(&self) -> Value {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        json!({
            "userId": self.user_id,
            "loginIds": self.login_ids,
            "name": s(&self.name),
            "givenName": s(&self.given_name),
            "middleName": s(&self.middle_name),
            "familyName": s(&self.family_name),
            "email": s(&self.email),
            "phone": s(&self.phone),
            "verifiedEmail": self.verified_email,
            "verifiedPhone": self.verified_phone,
            "picture": "",
            "status": "enabled",
            "createdTime": self.created_time,
            "customAttributes": {},
            "roleNames": [],
            "userTenants": [],
            "permissions": [],
            "test": self.test,
            "externalIds": self.login_ids,
            "ssoAppIds": [],
            "editable": true,
            "TOTP": false,
            "SAML": false,
            "SCIM": false,
            "OIDC": false,
            "push": false,
            "webauthn": false,
            "password": false,
            "OAuth": {},
        })
    }
}

/// A user who was just deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedUser {
    pub user_id: String,
    pub login_ids: Vec<String>,
}

/// A refresh token the emulator issued.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    pub jti: String,
    pub user_id: String,
    pub expires_at: i64,
    pub revoked: bool,
    /// Claims (amr, su, custom) the session JWTs minted from this token carry.
    pub session_claims: Value,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// In memory only: a connection to the same database that is never used, held until
    /// [`Store::close`]. SQLite drops an in-memory database with its last connection, so
    /// without it a pool that replaces its connection (after an error, or at shutdown of an
    /// idle one) would go on with a new, empty database that has no tables
    /// (`no such table: refresh_tokens`).
    keep_alive: Option<Arc<Mutex<Option<SqliteConnection>>>>,
}

impl Store {
    pub async fn open(location: &DbLocation) -> anyhow::Result<Self> {
        match location {
            DbLocation::Memory => {
                // A name of its own: two emulators in one process (tests) never share data.
                let name = format!("file:descope-emulator-{}", uuid::Uuid::new_v4().simple());
                let options = SqliteConnectOptions::new()
                    .filename(name)
                    .in_memory(true)
                    .shared_cache(true)
                    .foreign_keys(true);
                // Opened first, closed last: the database lives exactly as long as the store.
                let keep_alive = options.connect().await?;
                // One pool connection: shared-cache connections lock whole tables and do not
                // wait for each other, so two pool connections could fail with "locked".
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                Self::migrated(pool, Some(keep_alive)).await
            }
            DbLocation::File(path) => {
                // WAL with synchronous=NORMAL, as the app's own database: one fsync fewer per
                // write, and readers never wait for the writer (every verify writes).
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?;
                Self::migrated(pool, None).await
            }
        }
    }

    async fn migrated(
        pool: SqlitePool,
        keep_alive: Option<SqliteConnection>,
    ) -> anyhow::Result<Self> {
        sqlx::migrate!("./migrations/emulator").run(&pool).await?;
        Ok(Self {
            pool,
            keep_alive: keep_alive.map(|c| Arc::new(Mutex::new(Some(c)))),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(keep_alive) = &self.keep_alive
            && let Some(connection) = keep_alive.lock().await.take()
            && let Err(err) = connection.close().await
        {
            tracing::warn!(%err, "closing the emulator's in-memory database");
        }
    }

    pub async fn signing_key(&self) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT pem FROM signing_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
    }

    /// A key rotation, stored as one change: `pem` signs from now on; the key it replaces
    /// stays published (or, with `retire_old`, it and every earlier one are unpublished).
    pub async fn rotate_signing_key(
        &self,
        pem: &str,
        retire_old: bool,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if retire_old {
            sqlx::query("DELETE FROM published_keys")
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT OR IGNORE INTO published_keys (pem, replaced_at)
                 SELECT pem, ? FROM signing_key WHERE id = 1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT OR REPLACE INTO signing_key (id, pem, created_at) VALUES (1, ?, ?)")
            .bind(pem)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The replaced keys still published, newest first.
    pub async fn published_keys(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT pem FROM published_keys ORDER BY replaced_at DESC, rowid DESC")
            .fetch_all(&self.pool)
            .await
    }

    pub async fn save_signing_key(&self, pem: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR IGNORE INTO signing_key (id, pem, created_at) VALUES (1, ?, ?)")
            .bind(pem)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user_by_login_id(&self, login_id: &str) -> Result<Option<User>, sqlx::Error> {
        let user_id: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM login_ids WHERE login_id = ?")
                .bind(login_id)
                .fetch_optional(&self.pool)
                .await?;
        match user_id {
            Some(id) => self.user_by_id(&id).await,
            None => Ok(None),
        }
    }

    pub async fn user_by_id(&self, user_id: &str) -> Result<Option<User>, sqlx::Error> {
        let Some(row) = sqlx::query("SELECT * FROM users WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let login_ids: Vec<String> = sqlx::query_scalar(
            "SELECT login_id FROM login_ids WHERE user_id = ? ORDER BY position",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(user_from_row(&row, login_ids)?))
    }

    /// Inserts a new user or replaces an existing one (profile and login ids) atomically.
    pub async fn save_user(&self, user: &User) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (user_id, email, phone, name, given_name, middle_name, family_name,
                 verified_email, verified_phone, test, has_signed_in, created_time)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET
                 email = excluded.email, phone = excluded.phone, name = excluded.name,
                 given_name = excluded.given_name, middle_name = excluded.middle_name,
                 family_name = excluded.family_name, verified_email = excluded.verified_email,
                 verified_phone = excluded.verified_phone, test = excluded.test,
                 has_signed_in = excluded.has_signed_in",
        )
        .bind(&user.user_id)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(&user.name)
        .bind(&user.given_name)
        .bind(&user.middle_name)
        .bind(&user.family_name)
        .bind(user.verified_email)
        .bind(user.verified_phone)
        .bind(user.test)
        .bind(user.has_signed_in)
        .bind(user.created_time)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM login_ids WHERE user_id = ?")
            .bind(&user.user_id)
            .execute(&mut *tx)
            .await?;
        for (position, login_id) in user.login_ids.iter().enumerate() {
            sqlx::query("INSERT INTO login_ids (login_id, user_id, position) VALUES (?, ?, ?)")
                .bind(login_id)
                .bind(&user.user_id)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Deletes a user and revokes every refresh token they hold.
    pub async fn delete_user(&self, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        delete_user_in(&mut tx, user_id, now).await?;
        tx.commit().await
    }

    /// Deletes every test user; returns who went, with the login ids they had (so that their
    /// pending codes can be voided too).
    pub async fn delete_test_users(&self, now: i64) -> Result<Vec<DeletedUser>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT user_id FROM users WHERE test = 1")
            .fetch_all(&mut *tx)
            .await?;
        let mut deleted = Vec::with_capacity(ids.len());
        for user_id in ids {
            let login_ids: Vec<String> =
                sqlx::query_scalar("SELECT login_id FROM login_ids WHERE user_id = ?")
                    .bind(&user_id)
                    .fetch_all(&mut *tx)
                    .await?;
            delete_user_in(&mut tx, &user_id, now).await?;
            deleted.push(DeletedUser { user_id, login_ids });
        }
        tx.commit().await?;
        Ok(deleted)
    }

    pub async fn insert_refresh(
        &self,
        jti: &str,
        user_id: &str,
        issued_at: i64,
        expires_at: i64,
        session_claims: &Value,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO refresh_tokens (jti, user_id, issued_at, expires_at, session_claims)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(jti)
        .bind(user_id)
        .bind(issued_at)
        .bind(expires_at)
        .bind(session_claims.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn refresh_token(&self, jti: &str) -> Result<Option<RefreshRecord>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT jti, user_id, expires_at, revoked_at, session_claims
             FROM refresh_tokens WHERE jti = ?",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let claims: String = row.try_get("session_claims")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        Ok(Some(RefreshRecord {
            jti: row.try_get("jti")?,
            user_id: row.try_get("user_id")?,
            expires_at: row.try_get("expires_at")?,
            revoked: revoked_at.is_some(),
            session_claims: serde_json::from_str(&claims).unwrap_or_else(|_| json!({})),
        }))
    }

    pub async fn revoke(&self, jti: &str, now: i64) -> Result<(), sqlx::Error> {
        self.spend(jti, now).await.map(drop)
    }

    /// Revokes `jti` if it is still live, and says whether this call did: of two calls racing
    /// with one token, exactly one spends it.
    pub async fn spend(&self, jti: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(jti)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn revoke_all_for_user(&self, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

async fn delete_user_in(
    tx: &mut Transaction<'_, Sqlite>,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM login_ids WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn user_from_row(row: &SqliteRow, login_ids: Vec<String>) -> Result<User, sqlx::Error> {
    Ok(User {
        user_id: row.try_get("user_id")?,
        login_ids,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        name: row.try_get("name")?,
        given_name: row.try_get("given_name")?,
        middle_name: row.try_get("middle_name")?,
        family_name: row.try_get("family_name")?,
        verified_email: row.try_get("verified_email")?,
        verified_phone: row.try_get("verified_phone")?,
        test: row.try_get("test")?,
        has_signed_in: row.try_get("has_signed_in")?,
        created_time: row.try_get("created_time")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(login_id: &str) -> User {
        User {
            user_id: format!("U2{login_id}"),
            login_ids: vec![login_id.to_string()],
            ..User::default()
        }
    }

    #[tokio::test]
    async fn the_in_memory_store_keeps_its_tables_and_data_when_the_pool_replaces_its_connection() {
        let store = Store::open(&DbLocation::Memory).await.unwrap();
        store.save_user(&user("kept@example.com")).await.unwrap();

        // What a pool does with a connection it gives up on: close it and open another.
        for _ in 0..3 {
            let connection = store.pool.acquire().await.unwrap();
            connection.close().await.unwrap();
        }

        let found = store.user_by_login_id("kept@example.com").await.unwrap();
        assert_eq!(found.map(|u| u.user_id), Some("U2kept@example.com".into()));
        // The other tables are there too.
        store
            .insert_refresh("jti", "U2kept@example.com", 0, 10, &json!({}))
            .await
            .unwrap();
        assert!(store.refresh_token("jti").await.unwrap().is_some());
        store.close().await;
    }

    #[tokio::test]
    async fn two_in_memory_stores_are_separate_databases() {
        let a = Store::open(&DbLocation::Memory).await.unwrap();
        let b = Store::open(&DbLocation::Memory).await.unwrap();
        a.save_user(&user("only-in-a@example.com")).await.unwrap();
        assert!(
            b.user_by_login_id("only-in-a@example.com")
                .await
                .unwrap()
                .is_none()
        );
        a.close().await;
        b.close().await;
    }
}
