use leptos::prelude::*;

/// A submit button that, once hydrated, shows that the request is under way and cannot be
/// pressed twice. Without JavaScript it is an ordinary submit button.
#[component]
pub fn SubmitButton(
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    pending_label: &'static str,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=if class.is_empty() { "button" } else { class }
            disabled=move || pending.get()
            aria-busy=move || if pending.get() { "true" } else { "false" }
        >
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}
