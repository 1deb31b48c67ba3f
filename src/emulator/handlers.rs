//! The Descope auth endpoints: OTP (sign-up, sign-in, sign-up-or-in, verify, update) and
//! sessions (refresh, logout, logoutall, me, keys).

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::auth_header::{self, Bearer};
use super::error::{ApiError, ApiResult, codes};
use super::otp::{self, Completion, Method, Pending, Profile, Purpose, SessionRequest};
use super::outbox::NewMessage;
use super::session::{check_custom_claims, empty_jwt_response};
use super::state::{AuthState, EmulatorState, SharedState};
use super::store::User;

/// Login ids longer than this are refused before they reach the store or the outbox.
const MAX_LOGIN_ID_LEN: usize = 320;

/// A JSON body that is lenient the way the SDKs need: an empty or absent body is `T::default()`
/// (Go sends none on refresh/logout), any content type is accepted, and every failure becomes a
/// Descope-shaped JSON error rather than axum's plain-text rejection. The development endpoints
/// (`/emulator/...`) take it too, but only once their guard in `routes.rs` has refused any body
/// that is not `application/json`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            ApiError::new(
                rejection.status(),
                codes::BAD_REQUEST,
                format!("Unreadable request body: {}", rejection.body_text()),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginOptions {
    pub stepup: Option<bool>,
    pub mfa: Option<bool>,
    pub custom_claims: Option<Value>,
    pub template_options: Option<Value>,
    pub template_id: Option<String>,
}

impl LoginOptions {
    fn custom_claims(&self) -> ApiResult<Map<String, Value>> {
        custom_claims_from(self.custom_claims.as_ref())
    }
}

pub fn custom_claims_from(value: Option<&Value>) -> ApiResult<Map<String, Value>> {
    let claims = match value {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(ApiError::invalid_argument(
                "The customClaims argument is invalid: expected an object",
            ));
        }
    };
    check_custom_claims(&claims)?;
    Ok(claims)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserFields {
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl From<UserFields> for Profile {
    fn from(user: UserFields) -> Self {
        Self {
            name: user.name,
            given_name: user.given_name,
            middle_name: user.middle_name,
            family_name: user.family_name,
            email: user.email,
            phone: user.phone,
        }
    }
}

/// Sign-up, sign-in and sign-up-or-in bodies. Top-level `email`/`phone`/`voice`/`whatsapp`
/// (Python, Go) are ignored: the user is keyed by `loginId`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartBody {
    pub login_id: Option<String>,
    pub user: Option<UserFields>,
    pub login_options: Option<LoginOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VerifyBody {
    pub login_id: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateBody {
    pub login_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(rename = "addToLoginIDs")]
    pub add_to_login_ids: Option<bool>,
    pub on_merge_use_existing: Option<bool>,
    pub template_options: Option<Value>,
    pub mfa: Option<bool>,
}

fn method_from_path(raw: &str) -> ApiResult<Method> {
    Method::parse(raw)
        .ok_or_else(|| ApiError::not_found(format!("Unknown delivery method '{raw}'")))
}

fn phone_method_from_path(raw: &str) -> ApiResult<Method> {
    match method_from_path(raw)? {
        Method::Email => Err(ApiError::not_found(
            "Update phone takes sms, voice or whatsapp",
        )),
        m => Ok(m),
    }
}

pub(super) fn required_login_id(login_id: Option<String>) -> ApiResult<String> {
    let login_id = login_id.unwrap_or_default().trim().to_string();
    if login_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::MISSING_ARGUMENTS,
            "The loginId argument is missing",
        ));
    }
    if login_id.len() > MAX_LOGIN_ID_LEN {
        return Err(ApiError::invalid_argument(
            "The loginId argument is invalid: too long",
        ));
    }
    Ok(login_id)
}

pub(super) fn new_user_id() -> String {
    // "U2" + 27 alphanumerics: the shape of Descope user ids.
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    let tail: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(27)
        .map(char::from)
        .collect();
    format!("U2{tail}")
}

