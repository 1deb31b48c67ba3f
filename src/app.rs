//! `<App/>`: the HTML shell, the router and the route table.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{FlatRoutes, Route, Router};
use leptos_router::{SsrMode, path};

use crate::components::header::SiteHeader;
use crate::pages::home::HomePage;
use crate::pages::not_found::NotFoundPage;
use crate::pages::profile::ProfilePage;
use crate::pages::sign_in::SignInPage;
use crate::pages::sign_up::SignUpPage;
use crate::pages::sign_up_or_in::SignUpOrInPage;
use crate::pages::update_email::UpdateEmailPage;
use crate::pages::update_phone::UpdatePhonePage;
use crate::pages::verify::VerifyPage;

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="referrer" content="same-origin"/>
                // `output_name` carries the build's content hash when the site has one
                // (`server::http::pages::with_site_hash`).
                <link
                    id="leptos"
                    rel="stylesheet"
                    href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
                />
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|text: String| format!("{text} · Descope OTP")/>
        <Router>
            <SiteHeader/>
            <main id="main">
                // A page renders in one pass from data loaded before it (`PageData`: the gate's
                // answer, the header's, the profile). Where a page still waits on a resource
                // (`/verify`), nothing may be left for a script to move into place, as no page is
                // hydrated (islands mode): routes stream in order, and those whose status depends
                // on the session render in full before the first byte. The not-found page (the
                // fallback) is rendered in order by leptos_axum's fallback handler.
                // `FlatRoutes`, not `Routes`: no route nests, and the flat router picks the page
                // without wrapping it in a `Suspend` (3 % of a page's instructions).
                <FlatRoutes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder/>
                    <Route path=path!("/sign-up-or-in") view=SignUpOrInPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/sign-up") view=SignUpPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/verify") view=VerifyPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/profile/email") view=UpdateEmailPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/profile/phone") view=UpdatePhonePage ssr=SsrMode::InOrder/>
                </FlatRoutes>
            </main>
        </Router>
    }
}
