//! Signing in with a one-time code. Sign-up, sign-in and sign-up-or-in send a code; verify turns
//! it into a session: it creates the user (a sign-up code), extends the current session (step-up,
//! MFA) or applies an address change (`updates.rs`), then issues the tokens.
//!
//! `POST /v1/auth/otp/{signup,signin,signup-in,verify}/{email,sms,voice,whatsapp}`

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::extract::{
    Bearer, JsonBody, StartBody, UserFields, VerifyBody, method_from_path, require_project,
    required_login_id,
};
use super::shared::{Delivery, capped, masked, new_user_id, user_address_for};
use super::updates::apply_update;
use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::otp::{Completion, Method, Pending, Profile, Purpose, SessionRequest};
use crate::emulator::state::{AuthState, EmulatorState, SharedState};
use crate::emulator::store::User;

pub(in crate::emulator) async fn sign_up(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    require_project(&headers, &state.config.project_id)?;
    let method = method_from_path(&method)?;
    let login_id = required_login_id(body.login_id)?;
    let options = body.login_options.unwrap_or_default();
    let custom_claims = options.custom_claims()?;
    let user = body.user.unwrap_or_default();
    let destination = sign_up_destination(method, &login_id, &user)?;

    let mut auth = state.auth.lock().await;
    if state.store.user_by_login_id(&login_id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::USER_ALREADY_EXISTS,
            format!("User already exists: '{login_id}' is already registered"),
        ));
    }
    Delivery {
        method,
        purpose: Purpose::SignUp,
        login_id: login_id.clone(),
        alias: None,
        destination: destination.clone(),
        template_options: options.template_options,
        completion: Completion::SignUp {
            profile: user.into(),
        },
        session: SessionRequest {
            custom_claims,
            ..SessionRequest::default()
        },
        rate_limited: true,
        state: &state,
    }
    .run(&mut auth)?;
    Ok(masked(method, &destination))
}

pub(in crate::emulator) async fn sign_in(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    let bearer = require_project(&headers, &state.config.project_id)?;
    let method = method_from_path(&method)?;
    let login_id = required_login_id(body.login_id)?;
    let options = body.login_options.unwrap_or_default();
    let custom_claims = options.custom_claims()?;
    let stepup = options.stepup.unwrap_or(false);
    let mfa = options.mfa.unwrap_or(false);

    let mut auth = state.auth.lock().await;
    let Some(user) = state.store.user_by_login_id(&login_id).await? else {
        // A login id that could never be sent to by this channel says so before "not found".
        method.check_address("loginId", &login_id)?;
        return Err(user_not_found());
    };
    let destination = user_address_for(method, &login_id, &user)?;
    let prior_claims = if stepup || mfa {
        Some(prior_session(&state, &bearer, &user).await?)
    } else {
        None
    };
    Delivery {
        method,
        purpose: Purpose::SignIn,
        login_id: login_id.clone(),
        alias: None,
        destination: destination.clone(),
        template_options: options.template_options,
        completion: Completion::SignIn {
            user_id: user.user_id.clone(),
        },
        session: SessionRequest {
            custom_claims,
            stepup,
            mfa,
            prior_claims,
        },
        rate_limited: capped(&state, Some(&user)),
        state: &state,
    }
    .run(&mut auth)?;
    Ok(masked(method, &destination))
}

pub(in crate::emulator) async fn sign_up_or_in(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    require_project(&headers, &state.config.project_id)?;
    let method = method_from_path(&method)?;
    let login_id = required_login_id(body.login_id)?;
    let options = body.login_options.unwrap_or_default();
    let custom_claims = options.custom_claims()?;
    let user = body.user.unwrap_or_default();

    let mut auth = state.auth.lock().await;
    let existing = state.store.user_by_login_id(&login_id).await?;
    let rate_limited = capped(&state, existing.as_ref());
    let (destination, completion) = match existing {
        Some(existing) => (
            user_address_for(method, &login_id, &existing)?,
            Completion::SignIn {
                user_id: existing.user_id,
            },
        ),
        None => (
            sign_up_destination(method, &login_id, &user)?,
            Completion::SignUp {
                profile: user.into(),
            },
        ),
    };
    Delivery {
        method,
        purpose: Purpose::SignUpOrIn,
        login_id: login_id.clone(),
        alias: None,
        destination: destination.clone(),
        template_options: options.template_options,
        completion,
        session: SessionRequest {
            custom_claims,
            ..SessionRequest::default()
        },
        rate_limited,
        state: &state,
    }
    .run(&mut auth)?;
    Ok(masked(method, &destination))
}

pub(in crate::emulator) async fn verify(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<VerifyBody>,
) -> ApiResult<Response> {
    require_project(&headers, &state.config.project_id)?;
    let method = method_from_path(&method)?;
    let login_id = required_login_id(body.login_id)?;
    let code = body.code.unwrap_or_default();
    if code.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::MISSING_ARGUMENTS,
            "The code argument is missing",
        ));
    }

    let mut auth = state.auth.lock().await;
    let pending = auth.codes.verify(
        &login_id,
        method,
        code.trim(),
        state.now(),
        state.config.max_attempts,
    )?;
    let (user, first_seen) = complete(&state, &mut auth, &pending).await?;
    drop(auth);

    let claims = session_claims(&pending, method);
    let tokens = state.issue_tokens(&user, &claims).await?;
    Ok(axum::Json(state.jwt_response(
        &tokens.session_jwt,
        tokens.session_exp,
        &tokens.refresh_jwt,
        tokens.refresh_exp,
        &user,
        first_seen,
    ))
    .into_response())
}

