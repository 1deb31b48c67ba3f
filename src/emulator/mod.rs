//! A Descope-compatible local service ("the emulator") for OTP sign-in and sessions.
//!
//! It speaks the subset of Descope's HTTP API that the official SDKs use for one-time codes,
//! signs real RS256 JWTs, and instead of sending email or text messages it puts every code in a
//! development outbox (`/outbox` for people, `/emulator/outbox` for tests).
//!
//! Module map:
//! - `mod.rs`: [`EmulatorConfig`] and the running [`Emulator`]
//! - `routes.rs`: the route table, and the fix-ups and guards that run before routing
//! - `handlers/`: Descope's API, one file per route group: `sign_in.rs` (sign-up, sign-in,
//!   sign-up-or-in, verify), `updates.rs` (update email or phone), `session.rs` (refresh, logout,
//!   `me`, keys), `mgmt.rs` (the management API for tests); `extract.rs` reads requests (bodies,
//!   the bearer), `shared.rs` holds what several groups do (send a code, pick an address);
//!   `dev.rs` is the emulator's own endpoints (outbox, faults, key rotation, clock)
//! - `state.rs`: `EmulatorState`, what every handler shares
//! - `otp.rs`: code rules (expiry, attempts, newest-wins, rate cap), free of HTTP
//! - `tokens.rs`: JWT minting and refresh-token checks; `keys.rs`: RSA keys, JWKS, signing
//! - `store.rs`: SQLite (users, refresh tokens, signing key); `outbox.rs`: the outbox and its page
//! - `faults.rs`: the opt-in faults (`allow_faults`)
//! - `error.rs`: Descope's JSON errors and error codes
//!
//! Endpoints (all JSON, errors as `{"errorCode","errorDescription","errorMessage"}`):
//! - `POST /v1/auth/otp/{signup,signin,signup-in,verify}/{email,sms,voice,whatsapp}`
//! - `POST /v1/auth/otp/update/email`, `POST /v1/auth/otp/update/phone/{sms,voice,whatsapp}`
//! - `POST /v1/auth/refresh`, `/v1/auth/logout`, `/v1/auth/logoutall`; `GET /v1/auth/me`,
//!   `GET /v1/auth/me/history`, `POST /v1/auth/me/tenants`
//! - `GET /v2/keys/{projectId}` (200 here means ready), `GET /v1/keys/{projectId}`
//! - management (see `handlers/mgmt.rs`): creating and loading users, test users, generated codes,
//!   deleting users, license stub
//! - `GET /emulator/outbox[?destination=&loginId=]`, `GET /emulator/outbox/wait?...&after=&timeoutMs=`,
//!   `DELETE /emulator/outbox`, `GET /outbox` (HTML), `POST /emulator/clock/advance` (opt-in)
//! - opt-in (`allow_faults`, see `faults.rs` and `handlers/dev.rs`): `POST|GET|DELETE /emulator/faults`,
//!   `POST /emulator/keys/rotate`
//!
//! Choices where Descope's behaviour is not documented (each marked `UNCONFIRMED` in code):
//! an expired code is 401 `E061104`; too many wrong attempts is 401 `E061103` (the attempt that
//! reaches the limit burns the code, and every later try fails with `E061103` until a new code
//! is sent); the voice `amr` is `"voice"`; a code asked for on a channel the user has no address
//! on is 400 `E011004`; deleting a user who is not there is 200 `{}`. One pending code per login
//! id: a new code (on any channel) voids the older one (and never repeats it), and a verify on
//! another channel counts as a wrong attempt. A code acts only on the user it was sent for:
//! only a sign-up code creates a user, and deleting a user voids their codes.
//!
//! Test conveniences, off by default (`fixed_codes`, `test_users_uncapped`): a listed login id
//! always gets its fixed code (the one exception to "never repeats"), and test users can be
//! exempt from the message cap. The app refuses both in production mode.

mod error;
mod faults;
mod handlers;
mod keys;
mod otp;
mod outbox;
mod routes;
mod state;
mod store;
mod tokens;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Mutex, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use keys::{KeyRing, Signer};
use outbox::Outbox;
use state::{AuthState, EmulatorState, SharedState};
use store::Store;

