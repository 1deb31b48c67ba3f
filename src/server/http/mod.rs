//! The axum edge: the router, and every layer a request passes on its way to a page or a server
//! function, one file per layer.
//!
//! [`router`] puts them together in one place, in order; read it to know what happens to a request
//! before any code of a page or a server function runs.

pub mod client_ip;
pub mod cross_site;
pub mod error_status;
pub mod form_body;
pub mod headers;
pub mod health;
pub mod local_redirects;
pub mod pages;
pub mod request_log;
pub mod request_scope;
pub mod store_failure;
pub mod url_errors;

use std::sync::OnceLock;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};

use crate::app::{App, shell};
use crate::server::session::{cookie, store::SessionRows};
use crate::server::state::AppState;

/// The app's router over the session store `store`: the pages and server functions, the site's
/// files, the health probes, and the layers around them.
///
/// Layers added later wrap the ones before, so a request meets them from the bottom of the list up,
/// and its response passes them from the top down. A request meets, in this order:
///
/// 1. [`request_scope`]: outermost, so nothing below can see a Leptos owner left on the thread by
///    another request;
/// 2. [`request_log`]: the request's id, its span, its `x-request-id` header and its one log line;
/// 3. [`headers`]: the security headers and the CSP nonce for the page;
/// 4. [`client_ip`]: who is asking, for the rate limits;
/// 5. [`cross_site`]: a state-changing request from another site is refused here;
/// 6. [`form_body`]: a body too large or too slow is refused before anything reads it;
/// 7. [`store_failure`]: a session the store could not save becomes a 503 page, not an empty 500;
/// 8. the session ([`cookie`]): the cookie's session is attached to the request; its row is read on
///    first use (the gate), so a request for a site file reads none;
/// 9. [`error_status`], [`local_redirects`], [`url_errors`]: a failed server function answers with
///    its error's status; a redirect stays on this site; a page URL carries only errors the server
///    wrote;
/// 10. [`pages`], on the page routes only: the gate, once per page, then the page's data; the
///     fallback serves the site's files, then the not-found page through the same gate.
///
/// The health probes sit beside the app, outside its layers: no session is made for them.
pub fn router(state: &AppState, store: SessionRows) -> Router {
    let routes = route_list();
    let app = Router::new()
        .leptos_routes_with_context(state, routes, pages::provide_for_render, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(from_fn_with_state(state.clone(), pages::gate_pages))
        .fallback(pages::files_or_not_found)
        .layer(from_fn(url_errors::drop_unreadable_errors))
        .layer(from_fn(local_redirects::local_redirects_only))
        .layer(from_fn(error_status::set_error_status))
        .layer(cookie::layer(&state.settings, store))
        .layer(from_fn(store_failure::answer_failed_saves))
        .layer(from_fn_with_state(state.clone(), form_body::check_body))
        .layer(from_fn_with_state(
            state.clone(),
            cross_site::refuse_cross_site,
        ))
        .layer(from_fn_with_state(state.clone(), client_ip::remember))
        .layer(from_fn_with_state(state.clone(), headers::secure_headers))
        .layer(from_fn(request_log::log_request))
        .layer(from_fn(request_scope::isolate))
        .with_state(state.clone());
    health::routes(state.clone()).merge(app)
}

/// The route table, generated once per process.
///
/// While Leptos generates a route list it turns resource loading off for the whole process, and a
/// resource first polled in that window never resolves (an upstream limitation). A server builds
/// one Application, before serving, so it never meets this; the integration tests build many in
/// parallel, and a page rendering in one test while another test generated its routes hung.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::gate::GATED_PAGES;

    /// The gate's list of pages for signed-in people and the route table agree: a gated page
    /// that is not a route protects nothing, and a page about the signed-in person (a route under
    /// `/profile`) that is not gated would render for anyone.
    #[test]
    fn every_gated_page_is_a_route_and_every_profile_route_is_gated() {
        let routes: Vec<String> = route_list().iter().map(|r| r.path().to_owned()).collect();
        for gated in GATED_PAGES {
            assert!(
                routes.iter().any(|r| r == gated),
                "{gated} is not a route: {routes:?}"
            );
        }
        for route in &routes {
            if route == "/profile" || route.starts_with("/profile/") {
                assert!(
                    GATED_PAGES.contains(&route.as_str()),
                    "{route} is not gated"
                );
            }
        }
    }
}
