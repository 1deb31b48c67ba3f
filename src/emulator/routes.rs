//! The route table, plus the request fix-ups that must run before routing.

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower::Layer;
use tower::util::MapRequestLayer;

use super::error::{ApiError, codes};
use super::handlers::{dev, mgmt, session, sign_in, updates};
use super::state::SharedState;

/// The emulator as a service: the router wrapped so that `//v1/auth/...` (a base URL with a
/// trailing slash, as Go and older Python build it) routes like `/v1/auth/...`. The fold must
/// wrap the router, since layers added with `Router::layer` run after routing.
pub fn service(state: SharedState) -> tower::util::MapRequest<Router, fn(Request) -> Request> {
    MapRequestLayer::new(fold_slashes as fn(Request) -> Request).layer(router(state))
}

pub fn router(state: SharedState) -> Router {
    Router::new()
        // OTP
        .route("/v1/auth/otp/signup/{method}", post(sign_in::sign_up))
        .route("/v1/auth/otp/signin/{method}", post(sign_in::sign_in))
        .route(
            "/v1/auth/otp/signup-in/{method}",
            post(sign_in::sign_up_or_in),
        )
        .route("/v1/auth/otp/verify/{method}", post(sign_in::verify))
        .route("/v1/auth/otp/update/email", post(updates::update_email))
        .route(
            "/v1/auth/otp/update/phone/{method}",
            post(updates::update_phone),
        )
        // Sessions
        .route("/v1/auth/refresh", post(session::refresh))
        .route("/v1/auth/logout", post(session::logout))
        .route("/v1/auth/logoutall", post(session::logout_all))
        .route("/v1/auth/me", get(session::me))
        .route("/v1/auth/me/history", get(session::me_history))
        .route("/v1/auth/me/tenants", post(session::me_tenants))
        .route("/v2/keys/{project_id}", get(session::keys_v2))
        .route("/v1/keys/{project_id}", get(session::keys_v1))
        // Management
        .route("/v1/mgmt/license", get(mgmt::license))
        .route("/v1/mgmt/user", get(mgmt::load_user))
        .route("/v1/mgmt/user/create", post(mgmt::create_user))
        .route("/v1/mgmt/user/create/test", post(mgmt::create_test_user))
        .route("/v1/mgmt/user/delete", post(mgmt::delete_user))
        .route(
            "/v1/mgmt/tests/generate/otp",
            post(mgmt::generate_otp_for_test_user),
        )
        .route(
            "/v1/mgmt/user/test/delete/all",
            delete(mgmt::delete_all_test_users).post(mgmt::delete_all_test_users),
        )
        // Development aids
        .merge(development_routes())
        .route("/outbox", get(dev::page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(ensure_json_errors))
        // Outside the safety net above, so that an injected 503 stays a 503.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            dev::inject,
        ))
        .with_state(state)
}

/// The emulator's own endpoints, for tests and for a developer: they read and clear the outbox,
/// inject faults, move the clock and rotate the keys. Only programs call them, so their writes
/// refuse what only a web page would send (see [`refuse_foreign_writes`]).
fn development_routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/emulator/outbox",
            get(dev::list_outbox).delete(dev::clear_outbox),
        )
        .route("/emulator/outbox/wait", get(dev::wait_outbox))
        .route("/emulator/clock/advance", post(dev::advance_clock))
        .route(
            "/emulator/faults",
            post(dev::add_fault)
                .get(dev::list_faults)
                .delete(dev::clear_faults),
        )
        .route("/emulator/keys/rotate", post(dev::rotate_keys))
        .route_layer(axum::middleware::from_fn(refuse_foreign_writes))
}

/// Guards the development endpoints' writes against other web pages. The emulator runs on a
/// developer's machine, and any site open in their browser can post to `127.0.0.1`: a form or a
/// `fetch` with a `text/plain` body needs no preflight, so without this a page could inject
/// faults, move the clock or rotate the keys. A write is refused when the browser says it comes
/// from another origin (the app's own check: `Sec-Fetch-Site`, else `Origin` or `Referer`
/// against the request's `Host`), and when it carries a body that is not `application/json`,
/// which no browser sends cross-site without asking first. The outbox page posts nothing, and
/// programs (the SDK suites, the tests) send no such headers and their JSON as JSON. Descope's
/// API routes are not guarded this way: the SDKs send them odd content types.
async fn refuse_foreign_writes(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    if let Err(why) = crate::server::http::cross_site::same_origin(request.headers(), None) {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            why,
            "emulator: cross-site write to a development endpoint refused"
        );
        return ApiError::new(
            StatusCode::FORBIDDEN,
            codes::BAD_REQUEST,
            format!("Cross-site request refused: {why}"),
        )
        .into_response();
    }
    if let Err(problem) = json_or_no_body(&request) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::BAD_REQUEST,
            problem,
        )
        .into_response();
    }
    next.run(request).await
}

/// `Ok` for a body sent as `application/json` (parameters such as `charset` allowed), or for no
/// body at all (a `DELETE`).
fn json_or_no_body(request: &Request) -> Result<(), String> {
    match request.headers().get(header::CONTENT_TYPE) {
        Some(value) => {
            let media_type = value
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .map(str::trim);
            if media_type.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
                Ok(())
            } else {
                Err(format!(
                    "Send the body as application/json, not {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ))
            }
        }
        None if http_body::Body::is_end_stream(request.body()) => Ok(()),
        None => Err("Send the body as application/json (it has no Content-Type)".into()),
    }
}

/// A safety net for "every error is JSON": extractor rejections (a malformed query string, a
/// path that is not UTF-8) are plain text from axum, and core-js throws on a non-JSON error
/// body while Go needs a non-empty `errorCode`. Also keeps 503/52x (which make Python and Go
/// retry for ~10 s) from ever leaving the emulator.
async fn ensure_json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let retryable = status == StatusCode::SERVICE_UNAVAILABLE || status.as_u16() >= 520;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json && !retryable {
        return response;
    }
    let status = if retryable {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    let text = axum::body::to_bytes(response.into_body(), 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let description = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string()
    } else {
        text
    };
    let code = if status.is_server_error() {
        codes::INTERNAL
    } else {
        codes::BAD_REQUEST
    };
    ApiError::new(status, code, description).into_response()
}

/// Collapses runs of `/` in the path, keeping the query.
fn fold_slashes(mut req: Request) -> Request {
    let uri = req.uri();
    if !uri.path().contains("//") {
        return req;
    }
    let mut path = String::with_capacity(uri.path().len());
    for c in uri.path().chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    let rebuilt = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if let Ok(new_uri) = rebuilt.parse::<Uri>() {
        *req.uri_mut() = new_uri;
    }
    req
}

async fn not_found(uri: Uri) -> Response {
    ApiError::not_found(format!(
        "The Descope emulator has no endpoint at {}",
        uri.path()
    ))
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::BAD_REQUEST,
        "Method not allowed for this endpoint",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubled_slashes_are_folded_and_the_query_kept() {
        let req = Request::builder()
            .uri("//v1//auth/me?x=1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(fold_slashes(req).uri().to_string(), "/v1/auth/me?x=1");
    }
}
