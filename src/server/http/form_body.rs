//! Request bodies are small, prompt and readable before anything else sees them.
//!
//! Every form of this app fits in a few kilobytes, so a body over [`MAX_BODY_BYTES`] is refused
//! with 413 without being read further, and a body that is not UTF-8 (raw, or once its `%XX`
//! escapes are decoded; every server function reads its body as a form) with 400, each with a
//! message that says so; neither may reach a server function, where it would be an unexpected
//! failure. A body that has not all arrived within `BODY_READ_TIMEOUT_SECS` is answered 408: a
//! client trickling one would otherwise hold its connection (and this task) for as long as it
//! liked.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{AppError, Field, Problem};
use crate::server::errors::refusal;
use crate::server::state::AppState;

/// 64 KiB: the largest form (sign-up with every Descope option filled in) is under 8 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub async fn check_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refusal(request.headers(), &AppError::TooLarge);
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        state.settings.body_read_timeout,
        to_bytes(body, MAX_BODY_BYTES),
    );
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        // Over the limit while streaming (no Content-Length, or a false one).
        Ok(Err(_)) => return refusal(&parts.headers, &AppError::TooLarge),
        // The rest of the body is never read: hyper then closes the connection after this answer.
        Err(_) => return refusal(&parts.headers, &AppError::TooSlow),
    };
    // Every server function reads its body as a form, whatever Content-Type the client claims.
    if !form_is_utf8(&bytes) {
        return refusal(
            &parts.headers,
            &AppError::invalid(Field::Form, Problem::NotUtf8),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether a `application/x-www-form-urlencoded` body is UTF-8 text, escapes decoded.
pub fn form_is_utf8(body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_err() {
        return false;
    }
    body.split(|b| *b == b'&')
        .flat_map(|pair| pair.split(|b| *b == b'='))
        .all(|piece| std::str::from_utf8(&percent_decode(piece)).is_ok())
}

fn percent_decode(piece: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(piece.len());
    let mut i = 0;
    while i < piece.len() {
        match (
            piece[i],
            piece.get(i + 1).copied(),
            piece.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_must_decode_to_utf8() {
        assert!(form_is_utf8(b"method=email&login_id=ada%40example.com"));
        assert!(form_is_utf8("name=Zo%C3%AB+Saldana".as_bytes()));
        assert!(form_is_utf8(b"broken=%zz&ok=1"), "a stray % is just text");
        assert!(!form_is_utf8(b"name=%FF%FE"));
        assert!(!form_is_utf8(&[b'n', b'=', 0xff]));
    }
}
