use leptos::prelude::*;

use crate::components::error_banner::invalid_attr;
use crate::error::AppError;

/// Descope's per-call options, folded away under the main form: custom claims for the session
/// JWT and template options for the message; on sign-in also step-up and MFA, which add to the
/// session you already have. The profile page shows what they did.
#[component]
pub fn DescopeOptions(
    #[prop(into)] error: Signal<Option<AppError>>,
    /// Show the sign-in-only options (step-up, MFA).
    #[prop(optional)]
    sign_in: bool,
    /// Leave out template options: sign-up-or-in may reach an existing account, and the
    /// visitor's words go only into messages to an account that is theirs.
    #[prop(optional)]
    no_template_options: bool,
) -> impl IntoView {
    let open = move || {
        error.with(|e| {
            matches!(
                e.as_ref().and_then(AppError::field),
                Some("custom_claims" | "template_options" | "stepup")
            )
        })
    };
    view! {
        <details class="extra" open=open>
            <summary>"Descope options"</summary>
            <div class="field">
                <label for="custom_claims">
                    "Custom claims " <span class="optional">"(JSON object)"</span>
                </label>
                <textarea id="custom_claims" name="custom_claims" rows="3" spellcheck="false"
                    placeholder=r#"{"plan": "pro"}"#
                    aria-describedby="custom_claims-hint"
                    aria-invalid=invalid_attr(error, "custom_claims")></textarea>
                <p class="hint" id="custom_claims-hint">"Added to your session token; shown on your profile."</p>
            </div>
            {(!no_template_options)
                .then(|| {
                    view! {
                        <div class="field">
                            <label for="template_options">
                                "Template options "
                                <span class="optional">"(name=value per line)"</span>
                            </label>
                            <textarea id="template_options" name="template_options" rows="2"
                                spellcheck="false" placeholder="greeting=Welcome back"
                                aria-describedby="template_options-hint"
                                aria-invalid=invalid_attr(error, "template_options")></textarea>
                            <p class="hint" id="template_options-hint">
                                {if sign_in {
                                    "Put into the message; on sign-in only with step-up or MFA."
                                } else {
                                    "Put into the message."
                                }}
                            </p>
                        </div>
                    }
                })}
            {sign_in
                .then(|| {
                    view! {
                        <fieldset class="methods">
                            <legend>"For someone already signed in"</legend>
                            <label class="choice">
                                <input type="checkbox" name="stepup" value="on"
                                    aria-invalid=invalid_attr(error, "stepup")/>
                                "Step up (marks the session as freshly confirmed)"
                            </label>
                            <label class="choice">
                                <input type="checkbox" name="mfa" value="on"/>
                                "Add a second factor (MFA)"
                            </label>
                        </fieldset>
                    }
                })}
        </details>
    }
}
