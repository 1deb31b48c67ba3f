use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::profile::UpdateEmail;
use crate::components::error_banner::{ErrorBanner, described_by, invalid_attr};
use crate::components::login_id_fields::AddToLoginIds;
use crate::components::submit_button::SubmitButton;
use crate::pages::action_error;

#[component]
pub fn UpdateEmailPage() -> impl IntoView {
    view! {
        <Title text="Change your email"/>
        <section class="card">
            <h1>"Change your email address"</h1>
            <p>"We'll send a code to the new address to confirm it is yours."</p>
            <UpdateEmailForm/>
            <p class="aside"><a href="/profile">"Back to your profile"</a></p>
        </section>
    }
}

#[island]
fn UpdateEmailForm() -> impl IntoView {
    let action = ServerAction::<UpdateEmail>::new();
    let error = action_error(action);
    view! {
        <ActionForm action=action>
            <ErrorBanner error=error/>
            <div class="field">
                <label for="email">"New email address"</label>
                <input id="email" name="email" type="email" autocomplete="email" required
                    aria-describedby=described_by(error, None) aria-invalid=invalid_attr(error, "email")/>
            </div>
            <AddToLoginIds label="Also let me sign in with this address"/>
            <SubmitButton pending=action.pending() label="Send a code" pending_label="Sending…"/>
        </ActionForm>
    }
}
