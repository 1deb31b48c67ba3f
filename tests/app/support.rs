//! The harness: an app with its embedded emulator on port 0, and browsers that drive it.
//!
//! The app's database is SQLite (a temporary file per test app) unless `TEST_DATABASE=postgres`:
//! then every test app gets a fresh PostgreSQL database on `TEST_POSTGRES_URL` (default
//! [`POSTGRES_ADMIN_URL`]), dropped when the test ends. The same suite thus runs on both.

use std::sync::Arc;
use std::time::Duration;

use descope_otp::clock::Clock;
use descope_otp::server::session::seal::{SessionKey, SessionKeys};
use descope_otp::server::settings::{DescopeTarget, EmulatorSettings, SessionSecret, Settings};
use descope_otp::server::startup::Application;
use descope_otp::server::state::AppState;
use leptos::config::LeptosOptions;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LOCATION, REFERER, SET_COOKIE};
use serde_json::Value;
use sqlx::Connection;

pub struct TestApp {
    pub base: String,
    pub emulator: String,
    pub clock: Clock,
    /// The running app's state (its database handle, its limiter), for tests that reach in.
    pub state: AppState,
    /// The app's database, kept until the last app on it is gone (a many-instance test shares it).
    _db: Arc<TestDb>,
    _dir: Arc<tempfile::TempDir>,
}

/// Where the PostgreSQL tests create their databases, unless `TEST_POSTGRES_URL` says otherwise.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether this run is the PostgreSQL run of the suite (`TEST_DATABASE=postgres`): every test
/// app is then on PostgreSQL, and a PostgreSQL test that cannot reach it fails instead of
/// skipping.
pub fn postgres_required() -> bool {
    std::env::var("TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_ADMIN_URL.to_owned())
}

/// The admin URL of a reachable PostgreSQL, for a test that needs one; `None` (and a line on
/// stderr saying why) when there is none and this is not the PostgreSQL run.
pub async fn postgres_or_skip(test: &str) -> Option<String> {
    let admin = postgres_admin_url();
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&admin)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Some(admin)
        }
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 5 s".to_owned(),
            };
            assert!(
                !postgres_required(),
                "TEST_DATABASE=postgres, but PostgreSQL at {admin} cannot be reached: {why}"
            );
            // Straight to stderr, past the test harness's capture, so the skip shows in a run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no PostgreSQL at {admin} ({why}); \
                 set TEST_DATABASE=postgres to make this an error"
            );
            None
        }
    }
}

/// A test app's database: a temporary SQLite file, or a fresh PostgreSQL database dropped when
/// the last app using it is gone.
pub enum TestDb {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        admin: String,
        name: String,
    },
}

impl TestDb {
    /// A fresh database on this run's backend.
    pub async fn fresh() -> Self {
        if postgres_required() {
            Self::fresh_postgres(&postgres_admin_url()).await
        } else {
            Self::fresh_sqlite()
        }
    }

    pub fn fresh_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::Sqlite {
            url: format!("sqlite://{}", dir.path().join("app.db").display()),
            _dir: dir,
        }
    }

    /// A new, empty database next to `admin`'s, named after this process and a counter.
    pub async fn fresh_postgres(admin: &str) -> Self {
        let name = format!("descope_test_{}", uuid_like().replace('-', "_"));
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} cannot be reached: {e}"));
        // A database of this name can only be a leftover of a killed run with the same pid.
        sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
            .execute(&mut conn)
            .await
            .expect("drop a leftover database");
        sqlx::raw_sql(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin).expect("the admin URL is a URL");
        url.set_path(&name);
        Self::Postgres {
            url: url.to_string(),
            admin: admin.to_owned(),
            name,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    /// Drops a PostgreSQL test database (closing the connections the apps still hold). Runs on
    /// a thread of its own: a drop cannot await, and the test's runtime may be single-threaded.
    fn drop(&mut self) {
        let Self::Postgres { admin, name, .. } = self else {
            return;
        };
        let (admin, name) = (admin.clone(), name.clone());
        let shown = name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {shown}: {dropped:?}");
        }
    }
}

