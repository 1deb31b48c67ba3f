//! Layer: a page URL says only what the server wrote.
//!
//! A page URL whose `__err` is not an error the server wrote (see `AppError::from_url_value`) is
//! sent to the same URL without it, so a crafted link cannot put its own words in the site's
//! alert box.

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;

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
