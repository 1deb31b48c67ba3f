//! Server-only code: everything a server function body calls.
//!
//! Server functions in `crate::api` stay thin: they take the request context from [`context`], call
//! one function here, and return its result.

pub mod auth;
pub mod client_ip;
pub mod cross_site;
pub mod db;
pub mod embedded;
pub mod error_status;
pub mod form_body;
pub mod gate;
pub mod headers;
pub mod health;
pub mod limits;
pub mod mask;
pub mod page_data;
pub mod profile;
pub mod refresh;
pub mod refusal;
pub mod request_scope;
pub mod seal;
pub mod session;
pub mod session_store;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store_failure;
pub mod telemetry;
pub mod validate;

use crate::error::{AppError, new_error_id};
use session::AuthSession;
use state::AppState;

/// The application state and the caller's session, for a server function or a page render.
///
/// Only ever called inside a request's own Leptos owner: leptos_axum provides `AppState` and the
/// request's `Parts` on the owner it creates for each server-function call and each page render,
/// so both reads below find this request's values before any parent's. The session and the gate's
/// answer are taken from the same `Parts`, so they cannot belong to different requests.
pub async fn context() -> Result<(AppState, AuthSession), AppError> {
    use leptos::prelude::use_context;
    let state = use_context::<AppState>()
        .ok_or_else(|| internal("AppState is not in the Leptos context"))?;
    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| internal("the request's parts are not in the Leptos context"))?;
    let session = parts
        .extensions
        .get::<tower_sessions::Session>()
        .cloned()
        .ok_or_else(|| internal("no session layer on this request"))?;
    let gate_answer = parts.extensions.get::<gate::GateAnswer>().cloned();
    let client_ip = parts.extensions.get::<client_ip::ClientIp>().map(|ip| ip.0);
    Ok((
        state,
        AuthSession::for_request(session, gate_answer, client_ip),
    ))
}

/// An unexpected failure: logged with its cause, shown as an error id.
pub fn internal(cause: &str) -> AppError {
    AppError::Internal {
        error_id: new_error_id(cause),
    }
}
