#![forbid(unsafe_code)]
//! Passwordless one-time-code sign-in with Descope: a Leptos + axum reference app.

pub mod api;
pub mod app;
pub mod components;
pub mod error;
pub mod models;
pub mod pages;

// Server-only layers. Nothing below is compiled into the browser bundle.
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod descope;
#[cfg(all(feature = "ssr", feature = "emulator"))]
pub mod emulator;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Islands mode: the pages are server-rendered HTML, and Leptos' loader script hydrates each
    // `#[island]` (the forms) right after this returns, in one run of promise callbacks.
    leptos::mount::hydrate_islands();
    // A marker for end-to-end tests: the page is interactive from here on. A zero-delay timer
    // fires only after those callbacks, so after every island on the page is hydrated.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.body())
            {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
