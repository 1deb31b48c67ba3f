use leptos::prelude::*;
use leptos_meta::Title;

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
                <a href="/sign-up-or-in" class="button">
                    "Sign up or sign in"
                </a>
            </p>
            <ul class="links">
                <li>
                    <a href="/sign-up">"Create an account"</a>
                    " with a name and a second contact"
                </li>
                <li>
                    <a href="/sign-in">"Sign in"</a>
                    " to an existing account"
                </li>
                <li>
                    <a href="/profile">"Your profile"</a>
                    " (signed-in only)"
                </li>
            </ul>
        </section>
    }
}