/// The emulator's project id unless configured otherwise: 28 characters starting with `P2`,
/// like a real one, so SDKs use their default (non-regional) URL logic and accept it.
pub const DEFAULT_PROJECT_ID: &str = "P2EmuLatorLocalProject000001";

/// The management key accepted unless configured otherwise (`Bearer <projectId>:<key>`).
/// Local use only: it protects nothing but the emulator's test-user API.
pub const DEFAULT_MANAGEMENT_KEY: &str = "K2EmuLatorLocalManagementKey000001";

/// A configured duration in whole seconds, saturating: a silly `--refresh-ttl-secs` must not
/// wrap into the past.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Where the emulator keeps users, refresh tokens and its signing key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DbLocation {
    /// A private in-memory SQLite database: everything is gone when the emulator stops.
    #[default]
    Memory,
    /// A SQLite file (created if missing): state survives a restart.
    File(PathBuf),
}

/// Emulator settings. Those that are Descope project settings in real life are here.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub project_id: String,
    pub management_key: String,
    /// How long a one-time code stays valid. Default 300 s.
    pub code_ttl: Duration,
    /// Wrong attempts per code before it is burned. Default 5.
    pub max_attempts: u32,
    /// Session JWT lifetime. Default 600 s.
    pub session_ttl: Duration,
    /// Refresh JWT lifetime. Default 30 days.
    pub refresh_ttl: Duration,
    /// Messages per recipient per window. Default 5 per 60 s.
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    /// Default [`DbLocation::Memory`].
    pub db: DbLocation,
    /// Enables `POST /emulator/clock/advance`. Default off.
    pub allow_time_travel: bool,
    /// Enables fault injection (`/emulator/faults`) and key rotation
    /// (`POST /emulator/keys/rotate`). Default off: no request is ever altered.
    pub allow_faults: bool,
    /// An `aud` claim for issued tokens. Default none (Python rejects any `aud` other than the
    /// project id).
    pub audience: Option<String>,
    /// `cookieDomain` in JWT responses. Default empty.
    pub cookie_domain: String,
    /// Test conveniences, off by default (the app refuses both in production mode): codes that
    /// never change for listed login ids (`--fixed-code +15555550100=123456`), so a test that
    /// knows a number needs no outbox. Keyed by login id; a code sent to that id, or to that
    /// address for another login id, is this one. Build entries with [`parse_fixed_code`].
    pub fixed_codes: BTreeMap<String, String>,
    /// Test users (created through the management API) are exempt from the per-recipient
    /// message cap, so a CI suite signing one identity in again and again never meets a 429.
    /// Default off: they are capped like anyone.
    pub test_users_uncapped: bool,
    /// Refresh-token rotation, a Descope project setting: each refresh answers with a new refresh
    /// JWT and spends the one it was given, so a second refresh with the same token is refused
    /// (401), as after a logout. Default off, as in a new Descope project: the same refresh JWT
    /// comes back.
    pub rotate_refresh_tokens: bool,
    /// A PKCS#1 PEM RSA key to sign with when the store has none yet (tests share one to skip
    /// key generation). Default none: generate a 2048-bit key. A key already in the store wins,
    /// so tokens keep verifying across restarts.
    pub signing_key_pem: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            project_id: DEFAULT_PROJECT_ID.to_string(),
            management_key: DEFAULT_MANAGEMENT_KEY.to_string(),
            code_ttl: Duration::from_secs(300),
            max_attempts: 5,
            session_ttl: Duration::from_secs(600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            rate_limit_max: 5,
            rate_limit_window: Duration::from_secs(60),
            db: DbLocation::Memory,
            allow_time_travel: false,
            allow_faults: false,
            audience: None,
            cookie_domain: String::new(),
            fixed_codes: BTreeMap::new(),
            test_users_uncapped: false,
            rotate_refresh_tokens: false,
            signing_key_pem: None,
        }
    }
}