/// Everything needed to put a code in the outbox and the pending book.
pub(super) struct Delivery<'a> {
    pub method: Method,
    pub purpose: Purpose,
    pub login_id: String,
    pub alias: Option<String>,
    pub destination: String,
    pub template_options: Option<Value>,
    pub completion: Completion,
    pub session: SessionRequest,
    /// Whether the per-recipient message cap applies: not to test codes (returned, not
    /// delivered), nor to test users when `test_users_uncapped` is on ([`capped`]).
    pub rate_limited: bool,
    pub state: &'a EmulatorState,
}

impl Delivery<'_> {
    /// Rate-limits, issues (voiding older codes) and delivers. Returns the code.
    pub fn run(self, auth: &mut AuthState) -> ApiResult<String> {
        let state = self.state;
        let now = state.now();
        // Every caller picks an address of the channel's kind; this keeps it that way, because
        // verifying the code records the destination as the user's verified address.
        if !self.method.accepts(&self.destination) {
            return Err(no_address_for(self.method, &self.login_id));
        }
        if self.rate_limited {
            auth.rate.admit(
                &self.destination,
                now,
                state.config.rate_limit_max,
                super::secs(state.config.rate_limit_window),
            )?;
        }
        // A fixed code (a test convenience, off by default) is the one exception to "a new
        // code never equals the one it replaces".
        let fixed = [
            Some(&self.login_id),
            self.alias.as_ref(),
            Some(&self.destination),
        ]
        .into_iter()
        .flatten()
        .find_map(|id| state.config.fixed_codes.get(id));
        let code = match fixed {
            Some(code) => code.clone(),
            None => otp::generate_code_other_than(
                &auth
                    .codes
                    .replaced_by(&self.login_id, self.alias.as_deref()),
            ),
        };
        auth.codes.issue(Pending {
            login_id: self.login_id.clone(),
            alias: self.alias,
            destination: self.destination.clone(),
            method: self.method,
            code: code.clone(),
            expires_at: now.saturating_add(super::secs(state.config.code_ttl)),
            wrong_attempts: 0,
            locked: false,
            completion: self.completion,
            session: self.session,
        });
        state.outbox.deliver(NewMessage {
            channel: self.method.as_str(),
            destination: self.destination,
            login_id: self.login_id,
            purpose: self.purpose.as_str(),
            code: code.clone(),
            sent_at: now,
            template_options: self.template_options.filter(|v| !v.is_null()),
        });
        Ok(code)
    }
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

/// The address an existing user's code goes to: the login id picks the user, the method picks
/// the user's address for that channel (which an update may have changed). With no address on
/// record for the channel, the login id itself if it is one; otherwise the user cannot receive
/// a code on this channel at all, and the request is refused.
pub(super) fn user_address_for(method: Method, login_id: &str, user: &User) -> ApiResult<String> {
    let address = if method.is_phone() {
        &user.phone
    } else {
        &user.email
    };
    match address.as_deref().filter(|a| !a.is_empty()) {
        Some(address) => Ok(address.to_string()),
        None if method.accepts(login_id) => Ok(login_id.to_string()),
        None => Err(no_address_for(method, login_id)),
    }
}

/// Refuses a code on a channel the user has no address on, rather than sending it to (and
/// later recording as verified) an address of the wrong kind.
pub(super) fn no_address_for(method: Method, login_id: &str) -> ApiError {
    let kind = if method.is_phone() {
        "phone number"
    } else {
        "email address"
    };
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::NO_ADDRESS_FOR_CHANNEL,
        format!(
            "The user '{login_id}' has no {kind} to send {} codes to",
            method.as_str()
        ),
    )
}

fn masked(method: Method, address: &str) -> Response {
    axum::Json(json!({ method.masked_field(): method.mask(address) })).into_response()
}

