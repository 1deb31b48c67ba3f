//! One file per route, named after it.
//!
//! Links in pages are plain `<a href="/…">`: the router still follows them without a page load
//! (it handles every click on a same-origin anchor). Its `<A>` component adds only the
//! `aria-current` mark of a link to the page being shown, which no link in a page body needs, and
//! costs about sixty heap allocations per link on every server render; the site header's
//! navigation, where the mark means something, keeps `<A>`.

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

/// The `next` query parameter, carried through a hidden field so that sign-in brings the person
/// back where they were going. The server accepts only local paths.
pub(crate) fn next_param() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("next").unwrap_or_default())
}

/// The error of the latest submission of an action, if it failed.
pub(crate) fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}