/// A browser: one cookie jar, no redirect following, remembers every body it saw.
pub struct Browser {
    pub app_base: String,
    pub http: reqwest::Client,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(Clock::system(), adjust).await
}

/// [`spawn_app_with`] on `clock`: a [`Clock::frozen`] one for tests that count what happens
/// within a window, so that the wall clock never decides whether the window has passed.
pub async fn spawn_app_on(clock: Clock, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(TestDb::fresh().await, clock, adjust).await
}

/// [`spawn_app_with`] on the database `db`.
pub async fn spawn_app_on_db(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(db, Clock::system(), adjust).await
}

/// An app with its embedded emulator, on the database `db` and on `clock`.
pub async fn spawn_app_in(db: TestDb, clock: Clock, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let db = Arc::new(db);
    let mut settings = test_settings(db.url());
    settings.descope = DescopeTarget::Emulator(EmulatorSettings::new(
        "127.0.0.1:0".parse().expect("literal"),
        dir.path().join("emulator.db"),
    ));
    adjust(&mut settings);
    start(settings, clock, None, db, dir).await
}

/// The settings every test app starts from, on the database at `database_url`.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::from_lookup(|_| None).expect("default settings");
    settings.database_url = database_url.to_owned();
    // Hundreds of codes are sent across the suite; the floor that keeps their answers' timing
    // alike is tested on its own (security.rs), at its default.
    settings.code_answer_min = Duration::ZERO;
    // A fixed key rather than a key file: nothing is written beside the test database, and the
    // apps of a many-instance test (each built from these settings) open each other's rows.
    settings.session_secret = SessionSecret::Keys(test_session_keys());
    // Many test apps share one PostgreSQL server (100 connections by default) at once.
    if database_url.starts_with("postgres") {
        settings.database_pool_size = 4;
    }
    settings
}

/// The `SESSION_SECRET` of every test app (and of the binary the production tests run).
pub const TEST_SESSION_SECRET: &str =
    "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

/// The keys every test app seals its session rows with.
pub fn test_session_keys() -> SessionKeys {
    SessionKeys::new(
        SessionKey::parse(TEST_SESSION_SECRET).expect("a valid key"),
        Vec::new(),
    )
}

/// Builds and serves an app on port 0. `emulator` is the base URL of the emulator it talks to
/// when that is not its own embedded one.
pub async fn start(
    settings: Settings,
    clock: Clock,
    emulator: Option<String>,
    db: Arc<TestDb>,
    dir: Arc<tempfile::TempDir>,
) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let options = LeptosOptions::builder()
        .output_name("descope-otp")
        .site_addr(
            "127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .expect("literal"),
        )
        .build();
    let app = Application::build(settings, options, clock.clone())
        .await
        .expect("the app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let emulator = emulator.unwrap_or_else(|| {
        app.emulator()
            .expect("no project id means the embedded emulator")
            .base_url()
            .to_owned()
    });
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        emulator,
        clock,
        state,
        _db: db,
        _dir: dir,
    }
}

/// Opens the embedded emulator's fault and clock endpoints (`EMULATOR_ALLOW_FAULTS=true`).
pub fn allow_faults(settings: &mut Settings) {
    if let DescopeTarget::Emulator(emulator) = &mut settings.descope {
        emulator.allow_faults = true;
    }
}

/// An app whose emulator takes faults ([`TestApp::inject_fault`]).
pub async fn spawn_app_with_faults() -> TestApp {
    spawn_app_with(allow_faults).await
}

impl TestApp {
    /// The database this app runs on.
    pub fn database(&self) -> &TestDb {
        &self._db
    }

    /// Adds a fault through the emulator's fault API (`POST /emulator/faults`).
    pub async fn inject_fault(&self, fault: Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/emulator/faults", self.emulator))
            .json(&fault)
            .send()
            .await
            .expect("the fault API answers");
        assert!(answer.status().is_success(), "{fault}: {}", answer.status());
    }

