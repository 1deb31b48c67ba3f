use leptos::prelude::*;

use crate::error::AppError;

/// The `id` of the banner, for `aria-describedby` on the field the error is about.
pub const ERROR_ID: &str = "form-error";

/// Shows a form's error. `role="alert"` makes screen readers announce it as soon as it appears,
/// whether it came back from a hydrated submit or is rendered by the server after a plain POST.
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <div class="error-slot" role="alert" aria-live="assertive">
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p class="error" id=ERROR_ID>
                                {e.to_string()}
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// `aria-describedby` for a field: its hint, if it has one, and the banner while an error shows
/// (while none does, the banner's id names no element, and would point a screen reader at
/// nothing).
pub fn described_by(
    error: Signal<Option<AppError>>,
    hint: Option<&'static str>,
) -> impl Fn() -> Option<String> + Send + Sync + Copy {
    move || {
        let shown = error.with(Option::is_some).then_some(ERROR_ID);
        let ids: Vec<&str> = hint.into_iter().chain(shown).collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// Whether `field` is the one the error is about, as `aria-invalid` wants it.
pub fn invalid_attr(
    error: Signal<Option<AppError>>,
    field: &'static str,
) -> impl Fn() -> &'static str + Send + Sync + Copy {
    move || {
        if error.with(|e| e.as_ref().and_then(AppError::field) == Some(field)) {
            "true"
        } else {
            "false"
        }
    }
}
