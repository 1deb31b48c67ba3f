//! Production mode, through the real binary: it refuses to start on fake sign-in, and a whole
//! journey leaves JSON log lines in which no token, code, email address or phone number appears.
//! Along the error paths (Descope refusing a code, a taken address, an update to an address in
//! use), in production and in development mode (whose embedded emulator logs into the same
//! output), at info and at debug, no line holds a whole email address or phone number.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use descope_otp::clock::Clock;
use descope_otp::emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, REFERER, SET_COOKIE};

const BINARY: &str = env!("CARGO_BIN_EXE_descope-otp");

#[test]
fn production_mode_refuses_to_start_without_a_descope_project() {
    let output = Command::new(BINARY)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_ENV", "production")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DESCOPE_PROJECT_ID"), "{stderr}");
}

/// The binary run to its end with `vars` (and nothing else) in its environment.
fn run_binary(args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

#[test]
fn production_mode_refuses_to_start_without_a_session_secret() {
    let project = [("APP_ENV", "production"), ("DESCOPE_PROJECT_ID", "P2test")];
    let (code, output) = run_binary(&[], &project);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("SESSION_SECRET"), "{output}");
    let (code, output) = run_binary(
        &[],
        &[
            project[0],
            project[1],
            ("SESSION_SECRET", "not-a-key-at-all"),
        ],
    );
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("SESSION_SECRET: must be 32 random bytes"),
        "{output}"
    );
    assert!(!output.contains("not-a-key-at-all"), "{output}");
}

#[test]
fn a_database_url_of_another_kind_is_refused_naming_the_variable() {
    let (code, output) = run_binary(&[], &[("DATABASE_URL", "mysql://root@127.0.0.1/app")]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("DATABASE_URL"), "{output}");
    assert!(output.contains("postgres://"), "{output}");
}

#[test]
fn production_mode_refuses_postgres_across_a_network_without_tls() {
    // Refused while the settings are read, before any connection is tried.
    let (code, output) = run_binary(
        &[],
        &[
            ("APP_ENV", "production"),
            ("DESCOPE_PROJECT_ID", "P2test"),
            (
                "DATABASE_URL",
                "postgres://app:secret@db.example.com:5432/app?sslmode=prefer",
            ),
        ],
    );
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("DATABASE_URL: "), "{output}");
    assert!(output.contains("add ?sslmode=require"), "{output}");
    assert!(!output.contains("secret"), "{output}");
}

#[test]
fn an_unreachable_database_fails_start_up_naming_the_variable() {
    // Port 1 (tcpmux) is closed on any machine that runs these tests: refused at once.
    let (code, output) = run_binary(
        &[],
        &[
            ("DATABASE_URL", "postgres://postgres:secret@127.0.0.1:1/app"),
            ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
            // A project, so that no embedded emulator starts (and takes a port) first.
            ("DESCOPE_PROJECT_ID", "P2test"),
            ("DESCOPE_BASE_URL", "http://127.0.0.1:1"),
        ],
    );
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("DATABASE_URL: cannot reach the database"),
        "{output}"
    );
    assert!(
        !output.contains("secret"),
        "the password stays hidden: {output}"
    );
}

#[tokio::test]
async fn migrate_brings_the_database_up_to_date_and_exits() {
    let db = crate::support::TestDb::fresh().await;
    for round in ["a fresh database", "an up-to-date one"] {
        let (code, output) = run_binary(&["--migrate"], &[("DATABASE_URL", db.url())]);
        assert_eq!(code, Some(0), "{round}: {output}");
        assert!(output.contains("the database is up to date"), "{output}");
    }
}

/// The app binary, its output collected line by line, stopped when dropped.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    base: String,
}

impl Running {
    /// Stops the app and returns every line it wrote: the readers run to the end of its output.
    /// Asks the app to stop as a process manager does (SIGTERM) and waits for it to exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        self.child.wait().expect("the app exits")
    }

    /// Stops the app as [`Running::terminate`] does (its log writer then writes out every line
    /// still waiting) and returns every line it wrote.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            reader.join().expect("a log reader");
        }
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_in_production(emulator: &Emulator, database_url: &str) -> Running {
    // Everything the app can log, not only what production logs by default.
    start_in_production_at(emulator, database_url, "debug")
}

/// The binary in production mode against `emulator`, logging at `level`.
fn start_in_production_at(emulator: &Emulator, database_url: &str, level: &str) -> Running {
    start_binary(&[
        ("APP_ENV", "production"),
        ("DESCOPE_PROJECT_ID", emulator.project_id()),
        ("DESCOPE_BASE_URL", emulator.base_url()),
        // The emulator speaks plain http, on this machine.
        ("DESCOPE_BASE_URL_ALLOW_HTTP", "true"),
        ("DATABASE_URL", database_url),
        ("SESSION_SECRET", crate::support::TEST_SESSION_SECRET),
        ("RUST_LOG", level),
    ])
}