pub async fn sign_up(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    auth_header::require_project(&headers, &state.config.project_id)?;
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

pub async fn sign_in(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
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

/// Step-up and MFA extend a live session: its refresh JWT must be in the bearer and belong to
/// the user signing in.
async fn prior_session(state: &EmulatorState, bearer: &Bearer, user: &User) -> ApiResult<Value> {
    if bearer.refresh_jwt.is_none() {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "stepup/mfa need the current refresh token: 'Bearer <projectId>:<refreshJwt>'",
        ));
    }
    let (record, token_user) = state.check_refresh(bearer).await?;
    if token_user.user_id != user.user_id {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "The refresh token belongs to a different user",
        ));
    }
    Ok(record.session_claims)
}

/// Whether a message for `user` counts against the per-recipient cap: always, except for a test
/// user when the emulator exempts them (`test_users_uncapped`). A sign-up (no user yet) is capped.
fn capped(state: &EmulatorState, user: Option<&User>) -> bool {
    !(state.config.test_users_uncapped && user.is_some_and(|u| u.test))
}

pub(super) fn user_not_found() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::USER_NOT_FOUND,
        "User not found",
    )
    .with_message("Cannot find user")
}

pub async fn sign_up_or_in(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult<Response> {
    auth_header::require_project(&headers, &state.config.project_id)?;
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

pub async fn update_email(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult<Response> {
    let address = body.email.clone().unwrap_or_default().trim().to_string();
    start_update(state, headers, body, Method::Email, address).await
}

pub async fn update_phone(
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
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    let field = if method.is_phone() { "phone" } else { "email" };
    method.check_address(field, &address)?;
    let add_to_login_ids = body.add_to_login_ids.unwrap_or(false);
    let on_merge_use_existing = body.on_merge_use_existing.unwrap_or(false);

    let mut auth = state.auth.lock().await;
    let (record, user) = state.check_refresh(&bearer).await?;
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

pub async fn verify(
    State(state): State<SharedState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<VerifyBody>,
) -> ApiResult<Response> {
    auth_header::require_project(&headers, &state.config.project_id)?;
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

/// Sets the new address on the user. If the address is another user's login id and the request
/// asked to merge (`addToLoginIDs` + `onMergeUseExisting`), the *existing other user* survives:
/// it receives this user's login ids and the new address, and this user is deleted (its refresh
/// tokens revoked). The session issued by the verify is then the surviving user's.
async fn apply_update(
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

pub async fn refresh(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    let (record, user) = state.check_refresh(&bearer).await?;
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

pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    let (record, _) = state.check_refresh(&bearer).await?;
    state.store.revoke(&record.jti, state.now()).await?;
    Ok(axum::Json(empty_jwt_response()).into_response())
}

pub async fn logout_all(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    let (_, user) = state.check_refresh(&bearer).await?;
    state
        .store
        .revoke_all_for_user(&user.user_id, state.now())
        .await?;
    Ok(axum::Json(empty_jwt_response()).into_response())
}

pub async fn me(State(state): State<SharedState>, headers: HeaderMap) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    let (_, user) = state.check_refresh(&bearer).await?;
    Ok(axum::Json(user.to_json()).into_response())
}

/// `me/history`: the emulator keeps no login history, so an empty list (a bare array, as the
/// real endpoint returns).
pub async fn me_history(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    state.check_refresh(&bearer).await?;
    Ok(axum::Json(json!([])).into_response())
}

/// `me/tenants`: the emulator has no tenants.
pub async fn me_tenants(
    State(state): State<SharedState>,
    headers: HeaderMap,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Response> {
    let bearer = auth_header::require_project(&headers, &state.config.project_id)?;
    state.check_refresh(&bearer).await?;
    Ok(axum::Json(json!({ "tenants": [] })).into_response())
}

/// JWKS. No auth needed (the SDKs send `Bearer <projectId>` anyway).
pub async fn keys_v2(
    State(state): State<SharedState>,
    Path(project_id): Path<String>,
) -> ApiResult<Response> {
    check_project_in_path(&state, &project_id)?;
    Ok(axum::Json(state.keys.jwks()).into_response())
}

/// The V1 variant returns a bare array; no SDK here uses it, but it costs nothing.
pub async fn keys_v1(
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
