//! What a failed server function answers, and what a URL may say about it.
//!
//! - [`set_error_status`]: Leptos answers every server-function error with 500 and the serialised
//!   error as the body. The hydrated page only reads the body, but a 500 for "wrong code" misleads
//!   logs, monitoring and anyone calling `/api/` directly, so the response gets the status of its
//!   `AppError` (and `Retry-After` when rate limited). Plain HTML form posts are untouched: Leptos
//!   answers those with a redirect back to the form, carrying the error in `?__err=`.
//! - [`local_redirects_only`]: that redirect goes to the request's `Referer`; it is cut down to
//!   its path when the `Referer` names another site, so a failed post never leads off-site.
//! - [`drop_unreadable_errors`]: a page URL whose `__err` is not an error the server wrote (see
//!   `AppError::from_url_value`) is sent to the same URL without it, so a crafted link cannot put
//!   its own words in the site's alert box.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;

/// Error bodies are a few hundred bytes; anything larger is not ours and is passed on untouched.
const MAX_ERROR_BODY: usize = 16 * 1024;

pub async fn set_error_status(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_api || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let AppError::RateLimited { retry_after_secs } = error
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            parts.headers.insert(header::RETRY_AFTER, value);
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

pub async fn local_redirects_only(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    if let Some(local) = local_part(location)
        && local != location
        && let Ok(value) = HeaderValue::from_str(&local)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `location` as a path on this site: the path and query of whatever URL it is, absolute,
/// protocol-relative (`//host/…`) or local. The cross-site check has already refused requests
/// from other sites, so this only matters for a `Referer` a non-browser made up; a path that
/// starts with several slashes is cut to one, so it cannot become `//other.site`.
fn local_part(location: &str) -> Option<String> {
    let base = url::Url::parse("http://localhost/").ok()?;
    let url = base.join(location).ok()?;
    let mut local = format!("/{}", url.path().trim_start_matches('/'));
    if let Some(query) = url.query() {
        local.push('?');
        local.push_str(query);
    }
    Some(local)
}

pub async fn drop_unreadable_errors(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let Some(query) = request.uri().query() else {
        return next.run(request).await;
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let readable = pairs
        .iter()
        .filter(|(k, _)| k == "__err")
        .all(|(_, v)| AppError::from_url_value(v).is_some());
    if readable {
        return next.run(request).await;
    }
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "__err" && k != "__path")
        .collect();
    let mut clean = request.uri().path().to_owned();
    if !kept.is_empty() {
        clean.push('?');
        clean.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(kept)
                .finish(),
        );
    }
    Redirect::to(&clean).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_cut_down_to_a_local_path() {
        assert_eq!(
            local_part("/sign-in?__err=x").as_deref(),
            Some("/sign-in?__err=x")
        );
        assert_eq!(
            local_part("https://evil.example/steal?__err=x").as_deref(),
            Some("/steal?__err=x")
        );
        for off_site in [
            "//evil.example/x",
            "/\\evil.example/x",
            "https://a.example//evil.example/x",
        ] {
            let local = local_part(off_site).expect("a path");
            assert!(
                local.starts_with('/') && !local.starts_with("//"),
                "{off_site} -> {local}"
            );
        }
    }
}
