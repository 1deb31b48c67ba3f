use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::SignUpOrIn;
use crate::components::descope_options::DescopeOptions;
use crate::components::error_banner::ErrorBanner;
use crate::components::login_id_fields::LoginIdFields;
use crate::components::submit_button::SubmitButton;
use crate::pages::{action_error, next_param};

/// The main entry: one form that signs a person in, or signs them up if they are new.
#[component]
pub fn SignUpOrInPage() -> impl IntoView {
    view! {
        <Title text="Sign up or sign in"/>
        <section class="card">
            <h1>"Sign up or sign in"</h1>
            <p>"We'll send you a one-time code. New here? The same code creates your account."</p>
            <SignUpOrInForm next=next_param()/>
            <p class="aside">
                "Prefer to be explicit? " <a href="/sign-up">"Sign up"</a> " or "
                <a href="/sign-in">"sign in"</a> "."
            </p>
        </section>
    }
}

#[island]
fn SignUpOrInForm(next: String) -> impl IntoView {
    let action = ServerAction::<SignUpOrIn>::new();
    let error = action_error(action);
    view! {
        <ActionForm action=action>
            <ErrorBanner error=error/>
            <LoginIdFields error=error/>
            <DescopeOptions error=error no_template_options=true/>
            <input type="hidden" name="next" value=next/>
            <SubmitButton pending=action.pending() label="Send me a code" pending_label="Sending…"/>
        </ActionForm>
    }
}
