//! Layer: a failed server function answers with the status of its error.
//!
//! Leptos answers every server-function error with 500 and the serialised error as the body. The
//! hydrated page only reads the body, but a 500 for "wrong code" misleads logs, monitoring and
//! anyone calling `/api/` directly, so the response gets the status of its `AppError` (and
//! `Retry-After` when rate limited). Plain HTML form posts are untouched: Leptos answers those
//! with a redirect back to the form, carrying the error in `?__err=` ([`super::local_redirects`],
//! [`super::url_errors`]).

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;
use crate::server::errors;

/// Error bodies are a few hundred bytes; anything larger is not ours and is passed on untouched.
const MAX_ERROR_BODY: usize = 16 * 1024;

pub async fn set_error_status(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_api || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        let mut response = Response::from_parts(parts, Body::from(bytes));
        errors::answer(&error, &mut response);
        return response;
    }
    Response::from_parts(parts, Body::from(bytes))
}
