//! Every error of the server's becomes an [`AppError`] here, and here an `AppError` becomes an
//! HTTP answer outside a page render.
//!
//! Into `AppError`: a failure of something we depend on (Descope, its keys, the database, the
//! session store) is an outage, 503 with an error id; a bug of ours is 500 with an error id; what
//! Descope says about the person's request (wrong code, address taken) is told to them as such.
//! Each error id is logged once, with its cause, where it is made ([`new_error_id`]); the person
//! sees only the id.
//!
//! Out of `AppError`: the status of each variant is `AppError::status_code` (`src/error.rs`, shared
//! with the pages, which set it during their render through `components::http_status`). [`answer`]
//! puts it on a response, with `Retry-After` for a rate limit, for every answer made outside a
//! render: a failed server function (`http::error_status`) and [`refusal`], the whole answer to a
//! request refused before it reached a page or a server function (a short page for a browser, the
//! error as JSON for everything else).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::descope::{DescopeError, ErrorKind, TokenError};
use crate::error::{AppError, Field, Problem, new_error_id};
use crate::models::Flow;

/// An unexpected failure: logged with its cause, shown as an error id.
pub fn internal(cause: &str) -> AppError {
    AppError::Internal {
        error_id: new_error_id(cause),
    }
}

/// A database failure on a request's path: the database is a dependency, so this is an outage
/// (503 with an error id), not a bug.
pub fn unavailable(doing: &str, e: &sqlx::Error) -> AppError {
    AppError::ServiceUnavailable {
        error_id: new_error_id(&format!("database: {doing}: {e}")),
    }
}

/// The session store failing (unreachable, unwritable, locked) is an outage: 503 with an error
/// id. A session record that does not decode is a bug of ours: 500.
pub fn store_error(err: tower_sessions::session::Error) -> AppError {
    let error_id = new_error_id(&format!("session store: {err}"));
    match err {
        tower_sessions::session::Error::Store(_) => AppError::ServiceUnavailable { error_id },
        _ => AppError::Internal { error_id },
    }
}

/// A session that could not be saved after the answer was made (`http::store_failure`): the store
/// is unwritable or unreachable, an outage like any other.
pub fn save_failed() -> AppError {
    AppError::ServiceUnavailable {
        error_id: new_error_id("session store: saving the session failed"),
    }
}

/// Turns a Descope failure into what the person should be told, logging what they are not.
pub fn from_descope(err: DescopeError, flow: Flow) -> AppError {
    let updating = matches!(flow, Flow::UpdateEmail | Flow::UpdatePhone);
    match err.kind() {
        ErrorKind::WrongCode => AppError::WrongCode,
        ErrorKind::TooManyAttempts => AppError::TooManyAttempts,
        ErrorKind::CodeExpired => AppError::CodeExpired,
        ErrorKind::UserAlreadyExists if updating => AppError::AddressInUse,
        ErrorKind::UserAlreadyExists => AppError::AlreadyRegistered,
        ErrorKind::UserNotFound => AppError::UnknownUser,
        ErrorKind::RateLimited { retry_after_secs } => AppError::RateLimited {
            // Descope sends Retry-After; if it ever does not, a short wait is still honest.
            retry_after_secs: retry_after_secs.unwrap_or(5).max(1),
        },
        ErrorKind::Unauthorized => AppError::NotSignedIn,
        ErrorKind::InvalidArgument if updating => {
            tracing::warn!(error = %err, "Descope refused an update");
            AppError::AddressInUse
        }
        ErrorKind::InvalidArgument => {
            tracing::warn!(error = %err, "Descope refused the request");
            AppError::invalid(Field::LoginId, Problem::AddressRefused)
        }
        ErrorKind::Unreachable => AppError::ServiceUnavailable {
            error_id: new_error_id(&format!("Descope unreachable: {err}")),
        },
        _ => internal(&format!("Descope error: {err}")),
    }
}

/// A token Descope just issued failed validation: a configuration problem (wrong project, wrong
/// audience, keys unreachable), never the person's fault.
pub fn token_failure(err: &TokenError) -> AppError {
    match err {
        // Unknown `kid` within the JWKS cooldown: Descope rotated its keys moments after the
        // last fetch. Worth a retry in seconds, not an error on our side.
        TokenError::KeysUnavailable(_) | TokenError::UnknownKey => AppError::ServiceUnavailable {
            error_id: new_error_id(&format!("JWKS unavailable: {err}")),
        },
        _ => internal(&format!("freshly issued session token rejected: {err}")),
    }
}

/// A refresh Descope did not answer with a refusal: Descope's moment, not the person's. They stay
/// signed in and are told to retry: after the wait Descope asked for, or as during an outage.
pub fn refresh_failure(err: DescopeError) -> AppError {
    let detail = format!("refresh failed, session kept: {err}");
    match from_descope(err, Flow::SignIn) {
        limited @ AppError::RateLimited { .. } => limited,
        _ => AppError::ServiceUnavailable {
            error_id: new_error_id(&detail),
        },
    }
}

/// Gives `response` the HTTP status of `error`, and `Retry-After` when it is a rate limit: how every
/// answer made outside a page render gets its status.
pub fn answer(error: &AppError, response: &mut Response) {
    *response.status_mut() =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let AppError::RateLimited { retry_after_secs } = error
        && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// The answer to a request refused before it reached a page or a server function: a short page
/// for a browser, the `AppError` as JSON for everything else.
pub fn refusal(headers: &HeaderMap, error: &AppError) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut response = if wants_html {
        // Every message is one the server wrote (see `AppError`); escape it all the same.
        let message = escape(&error.to_string());
        // The heading names what happened: an outage is not the person's request being refused.
        let heading = match error.status_code() {
            503 => "Service unavailable",
            429 => "Too many requests",
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
    answer(error, &mut response);
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