/// One `LOGIN_ID=CODE` entry of `--fixed-code` (or of a comma-separated environment list):
/// the login id as the app or SDK sends it, and six digits, like every code Descope sends.
pub fn parse_fixed_code(entry: &str) -> Result<(String, String), String> {
    let Some((login_id, code)) = entry.trim().split_once('=') else {
        return Err(format!(
            "{entry:?} is not LOGIN_ID=CODE (e.g. +15555550100=123456)"
        ));
    };
    let (login_id, code) = (login_id.trim(), code.trim());
    if login_id.is_empty() {
        return Err(format!("{entry:?} names no login id before '='"));
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the code for {login_id} must be exactly six digits, not {code:?}"
        ));
    }
    Ok((login_id.to_string(), code.to_string()))
}

/// A running emulator. Dropping it stops the server task too (graceful: in-flight requests
/// finish, open long polls are released); [`Emulator::shutdown`] additionally waits for that.
pub struct Emulator {
    base_url: String,
    project_id: String,
    management_key: String,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    state: SharedState,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds `addr` (port 0 allowed), opens/migrates the store, loads or creates the signing
    /// key, spawns the server task.
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
        clock: Clock,
    ) -> anyhow::Result<Emulator> {
        let store = Store::open(&config.db)
            .await
            .context("opening the emulator store")?;
        let pem = match store.signing_key().await? {
            Some(pem) => pem,
            None => {
                let pem = match &config.signing_key_pem {
                    Some(pem) => pem.clone(),
                    None => tokio::task::spawn_blocking(keys::generate_pem)
                        .await
                        .context("key generation task")??,
                };
                store.save_signing_key(&pem, clock.now()).await?;
                pem
            }
        };
        let signer = Signer::from_pem(&pem).context("loading the signing key")?;
        // What earlier rotations replaced but did not retire is still published.
        let previous = store
            .published_keys()
            .await?
            .iter()
            .map(|pem| Signer::from_pem(pem))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("loading the published keys")?;

        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local_addr = listener.local_addr()?;
        // A wildcard bind is reachable on loopback; advertise that, not 0.0.0.0.
        let advertised = if local_addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local_addr.port())
        } else {
            local_addr
        };
        let base_url = format!("http://{advertised}");
        let (shutting_down_tx, shutting_down_rx) = watch::channel(false);
        let state: SharedState = Arc::new(EmulatorState {
            issuer: format!("{base_url}/{}", config.project_id),
            config: config.clone(),
            clock,
            store,
            keys: KeyRing::with_previous(signer, previous),
            rotation: Mutex::new(()),
            auth: Mutex::new(AuthState::default()),
            outbox: Outbox::default(),
            faults: Default::default(),
            shutting_down: shutting_down_rx,
        });

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let service = routes::service(state.clone());
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // Either an explicit stop or the Emulator being dropped (sender dropped).
                let _ = stop_rx.await;
                let _ = shutting_down_tx.send(true);
            };
            let served = axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service(service),
            )
            .with_graceful_shutdown(shutdown)
            .await;
            if let Err(err) = served {
                tracing::error!(%err, "descope emulator server stopped with an error");
            }
            task_state.store.close().await;
        });
        tracing::info!(%base_url, project_id = %config.project_id, "descope emulator listening");
        Ok(Emulator {
            base_url,
            project_id: config.project_id,
            management_key: config.management_key,
            local_addr,
            stop: Some(stop_tx),
            task: Some(task),
            state,
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn management_key(&self) -> &str {
        &self.management_key
    }

    pub fn outbox_url(&self) -> String {
        format!("{}/outbox", self.base_url)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The newest outbox message for `destination`, if any (handy for in-process tests).
    pub fn latest_message(&self, destination: &str) -> Option<outbox::Message> {
        self.state
            .outbox
            .list(&outbox::Filter {
                destination: Some(destination.to_string()),
                login_id: None,
            })
            .into_iter()
            .next()
    }

    /// Stops accepting requests, lets in-flight ones finish (long polls are released at once)
    /// and waits for the server task, at most 10 s.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
        {
            tracing::warn!("descope emulator did not stop within 10 s");
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Dropping the sender wakes the graceful-shutdown future; the task then ends on its own.
        // Nothing here can panic, and nothing blocks.
        self.stop.take();
    }
}
