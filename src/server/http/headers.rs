//! Security headers on every response, and the per-response nonce that lets the page's own
//! scripts run under a strict Content-Security-Policy.
//!
//! The policy allows scripts only from this origin and those carrying this response's nonce (the
//! hydration script Leptos inlines), and WebAssembly compilation (`'wasm-unsafe-eval'`); no inline
//! script without the nonce, no `eval`, no framing, no plugins, forms and fetches only to this
//! origin. The nonce is made here, left in the request for the page render (see
//! `pages::provide_for_render`), and written into the header of the same response.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore as _;

use crate::server::state::AppState;

/// This response's CSP nonce, in the request's extensions.
#[derive(Clone, Debug)]
pub struct CspNonce(pub Arc<str>);

pub async fn secure_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = new_nonce();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce, &state)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    let fixed: [(header::HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Same-origin requests keep their Referer: Leptos sends a failed no-JavaScript form post
        // back to it. Other sites learn nothing, not even the origin.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if state.settings.is_production() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    if is_dynamic(headers) && !headers.contains_key(header::CACHE_CONTROL) {
        // Pages and server-function answers can be about a person or a waiting code: neither
        // the browser nor anything between may keep them. Static files keep their caching.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn new_nonce() -> Arc<str> {
    let mut bytes = [0u8; 16];
    // The thread's CSPRNG (ChaCha, seeded and reseeded from the OS): no system call a response.
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .into()
}

fn content_security_policy(nonce: &str, state: &AppState) -> String {
    // `cargo leptos watch` injects a live-reload script that opens a websocket of its own.
    let reload = std::env::var_os("LEPTOS_WATCH")
        .map(|_| {
            let options = &state.leptos_options;
            format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
        })
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'{reload}; \
         manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

fn is_dynamic(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"))
}
