//! Local validation of Descope session and refresh JWTs against a cached JWKS (API.md §4, §5).
//!
//! The rules, and why:
//! - The algorithm comes from the JWK, never from the token: a token cannot talk us into `none`
//!   or into HMAC keyed with the public key. A header `alg` that differs from the JWK's is refused.
//! - Time is read from the injected [`Clock`](crate::clock::Clock) (jsonwebtoken's own time
//!   checks are off), so tests expire tokens by moving the clock.
//! - `exp` and `nbf` get 5 s of leeway, as in all three SDKs.
//! - An unknown `kid` triggers a JWKS fetch, but at most one per cooldown, and concurrent misses
//!   share that one fetch, so a stream of forged tokens cannot hammer Descope.
//! - A token whose signature held is remembered (the whole token, with its claims) while its key
//!   is published: a session token comes back on every request of its life, and its signature
//!   cannot change. Only the signature check and the parsing are saved; every claim, expiry
//!   first, is checked again on every use. A change of the key set forgets them all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use super::error::DescopeError;
use super::types::{Jwk, Jwks};

/// Seconds of clock skew tolerated on `exp` and `nbf` (Python's and Go's default, Node's fixed
/// value).
pub const LEEWAY_SECS: i64 = 5;

/// `drn` of a session token.
pub const SESSION_DRN: &str = "DS";
/// `drn` of a refresh token.
pub const REFRESH_DRN: &str = "DSR";

/// Why a token was refused. [`TokenError::Expired`] means "refresh and try again"; everything
/// else except [`TokenError::KeysUnavailable`] means "this token is no good: sign out".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token signature or algorithm is not acceptable")]
    BadSignature,
    #[error("token was signed with a key Descope does not publish")]
    UnknownKey,
    #[error("token was issued for another project")]
    WrongIssuer,
    #[error("token was issued for another audience")]
    WrongAudience,
    #[error("token is not the expected kind (session or refresh)")]
    WrongTokenType,
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// We could not fetch the signing keys: Descope's problem, not the user's. Do not sign out.
    #[error("Descope signing keys are unavailable")]
    KeysUnavailable(#[source] DescopeError),
}

impl TokenError {
    /// True when refreshing the session may help.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired)
    }
}

/// The validated claims of a session (or refresh) JWT (API.md §5).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionClaims {
    pub sub: String,
    /// Overrides `sub` as the user id when a JWT template customised `sub`.
    pub dsub: Option<String>,
    pub iss: String,
    pub iat: Option<i64>,
    pub exp: i64,
    pub nbf: Option<i64>,
    /// `aud`, as a list even when the token has a single string.
    pub aud: Vec<String>,
    /// Authentication methods, e.g. `["email"]`; more than one means MFA.
    pub amr: Vec<String>,
    /// The `su` claim (step-up), false when absent.
    pub su: bool,
    /// `DS` for session tokens, `DSR` for refresh tokens.
    pub drn: String,
    /// Project-level roles and permissions.
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// `{ tenantId: { roles, permissions } }`.
    pub tenants: Map<String, Value>,
    /// The current tenant.
    pub dct: Option<String>,
    /// Every other claim, e.g. custom claims from `loginOptions.customClaims`.
    pub custom: Map<String, Value>,
}

impl SessionClaims {
    /// The Descope user id: `dsub` if present, else `sub` (what Python and Go do).
    pub fn user_id(&self) -> &str {
        self.dsub.as_deref().unwrap_or(&self.sub)
    }

    /// More than one authentication factor (Go's `IsMFA`).
    pub fn is_mfa(&self) -> bool {
        self.amr.len() > 1
    }

    /// A custom claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.custom.get(name)
    }
}

/// One usable public key, with jsonwebtoken's validation settings for its algorithm prepared
/// once per `kid`. jsonwebtoken checks the signature (on its aws-lc-rs backend: its whole decode
/// takes about 1.1x a bare RS256 verify in the benchmark) and that the token's `alg` is the key's.
pub(crate) struct VerifyingKey {
    key: DecodingKey,
    validation: Validation,
}