/// A client that follows no redirect, as the tests read each answer.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The app binary started with `vars` on a port of its own, once it says where it listens.
fn start_binary(vars: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BINARY)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let lines = Arc::clone(&lines);
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        }));
    }
    let started = Instant::now();
    let base = loop {
        let found = lines
            .lock()
            .expect("lines")
            .iter()
            .find_map(|line| url_after(line, "listening on "));
        if let Some(base) = found {
            break base;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the app did not start: {:?}",
            lines.lock().expect("lines")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Running {
        child,
        lines,
        readers,
        base,
    }
}

/// The `http://` URL that follows `marker` in a log line (plain or JSON, coloured or not).
fn url_after(line: &str, marker: &str) -> Option<String> {
    let rest = line.split(marker).nth(1)?;
    let from = rest.find("http://")?;
    let url: String = rest[from..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.".contains(*c))
        .collect();
    Some(url)
}

/// The `__Host-sid` cookie a response sets, as `name=value`.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-sid="))
        .map(|c| {
            assert!(
                c.contains("Secure") && c.contains("HttpOnly") && c.contains("Path=/"),
                "{c}"
            );
            c.split(';').next().unwrap_or_default().to_owned()
        })
}

/// Asks the app at `base` for a sign-up code for `email`, as a form without JavaScript does.
async fn ask_code(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    name: &str,
) -> reqwest::Response {
    http.post(format!("{base}/api/otp/sign-up"))
        .header(ACCEPT, "text/html")
        .header(REFERER, format!("{base}/sign-up"))
        .form(&[("method", "email"), ("login_id", email), ("name", name)])
        .send()
        .await
        .expect("answers")
}

/// The code the emulator delivered to `email`.
async fn code_for(http: &reqwest::Client, emulator: &Emulator, email: &str) -> String {
    code_at(http, emulator.base_url(), email).await
}

/// The newest code the emulator at `emulator` delivered to `destination`.
async fn code_at(http: &reqwest::Client, emulator: &str, destination: &str) -> String {
    let outbox: serde_json::Value = http
        .get(format!("{emulator}/emulator/outbox"))
        .query(&[("destination", destination)])
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("json");
    outbox["messages"][0]["code"]
        .as_str()
        .expect("a code")
        .to_owned()
}

/// Enters `code` on the code page of the browser whose session cookie is `cookie`.
async fn enter_code(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    code: &str,
) -> reqwest::Response {
    http.post(format!("{base}/api/otp/verify"))
        .header(ACCEPT, "text/html")
        .header(REFERER, format!("{base}/verify"))
        .header(COOKIE, cookie)
        .form(&[("code", code)])
        .send()
        .await
        .expect("answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_in_production_mode_logs_json_without_secrets() {
    let emulator = standalone_emulator().await;
    // The run's backend (a postgres:// URL on the PostgreSQL run), through the environment.
    let db = crate::support::TestDb::fresh().await;
    let app = start_in_production(&emulator, db.url());
    let http = http_client();
    let email = format!("prod-{}@example.com", crate::support::uuid_like());

    // The cookie is Secure, so a client over plain HTTP (this test) carries it by hand.
    let asked = ask_code(&http, &app.base, &email, "Prod").await;
    assert_eq!(
        asked.headers().get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/verify"[..])
    );
    assert!(asked.headers().contains_key("strict-transport-security"));
    let cookie = session_cookie(&asked).expect("a session for the pending code");

    let code = code_for(&http, &emulator, &email).await;
    let wrong = enter_code(&http, &app.base, &cookie, "000000").await;
    assert_eq!(wrong.status(), StatusCode::FOUND);
    let verified = enter_code(&http, &app.base, &cookie, &code).await;
    assert_eq!(
        verified.headers().get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/profile"[..])
    );
    let signed_in = session_cookie(&verified).expect("a new session id at sign-in");
    assert_ne!(signed_in, cookie);
    let profile = http
        .get(format!("{}/profile", app.base))
        .header(ACCEPT, "text/html")
        .header(COOKIE, &signed_in)
        .send()
        .await
        .expect("answers");
    assert_eq!(profile.status(), StatusCode::OK);
    assert!(profile.text().await.expect("body").contains("Hello, Prod"));
    let out = http
        .post(format!("{}/api/session/sign-out", app.base))
        .header(ACCEPT, "text/html")
        .header(REFERER, format!("{}/profile", app.base))
        .header(COOKIE, &signed_in)
        .send()
        .await
        .expect("answers");
    assert_eq!(out.status(), StatusCode::FOUND);

    // Every line the app wrote during the journey, read to the end of its output.
    let lines = app.stop();
    assert!(lines.len() >= 3, "{lines:?}");
    eprintln!("{} log lines searched", lines.len());
    let local_part = email.split('@').next().expect("local part");
    for line in &lines {
        let mut parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
        assert!(
            !line.contains(local_part),
            "an email address was logged: {line}"
        );
        // A code is six digits: look for it as a whole number, outside the timestamp's digits.
        if let Some(fields) = parsed.as_object_mut() {
            fields.remove("timestamp");
        }
        let text = parsed.to_string();
        let numbers: Vec<&str> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| !run.is_empty())
            .collect();
        assert!(
            !numbers.contains(&code.as_str()),
            "a code was logged: {line}"
        );
        assert!(!line.contains("eyJ"), "a token was logged: {line}");
        let session_id = signed_in.trim_start_matches("__Host-sid=");
        assert!(
            !line.contains(session_id),
            "a session id was logged: {line}"
        );
    }
}

/// Each request leaves one `info` line (method, path, status, time taken) under an id that its
/// response carries in `x-request-id`; every line logged while serving it names that id, the
/// line of an error id among them. At the default level, in production's JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_logs_one_line_under_the_id_its_response_carries() {
    let emulator = standalone_emulator_with(EmulatorConfig {
        allow_faults: true,
        ..EmulatorConfig::default()
    })
    .await;
    let db = crate::support::TestDb::fresh().await;
    let app = start_in_production_at(&emulator, db.url(), "info");
    let http = http_client();
    let request_id = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("an x-request-id header")
            .to_owned()
    };

    let home = http
        .get(format!("{}/?from=a-query", app.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(home.status(), StatusCode::OK);
    let missing = http
        .get(format!("{}/no-such-page", app.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Descope unreachable (every connection dropped) while a code is asked for: an error id.
    let faults = format!("{}/emulator/faults", emulator.base_url());
    let added = http
        .post(&faults)
        .json(&serde_json::json!({"path": "/v1/auth/otp/signup", "status": 0, "times": 100}))
        .send()
        .await
        .expect("fault API");
    assert!(added.status().is_success());
    let email = format!("logs-{}@example.com", crate::support::uuid_like());
    let failed = ask_code(&http, &app.base, &email, "Logs").await;
    let (home_id, missing_id, failed_id) =
        (request_id(&home), request_id(&missing), request_id(&failed));
    assert!(
        home_id != missing_id && missing_id != failed_id,
        "{home_id} {missing_id} {failed_id}"
    );

    let lines: Vec<serde_json::Value> = app
        .stop()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let of_request = |id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| {
                l["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id))
            })
            .collect()
    };
    for (id, method, path, status) in [
        (&home_id, "GET", "/", 200),
        (&missing_id, "GET", "/no-such-page", 404),
        (&failed_id, "POST", "/api/otp/sign-up", 302),
    ] {
        let answered: Vec<_> = of_request(id)
            .into_iter()
            .filter(|l| l["message"] == "answered")
            .collect();
        assert_eq!(answered.len(), 1, "one line for {path}: {lines:?}");
        let line = answered[0];
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["method"], method, "{line}");
        assert_eq!(line["path"], path, "no query in the path: {line}");
        assert_eq!(line["status"], status, "{line}");
        assert!(
            line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{line}"
        );
    }
    let errors: Vec<_> = of_request(&failed_id)
        .into_iter()
        .filter(|l| l.get("error_id").is_some())
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "the error id's line names the request: {lines:?}"
    );
    assert_eq!(errors[0]["level"], "ERROR");
    assert!(
        lines
            .iter()
            .filter(|l| l["message"] == "answered")
            .all(|l| !l.to_string().contains(&email) && !l.to_string().contains("a-query")),
        "{lines:?}"
    );
}