    /// Clears every fault (`DELETE /emulator/faults`).
    pub async fn clear_faults(&self) {
        let answer = reqwest::Client::new()
            .delete(format!("{}/emulator/faults", self.emulator))
            .send()
            .await
            .expect("the fault API answers");
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    /// The faults still active, with what remains of each (`GET /emulator/faults`).
    pub async fn active_faults(&self) -> Value {
        reqwest::Client::new()
            .get(format!("{}/emulator/faults", self.emulator))
            .send()
            .await
            .expect("the fault API answers")
            .json()
            .await
            .expect("JSON")
    }

    pub fn browser(&self) -> Browser {
        Browser {
            app_base: self.base.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                // A stuck request fails its test with a message instead of hanging the run.
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// The newest code the emulator delivered to `destination`.
    pub async fn code_for(&self, destination: &str) -> String {
        self.outbox(destination)
            .await
            .first()
            .and_then(|m| m["code"].as_str())
            .unwrap_or_else(|| panic!("no code was sent to {destination}"))
            .to_owned()
    }

    pub async fn outbox(&self, destination: &str) -> Vec<Value> {
        self.outbox_where(&[("destination", destination)]).await
    }

    /// The emulator's outbox, newest first, filtered by `query`.
    async fn outbox_where(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let url = format!("{}/emulator/outbox", self.emulator);
        let body: Value = reqwest::Client::new()
            .get(url)
            .query(query)
            .send()
            .await
            .expect("outbox answers")
            .json()
            .await
            .expect("outbox JSON");
        body["messages"].as_array().cloned().unwrap_or_default()
    }

    /// The id of the newest message the emulator delivered (to anyone); 0 when there is none.
    pub async fn latest_message_id(&self) -> u64 {
        self.outbox_where(&[])
            .await
            .iter()
            .filter_map(|m| m["id"].as_u64())
            .max()
            .unwrap_or(0)
    }

    /// The first message to `destination` with an id above `after`, waiting for it (the
    /// emulator's long poll, up to 20 s): for a code the app sends after it answered.
    pub async fn message_after(&self, destination: &str, after: u64) -> Value {
        let url = format!("{}/emulator/outbox/wait", self.emulator);
        let answer = reqwest::Client::new()
            .get(url)
            .query(&[
                ("destination", destination),
                ("after", &after.to_string()),
                ("timeoutMs", "20000"),
            ])
            .send()
            .await
            .expect("outbox answers");
        assert!(
            answer.status().is_success(),
            "no message reached {destination} after #{after}: {}",
            answer.status()
        );
        answer.json().await.expect("outbox JSON")
    }

    /// The newest message the emulator delivered to `destination`.
    pub async fn latest_message(&self, destination: &str) -> Value {
        self.outbox(destination)
            .await
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no message was sent to {destination}"))
    }

    /// Asks for a sign-up-or-in code by email from the browser and returns the code sent.
    pub async fn email_code_requested(&self, browser: &Browser, email: &str) -> String {
        let sent = browser
            .submit(
                "/sign-up-or-in",
                "/api/otp/sign-up-or-in",
                &[("method", "email"), ("login_id", email)],
            )
            .await;
        sent.assert_redirects_to("/verify");
        self.code_for(email).await
    }

    /// Enters the newest code sent to `destination` on the browser's code page.
    pub async fn enter_latest_code(&self, browser: &Browser, destination: &str) -> Page {
        let code = self.code_for(destination).await;
        browser
            .submit("/verify", "/api/otp/verify", &[("code", &code)])
            .await
    }

    /// A new browser of `email`'s person (who has an account) signs in by email, a minute after
    /// the last code (the resend cooldown); returns it with the verify's answer.
    pub async fn signed_in_again(&self, email: &str) -> (Browser, Page) {
        let browser = self.browser();
        self.clock.advance(std::time::Duration::from_secs(61));
        browser
            .submit(
                "/sign-in",
                "/api/otp/sign-in",
                &[("method", "email"), ("login_id", email)],
            )
            .await;
        let verified = self.enter_latest_code(&browser, email).await;
        (browser, verified)
    }

    /// Signs a new person up by `method` and verifies the code: the browser ends signed in.
    pub async fn signed_up(&self, method: &str, login_id: &str, name: &str) -> Browser {
        let browser = self.browser();
        let sent = browser
            .submit(
                "/sign-up",
                "/api/otp/sign-up",
                &[("method", method), ("login_id", login_id), ("name", name)],
            )
            .await;
        sent.assert_redirects_to("/verify");
        let code = self.code_for(login_id).await;
        let verified = browser
            .submit("/verify", "/api/otp/verify", &[("code", &code)])
            .await;
        verified.assert_redirects_to("/profile");
        browser
    }
}

impl Browser {
    /// The same browser (the same cookie jar) sending its requests to another instance, as a
    /// load balancer would: cookies are per host, not per port, so both instances see them.
    pub fn on(&self, app: &TestApp) -> Self {
        Self {
            app_base: app.base.clone(),
            http: self.http.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.app_base))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("GET answers");
        Page::read(response).await
    }

    /// Posts a form as a browser without JavaScript does, from the page at `from`.
    pub async fn submit(&self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{action}", self.app_base))
            .header(ACCEPT, "text/html,application/xhtml+xml")
            .header(REFERER, format!("{}{from}", self.app_base))
            .form(fields)
            .send()
            .await
            .expect("POST answers");
        Page::read(response).await
    }

    /// Follows a redirect the way a browser would and returns the page it lands on.
    pub async fn follow(&self, page: &Page) -> Page {
        let location = page.location.as_deref().expect("a redirect");
        let path = location.strip_prefix(&self.app_base).unwrap_or(location);
        self.get(path).await
    }
}

impl Page {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body = response.text().await.expect("body");
        assert_no_token(&body);
        if let Some(location) = &location {
            assert_no_token(location);
        }
        Self {
            status,
            location,
            set_cookies,
            body,
        }
    }

    /// Asserts that the response redirects to `path`, showing the page when it does not.
    #[track_caller]
    pub fn assert_redirects_to(&self, path: &str) {
        assert_eq!(self.location.as_deref(), Some(path), "{}", self.body);
    }

    pub fn session_cookie(&self) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with("sid="))
            .map(String::as_str)
    }

    /// The session id this response's cookie carries (the verify of a sign-in sets a new one).
    pub fn session_id(&self) -> Option<tower_sessions::session::Id> {
        use std::str::FromStr;
        let value = self
            .session_cookie()?
            .strip_prefix("sid=")?
            .split(';')
            .next()?;
        tower_sessions::session::Id::from_str(value).ok()
    }
}

