//! A session store that cannot save answers 503 with an error id, like every other outage.
//!
//! tower-sessions saves a modified session after the handler has answered, and if that save
//! fails it throws the answer away and sends an empty 500 in its place (as tower-sessions 0.14
//! does). Nothing of ours answers an empty 500, so this layer, just outside the session
//! layer, reads that answer as what it is: the database is unwritable or unreachable. The
//! person sees the usual "try again" answer for an outage (a page, or JSON for a script), and
//! the next request after the database is back works as if nothing happened: no state of ours
//! was left half-written (the session row is one write).
//!
//! Reads fail differently: [`crate::server::session::AuthSession`] maps a store error met while
//! loading the session to the same 503.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::Body as _;

use crate::server::errors::{refusal, save_failed};

pub async fn answer_failed_saves(request: Request, next: Next) -> Response {
    // Only what `refusal` reads to choose between a page and JSON.
    let accept = request.headers().get(header::ACCEPT).cloned();
    let response = next.run(request).await;
    if !is_failed_save(&response) {
        return response;
    }
    let mut headers = HeaderMap::new();
    if let Some(accept) = accept {
        headers.insert(header::ACCEPT, accept);
    }
    refusal(&headers, &save_failed())
}

/// tower-sessions' answer to a failed save: status 500, no content type, an empty body.
fn is_failed_save(response: &Response) -> bool {
    response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE)
        && response.body().size_hint().exact() == Some(0)
}
