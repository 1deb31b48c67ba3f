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
