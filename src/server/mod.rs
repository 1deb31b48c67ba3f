//! Server-only code: everything a server function body calls, and the server around it.
//!
//! Server functions in `crate::api` stay thin: they take the request context from [`context`], call
//! one function here, and return its result.
//!
//! Three homes, and the features beside them:
//! - process wiring, here at the top: [`settings`] (the environment, read once), [`startup`]
//!   (building the app and serving it), [`state`], [`db`] (the one pool and its queries),
//!   [`telemetry`], [`embedded`] (the emulator started in-process) and [`errors`] (every
//!   conversion into `AppError`, and from it into an HTTP answer);
//! - [`http`]: the axum edge, one file per layer, and the whole layer stack in order in
//!   [`http::router`];
//! - [`session`]: the typed session, its store, its seal and its cookie: the only code that knows
//!   session keys and rows;
//! - the features: [`auth`] (send, resend, verify, sign out), [`gate`] (who is signed in, with
//!   refresh), [`refresh`] (one refresh per token at a time), [`profile`], [`page_data`] (what a
//!   page shows, loaded before it renders), [`limits`], [`validate`] and [`mask`].
//!
//! Imports go one way: the features use `session`, `db` and `errors`; `http` uses the features;
//! `startup` uses everything. `.ci/check-layout` fails on any import circle.

pub mod auth;
pub mod db;
pub mod embedded;
pub mod errors;
pub mod gate;
pub mod http;
pub mod limits;
pub mod mask;
pub mod page_data;
pub mod profile;
pub mod refresh;
pub mod session;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod validate;

use crate::error::AppError;
use errors::internal;
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
    let gate_answer = parts.extensions.get::<session::GateAnswer>().cloned();
    let client_ip = parts
        .extensions
        .get::<http::client_ip::ClientIp>()
        .map(|ip| ip.0);
    Ok((
        state,
        AuthSession::for_request(session, gate_answer, client_ip),
    ))
}
