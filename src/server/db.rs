//! The app's database: one SQLite file (the default, one process or a few on one machine) or
//! PostgreSQL (any number of instances behind a proxy). `DATABASE_URL`'s scheme picks it.
//!
//! Everything the app stores goes through the few named methods of [`Db`]: the sign-out-everywhere
//! marks, the rate-limit counters and the clean-up of both; the sessions themselves are kept on the
//! same pool by [`crate::server::session::store`], which reads each with its person's mark. The SQL
//! text is the same for both backends wherever it can be (`$1` placeholders, `case` instead of
//! `max`/`greatest`), so each method is written once and run on whichever pool this is
//! ([`on_pool!`]). Schemas differ, so each backend has its own migration folder: `migrations/app`
//! (SQLite) and `migrations/app-postgres`.
//!
//! sqlx's `Any` driver was the other option; it has no session store of its own, and maps types
//! (blobs, 64-bit integers) less predictably, so two typed pools it is.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Which database a `DATABASE_URL` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path/to/file.db` (or `sqlite::memory:`).
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

impl Backend {
    /// The backend for `url`, or a message saying which schemes are understood. Checked when the
    /// settings are read, so that `postgres://` is never taken for a file name again.
    pub fn of(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(format!(
                "{:?} is neither a sqlite:// nor a postgres:// (postgresql://) URL",
                redacted(url)
            )),
        }
    }
}

/// `Ok` when a connection made from the PostgreSQL `url` is encrypted, or crosses no network;
/// otherwise why not, for a message on `DATABASE_URL`. Production mode refuses the latter
/// (settings.rs).
///
/// Encrypted means an `sslmode` of `require`, `verify-ca` or `verify-full`. Without one sqlx uses
/// `prefer`, which falls back to plaintext without a word when the server (or someone between)
/// declines TLS, so it counts as weaker, like `allow` and `disable`. A server on this machine
/// needs none of them: a loopback address, `localhost`, or a Unix socket (a host that is a
/// directory, in the URL or in its `host=`). A URL naming no host at all is not taken for local,
/// as sqlx then follows `PGHOST`, which may name any machine.
pub fn encrypted_or_local(url: &str) -> Result<(), String> {
    let shown = redacted(url);
    let parsed = url::Url::parse(url).map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
    // The same precedence as sqlx: the URL's host, then each `host=` or `hostaddr=`, the last one
    // winning; the last `sslmode` likewise.
    let mut host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned());
    let mut mode = None;
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "host" | "hostaddr" => host = Some(value.into_owned()),
            "sslmode" | "ssl-mode" => mode = Some(value.into_owned()),
            _ => {}
        }
    }
    if host.as_deref().is_some_and(is_on_this_machine) {
        return Ok(());
    }
    let weak = match mode.as_deref().map(|m| (m, m.parse::<PgSslMode>())) {
        Some((_, Ok(PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull))) => {
            return Ok(());
        }
        Some((m, Err(_))) => {
            return Err(format!(
                "{shown:?}: sslmode={m:?} is not a PostgreSQL sslmode; use sslmode=require (or verify-full)"
            ));
        }
        Some((m, Ok(_))) => format!("sslmode={m}"),
        None => "no sslmode (so sqlx's prefer)".to_owned(),
    };
    Err(format!(
        "{shown:?} has {weak}, which may talk to PostgreSQL at {} in plaintext; refused when \
         APP_ENV=production: add ?sslmode=require to the URL (or sslmode=verify-full, with \
         sslrootcert=<the server's CA file> if its certificate is not from a public CA)",
        host.as_deref().unwrap_or("the host PGHOST names")
    ))
}

/// Whether a PostgreSQL host is this machine: a Unix socket directory (written as is, or
/// percent-encoded in the URL's host), `localhost`, or a loopback address.
fn is_on_this_machine(host: &str) -> bool {
    host.starts_with('/')
        || host.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%2f"))
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The app's one connection pool, on whichever backend `DATABASE_URL` names.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to this database's pool, whichever backend it is: the body is
/// compiled once per backend, so the same SQL text serves both. Exported for the session store
/// and the tests.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite($pool) => $body,
            $crate::server::db::Db::Postgres($pool) => $body,
        }
    };
}

/// How often a starting instance retries its SQLite migrations, when another instance starting
/// at the same moment on the same file applied one first (see [`Db::migrate`]).
const SQLITE_MIGRATION_ATTEMPTS: u32 = 5;