impl VerifyingKey {
    /// Builds a key from a JWK, or `None` for a key we must not or cannot use: no `kid` or
    /// `alg` (Python skips those too), a `use` other than `sig` (Go skips those), or a
    /// symmetric algorithm (a published key can never be an HMAC secret).
    fn from_jwk(jwk: &Jwk) -> Option<(String, Self)> {
        let kid = jwk.kid.as_deref().filter(|k| !k.is_empty())?;
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let alg: Algorithm = jwk.alg.as_deref()?.parse().ok()?;
        let key = match (alg.family(), jwk.kty.as_str()) {
            (AlgorithmFamily::Rsa, "RSA") => {
                DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?
            }
            (AlgorithmFamily::Ec, "EC") => {
                DecodingKey::from_ec_components(jwk.x.as_deref()?, jwk.y.as_deref()?).ok()?
            }
            (AlgorithmFamily::Ed, "OKP") => {
                DecodingKey::from_ed_components(jwk.x.as_deref()?).ok()?
            }
            _ => return None,
        };
        let mut validation = Validation::new(alg);
        // Time, audience and issuer are checked by us, against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        Some((kid.to_owned(), Self { key, validation }))
    }
}

/// Public keys by `kid`, refetched on a miss at most once per cooldown, and the tokens already
/// verified with them.
pub struct JwksCache {
    keys: RwLock<HashMap<String, Arc<VerifyingKey>>>,
    /// Held while fetching: concurrent misses queue here and then find the fresh keys.
    fetch: Mutex<FetchState>,
    cooldown_secs: i64,
    verified: VerifiedTokens,
}

/// How many verified tokens are remembered at most (about 2 KB each, the token and its claims):
/// one per session active within a session token's lifetime, on one instance.
const VERIFIED_CAPACITY: usize = 4096;

/// Tokens whose signature held, with their claims. Locked only for a map lookup or insert, never
/// across an await.
///
/// Keyed by the whole token: a hit is the very token that was verified, compared byte for byte.
/// (A SHA-256 of the token as the key cost more than the rest of a cached check together: a
/// session token is about a kilobyte. The map's own hash is keyed at random per process, so no
/// one can choose tokens that collide in it.)
struct VerifiedTokens {
    inner: std::sync::Mutex<Verified>,
    capacity: usize,
}

#[derive(Default)]
struct Verified {
    /// Counts the key set's changes: a check that began under another key set (its key looked
    /// up before a change) does not leave its token here.
    generation: u64,
    by_token: HashMap<Box<str>, SessionClaims>,
}

