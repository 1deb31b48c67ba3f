//! What goes over the wire to and from Descope (camelCase JSON, API.md §3, §4, §8).
//!
//! Public types are what the app uses; the `*Body`/`*Wire` types are private to the client and
//! mirror exactly what the official SDKs send and receive. Response types are lenient: a missing
//! or `null` field becomes its default, because Descope adds fields over time and the SDKs do
//! not require more than a few.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::error::DescopeError;
use crate::models::DeliveryMethod;

// ----- What the app passes in -------------------------------------------------------------

/// Profile data sent with a sign-up (`user` in the body). All optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUpUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Options for sign-up and sign-up-or-in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignUpOptions {
    /// Extra claims Descope puts into the session JWT.
    pub custom_claims: Option<Map<String, Value>>,
    /// Values for the message template (e.g. a product name in the email).
    pub template_options: Option<BTreeMap<String, String>>,
}

/// Options for sign-in. `stepup` or `mfa` need the user's refresh JWT.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoginOptions {
    pub stepup: bool,
    pub mfa: bool,
    pub custom_claims: Option<Map<String, Value>>,
    pub template_options: Option<BTreeMap<String, String>>,
}

/// Options for updating a signed-in user's email or phone; what the two flags mean is in
/// API.md §3.3.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateOptions {
    /// Make the new address an extra login id.
    pub add_to_login_ids: bool,
    /// If the address belongs to another user, keep that user (only with `add_to_login_ids`).
    pub on_merge_use_existing: bool,
    pub template_options: Option<BTreeMap<String, String>>,
}

// ----- What the app gets back -------------------------------------------------------------

/// Where the code went, masked by Descope (`a***@example.com`, `+1*******89`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskedAddress {
    pub masked: String,
}

/// A successful verify or refresh. Tokens are secrets: `Debug` prints `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct AuthResponse {
    pub session_jwt: SecretString,
    /// Absent when Descope is configured to set it as a cookie instead, or (on refresh) when
    /// refresh-token rotation is off: then keep using the old one.
    pub refresh_jwt: Option<SecretString>,
    pub cookie_max_age: Option<i64>,
    pub cookie_expiration: Option<i64>,
    pub user: Option<UserResponse>,
    pub first_seen: bool,
}

/// A Descope user (API.md §8). Unknown fields are ignored, missing or null ones default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub user_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub login_ids: Vec<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub picture: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub verified_email: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub verified_phone: bool,
    /// `enabled`, `disabled`, `invited` or `expired`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    /// Unix seconds.
    #[serde(deserialize_with = "null_as_default")]
    pub created_time: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub custom_attributes: Map<String, Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub role_names: Vec<String>,
}

/// The project's public signing keys (`GET /v2/keys/{projectId}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jwks {
    #[serde(deserialize_with = "null_as_default")]
    pub keys: Vec<Jwk>,
}

/// One public key. RSA keys carry `n`/`e`, EC keys `crv`/`x`/`y`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jwk {
    #[serde(deserialize_with = "null_as_default")]
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// `null` (which Python sends for unset options) reads as the type's default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ----- Request bodies (private) -----------------------------------------------------------

/// `loginOptions` as sent with sign-up, sign-in and sign-up-or-in. Python sends `stepup`/`mfa`
/// even when false; we send them only on sign-in, where they mean something.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginOptionsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stepup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_claims: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_options: Option<&'a BTreeMap<String, String>>,
}

impl<'a> LoginOptionsBody<'a> {
    pub fn for_sign_up(o: &'a SignUpOptions) -> Self {
        Self {
            custom_claims: o.custom_claims.as_ref(),
            template_options: o.template_options.as_ref(),
            ..Self::default()
        }
    }

    pub fn for_sign_in(o: &'a LoginOptions) -> Self {
        Self {
            stepup: Some(o.stepup),
            mfa: Some(o.mfa),
            custom_claims: o.custom_claims.as_ref(),
            template_options: o.template_options.as_ref(),
        }
    }

