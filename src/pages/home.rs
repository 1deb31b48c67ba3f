use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Passwordless sign-in with one-time codes"/>
        <section class="card">
            <h1>"Passwordless sign-in with one-time codes"</h1>
            <p>
                "This app shows how a server signs people in with Descope one-time codes: "
                "it asks Descope to send a code by email, text message, voice call or WhatsApp, "
                "verifies the code, and keeps the session on the server. Your browser only ever "
                "holds an opaque session cookie, never a token."
            </p>
            <p class="actions">
                <A href="/sign-up-or-in" attr:class="button">
                    "Sign up or sign in"
                </A>
            </p>
            <ul class="links">
                <li>
                    <A href="/sign-up">"Create an account"</A>
                    " with a name and a second contact"
                </li>
                <li>
                    <A href="/sign-in">"Sign in"</A>
                    " to an existing account"
                </li>
                <li>
                    <A href="/profile">"Your profile"</A>
                    " (signed-in only)"
                </li>
            </ul>
        </section>
    }
}
