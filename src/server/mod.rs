//! Server-only code: everything a server function body calls.
//!
//! Server functions in `crate::api` stay thin: they take the request context from [`context`], call
//! one function here, and return its result.

pub mod auth;
pub mod error_status;
pub mod gate;
pub mod profile;
pub mod session;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod validate;

use crate::error::{AppError, new_error_id};
use session::AuthSession;
use state::AppState;

/// The application state and the caller's session, for a server function or a page render.
pub async fn context() -> Result<(AppState, AuthSession), AppError> {
    let state = leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| internal("AppState is not in the Leptos context"))?;
    let session: tower_sessions::Session = leptos_axum::extract()
        .await
        .map_err(|e| internal(&format!("no session layer on this request: {e}")))?;
    Ok((state, AuthSession::new(session)))
}

/// An unexpected failure: logged with its cause, shown as an error id.
pub fn internal(cause: &str) -> AppError {
    AppError::Internal {
        error_id: new_error_id(cause),
    }
}
