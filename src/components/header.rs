use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::auth::SignOut;
use crate::api::site::get_site_info;

/// The site header: navigation that knows who is signed in, and a badge when the app runs on its
/// local Descope emulator. Rendered on the server with every page, in place (the routes stream in
/// order: `src/app.rs`), so it is right with or without JavaScript. Its sign-out is a plain form: the
/// server signs out and redirects, and the next page's header says so.
///
/// The resource is *blocking*: the response's head waits for it. That is what makes whatever the
/// gate writes to the session here (a refreshed token, a sign-out) count, because tower-sessions
/// saves the session and sets its cookie when the response's headers leave, before the body
/// streams.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let info = Resource::new_blocking(|| (), |_| get_site_info());
    view! {
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <header class="site-header">
            <A href="/" attr:class="brand">
                "Descope OTP"
            </A>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let info = info.await.ok().unwrap_or_default();
                    let nav = match info.signed_in_as {
                        Some(who) => {
                            view! {
                                <nav aria-label="Main">
                                    <span class="signed-in-as" data-testid="signed-in-as">
                                        "Signed in as " {who}
                                    </span>
                                    <A href="/profile">"Profile"</A>
                                    <ActionForm action=sign_out attr:class="inline">
                                        <button type="submit" class="link-button">
                                            "Sign out"
                                        </button>
                                    </ActionForm>
                                </nav>
                            }
                                .into_any()
                        }
                        None => {
                            view! {
                                <nav aria-label="Main">
                                    <A href="/sign-up-or-in">"Sign up or sign in"</A>
                                </nav>
                            }
                                .into_any()
                        }
                    };
                    let badge = info
                        .emulator_outbox_url
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
                        });
                    view! {
                        {nav}
                        {badge}
                    }
                })}
            </Suspense>
        </header>
    }
}
