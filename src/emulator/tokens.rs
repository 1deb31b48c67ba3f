//! Session and refresh JWTs: minting them, checking a refresh JWT from the bearer, the response
//! body that carries them (verify, refresh) and the one that clears them (logout), and the custom
//! claims a caller may not set. The endpoints that use these are in `handlers/`.

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult, codes};
use super::state::EmulatorState;
use super::store::{RefreshRecord, User};

/// Claims the emulator sets itself; `loginOptions.customClaims` may not override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "drn",
    "amr",
    "su",
    "dsub",
    "dct",
    "tenants",
    "roles",
    "permissions",
    "rexp",
    "azp",
];

/// A freshly issued pair.
pub struct Tokens {
    pub session_jwt: String,
    pub refresh_jwt: String,
    pub session_exp: i64,
    pub refresh_exp: i64,
}

impl EmulatorState {
    /// Issues a session + refresh pair for `user`. `session_claims` (amr, su, custom claims)
    /// is stored with the refresh token so every refresh re-issues the same session shape.
    pub async fn issue_tokens(&self, user: &User, session_claims: &Value) -> ApiResult<Tokens> {
        let now = self.now();
        let refresh_exp = now.saturating_add(super::secs(self.config.refresh_ttl));
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let mut refresh = self.base_claims(&user.user_id, now, refresh_exp, "DSR");
        refresh.insert("jti".into(), json!(jti));
        if let Some(amr) = session_claims.get("amr") {
            refresh.insert("amr".into(), amr.clone());
        }
        let refresh_jwt = self
            .keys
            .sign(&refresh)
            .map_err(|e| ApiError::internal("signing refresh JWT", e))?;
        self.store
            .insert_refresh(&jti, &user.user_id, now, refresh_exp, session_claims)
            .await?;
        let (session_jwt, session_exp) = self.mint_session(&user.user_id, session_claims)?;
        Ok(Tokens {
            session_jwt,
            refresh_jwt,
            session_exp,
            refresh_exp,
        })
    }

    /// A session JWT: our claims on top of the stored session claims.
    pub fn mint_session(&self, user_id: &str, session_claims: &Value) -> ApiResult<(String, i64)> {
        let now = self.now();
        let exp = now.saturating_add(super::secs(self.config.session_ttl));
        let mut claims = session_claims.as_object().cloned().unwrap_or_default();
        claims.extend(self.base_claims(user_id, now, exp, "DS"));
        let jwt = self
            .keys
            .sign(&claims)
            .map_err(|e| ApiError::internal("signing session JWT", e))?;
        Ok((jwt, exp))
    }

    fn base_claims(&self, user_id: &str, iat: i64, exp: i64, drn: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(user_id));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(exp));
        claims.insert("drn".into(), json!(drn));
        if let Some(aud) = &self.config.audience {
            claims.insert("aud".into(), json!(aud));
        }
        claims
    }

    /// The refresh JWT from the bearer, checked: signature, `drn`, expiry (on our clock), not
    /// revoked, user still there. Every failure is a 401.
    pub(in crate::emulator) async fn check_refresh(
        &self,
        refresh_jwt: Option<&str>,
    ) -> ApiResult<(RefreshRecord, User)> {
        let token = refresh_jwt.ok_or_else(|| {
            ApiError::unauthorized(
                codes::INVALID_TOKEN,
                "Missing refresh token: expected 'Bearer <projectId>:<refreshJwt>'",
            )
        })?;
        let invalid = |why: &str| ApiError::unauthorized(codes::INVALID_TOKEN, why.to_string());
        let claims: Value = self
            .keys
            .verify_signature(token)
            .map_err(|_| invalid("Invalid refresh token: bad signature or format"))?;
        if claims.get("drn").and_then(Value::as_str) != Some("DSR") {
            return Err(invalid("Invalid refresh token: not a refresh token (drn)"));
        }
        let now = self.now();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now {
            return Err(invalid("Refresh token has expired"));
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Invalid refresh token: no jti"))?;
        let record = self
            .store
            .refresh_token(jti)
            .await?
            .ok_or_else(|| invalid("Unknown refresh token"))?;
        if record.revoked {
            return Err(ApiError::unauthorized(
                codes::TOKEN_EXPIRED_BY_LOGOUT,
                "Refresh token was revoked by a logout",
            ));
        }
        if record.expires_at <= now {
            return Err(invalid("Refresh token has expired"));
        }
        let user = self
            .store
            .user_by_id(&record.user_id)
            .await?
            .ok_or_else(|| invalid("The token's user no longer exists"))?;
        Ok((record, user))
    }

    /// The verify/refresh response body.
    pub fn jwt_response(
        &self,
        session_jwt: &str,
        session_exp: i64,
        refresh_jwt: &str,
        refresh_exp: i64,
        user: &User,
        first_seen: bool,
    ) -> Value {
        let now = self.now();
        json!({
            "sessionJwt": session_jwt,
            "refreshJwt": refresh_jwt,
            "cookieDomain": self.config.cookie_domain,
            "cookiePath": "/",
            "cookieMaxAge": (refresh_exp - now).max(0),
            "cookieExpiration": refresh_exp,
            "sessionExpiration": session_exp,
            "user": user.to_json(),
            "firstSeen": first_seen,
        })
    }
}

/// Logout answers: a JWT response with empty tokens, so cookie-based clients clear theirs and
/// Node (which always parses the body) gets JSON.
pub fn empty_jwt_response() -> Value {
    json!({
        "sessionJwt": "",
        "refreshJwt": "",
        "cookieDomain": "",
        "cookiePath": "/",
        "cookieMaxAge": 0,
        "cookieExpiration": 0,
        "sessionExpiration": 0,
    })
}
