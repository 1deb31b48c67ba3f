//! Layer and fallback of the page routes: every page's GET meets the gate once, before it renders,
//! and finds its data loaded ([`crate::server::page_data`]); the site's own files are served
//! without a session read.
//!
//! [`gate_pages`] is the route layer on the pages; [`files_or_not_found`] is the router's fallback;
//! [`provide_for_render`] hands what they loaded, with the response's CSP nonce, to the Leptos
//! render.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;
use tower_sessions::Session;

use crate::app::shell;
use crate::error::AppError;
use crate::pages::PageData;
use crate::server::gate::{GATED_PAGES, require_user};
use crate::server::http::headers::CspNonce;
use crate::server::page_data;
use crate::server::session::{AuthSession, GateAnswer};
use crate::server::state::AppState;

/// Middleware on the page routes: every page's GET meets the gate once, before it renders
/// ([`before_page`]); a browser that asks for a gated page while signed out is sent to sign in,
/// and brought back afterwards. Runs before the page renders, so the redirect is a real HTTP 303,
/// and what the gate writes to the session (a refreshed token, a sign-out) is saved with the
/// response's headers.
pub async fn gate_pages(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    // A page is a GET, or a HEAD (axum answers it with the GET route, without the body).
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let gated = GATED_PAGES.contains(&path);
    let signed_in = before_page(&state, session, &mut request).await;
    if gated && !signed_in {
        let next_path: String =
            url::form_urlencoded::byte_serialize(request.uri().path().as_bytes()).collect();
        return Redirect::to(&format!("/sign-in?next={next_path}")).into_response();
    }
    let mut response = next.run(request).await;
    if gated {
        // A page about a signed-in person is never cached, by the browser or anything between.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    response
}

/// Runs the gate for the page `request` asks for and loads that page's data from its answer
/// (`server::page_data`), both left in the request's extensions for the render and the server
/// functions it calls. Whether the gate found someone signed in: anything but a sure "signed
/// out" (Descope unreachable, a store failure) counts as signed in, for the page to show with its
/// status.
pub async fn before_page(state: &AppState, session: Session, request: &mut Request) -> bool {
    let answer = GateAnswer::new(require_user(state, &AuthSession::new(session.clone())).await);
    let signed_in = !matches!(answer.get(), Err(AppError::NotSignedIn));
    let session = AuthSession::for_request(session, Some(answer.clone()), None);
    let data = page_data::load(state, &session, request.uri().path()).await;
    request.extensions_mut().insert(answer);
    request.extensions_mut().insert(data);
    signed_in
}

/// Runs in each page render's (and server function call's) Leptos context: the page data the
/// gate left in this request, and the response's CSP nonce for the hydration script.
pub fn provide_for_render() {
    use leptos::prelude::{provide_context, with_context};
    let (nonce, data) = with_context(|parts: &axum::http::request::Parts| {
        (
            parts.extensions.get::<CspNonce>().cloned(),
            parts.extensions.get::<PageData>().cloned(),
        )
    })
    .unwrap_or_default();
    if let Some(CspNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
    if let Some(data) = data {
        provide_context(data);
    }
}

/// The router's fallback: one of the site's files (the wasm, the stylesheet, `public/`), served
/// without reading the session; anything else is the not-found page, whose header is loaded like
/// every page's.
pub async fn files_or_not_found(
    State(state): State<AppState>,
    session: Session,
    uri: Uri,
    mut request: Request,
) -> Response {
    if let Some(file) = site_file(&state, &uri, request.headers()).await {
        return file;
    }
    before_page(&state, session, &mut request).await;
    // leptos_axum's handler looks for the file again (not there), then renders the app, whose
    // router shows the not-found page, with status 404.
    leptos_axum::file_and_error_handler_with_context(provide_for_render, shell)(
        uri,
        State(state),
        request,
    )
    .await
}

/// The file of the site root that `uri` names, if there is one: its brotli or gzip copy when the
/// browser accepts it and the release build wrote one (`.ci/build-site --release`).
async fn site_file(state: &AppState, uri: &Uri, headers: &header::HeaderMap) -> Option<Response> {
    let mut ask = Request::new(axum::body::Body::empty());
    *ask.uri_mut() = uri.clone();
    // What decides which bytes a file request gets: its encoding, and whether the browser's copy
    // is still good (a 304 then) or it asks for a range.
    for name in [
        header::ACCEPT_ENCODING,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
        header::RANGE,
        header::IF_RANGE,
    ] {
        if let Some(value) = headers.get(&name) {
            ask.headers_mut().insert(name, value.clone());
        }
    }
    let found = ServeDir::new(&*state.leptos_options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .oneshot(ask)
        .await;
    match found {
        // 304 answers a browser revalidating its copy; 206, a range of the file.
        Ok(file) if file.status().is_success() || file.status() == StatusCode::NOT_MODIFIED => {
            let mut file = file.into_response();
            let headers = file.headers_mut();
            // The names carry no content hash, so a browser may keep a file but must ask again
            // before using it: an unchanged file costs a 304, a new build is never missed.
            headers.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-cache"),
            );
            // The same URL answers brotli, gzip or plain bytes by the request's Accept-Encoding.
            headers.insert(
                header::VARY,
                header::HeaderValue::from_static("accept-encoding"),
            );
            Some(file)
        }
        _ => None,
    }
}
