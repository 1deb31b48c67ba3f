//! What a page shows is loaded before it renders ([`PageData`]), so that the render is one
//! synchronous pass over data in hand: no resource, no `<Suspense>`, no server function called
//! from inside the render. That is most of a page's cost in Leptos (the reactive machinery of a
//! resource and of streaming costs far more than writing the HTML), and it keeps the order of
//! things plain: the gate answers, the session is written, then the page is drawn.
//!
//! The gate's middleware (`gate::gate_pages`) answers once per page request and calls [`load`];
//! [`provide_for_render`] hands the result, with the response's CSP nonce, to the Leptos render;
//! [`files_or_not_found`] does the same for the not-found page, after the site's own files.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;
use tower_sessions::Session;

use crate::app::shell;
use crate::error::AppError;
use crate::models::SiteInfo;
use crate::pages::PageData;
use crate::server::gate::{self, require_user};
use crate::server::headers::CspNonce;
use crate::server::session::AuthSession;
use crate::server::state::AppState;
use crate::server::{mask, profile};

/// The data of the page at `path`, from the gate's answer that `session` carries.
pub async fn load(state: &AppState, session: &AuthSession, path: &str) -> PageData {
    let site = site_info(state, session).await;
    let profile = match path {
        "/profile" => Some(profile::load(state, session).await),
        _ => None,
    };
    PageData {
        path: path.to_owned(),
        site,
        profile,
    }
}

/// The header tells the truth: the full gate, so a session signed out everywhere or refused by
/// Descope shows as signed out. When the gate cannot decide (Descope or the database out), the
/// session was kept, and so the person is shown as still signed in, from the session alone.
async fn site_info(state: &AppState, session: &AuthSession) -> SiteInfo {
    let current = match require_user(state, session).await {
        Ok((current, _)) => Some(current),
        Err(AppError::NotSignedIn) => None,
        Err(_) => session.signed_in().await.ok().flatten(),
    };
    let signed_in_as = current.map(|current| {
        current
            .details
            .and_then(|d| d.name)
            .unwrap_or_else(|| mask::address(current.method, &current.login_id))
    });
    SiteInfo {
        emulator_outbox_url: state.emulator_outbox_url.clone(),
        signed_in_as,
    }
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
    let encodings = request.headers().get(header::ACCEPT_ENCODING).cloned();
    if let Some(file) = site_file(&state, &uri, encodings).await {
        return file;
    }
    gate::before_page(&state, session, &mut request).await;
    // leptos_axum's handler looks for the file again (not there), then renders the app, whose
    // router shows the not-found page, with status 404.
    leptos_axum::file_and_error_handler_with_context(provide_for_render, shell)(
        uri,
        State(state),
        request,
    )
    .await
}

/// The file of the site root that `uri` names, if there is one (precompressed copies
/// preferred, as leptos_axum serves them).
async fn site_file(
    state: &AppState,
    uri: &Uri,
    encodings: Option<header::HeaderValue>,
) -> Option<Response> {
    let mut ask = Request::new(axum::body::Body::empty());
    *ask.uri_mut() = uri.clone();
    if let Some(encodings) = encodings {
        ask.headers_mut().insert(header::ACCEPT_ENCODING, encodings);
    }
    let found = ServeDir::new(&*state.leptos_options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .oneshot(ask)
        .await;
    match found {
        Ok(file) if file.status() == StatusCode::OK => Some(file.into_response()),
        _ => None,
    }
}
