//! Reading a request: the lenient JSON body the endpoints take ([`JsonBody`]), the body of each
//! Descope call, the `Authorization: Bearer <projectId>[:<refreshJwt>][:<key>]` value, and the
//! checks on what they carry (the `{method}` path segment, the login id). A handler gets typed,
//! checked values from here; every refusal is already a Descope-shaped error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::otp::{Method, Profile};
use crate::emulator::tokens::RESERVED_CLAIMS;

/// A JSON body that is lenient the way the SDKs need: an empty or absent body is `T::default()`
/// (Go sends none on refresh/logout), any content type is accepted, and every failure becomes a
/// Descope-shaped JSON error rather than axum's plain-text rejection. The development endpoints
/// (`/emulator/...`) take it too, but only once their guard in `routes.rs` has refused any body
/// that is not `application/json`.
pub(in crate::emulator) struct JsonBody<T>(pub(in crate::emulator) T);

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

/// Sign-up, sign-in and sign-up-or-in bodies. Top-level `email`/`phone`/`voice`/`whatsapp`
/// (Python, Go) are ignored: the user is keyed by `loginId`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct StartBody {
    pub(super) login_id: Option<String>,
    pub(super) user: Option<UserFields>,
    pub(super) login_options: Option<LoginOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct UserFields {
    pub(super) name: Option<String>,
    pub(super) given_name: Option<String>,
    pub(super) middle_name: Option<String>,
    pub(super) family_name: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct LoginOptions {
    pub(super) stepup: Option<bool>,
    pub(super) mfa: Option<bool>,
    pub(super) custom_claims: Option<Value>,
    pub(super) template_options: Option<Value>,
    pub(super) template_id: Option<String>,
}

impl LoginOptions {
    pub(super) fn custom_claims(&self) -> ApiResult<Map<String, Value>> {
        custom_claims_from(self.custom_claims.as_ref())
    }
}

pub(super) fn custom_claims_from(value: Option<&Value>) -> ApiResult<Map<String, Value>> {
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

/// `POST /v1/auth/otp/verify/{method}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct VerifyBody {
    pub(super) login_id: Option<String>,
    pub(super) code: Option<String>,
}

/// `POST /v1/auth/otp/update/email` and `/v1/auth/otp/update/phone/{method}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct UpdateBody {
    pub(super) login_id: Option<String>,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    #[serde(rename = "addToLoginIDs")]
    pub(super) add_to_login_ids: Option<bool>,
    pub(super) on_merge_use_existing: Option<bool>,
    pub(super) template_options: Option<Value>,
    pub(super) mfa: Option<bool>,
}

/// `POST /v1/mgmt/user/create` and `/v1/mgmt/user/create/test`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct CreateUserBody {
    pub(super) login_id: Option<String>,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) name: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) given_name: Option<String>,
    pub(super) middle_name: Option<String>,
    pub(super) family_name: Option<String>,
    pub(super) verified_email: Option<bool>,
    pub(super) verified_phone: Option<bool>,
    pub(super) additional_login_ids: Option<Vec<String>>,
}

/// `POST /v1/mgmt/tests/generate/otp`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct GenerateOtpBody {
    pub(super) login_id: Option<String>,
    pub(super) delivery_method: Option<String>,
    /// Python sends `LoginOptions.__dict__`, i.e. snake_case keys; Node sends camelCase.
    pub(super) login_options: Option<Value>,
}

/// `POST /v1/mgmt/user/delete`: either id.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct DeleteUserBody {
    pub(super) login_id: Option<String>,
    pub(super) user_id: Option<String>,
}

/// `GET /v1/mgmt/user?loginId=` (or `?userId=`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(in crate::emulator) struct LoadQuery {
    pub(super) login_id: Option<String>,
    pub(super) user_id: Option<String>,
}

/// The `{method}` path segment: `email`, `sms`, `voice` or `whatsapp`.
pub(super) fn method_from_path(raw: &str) -> ApiResult<Method> {
    Method::parse(raw)
        .ok_or_else(|| ApiError::not_found(format!("Unknown delivery method '{raw}'")))
}

/// The `{method}` of an update of the phone: a phone channel.
pub(super) fn phone_method_from_path(raw: &str) -> ApiResult<Method> {
    match method_from_path(raw)? {
        Method::Email => Err(ApiError::not_found(
            "Update phone takes sms, voice or whatsapp",
        )),
        m => Ok(m),
    }
}

/// Login ids longer than this are refused before they reach the store or the outbox.
const MAX_LOGIN_ID_LEN: usize = 320;

/// The `loginId` of a body: present, trimmed, and not too long.
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

/// The parts of a Descope bearer value, `Authorization: Bearer <projectId>[:<refreshJwt>][:<key>]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(in crate::emulator) struct Bearer {
    project_id: String,
    /// The part shaped like a JWT, if any.
    pub(in crate::emulator) refresh_jwt: Option<String>,
    /// Any other extra part: a management key (or an auth management key).
    pub(super) key: Option<String>,
}

/// Three non-empty dot-separated base64url segments.
fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// Splits a bearer value on `:`. Part 0 is the project id; a JWT-shaped part is the refresh
/// JWT; any other part is a key. Returns `None` for a missing or non-Bearer header.
fn parse_bearer(headers: &HeaderMap) -> Option<Bearer> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parts = rest.trim().split(':');
    let project_id = parts.next()?.to_string();
    let mut bearer = Bearer {
        project_id,
        ..Bearer::default()
    };
    for part in parts.filter(|p| !p.is_empty()) {
        if looks_like_jwt(part) && bearer.refresh_jwt.is_none() {
            bearer.refresh_jwt = Some(part.to_string());
        } else if bearer.key.is_none() {
            bearer.key = Some(part.to_string());
        }
    }
    Some(bearer)
}

/// The bearer, with its project id checked against ours.
pub(super) fn require_project(headers: &HeaderMap, project_id: &str) -> Result<Bearer, ApiError> {
    let bearer = parse_bearer(headers).ok_or_else(|| {
        ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "Missing or malformed Authorization header: expected 'Bearer <projectId>[:<jwt>]'",
        )
    })?;
    if bearer.project_id != project_id {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            format!("Unknown project id '{}'", bearer.project_id),
        ));
    }
    Ok(bearer)
}

/// Refuses custom claims that would override the emulator's own.
fn check_custom_claims(claims: &Map<String, Value>) -> ApiResult<()> {
    if let Some(bad) = claims
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            codes::VALIDATION_FAILURE,
            format!("customClaims may not set the reserved claim '{bad}'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn a_bearer_with_project_jwt_and_key_is_split_into_its_three_parts() {
        let b = parse_bearer(&headers("Bearer P2abc:aaa.bbb.ccc:K2key")).unwrap();
        assert_eq!(b.project_id, "P2abc");
        assert_eq!(b.refresh_jwt.as_deref(), Some("aaa.bbb.ccc"));
        assert_eq!(b.key.as_deref(), Some("K2key"));
    }

    #[test]
    fn a_second_part_that_is_not_a_jwt_is_a_key() {
        let b = parse_bearer(&headers("Bearer P2abc:secret")).unwrap();
        assert_eq!(b.refresh_jwt, None);
        assert_eq!(b.key.as_deref(), Some("secret"));
    }

    #[test]
    fn a_non_bearer_header_is_not_parsed() {
        assert_eq!(parse_bearer(&headers("Basic abc")), None);
        assert_eq!(parse_bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn a_wrong_project_id_is_refused() {
        let err = require_project(&headers("Bearer P2other"), "P2mine").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::UNAUTHORIZED);
    }
}