/// One app process stopped and another started on the same database (and the same Descope): a
/// person who was signed in is still signed in, a person on the code page can still enter the
/// code they were sent, and SIGTERM lets a request in flight finish before the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_and_sigterm_finishes_what_is_in_flight() {
    let emulator = standalone_emulator_with(EmulatorConfig {
        allow_faults: true,
        ..EmulatorConfig::default()
    })
    .await;
    let db = crate::support::TestDb::fresh().await;
    let http = http_client();
    let unique = |tag: &str| format!("{tag}-{}@example.com", crate::support::uuid_like());

    let first = start_in_production(&emulator, db.url());
    // Signed in before the restart.
    let signed_in_email = unique("restart-in");
    let asked = ask_code(&http, &first.base, &signed_in_email, "Restart").await;
    let pending = session_cookie(&asked).expect("a pending session");
    let code = code_for(&http, &emulator, &signed_in_email).await;
    let verified = enter_code(&http, &first.base, &pending, &code).await;
    let signed_in = session_cookie(&verified).expect("signed in");
    // On the code page at the restart.
    let waiting_email = unique("restart-waiting");
    let waiting = session_cookie(&ask_code(&http, &first.base, &waiting_email, "Restart").await)
        .expect("a pending session");
    let waiting_code = code_for(&http, &emulator, &waiting_email).await;

    // A request in flight at SIGTERM: Descope answers it late (a fault of the emulator's); the
    // signal goes once the call has reached Descope, that is once the fault is used up.
    let faults = format!("{}/emulator/faults", emulator.base_url());
    let added = http
        .post(&faults)
        .json(&serde_json::json!({"path": "/v1/auth/otp/signup", "delayMs": 1500, "times": 1}))
        .send()
        .await
        .expect("fault API");
    assert!(added.status().is_success());
    let in_flight = tokio::spawn({
        let (http, base, email) = (http.clone(), first.base.clone(), unique("restart-flight"));
        async move { ask_code(&http, &base, &email, "Restart").await }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "the delayed call never reached the emulator"
        );
        let active: serde_json::Value = http
            .get(&faults)
            .send()
            .await
            .expect("fault API")
            .json()
            .await
            .expect("json");
        if !active.to_string().contains("/v1/auth/otp/signup") {
            break;
        }
        tokio::task::yield_now().await;
    }
    let exit = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .expect("joined");
    let finished = in_flight.await.expect("the request task");
    assert_eq!(
        finished.headers().get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/verify"[..]),
        "the request in flight at SIGTERM was answered"
    );
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");

    let second = start_in_production(&emulator, db.url());
    let profile = http
        .get(format!("{}/profile", second.base))
        .header(ACCEPT, "text/html")
        .header(COOKIE, &signed_in)
        .send()
        .await
        .expect("answers");
    assert_eq!(
        profile.status(),
        StatusCode::OK,
        "still signed in after the restart"
    );
    assert!(
        profile
            .text()
            .await
            .expect("body")
            .contains("Hello, Restart")
    );
    let verified = enter_code(&http, &second.base, &waiting, &waiting_code).await;
    assert_eq!(
        verified.headers().get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/profile"[..]),
        "the code sent before the restart still signs in"
    );
}

