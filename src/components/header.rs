use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::site::get_site_info;

/// The site header: navigation, and a badge when the app runs on its local Descope emulator.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_site_info());
    view! {
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <header class="site-header">
            <A href="/" attr:class="brand">
                "Descope OTP"
            </A>
            <nav aria-label="Main">
                <A href="/sign-up-or-in">"Sign up or sign in"</A>
                <A href="/profile">"Profile"</A>
            </nav>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    info.await
                        .ok()
                        .and_then(|i| i.emulator_outbox_url)
                        .map(|url| {
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
                        })
                })}
            </Transition>
        </header>
    }
}
