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
        // The heading names what happened: an outage is not the person's request being refused.
        let heading = match status {
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            _ => "Request refused",
        };
        Html(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{heading}</title></head>\
             <body><main><h1>{heading}</h1><p role=\"alert\">{message}</p>\
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn page(error: &AppError) -> (StatusCode, String) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        let response = refusal(&headers, error);
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("a short page");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_page_heading_says_what_happened() {
        let (status, body) = page(&AppError::CrossSite).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("<h1>Request refused</h1>"), "{body}");
        let outage = AppError::ServiceUnavailable {
            error_id: crate::error::new_error_id("test"),
        };
        let (status, body) = page(&outage).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("<h1>Service unavailable</h1>"), "{body}");
        let (status, body) = page(&AppError::RateLimited {
            retry_after_secs: 7,
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(body.contains("<h1>Too many requests</h1>"), "{body}");
    }
}
