//! One log line per request, and an id that ties every line of a request together.
//!
//! Each request gets an id of its own, sent back in the `x-request-id` response header, and is
//! served inside a `request` span that carries it: every line logged while serving it (an error
//! id's line included) names the same `request_id`, and when the answer is ready one `info` line
//! gives the method, the path, the status and the time taken. A person who reports an error id,
//! or support who has the response header, finds every line of that request with one search.
//!
//! What the line holds is chosen so that no secret or personal data reaches it: the path without
//! its query (a query can carry anything), with any run of six or more digits replaced by `#` (a
//! code pasted into an address stays out); addresses in a path are masked on the way out like in
//! every line (`server::telemetry`). The id is made of letters only, so that no id can ever read
//! as a six-digit code, and the time taken is in milliseconds with three decimals.
//!
//! The id is always made here: an `x-request-id` sent by the client is not trusted (a client
//! could make two requests share an id, or write into the log).

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The response header that carries the request's id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Letters in an id: 26^16, about 4·10^22 ids, unique enough to find a request's lines.
const ID_LENGTH: usize = 16;

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let method = request.method().clone();
    let path = loggable_path(request.uri().path());
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            latency_ms = (latency_ms * 1000.0).round() / 1000.0,
            "answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// 16 random lowercase letters, from the thread's generator (seeded once from the system; not a
/// system call per request).
fn new_request_id() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..ID_LENGTH)
        .map(|_| char::from(rng.gen_range(b'a'..=b'z')))
        .collect()
}

/// `path`, at most 200 characters of it, with every run of six or more digits as `#`.
fn loggable_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len().min(200));
    let mut digits = String::new();
    for c in path.chars().take(200) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush_digits(&mut out, &mut digits);
        out.push(c);
    }
    flush_digits(&mut out, &mut digits);
    out
}

fn flush_digits(out: &mut String, digits: &mut String) {
    if digits.len() >= 6 {
        out.push('#');
    } else {
        out.push_str(digits);
    }
    digits.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_letters_only_and_ids_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_eq!(a.len(), ID_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_lowercase()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_path_keeps_short_numbers_and_loses_long_ones() {
        assert_eq!(loggable_path("/profile"), "/profile");
        assert_eq!(loggable_path("/pkg/app-12345.wasm"), "/pkg/app-12345.wasm");
        assert_eq!(loggable_path("/verify/123456"), "/verify/#");
        assert_eq!(loggable_path("/a1234567b/9"), "/a#b/9");
        assert_eq!(loggable_path(&"x".repeat(300)).len(), 200);
    }
}
