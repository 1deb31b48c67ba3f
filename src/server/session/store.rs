//! The session store: tower-sessions' records in the app's own database, read together with the
//! person's sign-out-everywhere mark.
//!
//! A gated request needs two facts from the database: the session row and whether its person
//! has since asked for every browser to be signed out. Read apart they were two queries, each a
//! round trip through the pool (and, on SQLite, through the connection's worker thread). Here the
//! row keeps its person's `user_id` in a column of its own, written with the record, so that one
//! query brings both: the row, and the mark joined on that column. The mark travels to the gate
//! inside the loaded record, under [`MARK_KEY`]; it is never written back (see [`SessionRows::save`]).
//!
//! The record is MessagePack of tower-sessions' `Record`, sealed ([`super::seal`]) so that
//! a copy of the table holds no token. The table and the encoding under the seal are the ones
//! tower-sessions-sqlx-store used, so sessions written before this store (or before sealing) are
//! read as they are, and sealed when next written. A row from before this store has no `user_id`
//! yet (the column came later); its record then carries no mark, and the gate asks for the mark
//! on its own ([`crate::server::gate`]) until the row is next written.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::OptionalExtension as _;
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};

use super::seal::SessionKeys;
use super::{MARK_KEY, SignedIn};
use crate::error::AppError;
use crate::on_pool;
use crate::server::db::{Db, SqliteReaders, is_locked};
use crate::server::errors::store_error;

/// Session records in the app's database, on either backend, sealed with `keys`
/// ([`super::seal`]).
#[derive(Clone, Debug)]
pub struct SessionRows {
    db: Db,
    keys: SessionKeys,
    /// On SQLite, the connections the loads go through on the request's thread
    /// ([`SqliteReaders`]), opened on first use; `None` inside for a database in memory.
    readers: Arc<tokio::sync::OnceCell<Option<SqliteReaders>>>,
}

/// How many connections of its own the store reads through on SQLite: a load holds one for a
/// primary-key lookup of some microseconds, and no more loads run at once than the runtime has
/// threads, so a few serve any number of requests.
const SQLITE_READERS: usize = 4;

impl SessionRows {
    pub fn new(db: Db, keys: SessionKeys) -> Self {
        Self {
            db,
            keys,
            readers: Arc::default(),
        }
    }

    /// The sign-in stored under session `id` now, read around a request's copy of it (which was
    /// read when the request began): `None` when the row is gone or holds no sign-in.
    pub async fn stored_sign_in(&self, id: Option<Id>) -> Result<Option<SignedIn>, AppError> {
        let Some(id) = id else {
            return Ok(None);
        };
        let record = SessionStore::load(self, &id)
            .await
            .map_err(|e| store_error(tower_sessions::session::Error::Store(e)))?;
        Ok(record.and_then(|r| SignedIn::in_record(&r.data)))
    }
}

/// A row of the load statement: the sealed record, whether the row names its person, and the
/// person's sign-out-everywhere mark.
type LoadedRow = (Vec<u8>, bool, Option<i64>);

impl SessionRows {
    /// The load through the store's own SQLite connections, on this thread ([`SqliteReaders`]):
    /// `None` when they cannot serve it (PostgreSQL, a database in memory, a locked file) and
    /// the pool must.
    async fn read_on_this_thread(
        &self,
        sql: &'static str,
        session_id: &Id,
    ) -> session_store::Result<Option<Option<LoadedRow>>> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(None);
        };
        let readers = self
            .readers
            .get_or_init(|| {
                let pool = pool.clone();
                async move {
                    // Opening files blocks: once, off the runtime's threads. Should they not
                    // open, the pool (on the same file) serves every read, only slower.
                    let opened =
                        tokio::task::spawn_blocking(move || SqliteReaders::open(&pool, SQLITE_READERS))
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|opened| opened.map_err(|e| e.to_string()));
                    opened.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "the session store's own SQLite connections did not open; sessions are read through the pool");
                        None
                    })
                }
            })
            .await;
        let Some(readers) = readers else {
            return Ok(None);
        };
        // The expiry is compared as sqlx writes it: RFC 3339 text.
        let now = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let read = readers.read(|connection| {
            connection
                .prepare_cached(sql)?
                .query_row(rusqlite::params![session_id.to_string(), now], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
        });
        match read {
            Ok(row) => Ok(Some(row)),
            Err(e) if is_locked(&e) => Ok(None),
            Err(e) => Err(session_store::Error::Backend(e.to_string())),
        }
    }
}

/// The statements, per backend: the table is where tower-sessions-sqlx-store kept it
/// (`tower_sessions` in SQLite, `tower_sessions.session` in PostgreSQL); the text is otherwise one.
struct Statements {
    insert: &'static str,
    save: &'static str,
    load: &'static str,
    delete: &'static str,
    delete_expired: &'static str,
}

macro_rules! statements {
    ($table:literal) => {
        Statements {
            insert: concat!(
                "insert into ",
                $table,
                " (id, data, expiry_date, user_id) values ($1, $2, $3, $4)"
            ),
            // An update, never an upsert: see [`SessionRows::save`].
            save: concat!(
                "update ",
                $table,
                " set data = $2, expiry_date = $3, user_id = $4 where id = $1"
            ),
            load: concat!(
                "select s.data, s.user_id is not null, m.at_ms from ",
                $table,
                " s ",
                "left join signed_out_everywhere m on m.user_id = s.user_id ",
                "where s.id = $1 and s.expiry_date > $2"
            ),
            delete: concat!("delete from ", $table, " where id = $1"),
            delete_expired: concat!("delete from ", $table, " where expiry_date < $1"),
        }
    };
}

