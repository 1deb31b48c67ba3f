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
use leptos::config::LeptosOptions;
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
    let immutable = is_hashed(uri.path(), &state.leptos_options);
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
            // A name with the build's hash never changes content: kept for a year, never asked
            // again. Any other file may keep its name across builds, so a browser may keep it but
            // must ask again before using it: an unchanged file costs a 304, a new build is never
            // missed.
            headers.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static(if immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                }),
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

/// The file in the site's package directory that holds the build's content hash, written by
/// `.ci/build-site`: one line of hex digits.
pub const SITE_HASH_FILE: &str = "hash.txt";

/// `options` with the build's content hash in the output name (`descope-otp.<hash>`), when the
/// site has one: the page then links `/pkg/descope-otp.<hash>.js`, `.wasm` and `.css`, the names
/// `.ci/build-site` gave them, and [`site_file`] sends those as immutable. Read once, at start-up
/// (Leptos' own `hash-files` reads its hash file on every render). A site without the file (built
/// by `cargo leptos`, say) keeps its plain names, sent with `no-cache`.
pub fn with_site_hash(mut options: LeptosOptions) -> anyhow::Result<LeptosOptions> {
    let path = std::path::Path::new(&*options.site_root)
        .join(&*options.site_pkg_dir)
        .join(SITE_HASH_FILE);
    let hash = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(options),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    };
    if hash.is_empty() || hash.len() > 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("{}: not a content hash: {hash:?}", path.display());
    }
    options.output_name = format!("{}.{hash}", options.output_name).into();
    Ok(options)
}

/// Whether `path` names one of the build's hashed files (the output name carries the hash).
fn is_hashed(path: &str, options: &LeptosOptions) -> bool {
    let name = &*options.output_name;
    let hashed = name
        .rsplit_once('.')
        .is_some_and(|(_, hash)| !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    hashed
        && path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(&*options.site_pkg_dir))
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|p| p.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with('.') && !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_in(site_root: &std::path::Path) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("descope-otp")
            .site_root(site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build()
    }

    #[test]
    fn a_site_hash_goes_into_the_output_name_and_only_its_files_are_immutable() {
        let site = tempfile::tempdir().expect("a folder");
        let plain = options_in(site.path());
        assert_eq!(
            &*with_site_hash(plain.clone()).expect("no file").output_name,
            "descope-otp"
        );
        assert!(!is_hashed("/pkg/descope-otp.wasm", &plain));

        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
        std::fs::write(
            site.path().join("pkg").join(SITE_HASH_FILE),
            "0a1b2c3d4e5f6789\n",
        )
        .expect("written");
        let hashed = with_site_hash(plain).expect("read");
        assert_eq!(&*hashed.output_name, "descope-otp.0a1b2c3d4e5f6789");
        for path in [
            "/pkg/descope-otp.0a1b2c3d4e5f6789.wasm",
            "/pkg/descope-otp.0a1b2c3d4e5f6789.js",
            "/pkg/descope-otp.0a1b2c3d4e5f6789.css",
        ] {
            assert!(is_hashed(path, &hashed), "{path}");
        }
        for path in [
            "/pkg/descope-otp.wasm",
            "/pkg/descope-otp.0a1b2c3d4e5f6780.js",
            "/pkg/hash.txt",
            "/favicon.ico",
            "/other/descope-otp.0a1b2c3d4e5f6789.js",
        ] {
            assert!(!is_hashed(path, &hashed), "{path}");
        }
    }

    #[test]
    fn a_site_hash_file_that_holds_no_hash_stops_the_start() {
        let site = tempfile::tempdir().expect("a folder");
        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
        std::fs::write(site.path().join("pkg").join(SITE_HASH_FILE), "../../etc\n")
            .expect("written");
        let err = with_site_hash(options_in(site.path())).expect_err("refused");
        assert!(err.to_string().contains("not a content hash"), "{err}");
    }
}
