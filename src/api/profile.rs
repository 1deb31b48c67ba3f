use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{DeliveryMethod, Profile};

#[server(endpoint = "profile")]
pub async fn get_profile() -> Result<Profile, AppError> {
    use crate::server::{context, profile};
    let (state, session) = context().await?;
    profile::load(&state, &session).await
}

/// `add_to_login_ids` is a checkbox: present ("on") when ticked, absent otherwise.
#[server(endpoint = "profile/email")]
pub async fn update_email(email: String, add_to_login_ids: Option<String>) -> Result<(), AppError> {
    use crate::server::{context, profile, session::Change, validate};
    let (state, session) = context().await?;
    let email = validate::email(crate::error::Field::Email, &email)?;
    let change = Change::Email {
        email,
        add_to_login_ids: add_to_login_ids.is_some(),
    };
    profile::request_change(&state, &session, change).await?;
    leptos_axum::redirect("/verify");
    Ok(())
}

#[server(endpoint = "profile/phone")]
pub async fn update_phone(
    method: DeliveryMethod,
    phone: String,
    add_to_login_ids: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{context, profile, session::Change, validate};
    let (state, session) = context().await?;
    if !method.is_phone() {
        return Err(AppError::invalid(
            crate::error::Field::Method,
            crate::error::Problem::PhoneChannelRequired,
        ));
    }
    let phone = validate::phone(crate::error::Field::Phone, &phone)?;
    let change = Change::Phone {
        method,
        phone,
        add_to_login_ids: add_to_login_ids.is_some(),
    };
    profile::request_change(&state, &session, change).await?;
    leptos_axum::redirect("/verify");
    Ok(())
}
