use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::SignIn;
use crate::components::descope_options::DescopeOptions;
use crate::components::error_banner::ErrorBanner;
use crate::components::login_id_fields::LoginIdFields;
use crate::components::submit_button::SubmitButton;
use crate::error::AppError;
use crate::pages::{action_error, next_param};

#[component]
pub fn SignInPage() -> impl IntoView {
    view! {
        <Title text="Sign in"/>
        <section class="card">
            <h1>"Sign in"</h1>
            <p>"We'll send a one-time code to the address on your account."</p>
            <Show when=signed_out_in_this_app_only>
                <p role="status" class="notice" data-testid="signed-out-app-only">
                    "You are signed out of this app on every device. Descope could not be reached \
                     to end your sessions there too, so other apps that use the same Descope \
                     project may keep you signed in until those sessions expire."
                </p>
            </Show>
            <SignInForm next=next_param()/>
            <p class="aside">"No account yet? " <a href="/sign-up">"Sign up"</a> "."</p>
        </section>
    }
}

/// After a sign-out everywhere whose Descope half failed (`/sign-in?signed_out=app-only`).
fn signed_out_in_this_app_only() -> bool {
    use leptos_router::hooks::use_query_map;
    use_query_map()
        .read_untracked()
        .get("signed_out")
        .as_deref()
        == Some("app-only")
}

#[island]
fn SignInForm(next: String) -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    let unknown_user = move || error.get() == Some(AppError::UnknownUser);
    view! {
        <ActionForm action=action>
            <ErrorBanner error=error/>
            <LoginIdFields error=error/>
            <DescopeOptions error=error sign_in=true/>
            <input type="hidden" name="next" value=next/>
            <SubmitButton pending=action.pending() label="Send me a code" pending_label="Sending…"/>
        </ActionForm>
        <Show when=unknown_user>
            <p class="aside">
                <a href="/sign-up">"Create an account instead"</a>
            </p>
        </Show>
    }
}
