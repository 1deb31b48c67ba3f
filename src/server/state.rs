use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::clock::Clock;
use crate::descope::DescopeClient;
use crate::server::db::Db;
use crate::server::limits::Limiter;
use crate::server::refresh::Refreshes;
use crate::server::session::store::SessionRows;
use crate::server::settings::Settings;

/// Everything a request may need. Every middleware and server function takes its own copy, several
/// per request, so a copy is one shared pointer (one reference count), not a copy of each handle.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What an [`AppState`] points to.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub descope: DescopeClient,
    /// The app's one connection pool, SQLite or PostgreSQL (sessions, sign-out-everywhere marks,
    /// rate-limit counters).
    pub db: Db,
    /// The session rows on that pool: the store the session layer uses, for the one read that
    /// goes around it (the gate reading a row another instance may have just written).
    pub sessions: SessionRows,
    /// The session refreshes in flight on this instance, one per refresh token.
    pub refreshes: Refreshes,
    pub settings: Settings,
    /// The app's own rate limits (sending and verifying codes); shared with the task that sweeps
    /// their expired counters.
    pub limiter: Arc<Limiter>,
    pub clock: Clock,
    /// Set when the app runs on its embedded emulator: the dev outbox page.
    pub emulator_outbox_url: Option<String>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
