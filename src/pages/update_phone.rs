use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::profile::UpdatePhone;
use crate::components::error_banner::{ErrorBanner, described_by, invalid_attr};
use crate::components::login_id_fields::AddToLoginIds;
use crate::components::submit_button::SubmitButton;
use crate::models::DeliveryMethod;
use crate::pages::action_error;

#[component]
pub fn UpdatePhonePage() -> impl IntoView {
    view! {
        <Title text="Change your phone number"/>
        <section class="card">
            <h1>"Change your phone number"</h1>
            <p>"We'll send a code to the new number to confirm it is yours."</p>
            <UpdatePhoneForm/>
            <p class="aside"><a href="/profile">"Back to your profile"</a></p>
        </section>
    }
}

#[island]
fn UpdatePhoneForm() -> impl IntoView {
    let action = ServerAction::<UpdatePhone>::new();
    let error = action_error(action);
    view! {
        <ActionForm action=action>
            <ErrorBanner error=error/>
            <fieldset class="methods">
                <legend>"Send the code by"</legend>
                {[DeliveryMethod::Sms, DeliveryMethod::Voice, DeliveryMethod::Whatsapp]
                    .into_iter()
                    .map(|m| {
                        view! {
                            <label class="choice">
                                <input type="radio" name="method" value=m.as_str()
                                    checked=m == DeliveryMethod::Sms/>
                                {m.label()}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <div class="field">
                <label for="phone">"New phone number"</label>
                <input id="phone" name="phone" type="tel" autocomplete="tel" required
                    placeholder="+1 415 555 2671"
                    aria-describedby=described_by(error, None) aria-invalid=invalid_attr(error, "phone")/>
            </div>
            <AddToLoginIds label="Also let me sign in with this number"/>
            <SubmitButton pending=action.pending() label="Send a code" pending_label="Sending…"/>
        </ActionForm>
    }
}
