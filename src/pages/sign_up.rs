use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::SignUp;
use crate::components::descope_options::DescopeOptions;
use crate::components::error_banner::{ErrorBanner, invalid_attr};
use crate::components::login_id_fields::LoginIdFields;
use crate::components::submit_button::SubmitButton;
use crate::error::AppError;
use crate::pages::{action_error, next_param};

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <Title text="Sign up"/>
        <section class="card">
            <h1>"Create an account"</h1>
            <p>"No password: we'll send a one-time code to confirm the address you sign up with."</p>
            <SignUpForm next=next_param()/>
            <p class="aside">"Already registered? " <a href="/sign-in">"Sign in"</a> "."</p>
        </section>
    }
}

#[island]
fn SignUpForm(next: String) -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = action_error(action);
    let already_registered = move || error.get() == Some(AppError::AlreadyRegistered);
    view! {
        <ActionForm action=action>
            <ErrorBanner error=error/>
            <Show when=already_registered>
                <p class="aside">
                    <a href="/sign-in">"Sign in to your account"</a>
                </p>
            </Show>
            <LoginIdFields error=error/>
            <div class="field">
                <label for="name">"Name " <span class="optional">"(optional)"</span></label>
                <input id="name" name="name" type="text" autocomplete="name" maxlength="100"
                    aria-invalid=invalid_attr(error, "name")/>
            </div>
            <details class="extra">
                <summary>"Add a second contact (optional)"</summary>
                <div class="field">
                    <label for="email">"Email address"</label>
                    <input id="email" name="email" type="email" autocomplete="email"
                        aria-invalid=invalid_attr(error, "email")/>
                </div>
                <div class="field">
                    <label for="phone">"Phone number"</label>
                    <input id="phone" name="phone" type="tel" autocomplete="tel"
                        placeholder="+1 415 555 2671" aria-invalid=invalid_attr(error, "phone")/>
                </div>
            </details>
            <DescopeOptions error=error/>
            <input type="hidden" name="next" value=next/>
            <SubmitButton pending=action.pending() label="Create account" pending_label="Sending…"/>
        </ActionForm>
    }
}