impl Db {
    /// Opens the pool for `url` with at most `pool_size` connections and brings its schema up to
    /// date. Every error names `DATABASE_URL` (with any password hidden), so that a start-up
    /// failure says which setting to look at.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let backend =
            Backend::of(url).map_err(|problem| anyhow::anyhow!("DATABASE_URL: {problem}"))?;
        let shown = redacted(url);
        let db = match backend {
            Backend::Sqlite => Self::Sqlite(connect_sqlite(url, pool_size).await?),
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url)
                    .with_context(|| format!("DATABASE_URL {shown:?} is not a PostgreSQL URL"))?;
                let pool = PgPoolOptions::new()
                    .max_connections(pool_size)
                    // A database that does not answer fails start-up (and a request) in seconds,
                    // not after sqlx's default 30 s.
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .with_context(|| {
                        format!("DATABASE_URL: cannot reach the database at {shown:?}")
                    })?;
                Self::Postgres(pool)
            }
        };
        db.migrate()
            .await
            .with_context(|| format!("DATABASE_URL: migrating the database at {shown:?}"))?;
        Ok(db)
    }

    /// Applies the migrations of this backend's folder.
    ///
    /// On PostgreSQL sqlx takes an advisory lock around the run, so instances starting together
    /// wait for one another. SQLite has no such lock: two instances starting at once on one file
    /// could both see a migration as new, and the second to commit failed on
    /// `_sqlx_migrations.version`. Each migration runs in its own transaction, so the loser's
    /// attempt left nothing behind; running again finds it applied (and checks its checksum).
    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Postgres(pool) => Ok(sqlx::migrate!("./migrations/app-postgres")
                .run(pool)
                .await?),
            Self::Sqlite(pool) => {
                let mut attempt = 1;
                loop {
                    match sqlx::migrate!("./migrations/app").run(pool).await {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt < SQLITE_MIGRATION_ATTEMPTS => {
                            tracing::info!(attempt, error = %e, "migrations raced another instance; running them again");
                            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt)))
                                .await;
                            attempt += 1;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| sqlx::query("select 1")
            .execute(pool)
            .await
            .map(drop))
    }

    /// When `user_id` last asked to be signed out everywhere, in ms since the epoch.
    pub async fn signed_out_everywhere_at(
        &self,
        user_id: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_scalar("select at_ms from signed_out_everywhere where user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Records that `user_id` asked, at `at_ms`, for every browser to be signed out.
    pub async fn mark_signed_out_everywhere(
        &self,
        user_id: &str,
        at_ms: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
                "insert into signed_out_everywhere (user_id, at_ms) values ($1, $2)
                 on conflict (user_id) do update set at_ms = excluded.at_ms",
            )
            .bind(user_id)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// Takes one request from each of `keys` (key, interval between requests in ms, window in
    /// ms) at `now_ms`, or none at all: `Ok(Err(refusal))` when any key is spent, with the longest
    /// wait and the spent keys. This is the GCRA step of [`crate::server::limits`]: the next arrival time moves on
    /// by one interval from now or from where it was, whichever is later, unless that puts it
    /// more than the window ahead of now.
    ///
    /// Each key is one atomic upsert: it inserts a new key, or moves the key's next arrival time
    /// on only if that stays within the window, in one statement, so two instances counting the
    /// same key at the same moment each see the other's count. All keys are taken in one
    /// transaction, rolled back if any is spent, so a refused request costs nothing; they are
    /// taken in sorted order, so two transactions never wait for each other's rows in a cycle.
    pub async fn take_rate(
        &self,
        keys: &mut [(String, i64, i64)],
        now_ms: i64,
    ) -> Result<Result<(), RateRefusal>, sqlx::Error> {
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut wait_ms = 0i64;
            let mut spent = Vec::new();
            for (key, interval, window) in keys.iter() {
                let taken: Option<i64> = sqlx::query_scalar(
                    "insert into rate_limits (key, next_at_ms) values ($1, $2 + $3)
                     on conflict (key) do update
                     set next_at_ms =
                         (case when rate_limits.next_at_ms > $2 then rate_limits.next_at_ms else $2 end) + $3
                     where
                         (case when rate_limits.next_at_ms > $2 then rate_limits.next_at_ms else $2 end) + $3 - $2 <= $4
                     returning next_at_ms",
                )
                .bind(key)
                .bind(now_ms)
                .bind(*interval)
                .bind(*window)
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_none() {
                    // Refused: the row is ours (locked) until the transaction ends, so this is
                    // the value the upsert just declined to move.
                    let stored: i64 =
                        sqlx::query_scalar("select next_at_ms from rate_limits where key = $1")
                            .bind(key)
                            .fetch_one(&mut *tx)
                            .await?;
                    let over = stored.max(now_ms) + interval - now_ms - window;
                    wait_ms = wait_ms.max(over.max(1));
                    spent.push(key.clone());
                }
            }
            if wait_ms > 0 {
                tx.rollback().await?;
                Ok(Err(RateRefusal { wait_ms, spent }))
            } else {
                tx.commit().await?;
                Ok(Ok(()))
            }
        })
    }

    /// Deletes the counter `key` (an absent counter counts as a fresh one).
    pub async fn delete_rate(&self, key: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query("delete from rate_limits where key = $1")
                .bind(key)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// Deletes rate-limit rows whose window has passed at `now_ms` (an absent row and a passed
    /// one count the same). One `delete … where`: running it on two instances at once is
    /// harmless, the second finds nothing left to delete.
    pub async fn delete_spent_rates(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        let done = on_pool!(self, |pool| {
            sqlx::query("delete from rate_limits where next_at_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(done)
    }

    /// Closes the pool: requests then fail as in a database outage (for tests of just that).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}

/// `url` with any password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// WAL lets readers and the writer work side by side; the busy timeout makes a brief lock wait
/// (another connection's write, another instance's migration) instead of failing a request.
async fn connect_sqlite(url: &str, pool_size: u32) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Safe with WAL (a crash loses no committed state; a power cut at most the last
        // commits) and one fsync fewer per write.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    if let Some(path) = file_of(&options) {
        ensure_parent_dir(path)?;
    }
    // Opening a new file switches it to WAL, which needs a lock that SQLite's busy handler does
    // not wait for: two instances opening one fresh file at once can get "database is locked".
    // That lasts milliseconds, so opening is tried again, for a bounded time (start-up only).
    let mut attempt = 0u32;
    loop {
        match SqlitePoolOptions::new()
            .max_connections(pool_size)
            // A local file cannot drop a connection the way a network can, and the ping sqlx
            // otherwise sends on every acquire is a round trip through the connection's worker
            // thread: on a gated request (session row, then mark) that doubled the database work.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => return Ok(pool),
            Err(e) if is_busy(&e) && attempt < OPEN_ATTEMPTS => {
                attempt += 1;
                tracing::info!(
                    attempt,
                    "the database file is locked by another opener; trying again"
                );
                tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("DATABASE_URL: cannot open the database {url:?}"));
            }
        }
    }
}

/// Connections to a SQLite file of their own, beside its pool, for the read every gated request
/// makes (its session row), run on the request's own thread.
///
/// Through sqlx every query crosses to its connection's worker thread and back, which wakes that
/// thread and then the request's task: measured under load, the crossing cost about three times
/// the read itself (a primary-key lookup in pages SQLite already holds). So these connections
/// are plain SQLite handles (rusqlite, on the SQLite library sqlx links), and a read on them is a
/// function call. It never waits for anything: they have no busy timeout, so a read that would
/// have to wait for a lock (in WAL mode readers wait for no writer; only another process holding
/// the file in exclusive mode, or recovering it after a crash, makes them) fails at once with
/// `SQLITE_BUSY`, and the caller reads through the pool instead, which waits its turn off the
/// request's thread ([`is_locked`]). They run only `select`s (`query_only`), each statement
/// prepared once per connection.
///
/// A database in memory has none ([`SqliteReaders::open`] answers `None`): its pool's connections
/// share it under a name of sqlx's, and the pool serves its reads.
#[derive(Debug)]
pub struct SqliteReaders {
    connections: Vec<std::sync::Mutex<rusqlite::Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl SqliteReaders {
    /// `count` connections to the file of `pool`'s database. Opening files blocks: call it off
    /// the runtime's threads (the session store does, once, through `spawn_blocking`).
    pub fn open(pool: &SqlitePool, count: usize) -> rusqlite::Result<Option<Self>> {
        let options = pool.connect_options();
        // sqlx names a database in memory `file:sqlx-in-memory-<n>`.
        match file_of(&options).filter(|p| !p.to_string_lossy().starts_with("file:sqlx-in-memory-"))
        {
            Some(path) => Self::open_file(path, count).map(Some),
            None => Ok(None),
        }
    }

    /// `count` connections to the SQLite file at `path`, which exists: the pool made it, in WAL
    /// mode, before any session was read.
    fn open_file(path: &Path, count: usize) -> rusqlite::Result<Self> {
        use rusqlite::OpenFlags;
        let mut connections = Vec::with_capacity(count.max(1));
        for _ in 0..count.max(1) {
            let connection = rusqlite::Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // rusqlite waits up to 5 s for a lock by default; a request's thread must not.
            connection.busy_timeout(Duration::ZERO)?;
            connection.pragma_update(None, "query_only", true)?;
            connections.push(std::sync::Mutex::new(connection));
        }
        Ok(Self {
            connections,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a free connection: the first free one from a rotating start, else the
    /// start's own once its read is done (each read takes microseconds, and no more reads run
    /// at once than the runtime has threads).
    pub fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % count;
        for offset in 0..count {
            if let Ok(free) = self.connections[(start + offset) % count].try_lock() {
                return read(&free);
            }
        }
        // A read that panicked left its connection as it was: nothing half-written to recover.
        let connection = self.connections[start]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&connection)
    }
}

/// Whether a reader's error means the file was locked (`SQLITE_BUSY`, `SQLITE_LOCKED`): then the
/// read goes through the pool, which waits for the lock.
pub fn is_locked(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Tries at opening a locked SQLite file: 25 ms, 50 ms, … apart, about 10 s in all.
const OPEN_ATTEMPTS: u32 = 28;

/// SQLITE_BUSY and its extended codes (the low byte is 5).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => false,
    }
}

/// The file a SQLite database is kept in; `None` for one in memory.
fn file_of(options: &SqliteConnectOptions) -> Option<&Path> {
    options
        .get_filename()
        .to_str()
        .filter(|p| !p.is_empty() && *p != ":memory:")
        .map(Path::new)
}

/// The file a `sqlite://` `DATABASE_URL` names; `None` for another backend or a database in memory.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    // sqlx gives a database in memory a made-up file name: recognise it by the URL instead.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if Backend::of(url) != Ok(Backend::Sqlite) || in_memory {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    file_of(&options).map(Path::to_path_buf)
}

pub fn ensure_parent_dir(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Why [`Db::take_rate`] took nothing: the longest wait for a spent key, and the spent keys.
#[derive(Debug, PartialEq, Eq)]
pub struct RateRefusal {
    pub wait_ms: i64,
    pub spent: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend_and_anything_else_is_refused() {
        assert_eq!(Backend::of("sqlite://data/app.db"), Ok(Backend::Sqlite));
        assert_eq!(Backend::of("sqlite::memory:"), Ok(Backend::Sqlite));
        assert_eq!(
            Backend::of("postgres://postgres@127.0.0.1:5432/app"),
            Ok(Backend::Postgres)
        );
        assert_eq!(Backend::of("postgresql://db/app"), Ok(Backend::Postgres));
        let refused = Backend::of("mysql://root:hunter2@db/app").expect_err("not ours");
        assert!(
            refused.contains("sqlite://") && refused.contains("postgres://"),
            "{refused}"
        );
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!(Backend::of("data/app.db").is_err());
    }

    #[test]
    fn tls_is_required_to_reach_postgres_across_a_network() {
        for url in [
            "postgres://app:pw@db.example.com:5432/app?sslmode=require",
            "postgres://app:pw@db.example.com/app?sslmode=verify-ca",
            "postgresql://db.example.com/app?sslmode=VERIFY-FULL&sslrootcert=/etc/ca.pem",
            "postgres://db.example.com/app?ssl-mode=require",
            "postgres://10.0.0.5/app?sslmode=disable&sslmode=require",
        ] {
            assert_eq!(encrypted_or_local(url), Ok(()), "{url}");
        }
        for (url, says) in [
            (
                "postgres://app:secret@db.example.com:5432/app",
                "no sslmode",
            ),
            (
                "postgres://db.example.com/app?sslmode=prefer",
                "sslmode=prefer",
            ),
            (
                "postgres://db.example.com/app?sslmode=allow",
                "sslmode=allow",
            ),
            ("postgres://10.0.0.5/app?sslmode=disable", "sslmode=disable"),
            (
                "postgres://[2001:db8::1]/app?sslmode=disable",
                "sslmode=disable",
            ),
            (
                "postgres://db.example.com/app?sslmode=require&sslmode=prefer",
                "sslmode=prefer",
            ),
            (
                "postgres://db.example.com/app?sslmode=required",
                "not a PostgreSQL sslmode",
            ),
            // No host: sqlx would follow PGHOST, wherever that is.
            ("postgres:///app", "no sslmode"),
            // A local-looking URL host that `host=` sends elsewhere.
            ("postgres://localhost/app?host=db.example.com", "no sslmode"),
            // 127.0.0.1 as a name's prefix is not loopback.
            ("postgres://127.0.0.1.example.com/app", "no sslmode"),
        ] {
            let problem = encrypted_or_local(url).expect_err(url);
            assert!(problem.contains(says), "{url}: {problem}");
            assert!(problem.contains("sslmode=require"), "{url}: {problem}");
            assert!(!problem.contains("secret"), "{url}: {problem}");
        }
    }

    #[test]
    fn a_postgres_server_on_this_machine_needs_no_tls() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/app",
            "postgres://postgres@127.8.9.10/app?sslmode=disable",
            "postgres://postgres@[::1]:5432/app",
            "postgres://postgres@localhost/app",
            "postgres://postgres@LOCALHOST/app?sslmode=prefer",
            "postgres://%2Fvar%2Frun%2Fpostgresql/app",
            "postgres:///app?host=/var/run/postgresql",
            "postgres://db.example.com/app?host=/var/run/postgresql",
            "postgres://db.example.com/app?hostaddr=127.0.0.1",
        ] {
            assert_eq!(encrypted_or_local(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redacted("postgres://app:secret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(redacted("sqlite://data/app.db"), "sqlite://data/app.db");
    }

    /// A database file in `dir` with an empty table `t (n)`, its pool, and `count` readers.
    async fn file_with_readers(
        dir: &tempfile::TempDir,
        count: usize,
    ) -> (SqlitePool, SqliteReaders) {
        let path = dir.path().join("app.db");
        let Db::Sqlite(pool) = Db::connect(&format!("sqlite://{}", path.display()), 2)
            .await
            .expect("the database opens")
        else {
            panic!("a SQLite URL opens SQLite");
        };
        sqlx::query("create table t (n integer)")
            .execute(&pool)
            .await
            .expect("create");
        let readers = SqliteReaders::open(&pool, count)
            .expect("open")
            .expect("a file has readers");
        (pool, readers)
    }

    fn count(c: &rusqlite::Connection) -> rusqlite::Result<i64> {
        c.query_row("select count(*) from t", [], |r| r.get(0))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_readers_see_every_commit_and_share_out_free_connections_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (pool, readers) = file_with_readers(&dir, 2).await;
        for n in 1..=20 {
            sqlx::query("insert into t (n) values ($1)")
                .bind(n)
                .execute(&pool)
                .await
                .expect("insert");
            assert_eq!(
                readers.read(count).expect("count"),
                n,
                "a reader sees the pool's commit at once"
            );
        }
        // While one read holds a connection, a read begun inside it gets the other.
        let nested = readers
            .read(|outer| {
                let inner = readers.read(|inner| Ok(std::ptr::eq(inner, outer)))?;
                Ok(inner)
            })
            .expect("both read");
        assert!(!nested, "the second read took the free connection");
        // They only read.
        let refused = readers
            .read(|c| c.execute("insert into t (n) values (0)", []))
            .expect_err("query_only");
        assert!(!is_locked(&refused), "{refused}");
    }

    /// A reader never waits for a lock: a file another connection holds in exclusive mode answers
    /// SQLITE_BUSY at once (the session store then reads through the pool, which waits).
    #[test]
    fn a_locked_file_fails_a_reader_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.db");
        // Made without a pool: a WAL file can be held in exclusive mode only while no other
        // connection has it open, and a rusqlite connection has closed once dropped.
        rusqlite::Connection::open(&path)
            .expect("open")
            .execute_batch("pragma journal_mode = wal; create table t (n integer);")
            .expect("create");
        let readers = SqliteReaders::open_file(&path, 1).expect("open");
        let holder = rusqlite::Connection::open(&path).expect("open");
        holder
            .execute_batch("pragma locking_mode = exclusive; insert into t (n) values (1);")
            .expect("the file is held");
        let started = std::time::Instant::now();
        let locked = readers.read(count).expect_err("the file is held");
        assert!(is_locked(&locked), "{locked}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "it did not wait"
        );
        drop(holder);
        assert_eq!(readers.read(count).expect("free again"), 1);
    }

    #[tokio::test]
    async fn a_database_in_memory_has_no_readers() {
        let Db::Sqlite(pool) = Db::connect("sqlite::memory:", 1).await.expect("opens") else {
            panic!("a SQLite URL opens SQLite");
        };
        assert!(
            SqliteReaders::open(&pool, 2)
                .expect("nothing to open")
                .is_none()
        );
    }
}