    fn is_empty(&self) -> bool {
        self.stepup.is_none()
            && self.mfa.is_none()
            && self.custom_claims.is_none()
            && self.template_options.is_none()
    }
}

/// Sign-up: `{loginId, user, loginOptions?}`. `loginOptions` only when an option is set
/// (as Python does).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignUpBody<'a> {
    pub login_id: &'a str,
    pub user: SignUpUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_options: Option<LoginOptionsBody<'a>>,
}

impl<'a> SignUpBody<'a> {
    /// Like Python, fills the user's email or phone from the login id when the caller left it
    /// out, so the profile holds the address the code goes to.
    pub fn new(
        method: DeliveryMethod,
        login_id: &'a str,
        user: &SignUpUser,
        options: &'a SignUpOptions,
    ) -> Self {
        let mut user = user.clone();
        let slot = if method.is_phone() {
            &mut user.phone
        } else {
            &mut user.email
        };
        if slot.is_none() {
            *slot = Some(login_id.to_owned());
        }
        let login_options = Some(LoginOptionsBody::for_sign_up(options)).filter(|o| !o.is_empty());
        Self {
            login_id,
            user,
            login_options,
        }
    }
}

/// Sign-in and sign-up-or-in: `{loginId, loginOptions}` (always present, as Python and Node
/// send it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginBody<'a> {
    pub login_id: &'a str,
    pub login_options: LoginOptionsBody<'a>,
}

/// Verify: `{loginId, code}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyBody<'a> {
    pub login_id: &'a str,
    pub code: &'a str,
}

/// Update email/phone: `{loginId, email|phone, addToLoginIDs, onMergeUseExisting,
/// templateOptions?}`; both booleans always sent, as Python does.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateBody<'a> {
    pub login_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(rename = "addToLoginIDs")]
    pub add_to_login_ids: bool,
    pub on_merge_use_existing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_options: Option<&'a BTreeMap<String, String>>,
}

// ----- Response bodies (private) ----------------------------------------------------------

/// `{maskedEmail}` or `{maskedPhone}`, possibly with `verificationAttempts` (ignored).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct MaskedWire {
    masked_email: Option<String>,
    masked_phone: Option<String>,
}

impl MaskedWire {
    /// Reads the field for the channel. If Descope left it out we fall back to the other field
    /// and then to an empty string: the code has already been sent, and failing here would only
    /// make the user ask for another one.
    pub fn into_masked(self, phone: bool) -> MaskedAddress {
        let (wanted, other) = if phone {
            (self.masked_phone, self.masked_email)
        } else {
            (self.masked_email, self.masked_phone)
        };
        let masked = wanted.or(other).unwrap_or_default();
        if masked.is_empty() {
            tracing::warn!(phone, "Descope's response carried no masked address");
        }
        MaskedAddress { masked }
    }
}

/// The JWT response of verify and refresh (API.md §3.5). Deliberately no `Debug`: it holds
/// tokens as plain strings until [`JwtWire::into_auth`] wraps them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct JwtWire {
    session_jwt: Option<String>,
    refresh_jwt: Option<String>,
    cookie_max_age: Option<i64>,
    cookie_expiration: Option<i64>,
    user: Option<UserResponse>,
    first_seen: Option<bool>,
}

