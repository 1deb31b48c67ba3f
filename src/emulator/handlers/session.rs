//! A session's life after the verify: refresh, logout (this session or all of the user's), the
//! user's details (`me`, with its empty history and tenants), and the public keys the SDKs check
//! session JWTs with. Minting and checking the tokens themselves is `tokens.rs`.
//!
//! `POST /v1/auth/{refresh,logout,logoutall}`, `GET /v1/auth/me`, `GET /v1/auth/me/history`,
//! `POST /v1/auth/me/tenants`, `GET /v2/keys/{projectId}`, `GET /v1/keys/{projectId}`

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::{JsonBody, require_project};
use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::state::{EmulatorState, SharedState};
use crate::emulator::tokens::empty_jwt_response;

pub(in crate::emulator) async fn refresh(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let (record, user) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    if state.config.rotate_refresh_tokens {
        // The token is good for this one refresh: of two calls racing with it, one wins.
        if !state.store.spend(&record.jti, state.now()).await? {
            return Err(ApiError::unauthorized(
                codes::TOKEN_EXPIRED_BY_LOGOUT,
                "Refresh token was already used (refresh-token rotation)",
            ));
        }
        let tokens = state.issue_tokens(&user, &record.session_claims).await?;
        return Ok(axum::Json(state.jwt_response(
            &tokens.session_jwt,
            tokens.session_exp,
            &tokens.refresh_jwt,
            tokens.refresh_exp,
            &user,
            false,
        ))
        .into_response());
    }
    let (session_jwt, session_exp) = state.mint_session(&user.user_id, &record.session_claims)?;
    // No rotation (the default): the same refresh JWT comes back, which every SDK accepts.
    let refresh_jwt = bearer.refresh_jwt.unwrap_or_default();
    Ok(axum::Json(state.jwt_response(
        &session_jwt,
        session_exp,
        &refresh_jwt,
        record.expires_at,
        &user,
        false,
    ))
    .into_response())
}

pub(in crate::emulator) async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let (record, _) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    state.store.revoke(&record.jti, state.now()).await?;
    Ok(axum::Json(empty_jwt_response()).into_response())
}

pub(in crate::emulator) async fn logout_all(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let (_, user) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    state
        .store
        .revoke_all_for_user(&user.user_id, state.now())
        .await?;
    Ok(axum::Json(empty_jwt_response()).into_response())
}

pub(in crate::emulator) async fn me(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let (_, user) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    Ok(axum::Json(user.to_json()).into_response())
}

/// `me/history`: the emulator keeps no login history, so an empty list (a bare array, as the
/// real endpoint returns).
pub(in crate::emulator) async fn me_history(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    Ok(axum::Json(json!([])).into_response())
}

/// `me/tenants`: the emulator has no tenants.
pub(in crate::emulator) async fn me_tenants(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    Ok(axum::Json(json!({ "tenants": [] })).into_response())
}

/// JWKS. No auth needed (the SDKs send `Bearer <projectId>` anyway).
pub(in crate::emulator) async fn keys_v2(
    State(state): State<SharedState>,
    Path(project_id): Path<String>,
) -> ApiResult<Response> {
    check_project_in_path(&state, &project_id)?;
    Ok(axum::Json(state.keys.jwks()).into_response())
}

/// The V1 variant returns a bare array; no SDK here uses it, but it costs nothing.
pub(in crate::emulator) async fn keys_v1(
    State(state): State<SharedState>,
    Path(project_id): Path<String>,
) -> ApiResult<Response> {
    check_project_in_path(&state, &project_id)?;
    let keys = state
        .keys
        .jwks()
        .get("keys")
        .cloned()
        .unwrap_or_else(|| json!([]));
    Ok(axum::Json(keys).into_response())
}

fn check_project_in_path(state: &EmulatorState, project_id: &str) -> ApiResult<()> {
    if project_id != state.config.project_id {
        return Err(ApiError::invalid_argument(format!(
            "Unknown project id '{project_id}'"
        )));
    }
    Ok(())
}
