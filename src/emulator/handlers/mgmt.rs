//! The slice of Descope's management API that tests need: test users and their OTP codes.
//!
//! Paths and bodies are the ones the official SDKs call: the Python SDK's management paths
//! (`MgmtV1`) and its `create_test_user`, `generate_otp_for_test_user` and
//! `delete_all_test_users`, and the Node SDK's `createTestUser`, `generateOTPForTest` and
//! `deleteAllTestUsers`:
//! - `POST /v1/mgmt/user/create/test` (and `/v1/mgmt/user/create`) → `{"user": {...}}`
//! - `POST /v1/mgmt/tests/generate/otp` `{loginId, deliveryMethod, loginOptions}` → `{code, loginId}`
//! - `DELETE /v1/mgmt/user/test/delete/all` (older Python used POST; both accepted) → `{}`
//! - `POST /v1/mgmt/user/delete` `{loginId}` or `{userId}` (Python `delete`, `delete_by_user_id`;
//!   Node `delete`, `deleteByUserId`) → `{}`
//! - `GET /v1/mgmt/user?loginId=` → `{"user": {...}}`
//! - `GET /v1/mgmt/license` → `{"rateLimitTier": "free"}` (called by SDKs at start-up)
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::{
    CreateUserBody, DeleteUserBody, GenerateOtpBody, JsonBody, LoadQuery, custom_claims_from,
    require_project, required_login_id,
};
use super::shared::{Delivery, new_user_id, user_address_for};
use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::otp::{Completion, Method, Purpose, SessionRequest};
use crate::emulator::state::{EmulatorState, SharedState};
use crate::emulator::store::User;

/// Management calls carry `Bearer <projectId>:<managementKey>`.
fn require_management_key(state: &EmulatorState, headers: &HeaderMap) -> ApiResult<()> {
    let bearer = require_project(headers, &state.config.project_id)?;
    if bearer.key.as_deref() != Some(state.config.management_key.as_str()) {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "Invalid or missing management key: expected 'Bearer <projectId>:<managementKey>'",
        ));
    }
    Ok(())
}

pub(in crate::emulator) async fn license(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_project(&headers, &state.config.project_id)?;
    Ok(axum::Json(json!({ "rateLimitTier": "free" })).into_response())
}

pub(in crate::emulator) async fn create_test_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateUserBody>,
) -> ApiResult<Response> {
    create(state, headers, body, true).await
}

pub(in crate::emulator) async fn create_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateUserBody>,
) -> ApiResult<Response> {
    create(state, headers, body, false).await
}

async fn create(
    state: SharedState,
    headers: HeaderMap,
    body: CreateUserBody,
    test: bool,
) -> ApiResult<Response> {
    require_management_key(&state, &headers)?;
    let login_id = required_login_id(body.login_id)?;
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let mut login_ids = vec![login_id];
    for extra in body.additional_login_ids.unwrap_or_default() {
        if !extra.trim().is_empty() && !login_ids.contains(&extra) {
            login_ids.push(extra);
        }
    }
    let _auth = state.auth.lock().await;
    for id in &login_ids {
        if state.store.user_by_login_id(id).await?.is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::USER_ALREADY_EXISTS,
                format!("User already exists: '{id}' is already a login id"),
            ));
        }
    }
    let user = User {
        user_id: new_user_id(),
        login_ids,
        email: non_empty(body.email),
        phone: non_empty(body.phone),
        name: non_empty(body.name).or(non_empty(body.display_name)),
        given_name: non_empty(body.given_name),
        middle_name: non_empty(body.middle_name),
        family_name: non_empty(body.family_name),
        verified_email: body.verified_email.unwrap_or(false),
        verified_phone: body.verified_phone.unwrap_or(false),
        test,
        has_signed_in: false,
        created_time: state.now(),
    };
    state.store.save_user(&user).await?;
    Ok(axum::Json(json!({ "user": user.to_json() })).into_response())
}