impl VerifiedTokens {
    fn new(capacity: usize) -> Self {
        Self {
            inner: std::sync::Mutex::default(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Verified> {
        // A panic elsewhere while holding it left a map of verified tokens, still true.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, token: &str) -> Option<SessionClaims> {
        self.lock().by_token.get(token).cloned()
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Remembers `claims`, verified under key set `generation`, unless the key set changed since;
    /// when full, first forgets the tokens expired at `now`, and all of them if that freed nothing.
    fn insert(&self, token: &str, claims: &SessionClaims, now: i64, generation: u64) {
        let mut verified = self.lock();
        if verified.generation != generation {
            return;
        }
        let map = &mut verified.by_token;
        if map.len() >= self.capacity {
            map.retain(|_, c| now <= c.exp.saturating_add(LEEWAY_SECS));
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(token.into(), claims.clone());
    }

    /// Forgets every token: the key set changed.
    fn key_set_changed(&self) {
        let mut verified = self.lock();
        verified.generation = verified.generation.wrapping_add(1);
        verified.by_token.clear();
    }

    fn len(&self) -> usize {
        self.lock().by_token.len()
    }
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<i64>,
    last_failed: bool,
}

impl JwksCache {
    pub fn new(cooldown: Duration) -> Self {
        Self {
            keys: RwLock::default(),
            fetch: Mutex::default(),
            cooldown_secs: i64::try_from(cooldown.as_secs()).unwrap_or(i64::MAX),
            verified: VerifiedTokens::new(VERIFIED_CAPACITY),
        }
    }

    /// How many verified tokens are remembered.
    pub fn verified_tokens(&self) -> usize {
        self.verified.len()
    }

    /// How many usable keys are cached.
    pub async fn len(&self) -> usize {
        self.keys.read().await.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// Replaces the cached keys with the usable keys of `jwks` (the whole set, as Python does, so
    /// keys Descope stopped publishing stop working).
    pub async fn replace(&self, jwks: &Jwks) {
        let fresh: HashMap<_, _> = jwks
            .keys
            .iter()
            .filter_map(VerifyingKey::from_jwk)
            .map(|(kid, key)| (kid, Arc::new(key)))
            .collect();
        if fresh.len() < jwks.keys.len() {
            tracing::warn!(
                published = jwks.keys.len(),
                usable = fresh.len(),
                "skipped JWKS keys without kid/alg, not for signing, or of an unsupported type"
            );
        }
        let mut keys = self.keys.write().await;
        // Under the key map's lock, so that no check sees the new keys with the old tokens.
        self.verified.key_set_changed();
        *keys = fresh;
    }

    /// The key for `kid`, fetching the JWKS with `fetch` on a miss unless one was fetched less
    /// than the cooldown ago. `now` is the injected clock's time.
    ///
    /// The fetch mutex is held across the HTTP call on purpose: that is what makes concurrent
    /// misses wait for one fetch instead of each starting its own. The key map's lock is never
    /// held across it, so cache hits are never blocked by a fetch, and the client's timeout
    /// bounds the wait.
    pub(crate) async fn key<F, Fut>(
        &self,
        kid: &str,
        now: i64,
        fetch: F,
    ) -> Result<Arc<VerifyingKey>, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Jwks, DescopeError>>,
    {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Arc::clone(key));
        }
        let mut state = self.fetch.lock().await;
        // Whoever held the lock before us may have just fetched this key.
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Arc::clone(key));
        }
        match self.refetch(&mut state, now, fetch).await {
            Ok(()) => {}
            Err(NotFetched::FetchedRecently) => return Err(TokenError::UnknownKey),
            Err(NotFetched::Unavailable(err)) => return Err(TokenError::KeysUnavailable(err)),
        }
        drop(state);
        self.keys
            .read()
            .await
            .get(kid)
            .cloned()
            .ok_or(TokenError::UnknownKey)
    }
}

impl JwksCache {
    /// `Ok` when a key is cached, else fetches the JWKS with `fetch`, at most once per cooldown
    /// however often this is asked: a readiness probe asks every few seconds, from every load
    /// balancer, and must not turn a Descope outage into a stream of fetches. Concurrent askers
    /// share one fetch, as misses do in [`JwksCache::key`].
    pub(crate) async fn ensure_any<F, Fut>(&self, now: i64, fetch: F) -> Result<(), DescopeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Jwks, DescopeError>>,
    {
        if !self.is_empty().await {
            return Ok(());
        }
        let mut state = self.fetch.lock().await;
        match self.refetch(&mut state, now, fetch).await {
            // A recent fetch that worked left what Descope publishes, maybe no usable key.
            Ok(()) | Err(NotFetched::FetchedRecently) => {}
            Err(NotFetched::Unavailable(err)) => return Err(err),
        }
        drop(state);
        if self.is_empty().await {
            return Err(DescopeError::InvalidResponse {
                status: 200,
                reason: "the JWKS holds no usable signing key".into(),
            });
        }
        Ok(())
    }

    /// Fetches the JWKS with `fetch` and caches its keys, unless a fetch was tried less than the
    /// cooldown ago. `state` is the fetch lock, held by the caller across the call.
    async fn refetch<F, Fut>(
        &self,
        state: &mut FetchState,
        now: i64,
        fetch: F,
    ) -> Result<(), NotFetched>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Jwks, DescopeError>>,
    {
        if let Some(last) = state.last_attempt {
            let elapsed = now - last;
            // A negative `elapsed` means the clock went back; fetching beats being stuck.
            if (0..self.cooldown_secs).contains(&elapsed) {
                return Err(if state.last_failed {
                    NotFetched::Unavailable(DescopeError::KeysCoolingDown {
                        retry_after_secs: u64::try_from(self.cooldown_secs - elapsed).unwrap_or(0),
                    })
                } else {
                    NotFetched::FetchedRecently
                });
            }
        }
        state.last_attempt = Some(now);
        match fetch().await {
            Ok(jwks) => {
                state.last_failed = false;
                self.replace(&jwks).await;
                Ok(())
            }
            Err(err) => {
                state.last_failed = true;
                Err(NotFetched::Unavailable(err))
            }
        }
    }
}

/// Why [`JwksCache::refetch`] brought no fresh keys.
enum NotFetched {
    /// A fetch less than the cooldown ago worked: the cached keys are what Descope publishes.
    FetchedRecently,
    /// The fetch failed, now or less than the cooldown ago.
    Unavailable(DescopeError),
}

/// What a token must satisfy besides its signature.
pub(crate) struct Expected<'a> {
    pub project_id: &'a str,
    pub audience: Option<&'a str>,
    /// [`SESSION_DRN`] or [`REFRESH_DRN`].
    pub drn: &'static str,
    pub now: i64,
}

/// Validates `token` fully: header, key lookup (maybe fetching), signature, then claims.
pub(crate) async fn validate<F, Fut>(
    token: &str,
    cache: &JwksCache,
    expected: &Expected<'_>,
    fetch: F,
) -> Result<SessionClaims, TokenError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Jwks, DescopeError>>,
{
    if let Some(claims) = cache.verified.get(token) {
        check_claims(&claims, expected)?;
        return Ok(claims);
    }
    let generation = cache.verified.generation();
    let kid = read_kid(token)?;
    let key = cache.key(&kid, expected.now, fetch).await?;
    let claims = verify_with_key(token, &key, expected)?;
    cache
        .verified
        .insert(token, &claims, expected.now, generation);
    Ok(claims)
}

/// The `kid`, from the header as jsonwebtoken reads it. An unknown `alg` (including `"none"`,
/// which jsonwebtoken has no variant for) or no `kid` is malformed; an `alg` other than the key's
/// is refused by `jsonwebtoken::decode` (its `Validation` allows the key's algorithm only).
fn read_kid(token: &str) -> Result<String, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    header.kid.ok_or(TokenError::Malformed)
}

