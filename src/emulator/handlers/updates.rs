//! Changing a signed-in user's email or phone. The request checks the new address and sends it a
//! code; the verify (`sign_in.rs`) then applies the change here ([`apply_update`]), merging this
//! user into the one who already has the address when asked to.
//!
//! `POST /v1/auth/otp/update/email`, `POST /v1/auth/otp/update/phone/{sms,voice,whatsapp}`

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::extract::{JsonBody, UpdateBody, phone_method_from_path, require_project};
use super::shared::{Delivery, capped, masked};
use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::otp::{Completion, Method, Purpose, SessionRequest};
use crate::emulator::state::{AuthState, EmulatorState, SharedState};
use crate::emulator::store::User;

pub(in crate::emulator) async fn update_email(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult<Response> {
    let address = body.email.clone().unwrap_or_default().trim().to_string();
    start_update(state, headers, body, Method::Email, address).await
}

pub(in crate::emulator) async fn update_phone(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult<Response> {
    let method = phone_method_from_path(&method)?;
    let address = body.phone.clone().unwrap_or_default().trim().to_string();
    start_update(state, headers, body, method, address).await
}

/// Update email/phone: needs the signed-in user's refresh JWT, checks the new address for
/// conflicts *now* (before any code is sent), and sends the code to the new address.
async fn start_update(
    state: SharedState,
    headers: HeaderMap,
    body: UpdateBody,
    method: Method,
    address: String,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let field = if method.is_phone() { "phone" } else { "email" };
    method.check_address(field, &address)?;
    let add_to_login_ids = body.add_to_login_ids.unwrap_or(false);
    let on_merge_use_existing = body.on_merge_use_existing.unwrap_or(false);

    let mut auth = state.auth.lock().await;
    let (record, user) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    let login_id = match body.login_id.map(|l| l.trim().to_string()) {
        Some(l) if !l.is_empty() => {
            if !user.login_ids.contains(&l) {
                return Err(ApiError::invalid_argument(
                    "The loginId argument is invalid: it is not a login id of the signed-in user",
                ));
            }
            l
        }
        _ => user
            .login_ids
            .first()
            .cloned()
            .unwrap_or_else(|| user.user_id.clone()),
    };
    if let Some(other) = state.store.user_by_login_id(&address).await?
        && other.user_id != user.user_id
        && !(add_to_login_ids && on_merge_use_existing)
    {
        return Err(already_in_use(&address));
    }
    let purpose = if method.is_phone() {
        Purpose::UpdatePhone
    } else {
        Purpose::UpdateEmail
    };
    let mfa = body.mfa.unwrap_or(false);
    Delivery {
        method,
        purpose,
        login_id,
        alias: Some(address.clone()),
        destination: address.clone(),
        template_options: body.template_options,
        completion: Completion::Update {
            user_id: user.user_id.clone(),
            new_address: address.clone(),
            add_to_login_ids,
            on_merge_use_existing,
        },
        session: SessionRequest {
            mfa,
            prior_claims: mfa.then_some(record.session_claims),
            ..SessionRequest::default()
        },
        rate_limited: capped(&state, Some(&user)),
        state: &state,
    }
    .run(&mut auth)?;
    Ok(masked(method, &address))
}

fn already_in_use(address: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::USER_ALREADY_EXISTS,
        format!(
            "'{address}' is already in use by another user; pass addToLoginIDs and onMergeUseExisting to merge"
        ),
    )
}

/// Sets the new address on the user. If the address is another user's login id and the request
/// asked to merge (`addToLoginIDs` + `onMergeUseExisting`), the *existing other user* survives:
/// it receives this user's login ids and the new address, and this user is deleted (its refresh
/// tokens revoked). The session issued by the verify is then the surviving user's.
pub(super) async fn apply_update(
    state: &EmulatorState,
    auth: &mut AuthState,
    mut user: User,
    new_address: &str,
    method: Method,
    add_to_login_ids: bool,
    on_merge_use_existing: bool,
) -> ApiResult<User> {
    let now = state.now();
    let other = state
        .store
        .user_by_login_id(new_address)
        .await?
        .filter(|o| o.user_id != user.user_id);
    if let Some(mut survivor) = other {
        if !(add_to_login_ids && on_merge_use_existing) {
            // The address was taken between the update request and this verify.
            return Err(already_in_use(new_address));
        }
        for id in &user.login_ids {
            if !survivor.login_ids.contains(id) {
                survivor.login_ids.push(id.clone());
            }
        }
        set_address(&mut survivor, method, new_address);
        survivor.has_signed_in = survivor.has_signed_in || user.has_signed_in;
        state.store.delete_user(&user.user_id, now).await?;
        auth.codes.void_for_user(&user.user_id, &user.login_ids);
        return Ok(survivor);
    }
    set_address(&mut user, method, new_address);
    if add_to_login_ids && !user.login_ids.iter().any(|l| l == new_address) {
        user.login_ids.push(new_address.to_string());
    }
    Ok(user)
}

fn set_address(user: &mut User, method: Method, address: &str) {
    if method.is_phone() {
        user.phone = Some(address.to_string());
        user.verified_phone = true;
    } else {
        user.email = Some(address.to_string());
        user.verified_email = true;
    }
}