const SQLITE: Statements = statements!("tower_sessions");
const POSTGRES: Statements = statements!("tower_sessions.session");

fn statements(db: &Db) -> &'static Statements {
    match db {
        Db::Sqlite(_) => &SQLITE,
        Db::Postgres(_) => &POSTGRES,
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The record as stored: without the mark (it lives in its own table), sealed, and the person's
/// id (in clear, for the join: it is Descope's opaque id, not an address).
fn encode(keys: &SessionKeys, record: &Record) -> session_store::Result<(Vec<u8>, Option<String>)> {
    let user_id = SignedIn::user_id_in_record(&record.data).map(str::to_owned);
    let bytes = if record.data.contains_key(MARK_KEY) {
        let mut stored = record.clone();
        stored.data.remove(MARK_KEY);
        rmp_serde::to_vec(&stored)
    } else {
        rmp_serde::to_vec(record)
    }
    .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let sealed = keys
        .seal(&record.id.to_string(), &bytes)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok((sealed, user_id))
}

/// The record stored for `session_id`, or `None` when its row does not open: sealed with a key
/// this instance does not have, or altered. Either way the person is signed out (the next write
/// makes a new session) rather than shown an error page on every request.
fn decode(
    keys: &SessionKeys,
    session_id: &Id,
    stored: &[u8],
) -> session_store::Result<Option<Record>> {
    let plain = match keys.open(&session_id.to_string(), stored) {
        Ok(plain) => plain,
        Err(e) => {
            tracing::warn!(error = %e, "a session row was ignored; its browser is signed out");
            return Ok(None);
        }
    };
    // Only a row from before sealing can open and still not decode (a sealed one is
    // authenticated): altered by hand. Its browser is signed out too, not met with an error.
    match rmp_serde::from_slice(&plain) {
        Ok(record) => Ok(Some(record)),
        Err(e) => {
            tracing::warn!(error = %e, "a session row did not decode and was ignored; its browser is signed out");
            Ok(None)
        }
    }
}

impl SessionRows {
    /// Runs `sql` (an insert or an update of one row) for `record`.
    async fn write(&self, sql: &'static str, record: &Record) -> Result<(), WriteError> {
        let (data, user_id) = encode(&self.keys, record).map_err(WriteError::Store)?;
        on_pool!(&self.db, |pool| {
            sqlx::query(sql)
                .bind(record.id.to_string())
                .bind(data)
                .bind(record.expiry_date)
                .bind(user_id)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(WriteError::Sql)
    }
}

/// Why a write failed: the record did not encode, or the database said no.
enum WriteError {
    Store(session_store::Error),
    Sql(sqlx::Error),
}

impl From<WriteError> for session_store::Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Store(e) => e,
            WriteError::Sql(e) => backend(e),
        }
    }
}

#[async_trait]
impl SessionStore for SessionRows {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new id colliding with a stored one is a 2^-128 event; a fresh id settles it.
        loop {
            match self.write(statements(&self.db).insert, record).await {
                Ok(()) => return Ok(()),
                Err(WriteError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    record.id = Id::default();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes a record that was loaded from its row, and only while that row still exists.
    ///
    /// tower-sessions calls `save` only for a session it loaded (a new or re-keyed session goes
    /// through [`SessionStore::create`]), so a missing row means someone deleted it since this
    /// request loaded it: a sign-out, a sign-out everywhere, a sign-in that gave the browser a new
    /// id, or the expiry clean-up. A request that loaded the row before then (a page refreshing an
    /// expired token, say) must not write it back, or the cookie that was signed out would open
    /// the gated pages again. So the row is updated, never inserted, and a row that is gone stays
    /// gone, on both backends.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        Ok(self.write(statements(&self.db).save, record).await?)
    }

    /// The record, if stored and not expired, with its person's mark under [`MARK_KEY`] when the
    /// row names its person: one query for both.
    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let sql = statements(&self.db).load;
        // On SQLite through the store's own connections, on this thread; else (PostgreSQL, a
        // database in memory, a locked file) through the pool, which waits its turn.
        let row: Option<LoadedRow> = match self.read_on_this_thread(sql, session_id).await? {
            Some(read) => read,
            None => on_pool!(&self.db, |pool| {
                sqlx::query_as(sql)
                    .bind(session_id.to_string())
                    .bind(OffsetDateTime::now_utc())
                    .fetch_optional(pool)
                    .await
            })
            .map_err(backend)?,
        };
        let Some((data, names_person, mark)) = row else {
            return Ok(None);
        };
        let Some(mut record) = decode(&self.keys, session_id, &data)? else {
            return Ok(None);
        };
        if names_person {
            record.data.insert(MARK_KEY.to_owned(), mark.into());
        }
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let sql = statements(&self.db).delete;
        on_pool!(&self.db, |pool| {
            sqlx::query(sql)
                .bind(session_id.to_string())
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SessionRows {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let sql = statements(&self.db).delete_expired;
        on_pool!(&self.db, |pool| {
            sqlx::query(sql)
                .bind(OffsetDateTime::now_utc())
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(backend)?;
        Ok(())
    }
}
