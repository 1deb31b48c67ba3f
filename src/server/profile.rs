//! The signed-in person's profile, and changes to their email address and phone number.

use crate::descope::SessionClaims;
use crate::error::AppError;
use crate::models::{Flow, Profile};
use crate::server::auth;
use crate::server::errors::from_descope;
use crate::server::gate::require_user;
use crate::server::session::{AuthSession, Change, OtpRequest, UserDetails};
use crate::server::state::AppState;

/// Builds the profile from the validated session claims and the person's details kept in the
/// session. Descope's `me` is asked only when those details are missing or older than
/// `USER_DETAILS_MAX_AGE_MINUTES`; every change the app makes (verify, refresh) renews them.
pub async fn load(state: &AppState, session: &AuthSession) -> Result<Profile, AppError> {
    let (mut current, claims) = require_user(state, session).await?;
    let now_ms = state.clock.now_ms();
    let max_age_ms = state.settings.user_details_max_age.as_millis() as i64;
    let details = match current.details.clone() {
        Some(details) if now_ms - details.as_of_ms < max_age_ms => details,
        _ => {
            let user = state
                .descope
                .me(&current.refresh_jwt)
                .await
                .map_err(|e| from_descope(e, Flow::SignIn))?;
            let details = UserDetails::from_descope(&user, now_ms);
            current.details = Some(details.clone());
            session.update(&mut current, now_ms).await?;
            details
        }
    };
    Ok(Profile {
        user_id: claims.user_id().to_owned(),
        name: details.name,
        login_ids: details.login_ids,
        email: details.email,
        verified_email: details.verified_email,
        phone: details.phone,
        verified_phone: details.verified_phone,
        session_expires_at: claims.exp,
        authenticated_at: current.authenticated_at_ms / 1000,
        amr: claims.amr.clone(),
        stepped_up: claims.su,
        custom_claims: custom_claims(&claims),
    })
}

/// Asks for a change of email or phone. When the person's last verified code is older than the
/// step-up window, they are first sent a code to their current login id; the change itself is
/// requested once that code is verified.
pub async fn request_change(
    state: &AppState,
    session: &AuthSession,
    change: Change,
) -> Result<(), AppError> {
    let (current, _) = require_user(state, session).await?;
    let age_ms = state.clock.now_ms() - current.authenticated_at_ms;
    let fresh = age_ms <= state.settings.step_up_max_age.as_millis() as i64;
    let request = if fresh {
        OtpRequest::Update(change)
    } else {
        OtpRequest::StepUp {
            method: current.method,
            login_id: current.login_id.clone(),
            then: change,
        }
    };
    auth::start(state, session, request, Some("/profile".to_owned())).await
}

fn custom_claims(claims: &SessionClaims) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = claims
        .custom
        .iter()
        .map(|(name, value)| (name.clone(), value.to_string()))
        .collect();
    out.sort();
    out
}