/// No JWT (they all start with a base64url `{"`) may reach the browser, in a page, a server
/// function's JSON or a redirect URL.
pub fn assert_no_token(text: &str) {
    let found = text.match_indices("eyJ").any(|(i, _)| {
        let rest = &text[i..];
        let token: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        token.matches('.').count() >= 2 && token.len() > 40
    });
    assert!(!found, "a JWT reached the browser:\n{text}");
}

// Fresh addresses, unique by construction rather than by chance: a counter shared by every
// test in this process, and the process id, so that two test processes never make the same
// email address even against one shared emulator. Each test's app has an emulator of its own,
// so phone numbers (with no room for a process id) need only the counter.

/// A number no other call in this test process returns.
fn next_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A token no other call returns, in this process or another one running now: the process id
/// and the counter, in hex (for addresses made by hand, such as `x-{uuid_like()}@example.com`).
pub fn uuid_like() -> String {
    format!("{:x}-{:x}", std::process::id(), next_number())
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid_like())
}

/// A valid US number for libphonenumber: +1 415, then the exchange (200 to 999) and the line
/// (0000 to 9999) counted up, so eight million calls before any repeat.
pub fn unique_phone() -> String {
    let n = next_number();
    let (exchange, line) = (200 + n / 10_000, n % 10_000);
    assert!(exchange <= 999, "unique_phone: out of numbers");
    format!("+1415{exchange}{line:04}")
}