/// The address a sign-up's code goes to: the channel's address in the user details when given
/// (the login id may then be a username), else the login id itself, which must then fit the
/// channel. Descope's SDK docs: the delivery information comes "either in the optional details
/// parameter or as the loginId itself".
fn sign_up_destination(method: Method, login_id: &str, user: &UserFields) -> ApiResult<String> {
    let detail = if method.is_phone() {
        &user.phone
    } else {
        &user.email
    };
    match detail.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(address) => {
            let field = if method.is_phone() {
                "user.phone"
            } else {
                "user.email"
            };
            method.check_address(field, address)?;
            Ok(address.to_string())
        }
        None => {
            method.check_address("loginId", login_id)?;
            Ok(login_id.to_string())
        }
    }
}

/// Step-up and MFA extend a live session: its refresh JWT must be in the bearer and belong to
/// the user signing in.
async fn prior_session(state: &EmulatorState, bearer: &Bearer, user: &User) -> ApiResult<Value> {
    if bearer.refresh_jwt.is_none() {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "stepup/mfa need the current refresh token: 'Bearer <projectId>:<refreshJwt>'",
        ));
    }
    let (record, token_user) = state.check_refresh(bearer.refresh_jwt.as_deref()).await?;
    if token_user.user_id != user.user_id {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "The refresh token belongs to a different user",
        ));
    }
    Ok(record.session_claims)
}

fn user_not_found() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::USER_NOT_FOUND,
        "User not found",
    )
    .with_message("Cannot find user")
}

/// Applies a verified code to the user store. Returns the signed-in user and `firstSeen`.
/// Only a sign-up code creates a user; every other code acts on the user it was sent for and
/// is refused if that user is gone.
async fn complete(
    state: &EmulatorState,
    auth: &mut AuthState,
    pending: &Pending,
) -> ApiResult<(User, bool)> {
    let now = state.now();
    let method = pending.method;
    let (mut user, first_seen) = match &pending.completion {
        Completion::SignIn { user_id } => {
            // Deleting a user voids their codes; this holds even for a path that forgot to.
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or_else(user_not_found)?;
            let first_seen = !user.has_signed_in;
            (user, first_seen)
        }
        Completion::SignUp { profile } => {
            match state.store.user_by_login_id(&pending.login_id).await? {
                Some(user) => {
                    let first_seen = !user.has_signed_in;
                    (user, first_seen)
                }
                None => (
                    new_user(
                        &pending.login_id,
                        &pending.destination,
                        method,
                        profile,
                        now,
                    ),
                    true,
                ),
            }
        }
        Completion::Update {
            user_id,
            new_address,
            add_to_login_ids,
            on_merge_use_existing,
        } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or_else(user_not_found)?;
            let user = apply_update(
                state,
                auth,
                user,
                new_address,
                method,
                *add_to_login_ids,
                *on_merge_use_existing,
            )
            .await?;
            let first_seen = !user.has_signed_in;
            (user, first_seen)
        }
    };
    // A verified code proves the address it went to.
    let address = pending.destination.as_str();
    if method.is_phone() {
        if user.phone.is_none() {
            user.phone = Some(address.to_string());
        }
        if user.phone.as_deref() == Some(address) {
            user.verified_phone = true;
        }
    } else {
        if user.email.is_none() {
            user.email = Some(address.to_string());
        }
        if user.email.as_deref() == Some(address) {
            user.verified_email = true;
        }
    }
    user.has_signed_in = true;
    state.store.save_user(&user).await?;
    Ok((user, first_seen))
}

fn new_user(
    login_id: &str,
    destination: &str,
    method: Method,
    profile: &Profile,
    now: i64,
) -> User {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let mut user = User {
        user_id: new_user_id(),
        login_ids: vec![login_id.to_string()],
        email: non_empty(&profile.email),
        phone: non_empty(&profile.phone),
        name: non_empty(&profile.name),
        given_name: non_empty(&profile.given_name),
        middle_name: non_empty(&profile.middle_name),
        family_name: non_empty(&profile.family_name),
        created_time: now,
        ..User::default()
    };
    // The channel's address is where the code went: the login id unless the details named one.
    if method.is_phone() {
        user.phone = Some(destination.to_string());
    } else {
        user.email = Some(destination.to_string());
    }
    user
}

/// The claims of the new session: `amr` (plus the prior session's factors and `mfa` for MFA),
/// `su` for step-up, and custom claims (the new ones win over the prior session's).
fn session_claims(pending: &Pending, method: Method) -> Value {
    let session = &pending.session;
    let mut claims = match (&session.prior_claims, session.stepup || session.mfa) {
        (Some(Value::Object(prior)), true) => prior.clone(),
        _ => Map::new(),
    };
    let mut amr: Vec<Value> = claims
        .get("amr")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut add = |v: &str| {
        if !amr.iter().any(|a| a == v) {
            amr.push(json!(v));
        }
    };
    add(method.amr());
    if session.mfa {
        add("mfa");
    }
    claims.insert("amr".into(), Value::Array(amr));
    if session.stepup {
        claims.insert("su".into(), json!(true));
    }
    for (k, v) in &session.custom_claims {
        claims.insert(k.clone(), v.clone());
    }
    Value::Object(claims)
}
