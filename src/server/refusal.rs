//! The answer to a request refused before it reached a page or a server function: a short page
//! for a browser, the `AppError` as JSON for everything else.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

pub fn refusal(headers: &HeaderMap, error: &AppError) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut response = if wants_html {
        // Every message is one the server wrote (see `AppError`); escape it all the same.
        let message = escape(&error.to_string());
        Html(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Request refused</title></head>\
             <body><main><h1>Request refused</h1><p role=\"alert\">{message}</p>\
             <p><a href=\"/\">Back to the start</a></p></main></body></html>\n"
        ))
        .into_response()
    } else {
        axum::Json(error).into_response()
    };
    *response.status_mut() = status;
    if let AppError::RateLimited { retry_after_secs } = error
        && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
