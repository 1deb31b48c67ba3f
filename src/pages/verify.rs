use leptos::html::Input;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::{ResendCode, UseDifferentAddress, VerifyCode, pending_code};
use crate::components::error_banner::{ErrorBanner, described_by, invalid_attr};
use crate::components::http_status::set_http_status;
use crate::components::submit_button::SubmitButton;
use crate::error::AppError;
use crate::models::{DeliveryMethod, Flow, PendingView};
use crate::pages::action_error;

/// Code entry: one field, the masked destination, "send a new code" with a visible cooldown and
/// "use a different address".
#[component]
pub fn VerifyPage() -> impl IntoView {
    let pending = Resource::new(|| (), |_| pending_code());

    view! {
        <Title text="Enter your code"/>
        <section class="card">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Ok(Some(view)) => view! { <CodeForm view/> }.into_any(),
                        Ok(None) => view! { <NothingPending/> }.into_any(),
                        Err(e) => {
                            set_http_status(e.status_code());
                            view! {
                                <h1>"Enter your code"</h1>
                                <p class="error" role="alert">{e.to_string()}</p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn NothingPending() -> impl IntoView {
    view! {
        <h1>"No code waiting"</h1>
        <p>"There is no code to enter right now. It may have been used already."</p>
        <p class="actions">
            <a href="/sign-up-or-in" class="button">"Get a code"</a>
        </p>
    }
}

/// The interactive part of the page: the code field, "send a new code" with its countdown, and
/// "use a different address".
#[island]
fn CodeForm(view: PendingView) -> impl IntoView {
    let verify = ServerAction::<VerifyCode>::new();
    let resend = ServerAction::<ResendCode>::new();
    let cancel = ServerAction::<UseDifferentAddress>::new();
    let verify_error = action_error(verify);
    let resend_error = action_error(resend);
    let error = Signal::derive(move || verify_error.get().or_else(|| resend_error.get()));

    // The cooldown counts down once hydrated; rendered on the server it shows the current wait.
    let remaining = RwSignal::new(view.resend_in_secs);
    Effect::new(move |_| {
        if let Some(Ok(fresh)) = resend.value().get() {
            remaining.set(fresh.resend_in_secs);
        }
        if let Some(Err(AppError::RateLimited { retry_after_secs })) = resend.value().get() {
            remaining.set(retry_after_secs);
        }
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || remaining.update(|s| *s = s.saturating_sub(1)),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });

    // Without JavaScript the button stays usable and the server enforces the cooldown (it answers
    // with the seconds left); once hydrated, the button also waits visibly. Effects run only in
    // the browser, so the server's HTML and the first hydrated render agree.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    // After a failed attempt, put the cursor back in the (cleared) code field.
    let code_input = NodeRef::<Input>::new();
    Effect::new(move |_| {
        if verify_error.get().is_some()
            && let Some(input) = code_input.get()
        {
            input.set_value("");
            let _ = input.focus();
        }
    });

    let heading = match view.flow {
        Flow::StepUp => "Confirm it's you",
        Flow::UpdateEmail => "Confirm your new email address",
        Flow::UpdatePhone => "Confirm your new phone number",
        _ => "Enter your code",
    };
    // How the code travelled, around the masked destination.
    let (before, after) = match (view.if_account_exists, view.method) {
        (false, DeliveryMethod::Email) => ("We emailed a code to ", "."),
        (false, DeliveryMethod::Sms) => ("We texted a code to ", "."),
        (false, DeliveryMethod::Voice) => ("We're calling ", " to read out a code."),
        (false, DeliveryMethod::Whatsapp) => ("We sent a code on WhatsApp to ", "."),
        (true, DeliveryMethod::Email) => ("If an account exists for ", ", we emailed it a code."),
        (true, DeliveryMethod::Sms) => ("If an account exists for ", ", we texted it a code."),
        (true, DeliveryMethod::Voice) => (
            "If an account exists for ",
            ", we're calling it to read out a code.",
        ),
        (true, DeliveryMethod::Whatsapp) => (
            "If an account exists for ",
            ", we sent it a code on WhatsApp.",
        ),
    };
    let step_up_note = view.then.as_ref().map(|what| {
        view! {
            <p class="note">
                {format!(
                    "Changing your {what} needs a recent sign-in. Enter this code first; then we'll send one to the new {what}."
                )}
            </p>
        }
    });

    view! {
        <h1>{heading}</h1>
        {step_up_note}
        <p>
            {before} <strong class="masked">{view.masked.clone()}</strong> {after}
        </p>
        <ActionForm action=verify>
            <ErrorBanner error=error/>
            <div class="field">
                <label for="code">"Code"</label>
                <input
                    id="code"
                    name="code"
                    node_ref=code_input
                    class="code-input"
                    type="text"
                    inputmode="numeric"
                    autocomplete="one-time-code"
                    pattern="[0-9 ]*"
                    maxlength="12"
                    required
                    autofocus
                    aria-describedby=described_by(error, None)
                    aria-invalid=invalid_attr(error, "code")
                />
            </div>
            <SubmitButton pending=verify.pending() label="Verify" pending_label="Checking…"/>
        </ActionForm>
        <div class="secondary-actions">
            <ActionForm action=resend>
                <button
                    type="submit"
                    class="link-button"
                    disabled=move || {
                        hydrated.get() && (remaining.get() > 0 || resend.pending().get())
                    }
                >
                    "Send a new code"
                </button>
                <span class="cooldown" aria-live="polite">
                    {move || {
                        let secs = remaining.get();
                        (secs > 0).then(|| format!("You can ask for a new code in {secs} s."))
                    }}
                </span>
            </ActionForm>
            <ActionForm action=cancel>
                <button type="submit" class="link-button">
                    "Use a different address"
                </button>
            </ActionForm>
        </div>
    }
}