impl JwtWire {
    /// Without a session JWT the response is useless to us (Go fails the same way, API.md §4).
    pub fn into_auth(self, status: reqwest::StatusCode) -> Result<AuthResponse, DescopeError> {
        let session_jwt = self.session_jwt.filter(|s| !s.is_empty()).ok_or_else(|| {
            DescopeError::InvalidResponse {
                status: status.as_u16(),
                reason: "no sessionJwt in the response".into(),
            }
        })?;
        Ok(AuthResponse {
            session_jwt: session_jwt.into(),
            refresh_jwt: self.refresh_jwt.filter(|s| !s.is_empty()).map(Into::into),
            cookie_max_age: self.cookie_max_age,
            cookie_expiration: self.cookie_expiration,
            user: self.user,
            // Python defaults a missing `firstSeen` to true; we say false, because calling an
            // existing user "new" (welcome screens, onboarding) is the worse mistake.
            first_seen: self.first_seen.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn a_full_jwt_response_parses_into_an_auth_response() {
        let wire: JwtWire = serde_json::from_value(json!({
            "sessionJwt": "s.e.s", "refreshJwt": "r.e.f", "cookieDomain": "", "cookiePath": "/",
            "cookieMaxAge": 2419200, "cookieExpiration": 1760000000, "firstSeen": true,
            "user": {"userId": "U2abc", "loginIds": ["a@example.com"], "email": "a@example.com",
                     "verifiedEmail": true, "status": "enabled", "createdTime": 1700000000,
                     "customAttributes": {"plan": "pro"}, "TOTP": false, "OAuth": {}}
        }))
        .expect("parses");
        let auth = wire.into_auth(StatusCode::OK).expect("has a session");
        assert_eq!(auth.session_jwt.expose_secret(), "s.e.s");
        assert_eq!(
            auth.refresh_jwt.as_ref().map(|r| r.expose_secret()),
            Some("r.e.f")
        );
        assert_eq!(auth.cookie_max_age, Some(2419200));
        assert_eq!(auth.cookie_expiration, Some(1760000000));
        assert!(auth.first_seen);
        let user = auth.user.expect("user present");
        assert_eq!(user.user_id, "U2abc");
        assert_eq!(user.login_ids, vec!["a@example.com"]);
        assert!(user.verified_email);
        assert!(!user.verified_phone);
        assert_eq!(user.status, "enabled");
        assert_eq!(user.created_time, 1700000000);
        assert_eq!(user.custom_attributes["plan"], "pro");
    }

    #[test]
    fn a_jwt_response_with_nulls_and_missing_fields_still_parses() {
        let wire: JwtWire = serde_json::from_value(json!({
            "sessionJwt": "s.e.s", "refreshJwt": null, "cookieMaxAge": null, "user": null
        }))
        .expect("parses");
        let auth = wire.into_auth(StatusCode::OK).expect("has a session");
        assert!(auth.refresh_jwt.is_none());
        assert!(auth.cookie_max_age.is_none());
        assert!(auth.user.is_none());
        assert!(!auth.first_seen);
    }

    #[test]
    fn an_empty_refresh_jwt_means_none() {
        let wire: JwtWire =
            serde_json::from_value(json!({"sessionJwt": "s.e.s", "refreshJwt": ""})).expect("ok");
        assert!(
            wire.into_auth(StatusCode::OK)
                .expect("ok")
                .refresh_jwt
                .is_none()
        );
    }

    #[test]
    fn a_jwt_response_without_a_session_jwt_is_invalid() {
        let wire: JwtWire = serde_json::from_value(json!({"sessionJwt": ""})).expect("parses");
        let err = wire.into_auth(StatusCode::OK).expect_err("no session");
        assert!(matches!(
            err,
            DescopeError::InvalidResponse { status: 200, .. }
        ));
    }

    #[test]
    fn auth_response_debug_never_shows_tokens() {
        let wire: JwtWire = serde_json::from_value(
            json!({"sessionJwt": "SESSIONTOKEN", "refreshJwt": "REFRESHTOKEN"}),
        )
        .expect("ok");
        let shown = format!("{:?}", wire.into_auth(StatusCode::OK).expect("ok"));
        assert!(
            !shown.contains("SESSIONTOKEN") && !shown.contains("REFRESHTOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn a_user_with_null_fields_gets_defaults() {
        let user: UserResponse = serde_json::from_value(json!({
            "userId": "U1", "loginIds": null, "verifiedEmail": null, "status": null,
            "createdTime": null, "customAttributes": null, "name": null
        }))
        .expect("parses");
        assert_eq!(user.user_id, "U1");
        assert!(user.login_ids.is_empty());
        assert!(!user.verified_email);
        assert_eq!(user.status, "");
        assert_eq!(user.created_time, 0);
        assert!(user.custom_attributes.is_empty());
        assert!(user.name.is_none());
    }

    #[test]
    fn an_empty_user_object_parses() {
        let user: UserResponse = serde_json::from_str("{}").expect("parses");
        assert_eq!(user, UserResponse::default());
    }

    #[test]
    fn masked_email_is_read_for_email_and_masked_phone_for_phones() {
        let both = || -> MaskedWire {
            serde_json::from_value(json!({"maskedEmail": "a***@x.com", "maskedPhone": "+1***9"}))
                .expect("ok")
        };
        assert_eq!(both().into_masked(false).masked, "a***@x.com");
        assert_eq!(both().into_masked(true).masked, "+1***9");
    }

    #[test]
    fn a_missing_masked_field_falls_back_instead_of_failing() {
        let wire: MaskedWire =
            serde_json::from_value(json!({"maskedPhone": "+1***9", "verificationAttempts": 3}))
                .expect("ok");
        assert_eq!(wire.into_masked(false).masked, "+1***9");
        let wire: MaskedWire = serde_json::from_value(json!({"maskedEmail": null})).expect("ok");
        assert_eq!(wire.into_masked(false).masked, "");
    }

    #[test]
    fn a_jwks_parses_and_skips_nothing_itself() {
        let jwks: Jwks = serde_json::from_value(json!({"keys": [
            {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "k2", "alg": "ES384", "crv": "P-384", "x": "xx", "y": "yy"},
            {"kty": "RSA", "kid": null}
        ]}))
        .expect("parses");
        assert_eq!(jwks.keys.len(), 3);
        assert_eq!(jwks.keys[0].use_.as_deref(), Some("sig"));
        assert_eq!(jwks.keys[1].crv.as_deref(), Some("P-384"));
        let empty: Jwks = serde_json::from_value(json!({"keys": null})).expect("parses");
        assert!(empty.keys.is_empty());
    }

    #[test]
    fn the_sign_up_body_fills_the_address_and_omits_empty_options() {
        let user = SignUpUser {
            name: Some("Ada".into()),
            ..SignUpUser::default()
        };
        let options = SignUpOptions::default();
        let body = SignUpBody::new(DeliveryMethod::Email, "ada@example.com", &user, &options);
        assert_eq!(
            serde_json::to_value(&body).expect("serialises"),
            json!({"loginId": "ada@example.com", "user": {"name": "Ada", "email": "ada@example.com"}})
        );
        let body = SignUpBody::new(DeliveryMethod::Sms, "+15555550100", &user, &options);
        assert_eq!(
            serde_json::to_value(&body).expect("serialises")["user"]["phone"],
            "+15555550100"
        );
    }

    #[test]
    fn the_sign_up_body_carries_options_when_set() {
        let options = SignUpOptions {
            custom_claims: Some(Map::from_iter([("plan".to_owned(), json!("pro"))])),
            template_options: Some(BTreeMap::from([("app".to_owned(), "Demo".to_owned())])),
        };
        let body = SignUpBody::new(
            DeliveryMethod::Email,
            "a@x.com",
            &SignUpUser::default(),
            &options,
        );
        assert_eq!(
            serde_json::to_value(&body).expect("serialises")["loginOptions"],
            json!({"customClaims": {"plan": "pro"}, "templateOptions": {"app": "Demo"}})
        );
    }

    #[test]
    fn the_update_body_uses_descopes_exact_field_names() {
        let body = UpdateBody {
            login_id: "a@x.com",
            email: Some("b@x.com"),
            phone: None,
            add_to_login_ids: true,
            on_merge_use_existing: false,
            template_options: None,
        };
        assert_eq!(
            serde_json::to_value(&body).expect("serialises"),
            json!({"loginId": "a@x.com", "email": "b@x.com", "addToLoginIDs": true,
                   "onMergeUseExisting": false})
        );
    }
}
