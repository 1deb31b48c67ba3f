use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::clock::Clock;
use crate::descope::DescopeClient;
use crate::server::db::Db;
use crate::server::limits::Limiter;
use crate::server::settings::Settings;

/// Everything a request may need, cloned cheaply into each handler (all fields are handles).
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub descope: DescopeClient,
    /// The app's one connection pool, SQLite or PostgreSQL (sessions, sign-out-everywhere marks,
    /// rate-limit counters).
    pub db: Db,
    pub settings: Arc<Settings>,
    /// The app's own rate limits (sending and verifying codes).
    pub limiter: Arc<Limiter>,
    pub clock: Clock,
    /// Set when the app runs on its embedded emulator: the dev outbox page.
    pub emulator_outbox_url: Option<String>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
