use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;

use crate::api::auth::SignOut;
use crate::pages::{is_current_page, site_info};

/// The site header: navigation that knows who is signed in, and a badge when the app runs on its
/// local Descope emulator. Rendered on the server with every page, from what the gate found before
/// the page began to render (`PageData`), so it is right with or without JavaScript, and whatever
/// the gate wrote to the session (a refreshed token, a sign-out) is saved with the response's
/// headers. Its sign-out is a plain form: the server signs out and redirects, and the next page's
/// header says so. (Nothing here is hydrated, so plain elements do what the router's `<A>` and
/// `<ActionForm>` would, without their reactive set-up on every render.)
#[component]
pub fn SiteHeader() -> impl IntoView {
    let info = site_info();
    let nav = match info.signed_in_as {
        Some(who) => view! {
            <nav aria-label="Main">
                <span class="signed-in-as" data-testid="signed-in-as">
                    "Signed in as " {who}
                </span>
                <NavLink href="/profile">"Profile"</NavLink>
                <form method="post" action=SignOut::PATH class="inline">
                    <button type="submit" class="link-button">
                        "Sign out"
                    </button>
                </form>
            </nav>
        }
        .into_any(),
        None => view! {
            <nav aria-label="Main">
                <NavLink href="/sign-up-or-in">"Sign up or sign in"</NavLink>
            </nav>
        }
        .into_any(),
    };
    let badge = info.emulator_outbox_url.map(|url| {
        view! {
            <a
                class="badge"
                href=url
                target="_blank"
                rel="noopener"
                title="No Descope project is configured: codes are delivered to the local outbox"
            >
                "Local emulator · outbox"
            </a>
        }
    });
    view! {
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <header class="site-header">
            <a href="/" class="brand" aria-current=is_current_page("/").then_some("page")>
                "Descope OTP"
            </a>
            {nav}
            {badge}
        </header>
    }
}

/// A link of the site's navigation, marked `aria-current="page"` on the page it leads to.
#[component]
fn NavLink(href: &'static str, children: Children) -> impl IntoView {
    let current = is_current_page(href).then_some("page");
    view! {
        <a href=href aria-current=current>
            {children()}
        </a>
    }
}