/// A browser over plain HTTP that carries its session cookie by hand (production's is `Secure`).
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Visitor {
    fn new(base: &str) -> Self {
        Self {
            http: http_client(),
            base: base.to_owned(),
            cookie: None,
        }
    }

    /// Posts a form from the page at `from`; returns the redirect's target.
    async fn submit(&mut self, from: &str, action: &str, fields: &[(&str, &str)]) -> String {
        let mut request = self
            .http
            .post(format!("{}{action}", self.base))
            .header(ACCEPT, "text/html")
            .header(REFERER, format!("{}{from}", self.base))
            .form(fields);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("answers");
        assert!(
            response.status().is_redirection(),
            "{action}: {}",
            response.status()
        );
        let set = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("__Host-sid=") || c.starts_with("sid="))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned);
        if set.is_some() {
            self.cookie = set;
        }
        let to = response.headers().get(LOCATION).expect("a redirect");
        to.to_str().expect("ASCII").to_owned()
    }

    /// Signs up `login_id` by `method`, entering a wrong code first; ends signed in.
    async fn signed_up(&mut self, emulator: &str, method: &str, login_id: &str) {
        let asked = self
            .submit(
                "/sign-up",
                "/api/otp/sign-up",
                &[("method", method), ("login_id", login_id), ("name", "Logs")],
            )
            .await;
        assert_eq!(asked, "/verify");
        let code = code_at(&self.http, emulator, login_id).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let refused = self
            .submit("/verify", "/api/otp/verify", &[("code", wrong)])
            .await;
        assert_ne!(refused, "/profile", "a wrong code is refused");
        let verified = self
            .submit("/verify", "/api/otp/verify", &[("code", &code)])
            .await;
        assert_eq!(verified, "/profile");
    }
}

