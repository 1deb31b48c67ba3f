use leptos::prelude::*;

use crate::components::error_banner::{described_by, invalid_attr};
use crate::error::AppError;
use crate::models::DeliveryMethod;

/// The delivery-method choice and the login-id field that every sign-up/sign-in form shares.
///
/// The field stays `type="text"` so that, with JavaScript off, choosing a phone method never runs
/// into the browser's email validation; once hydrated, the placeholder, `inputmode` and
/// `autocomplete` follow the chosen method.
#[component]
pub fn LoginIdFields(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let (method, set_method) = signal(DeliveryMethod::Email);
    let input_mode = move || {
        if method.get().is_phone() {
            "tel"
        } else {
            "email"
        }
    };
    let placeholder = move || {
        if method.get().is_phone() {
            "+1 415 555 2671"
        } else {
            "name@example.com"
        }
    };
    view! {
        <fieldset class="methods">
            <legend>"Send my code by"</legend>
            {DeliveryMethod::ALL
                .into_iter()
                .map(|m| {
                    view! {
                        <label class="choice">
                            <input
                                type="radio"
                                name="method"
                                value=m.as_str()
                                checked=m == DeliveryMethod::Email
                                on:change=move |_| set_method.set(m)
                            />
                            {m.label()}
                        </label>
                    }
                })
                .collect_view()}
        </fieldset>
        <div class="field">
            <label for="login_id">"Email address or phone number"</label>
            <input
                id="login_id"
                name="login_id"
                type="text"
                required
                autocomplete="username"
                spellcheck="false"
                autocapitalize="off"
                inputmode=input_mode
                placeholder=placeholder
                aria-describedby=described_by(error, Some("login_id-hint"))
                aria-invalid=invalid_attr(error, "login_id")
            />
            <p class="hint" id="login_id-hint">
                "For a text, voice call or WhatsApp, give the number with its country code."
            </p>
        </div>
    }
}

/// The change-address forms' box that makes the new address a login id too (`add_to_login_ids`,
/// sent as "on" when ticked).
#[component]
pub fn AddToLoginIds(label: &'static str) -> impl IntoView {
    view! {
        <label class="choice">
            <input type="checkbox" name="add_to_login_ids" value="on"/>
            {label}
        </label>
    }
}
