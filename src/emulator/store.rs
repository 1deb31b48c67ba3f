//! The emulator's SQLite store: signing key, users (with their login ids) and refresh tokens.
//!
//! Pending codes, rate-limit windows and the outbox deliberately stay in memory (see
//! `state.rs`): codes live minutes, a restart voiding them is the same as the user asking for a
//! new one, and the outbox is a development aid, not a record.

use std::str::FromStr;

use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};

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
    /// The user object of spec section 8, as verify, refresh and `me` return it.
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
}

impl Store {
    pub async fn open(location: &DbLocation) -> anyhow::Result<Self> {
        let (options, pool_options) = match location {
            // One connection that never idles out: every new in-memory connection is a new,
            // empty database.
            DbLocation::Memory => (
                SqliteConnectOptions::from_str("sqlite::memory:")?,
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            ),
            DbLocation::File(path) => (
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true),
                SqlitePoolOptions::new().max_connections(4),
            ),
        };
        let pool = pool_options
            .connect_with(options.foreign_keys(true))
            .await?;
        sqlx::migrate!("./migrations/emulator").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn signing_key(&self) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT pem FROM signing_key WHERE id = 1")
            .fetch_optional(&self.pool)
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

    /// Deletes every test user; returns how many went.
    pub async fn delete_test_users(&self, now: i64) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT user_id FROM users WHERE test = 1")
            .fetch_all(&mut *tx)
            .await?;
        for id in &ids {
            delete_user_in(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
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
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(jti)
        .execute(&self.pool)
        .await?;
        Ok(())
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