/// Drives the paths on which Descope refuses something about an address (a wrong code, a
/// sign-up of a taken email address and of a taken phone number, an update to an address in
/// use) against the app at `base`, whose Descope is `emulator`; then stops the app and checks
/// that no line it wrote holds any of those addresses whole, while the refusals are there,
/// masked.
async fn no_address_in_the_logs_along_the_error_paths(app: Running, emulator: &str) {
    let (taken, other, phone) = (
        crate::support::unique_email("logs-taken"),
        crate::support::unique_email("logs-other"),
        crate::support::unique_phone(),
    );
    let mut owner = Visitor::new(&app.base);
    owner.signed_up(emulator, "email", &taken).await;
    let mut caller = Visitor::new(&app.base);
    caller.signed_up(emulator, "sms", &phone).await;
    let mut person = Visitor::new(&app.base);
    person.signed_up(emulator, "email", &other).await;

    // Sign-up of a taken address: Descope refuses it, naming the address; the app hides that
    // and sends a sign-in code instead.
    for (method, address) in [("email", taken.as_str()), ("sms", phone.as_str())] {
        let again = Visitor::new(&app.base)
            .submit(
                "/sign-up",
                "/api/otp/sign-up",
                &[("method", method), ("login_id", address), ("name", "Again")],
            )
            .await;
        assert_eq!(again, "/verify", "{method}");
    }
    // An update to an address someone else has: Descope refuses it, naming the address; the app
    // answers as for any change.
    for (page, action, fields) in [
        (
            "/profile/email",
            "/api/profile/email",
            [("email", taken.as_str()), ("add_to_login_ids", "on")],
        ),
        (
            "/profile/phone",
            "/api/profile/phone",
            [("method", "sms"), ("phone", phone.as_str())],
        ),
    ] {
        let asked = person.submit(page, action, &fields).await;
        assert_eq!(
            asked, "/verify",
            "{action}: an address in use looks like any"
        );
    }

    let lines = app.stop();
    eprintln!("{} log lines searched", lines.len());
    for line in &lines {
        for whole in [taken.as_str(), other.as_str(), phone.as_str(), &phone[1..]] {
            assert!(!line.contains(whole), "{whole} was logged: {line}");
        }
    }
    // The refusals were logged, with the addresses masked: the search above searched them.
    for masked in [
        descope_otp::server::mask::email(&taken),
        descope_otp::server::mask::phone(&phone),
    ] {
        assert!(
            lines
                .iter()
                .any(|line| line.contains("E062107") && line.contains(&masked)),
            "no refusal naming {masked} was logged: {lines:#?}"
        );
    }
}

/// A standalone emulator on a port of its own, as the production binary's Descope.
async fn standalone_emulator() -> Emulator {
    standalone_emulator_with(EmulatorConfig::default()).await
}

/// A standalone emulator with `config`.
async fn standalone_emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(
        config,
        "127.0.0.1:0".parse().expect("literal"),
        Clock::system(),
    )
    .await
    .expect("the emulator starts")
}

/// Production mode at `level`: the real binary against a standalone emulator.
async fn production_logs_at(level: &str) {
    let emulator = standalone_emulator().await;
    let db = crate::support::TestDb::fresh().await;
    let app = start_in_production_at(&emulator, db.url(), level);
    no_address_in_the_logs_along_the_error_paths(app, emulator.base_url()).await;
}

/// Development mode at `level`: the real binary with its embedded emulator, which logs into the
/// same output, and no `SESSION_SECRET` (a key file is made beside the database).
async fn development_logs_at(level: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("app.db").display());
    let emulator_db = dir.path().join("emulator.db");
    let app = start_binary(&[
        ("APP_ENV", "development"),
        ("DESCOPE_PROJECT_ID", ""),
        ("SESSION_SECRET", ""),
        ("DATABASE_URL", &database_url),
        ("EMULATOR_ADDR", "127.0.0.1:0"),
        ("EMULATOR_DB", emulator_db.to_str().expect("UTF-8 path")),
        ("RUST_LOG", level),
    ]);
    let emulator = app
        .lines
        .lock()
        .expect("lines")
        .iter()
        .find_map(|line| url_after(line, "using the embedded Descope emulator"))
        .expect("the embedded emulator says where it listens");
    no_address_in_the_logs_along_the_error_paths(app, &emulator).await;
    let key_file = dir.path().join("session-secret");
    assert!(
        key_file.exists(),
        "the development key is kept beside the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_logs_at_info_hold_no_address_along_the_error_paths() {
    production_logs_at("info").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_logs_at_debug_hold_no_address_along_the_error_paths() {
    production_logs_at("debug").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_logs_at_info_hold_no_address_along_the_error_paths() {
    development_logs_at("info").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_logs_at_debug_hold_no_address_along_the_error_paths() {
    development_logs_at("debug").await;
}