fn verify_with_key(
    token: &str,
    key: &VerifyingKey,
    expected: &Expected<'_>,
) -> Result<SessionClaims, TokenError> {
    use jsonwebtoken::errors::ErrorKind as Jwt;
    let map = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &key.validation)
        .map_err(|err| match err.kind() {
            Jwt::InvalidSignature | Jwt::InvalidAlgorithm => TokenError::BadSignature,
            _ => TokenError::Malformed,
        })?
        .claims;
    let claims = claims_from_map(map)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

/// Checks in an order that makes [`TokenError::Expired`] mean "a good token, only old": a
/// refresh token offered as a session, or a token for another project, is reported as such even
/// when it has also expired, so the app does not try to refresh with it.
fn check_claims(c: &SessionClaims, expected: &Expected<'_>) -> Result<(), TokenError> {
    if !issuer_matches(&c.iss, expected.project_id) {
        return Err(TokenError::WrongIssuer);
    }
    if c.drn != expected.drn {
        return Err(TokenError::WrongTokenType);
    }
    match expected.audience {
        Some(aud) if !c.aud.iter().any(|a| a == aud) => return Err(TokenError::WrongAudience),
        // No audience configured: only the project id itself may appear (see DescopeConfig).
        None if !c.aud.is_empty() && !c.aud.iter().any(|a| a == expected.project_id) => {
            return Err(TokenError::WrongAudience);
        }
        _ => {}
    }
    if expected.now > c.exp.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if c.nbf
        .is_some_and(|nbf| nbf > expected.now.saturating_add(LEEWAY_SECS))
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// `iss` is the project id, or a URL or `/`-path whose last segment is it
/// (`https://api.descope.com/P2abc`). One trailing slash is tolerated, which covers Node's
/// "second-to-last segment" case for `.../P2abc/`.
fn issuer_matches(iss: &str, project_id: &str) -> bool {
    let trimmed = iss.strip_suffix('/').unwrap_or(iss);
    trimmed.rsplit('/').next() == Some(project_id)
}

/// Moves the registered and Descope-specific claims out of the map; what is left is custom.
fn claims_from_map(mut map: Map<String, Value>) -> Result<SessionClaims, TokenError> {
    fn string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, TokenError> {
        match map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(TokenError::Malformed),
        }
    }
    fn int(map: &mut Map<String, Value>, name: &str) -> Result<Option<i64>, TokenError> {
        match map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            // NumericDate may have a fraction; whole seconds are all we compare.
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or(TokenError::Malformed),
            Some(_) => Err(TokenError::Malformed),
        }
    }
    fn strings(map: &mut Map<String, Value>, name: &str) -> Result<Vec<String>, TokenError> {
        match map.remove(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s]),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(TokenError::Malformed),
                })
                .collect(),
            Some(_) => Err(TokenError::Malformed),
        }
    }

    let sub = string(&mut map, "sub")?.ok_or(TokenError::Malformed)?;
    // A token without an issuer names no project: Node refuses it too.
    let iss = string(&mut map, "iss")?.ok_or(TokenError::WrongIssuer)?;
    // A token without an expiry would be valid forever.
    let exp = int(&mut map, "exp")?.ok_or(TokenError::Malformed)?;
    // Go classifies tokens by `drn`; a token without one is neither kind.
    let drn = string(&mut map, "drn")?.ok_or(TokenError::WrongTokenType)?;
    let tenants = match map.remove("tenants") {
        Some(Value::Object(t)) => t,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(TokenError::Malformed),
    };
    Ok(SessionClaims {
        sub,
        dsub: string(&mut map, "dsub")?,
        iss,
        iat: int(&mut map, "iat")?,
        exp,
        nbf: int(&mut map, "nbf")?,
        aud: strings(&mut map, "aud")?,
        amr: strings(&mut map, "amr")?,
        su: map.remove("su").and_then(|v| v.as_bool()).unwrap_or(false),
        drn,
        roles: strings(&mut map, "roles")?,
        permissions: strings(&mut map, "permissions")?,
        tenants,
        dct: string(&mut map, "dct")?,
        // `jti` and the rest stay here: they are not checked, but the app may want them.
        custom: map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descope::test_support::{KID, PROJECT_ID, jwks, sign, sign_with, test_key};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NOW: i64 = 1_800_000_000;

    fn session_claims() -> Value {
        json!({"sub": "U2user", "iss": format!("https://api.descope.com/{PROJECT_ID}"),
               "iat": NOW - 10, "exp": NOW + 600, "drn": "DS", "amr": ["email"],
               "roles": ["admin"], "tenants": {"T1": {"roles": ["r"]}}, "plan": "pro"})
    }

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            project_id: PROJECT_ID,
            audience: None,
            drn: SESSION_DRN,
            now,
        }
    }

    async fn cache_with_key() -> JwksCache {
        let cache = JwksCache::new(Duration::from_secs(30));
        cache.replace(&jwks()).await;
        cache
    }

    async fn check(token: &str, expected: &Expected<'_>) -> Result<SessionClaims, TokenError> {
        let cache = cache_with_key().await;
        validate(token, &cache, expected, || async {
            panic!("a cached key must not trigger a fetch")
        })
        .await
    }

    fn with(changes: Value) -> Value {
        let mut claims = session_claims();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    #[tokio::test]
    async fn a_valid_session_token_is_accepted_with_its_claims() {
        let claims = check(&sign(&session_claims()), &expected(NOW))
            .await
            .expect("valid");
        assert_eq!(claims.user_id(), "U2user");
        assert_eq!(claims.amr, vec!["email"]);
        assert_eq!(claims.roles, vec!["admin"]);
        assert!(claims.tenants.contains_key("T1"));
        assert_eq!(claims.claim("plan"), Some(&json!("pro")));
        assert!(
            !claims.custom.contains_key("sub"),
            "registered claims are removed"
        );
        assert!(!claims.su);
        assert!(!claims.is_mfa());
    }

    #[tokio::test]
    async fn dsub_overrides_sub_as_the_user_id() {
        let token = sign(&with(json!({"dsub": "U2real", "su": true})));
        let claims = check(&token, &expected(NOW)).await.expect("valid");
        assert_eq!(claims.user_id(), "U2real");
        assert!(claims.su);
    }

    #[tokio::test]
    async fn a_token_past_its_expiry_and_the_leeway_is_expired() {
        let token = sign(&session_claims());
        let err = check(&token, &expected(NOW + 600 + LEEWAY_SECS + 1))
            .await
            .expect_err("expired");
        assert!(err.is_expired(), "{err:?}");
    }

    #[tokio::test]
    async fn a_token_expired_within_the_leeway_is_accepted() {
        let token = sign(&session_claims());
        check(&token, &expected(NOW + 600 + 3))
            .await
            .expect("within leeway");
    }

    #[tokio::test]
    async fn a_token_not_valid_yet_is_rejected() {
        let token = sign(&with(json!({"nbf": NOW + 60})));
        let err = check(&token, &expected(NOW)).await.expect_err("too early");
        assert!(matches!(err, TokenError::NotYetValid), "{err:?}");
        check(&sign(&with(json!({"nbf": NOW + 4}))), &expected(NOW))
            .await
            .expect("nbf within leeway");
    }

    #[tokio::test]
    async fn a_token_for_another_project_has_the_wrong_issuer() {
        let lookalikes = [
            format!("https://api.descope.com/X{PROJECT_ID}"),
            format!("{PROJECT_ID}/other"),
            format!("X{PROJECT_ID}"),
        ];
        let others = ["P2other", "https://api.descope.com/P2other", ""].map(String::from);
        for iss in others.iter().chain(&lookalikes) {
            let err = check(&sign(&with(json!({"iss": iss}))), &expected(NOW))
                .await
                .expect_err("wrong issuer");
            assert!(matches!(err, TokenError::WrongIssuer), "{iss}: {err:?}");
        }
        let err = check(&sign(&with(json!({"iss": null}))), &expected(NOW))
            .await
            .expect_err("no issuer");
        assert!(matches!(err, TokenError::WrongIssuer), "{err:?}");
    }

    #[tokio::test]
    async fn the_issuer_may_be_the_bare_project_id_or_a_url_ending_in_it() {
        for iss in [
            PROJECT_ID.to_owned(),
            format!("http://127.0.0.1:9999/{PROJECT_ID}"),
            format!("https://api.descope.com/{PROJECT_ID}/"),
        ] {
            check(&sign(&with(json!({"iss": iss}))), &expected(NOW))
                .await
                .unwrap_or_else(|e| panic!("{iss}: {e:?}"));
        }
    }

    #[tokio::test]
    async fn a_refresh_token_is_not_accepted_as_a_session_token() {
        let token = sign(&with(json!({"drn": "DSR"})));
        let err = check(&token, &expected(NOW)).await.expect_err("wrong kind");
        assert!(matches!(err, TokenError::WrongTokenType), "{err:?}");
        let refresh = Expected {
            drn: REFRESH_DRN,
            ..expected(NOW)
        };
        check(&token, &refresh).await.expect("valid refresh token");
        let err = check(&sign(&with(json!({"drn": null}))), &expected(NOW))
            .await
            .expect_err("no drn");
        assert!(matches!(err, TokenError::WrongTokenType), "{err:?}");
    }

    #[tokio::test]
    async fn the_token_type_is_reported_before_expiry() {
        let token = sign(&with(json!({"drn": "DSR"})));
        let err = check(&token, &expected(NOW + 10_000))
            .await
            .expect_err("wrong kind");
        assert!(matches!(err, TokenError::WrongTokenType), "{err:?}");
    }

    #[tokio::test]
    async fn without_a_configured_audience_only_the_project_id_may_appear_in_aud() {
        check(&sign(&with(json!({"aud": PROJECT_ID}))), &expected(NOW))
            .await
            .expect("aud = project id");
        check(
            &sign(&with(json!({"aud": ["x", PROJECT_ID]}))),
            &expected(NOW),
        )
        .await
        .expect("aud list with the project id");
        let err = check(&sign(&with(json!({"aud": "someone-else"}))), &expected(NOW))
            .await
            .expect_err("foreign audience");
        assert!(matches!(err, TokenError::WrongAudience), "{err:?}");
    }

    #[tokio::test]
    async fn a_configured_audience_must_be_in_aud() {
        let with_aud = Expected {
            audience: Some("my-app"),
            ..expected(NOW)
        };
        check(&sign(&with(json!({"aud": ["my-app", "other"]}))), &with_aud)
            .await
            .expect("contains audience");
        for claims in [with(json!({"aud": "other"})), session_claims()] {
            let err = check(&sign(&claims), &with_aud)
                .await
                .expect_err("audience missing");
            assert!(matches!(err, TokenError::WrongAudience), "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_token_with_alg_none_is_rejected() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(json!({"alg": "none", "kid": KID}).to_string());
        let payload = b64.encode(session_claims().to_string());
        let err = check(&format!("{header}.{payload}."), &expected(NOW))
            .await
            .expect_err("alg none");
        assert!(matches!(err, TokenError::Malformed), "{err:?}");
    }

    #[tokio::test]
    async fn an_hs256_token_keyed_with_the_public_key_is_rejected() {
        let token = sign_with(
            Algorithm::HS256,
            &jsonwebtoken::EncodingKey::from_secret(&test_key().public_der),
            KID,
            &session_claims(),
        );
        let err = check(&token, &expected(NOW)).await.expect_err("HS256");
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    }

    #[tokio::test]
    async fn a_tampered_payload_fails_the_signature_check() {
        let token = sign(&session_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        use base64::Engine;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(with(json!({"sub": "U2admin"})).to_string());
        parts[1] = &forged;
        let err = check(&parts.join("."), &expected(NOW))
            .await
            .expect_err("tampered");
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    }

    fn no_fetch() -> std::future::Ready<Result<Jwks, DescopeError>> {
        panic!("a cached key must not trigger a fetch")
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_and_still_checked_against_the_clock() {
        let cache = cache_with_key().await;
        let token = sign(&session_claims());
        let first = validate(&token, &cache, &expected(NOW), no_fetch).await;
        assert_eq!(cache.verified_tokens(), 1);
        let again = validate(&token, &cache, &expected(NOW + 1), no_fetch).await;
        assert_eq!(first.expect("valid"), again.expect("still valid"));
        let err = validate(
            &token,
            &cache,
            &expected(NOW + 600 + LEEWAY_SECS + 1),
            no_fetch,
        )
        .await
        .expect_err("a remembered token expires like any other");
        assert!(err.is_expired(), "{err:?}");
        let err = validate(
            &token,
            &cache,
            &Expected {
                drn: REFRESH_DRN,
                ..expected(NOW)
            },
            no_fetch,
        )
        .await
        .expect_err("its claims are checked on every use");
        assert!(matches!(err, TokenError::WrongTokenType), "{err:?}");
    }

    #[tokio::test]
    async fn only_tokens_that_pass_are_remembered() {
        let cache = cache_with_key().await;
        let token = sign(&session_claims());
        // One character of the signature changed, well inside it (no base64 padding bits).
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "B" { "C" } else { "B" };
        let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        validate(&tampered, &cache, &expected(NOW), no_fetch)
            .await
            .expect_err("bad signature");
        validate(&token, &cache, &expected(NOW + 3600), no_fetch)
            .await
            .expect_err("expired");
        assert_eq!(cache.verified_tokens(), 0);
        validate(&token, &cache, &expected(NOW), no_fetch)
            .await
            .expect("valid");
        let err = validate(&tampered, &cache, &expected(NOW), no_fetch)
            .await
            .expect_err("a remembered token's look-alike is checked in full");
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    }

    #[tokio::test]
    async fn a_remembered_token_is_refused_once_its_key_is_no_longer_published() {
        let cache = cache_with_key().await;
        let token = sign(&session_claims());
        validate(&token, &cache, &expected(NOW), no_fetch)
            .await
            .expect("valid");
        cache.replace(&Jwks { keys: Vec::new() }).await;
        assert_eq!(cache.verified_tokens(), 0);
        let err = validate(&token, &cache, &expected(NOW), || {
            std::future::ready(Ok(Jwks { keys: Vec::new() }))
        })
        .await
        .expect_err("its key is gone");
        assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
    }

    #[test]
    fn remembered_tokens_stay_within_capacity_expired_ones_first() {
        let tokens = VerifiedTokens::new(2);
        let claims = |exp| SessionClaims {
            exp,
            ..SessionClaims::default()
        };
        tokens.insert("t1", &claims(NOW - 60), NOW - 120, 0);
        tokens.insert("t2", &claims(NOW + 60), NOW - 120, 0);
        tokens.insert("t3", &claims(NOW + 60), NOW, 0);
        assert_eq!(tokens.len(), 2);
        assert!(tokens.get("t1").is_none(), "the expired one goes first");
        assert!(tokens.get("t2").is_some() && tokens.get("t3").is_some());
        tokens.insert("t4", &claims(NOW + 60), NOW, 0);
        assert_eq!(tokens.len(), 1, "none expired: all are forgotten");
        tokens.key_set_changed();
        tokens.insert("t5", &claims(NOW + 60), NOW, 0);
        assert_eq!(
            tokens.len(),
            0,
            "verified under the old key set: not remembered"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_checks_and_a_key_change_leave_no_token_of_the_old_keys() {
        let cache = Arc::new(cache_with_key().await);
        let tokens: Vec<String> = (0..8)
            .map(|i| sign(&with(json!({ "sub": format!("U{i}") }))))
            .collect();
        let mut checks = tokio::task::JoinSet::new();
        for token in tokens.clone() {
            let cache = Arc::clone(&cache);
            checks.spawn(async move {
                for _ in 0..20 {
                    let _ = validate(&token, &cache, &expected(NOW), || {
                        std::future::ready(Ok(Jwks { keys: Vec::new() }))
                    })
                    .await;
                    tokio::task::yield_now().await;
                }
            });
        }
        cache.replace(&Jwks { keys: Vec::new() }).await;
        while let Some(done) = checks.join_next().await {
            done.expect("a check panicked");
        }
        assert_eq!(cache.verified_tokens(), 0);
        for token in &tokens {
            validate(token, &cache, &expected(NOW), || {
                std::future::ready(Ok(Jwks { keys: Vec::new() }))
            })
            .await
            .expect_err("no key: refused");
        }
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        for token in ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.sig"] {
            let err = check(token, &expected(NOW)).await.expect_err("garbage");
            assert!(matches!(err, TokenError::Malformed), "{token}: {err:?}");
        }
    }

    #[tokio::test]
    async fn jwks_keys_without_alg_or_for_encryption_or_symmetric_are_skipped() {
        let mut set = jwks();
        let good = set.keys[0].clone();
        set.keys = vec![
            Jwk {
                kid: Some("no-alg".into()),
                alg: None,
                ..good.clone()
            },
            Jwk {
                kid: Some("enc".into()),
                use_: Some("enc".into()),
                ..good.clone()
            },
            Jwk {
                kid: Some("hmac".into()),
                alg: Some("HS256".into()),
                kty: "oct".into(),
                ..good.clone()
            },
            good,
        ];
        let cache = JwksCache::new(Duration::from_secs(30));
        cache.replace(&set).await;
        assert_eq!(cache.len().await, 1);
    }

    fn counting_fetch(
        count: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Jwks, DescopeError>> + use<> {
        let count = Arc::clone(count);
        move || {
            count.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(jwks()))
        }
    }

    #[tokio::test]
    async fn an_unknown_kid_fetches_once_then_waits_for_the_cooldown() {
        let cache = JwksCache::new(Duration::from_secs(30));
        let fetches = Arc::new(AtomicUsize::new(0));
        let forged = sign_with(
            Algorithm::RS256,
            &test_key().encoding,
            "unknown-kid",
            &session_claims(),
        );
        for _ in 0..3 {
            let err = validate(&forged, &cache, &expected(NOW), counting_fetch(&fetches))
                .await
                .expect_err("unknown kid");
            assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // The known key was loaded by that fetch and needs no further one.
        validate(
            &sign(&session_claims()),
            &cache,
            &expected(NOW),
            counting_fetch(&fetches),
        )
        .await
        .expect("known key");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // After the cooldown, a miss may fetch again.
        let later = expected(NOW + 31);
        let _ = validate(&forged, &cache, &later, counting_fetch(&fetches)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let cache = Arc::new(JwksCache::new(Duration::from_secs(30)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let token = sign(&session_claims());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, fetches, token) = (cache.clone(), fetches.clone(), token.clone());
                tokio::spawn(async move {
                    validate(&token, &cache, &expected(NOW), || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        // Give the other tasks time to pile up behind this fetch.
                        tokio::task::yield_now().await;
                        Ok(jwks())
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("joined").expect("valid");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn asking_for_any_key_fetches_at_most_once_per_cooldown_while_fetches_fail() {
        let cache = Arc::new(JwksCache::new(Duration::from_secs(30)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = |fetches: Arc<AtomicUsize>| {
            move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Err(DescopeError::InvalidArgument("down")))
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let (cache, failing) = (Arc::clone(&cache), failing(Arc::clone(&fetches)));
            tasks.spawn(async move { cache.ensure_any(NOW + i % 3, failing).await });
        }
        while let Some(answer) = tasks.join_next().await {
            answer.expect("joined").expect_err("no keys to be had");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch per cooldown");
        let err = cache
            .ensure_any(NOW + 29, failing(Arc::clone(&fetches)))
            .await
            .expect_err("still cooling down");
        assert!(
            matches!(
                err,
                DescopeError::KeysCoolingDown {
                    retry_after_secs: 1
                }
            ),
            "{err:?}"
        );
        // Past the cooldown, one more try, and this one works.
        cache
            .ensure_any(NOW + 30, counting_fetch(&fetches))
            .await
            .expect("keys fetched");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        cache
            .ensure_any(NOW + 30, counting_fetch(&fetches))
            .await
            .expect("keys cached");
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "cached keys need no fetch"
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_reports_keys_unavailable_and_is_not_retried_within_the_cooldown() {
        let cache = JwksCache::new(Duration::from_secs(30));
        let fetches = Arc::new(AtomicUsize::new(0));
        let token = sign(&session_claims());
        let failing = || {
            fetches.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(DescopeError::InvalidArgument("down")))
        };
        let err = validate(&token, &cache, &expected(NOW), failing)
            .await
            .expect_err("no keys");
        assert!(matches!(err, TokenError::KeysUnavailable(_)), "{err:?}");
        let err = validate(&token, &cache, &expected(NOW + 1), failing)
            .await
            .expect_err("cooling down");
        assert!(
            matches!(
                err,
                TokenError::KeysUnavailable(DescopeError::KeysCoolingDown { .. })
            ),
            "{err:?}"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