pub(in crate::emulator) async fn generate_otp_for_test_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<GenerateOtpBody>,
) -> ApiResult<Response> {
    require_management_key(&state, &headers)?;
    let login_id = required_login_id(body.login_id)?;
    let raw_method = body.delivery_method.unwrap_or_default();
    let method = Method::parse(&raw_method).ok_or_else(|| {
        ApiError::invalid_argument(format!(
            "The deliveryMethod argument is invalid: '{raw_method}' (email, sms, voice, whatsapp)"
        ))
    })?;
    let options = body.login_options.unwrap_or(Value::Null);
    let claims_value = options
        .get("customClaims")
        .or_else(|| options.get("custom_claims"));
    let custom_claims = custom_claims_from(claims_value)?;

    let mut auth = state.auth.lock().await;
    let user = state
        .store
        .user_by_login_id(&login_id)
        .await?
        .ok_or_else(mgmt_user_not_found)?;
    if !user.test {
        return Err(ApiError::invalid_argument(format!(
            "'{login_id}' is not a test user; codes are only generated for test users"
        )));
    }
    // The code is returned, not sent; it still "goes" to the user's address for the channel,
    // which verifying it proves. A user with no address for the channel gets no code, as on
    // sign-in: verifying it would record the login id as an address of the wrong kind.
    let destination = user_address_for(method, &login_id, &user)?;
    let code = Delivery {
        method,
        purpose: Purpose::Test,
        login_id: login_id.clone(),
        alias: None,
        destination,
        template_options: None,
        completion: Completion::SignIn {
            user_id: user.user_id.clone(),
        },
        session: SessionRequest {
            custom_claims,
            ..SessionRequest::default()
        },
        rate_limited: false,
        state: &state,
    }
    .run(&mut auth)?;
    Ok(axum::Json(json!({ "code": code, "loginId": login_id })).into_response())
}

pub(in crate::emulator) async fn delete_all_test_users(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_management_key(&state, &headers)?;
    let mut auth = state.auth.lock().await;
    let deleted = state.store.delete_test_users(state.now()).await?;
    for user in &deleted {
        auth.codes.void_for_user(&user.user_id, &user.login_ids);
    }
    tracing::info!(deleted = deleted.len(), "emulator deleted all test users");
    Ok(axum::Json(json!({})).into_response())
}

/// Deletes one user (test or not) with their refresh tokens and pending codes. Node documents
/// its `delete(loginIdOrUserId)` as taking either, so a `loginId` that is no one's login id is
/// also tried as a user id.
// UNCONFIRMED: deleting a user who does not exist. We answer 200 `{}` (nothing is left to
// delete, as after a repeated call); to refuse instead, return `mgmt_user_not_found()`.
pub(in crate::emulator) async fn delete_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<DeleteUserBody>,
) -> ApiResult<Response> {
    require_management_key(&state, &headers)?;
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (login_id, user_id) = (non_empty(body.login_id), non_empty(body.user_id));
    if login_id.is_none() && user_id.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::MISSING_ARGUMENTS,
            "The loginId argument is missing: pass loginId or userId",
        ));
    }
    let mut auth = state.auth.lock().await;
    let mut user = None;
    if let Some(login_id) = &login_id {
        user = match state.store.user_by_login_id(login_id).await? {
            Some(found) => Some(found),
            None => state.store.user_by_id(login_id).await?,
        };
    }
    if let (None, Some(user_id)) = (&user, &user_id) {
        user = state.store.user_by_id(user_id).await?;
    }
    if let Some(user) = user {
        state.store.delete_user(&user.user_id, state.now()).await?;
        auth.codes.void_for_user(&user.user_id, &user.login_ids);
        tracing::info!(user_id = %user.user_id, "emulator deleted a user");
    }
    Ok(axum::Json(json!({})).into_response())
}

pub(in crate::emulator) async fn load_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<LoadQuery>,
) -> ApiResult<Response> {
    require_management_key(&state, &headers)?;
    let user = match (q.login_id, q.user_id) {
        (Some(l), _) if !l.is_empty() => state.store.user_by_login_id(&l).await?,
        (_, Some(u)) if !u.is_empty() => state.store.user_by_id(&u).await?,
        _ => return Err(ApiError::invalid_argument("Pass loginId or userId")),
    };
    let user = user.ok_or_else(mgmt_user_not_found)?;
    Ok(axum::Json(json!({ "user": user.to_json() })).into_response())
}

fn mgmt_user_not_found() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::MGMT_USER_NOT_FOUND,
        "User not found",
    )
}
