//! One file per route, named after it.
//!
//! **Islands.** The app runs in Leptos' islands mode: a page is rendered on the server only, as
//! plain HTML, and the browser's wasm holds just the page's interactive parts, each an
//! `#[island]` — the forms (`SignUpOrInForm`, `CodeForm`, `SignOutForms`, …), which add pending
//! states, the resend countdown and focus handling to an `ActionForm` that works without
//! JavaScript anyway. Everything else (the router, the pages, their data) stays out of the wasm,
//! which is what keeps it small. An island's props are serialised into the page (a `data-props`
//! attribute) for the browser to hydrate it from, so they hold nothing secret: the `next` path,
//! the masked destination of a code.
//!
//! Links are ordinary page loads: plain `<a href="/…">`. The router's `<A>` component adds only the
//! `aria-current` mark of a link to the page being shown, and costs about sixty heap allocations
//! per link on every server render; the site header's navigation, where the mark means something,
//! sets it itself from the page's path.

pub mod home;
pub mod not_found;
pub mod profile;
pub mod sign_in;
pub mod sign_up;
pub mod sign_up_or_in;
pub mod update_email;
pub mod update_phone;
pub mod verify;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::models::{Profile, SiteInfo};

/// What the server loads for a page before rendering it, so that the page renders from data in
/// hand, in one pass, with no resource or `<Suspense>`: the header's, and on `/profile` the
/// profile. Loaded by the page layer (`server::http::pages`) and provided to the render
/// as context; on the browser side there is none (no page is hydrated, only islands).
#[derive(Clone, Debug, Default)]
pub struct PageData {
    /// The path of the page, for the navigation's `aria-current`.
    pub path: String,
    pub site: SiteInfo,
    /// `Some` on `/profile` only: the profile, or why it could not be loaded.
    pub profile: Option<Result<Profile, AppError>>,
}

/// The header's part of this render's page data (signed out when none was loaded).
pub(crate) fn site_info() -> SiteInfo {
    with_context(|data: &PageData| data.site.clone()).unwrap_or_default()
}

/// Whether `path` is the page being rendered.
pub(crate) fn is_current_page(path: &str) -> bool {
    with_context(|data: &PageData| data.path == path).unwrap_or(false)
}

/// The profile loaded for this render, if any.
pub(crate) fn loaded_profile() -> Option<Result<Profile, AppError>> {
    with_context(|data: &PageData| data.profile.clone()).flatten()
}

/// The `next` query parameter, carried through a hidden field so that sign-in brings the person
/// back where they were going. The server accepts only local paths. Read while the page renders on
/// the server, and handed to the form's island as a prop.
pub(crate) fn next_param() -> String {
    use_query_map()
        .read_untracked()
        .get("next")
        .unwrap_or_default()
}

/// The error of the latest submission of an action, if it failed.
pub(crate) fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}
