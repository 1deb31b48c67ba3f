// A server function takes one argument per form field, and the sign-up form has eight.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{DeliveryMethod, PendingView};

// The three ways to ask for a code. Besides the login id, each takes Descope's per-call options
// from the form's "Descope options" section: `custom_claims` (a JSON object) and
// `template_options` (name=value lines); sign-in also `stepup` and `mfa` (checkboxes, present
// when ticked). `next` is where to go once the code is verified (local paths only).

/// Sign up or sign in, whichever applies: Descope's `signup-in`. The main entry.
#[server(endpoint = "otp/sign-up-or-in")]
pub async fn sign_up_or_in(
    method: DeliveryMethod,
    login_id: String,
    next: Option<String>,
    custom_claims: Option<String>,
    template_options: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{auth, context, session::OtpRequest, validate};
    let (state, session) = context().await?;
    let request = OtpRequest::SignUpOrIn {
        method,
        login_id: validate::login_id(method, &login_id)?,
        options: validate::otp_options(custom_claims, template_options, None, None)?,
    };
    auth::start(
        &state,
        &session,
        request,
        validate::next_path(next.as_deref()),
    )
    .await?;
    leptos_axum::redirect("/verify");
    Ok(())
}

#[server(endpoint = "otp/sign-up")]
pub async fn sign_up(
    method: DeliveryMethod,
    login_id: String,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    next: Option<String>,
    custom_claims: Option<String>,
    template_options: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{auth, context, session::OtpRequest, validate};
    let (state, session) = context().await?;
    let filled = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let request = OtpRequest::SignUp {
        method,
        login_id: validate::login_id(method, &login_id)?,
        name: validate::name(name.as_deref())?,
        email: filled(email)
            .map(|e| validate::email(crate::error::Field::Email, &e))
            .transpose()?,
        phone: filled(phone)
            .map(|p| validate::phone(crate::error::Field::Phone, &p))
            .transpose()?,
        options: validate::otp_options(custom_claims, template_options, None, None)?,
    };
    auth::start(
        &state,
        &session,
        request,
        validate::next_path(next.as_deref()),
    )
    .await?;
    leptos_axum::redirect("/verify");
    Ok(())
}

#[server(endpoint = "otp/sign-in")]
pub async fn sign_in(
    method: DeliveryMethod,
    login_id: String,
    next: Option<String>,
    custom_claims: Option<String>,
    template_options: Option<String>,
    stepup: Option<String>,
    mfa: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{auth, context, session::OtpRequest, validate};
    let (state, session) = context().await?;
    let request = OtpRequest::SignIn {
        method,
        login_id: validate::login_id(method, &login_id)?,
        options: validate::otp_options(custom_claims, template_options, stepup, mfa)?,
    };
    auth::start(
        &state,
        &session,
        request,
        validate::next_path(next.as_deref()),
    )
    .await?;
    leptos_axum::redirect("/verify");
    Ok(())
}

/// The code now waiting, for the code-entry page.
#[server(endpoint = "otp/pending")]
pub async fn pending_code() -> Result<Option<PendingView>, AppError> {
    use crate::server::{auth, context};
    let (state, session) = context().await?;
    auth::pending_view(&state, &session).await
}

#[server(endpoint = "otp/verify")]
pub async fn verify_code(code: String) -> Result<(), AppError> {
    use crate::server::{auth, context, validate};
    let (state, session) = context().await?;
    let code = validate::code(&code)?;
    let next = auth::verify(&state, &session, &code).await?;
    leptos_axum::redirect(&next);
    Ok(())
}

#[server(endpoint = "otp/resend")]
pub async fn resend_code() -> Result<PendingView, AppError> {
    use crate::server::{auth, context};
    let (state, session) = context().await?;
    auth::resend(&state, &session).await
}

/// "Use a different address": forget the waiting code and go back to the form it came from.
#[server(endpoint = "otp/cancel")]
pub async fn use_different_address() -> Result<(), AppError> {
    use crate::server::{auth, context};
    let (_, session) = context().await?;
    let start = auth::cancel(&session).await?;
    leptos_axum::redirect(start);
    Ok(())
}

#[server(endpoint = "session/sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::{auth, context};
    let (state, session) = context().await?;
    auth::sign_out(&state, &session).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "session/sign-out-everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::server::{auth, context};
    let (state, session) = context().await?;
    let outcome = auth::sign_out_everywhere(&state, &session).await?;
    leptos_axum::redirect(match outcome {
        auth::SignedOutEverywhere::Fully => "/sign-in",
        // The sign-in page says what this means.
        auth::SignedOutEverywhere::InThisAppOnly => "/sign-in?signed_out=app-only",
    });
    Ok(())
}
