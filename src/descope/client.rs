//! [`DescopeClient`]: one method per Descope REST call used for OTP sign-in and sessions.
//!
//! Requests mirror what the Python and Node SDKs send (API.md §2, §3, §4). No retries: the app
//! decides what to do with a failure, and `Retry-After` is surfaced through [`DescopeError`].

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DescopeConfig;
use super::error::DescopeError;
use super::jwt::{self, Expected, JwksCache, REFRESH_DRN, SESSION_DRN, SessionClaims, TokenError};
use super::types::{
    AuthResponse, Jwks, JwtWire, LoginBody, LoginOptions, LoginOptionsBody, MaskedAddress,
    MaskedWire, SignUpBody, SignUpOptions, SignUpUser, UpdateBody, UpdateOptions, UserResponse,
    VerifyBody,
};
use crate::clock::Clock;
use crate::models::DeliveryMethod;

/// The value of `x-descope-sdk-name`; Descope's SDKs send `python`, `nodejs`, `golang`.
const SDK_NAME: &str = "rust";

/// A cheap-to-clone handle: one HTTP client (one connection pool) and one JWKS cache, shared.
#[derive(Clone)]
pub struct DescopeClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: DescopeConfig,
    base_url: String,
    http: reqwest::Client,
    clock: Clock,
    jwks: JwksCache,
}

impl fmt::Debug for DescopeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DescopeClient")
            .field("project_id", &self.inner.config.project_id)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// Descope's `Authorization` value: `Bearer <projectId>` for public calls, or
/// `Bearer <projectId>:<refreshJwt>` for calls made for a signed-in user (API.md §2). Marked
/// sensitive so that HTTP-layer debug output hides it.
pub(crate) fn authorization(
    project_id: &str,
    refresh_jwt: Option<&str>,
) -> Result<HeaderValue, DescopeError> {
    let value = match refresh_jwt {
        Some(jwt) => format!("Bearer {project_id}:{jwt}"),
        None => format!("Bearer {project_id}"),
    };
    let mut header = HeaderValue::from_str(&value).map_err(|_| {
        DescopeError::InvalidArgument("token contains characters not allowed in a header")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn required<'a>(value: &'a str, what: &'static str) -> Result<&'a str, DescopeError> {
    if value.trim().is_empty() {
        Err(DescopeError::InvalidArgument(what))
    } else {
        Ok(value)
    }
}

impl DescopeClient {
    /// Builds the client once at start-up. Fails on an empty or odd project id (it goes into
    /// a header and a URL path) or a base URL that is not http(s).
    pub fn new(config: DescopeConfig, clock: Clock) -> Result<Self, DescopeError> {
        // Trimmed once here, so a stray space from the environment cannot end up in a header.
        let config = DescopeConfig {
            project_id: config.project_id.trim().to_owned(),
            ..config
        };
        let project_id = config.project_id.as_str();
        if project_id.is_empty()
            || !project_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(DescopeError::Config(
                "DESCOPE_PROJECT_ID must be a non-empty alphanumeric id".into(),
            ));
        }
        let base_url = config.resolved_base_url();
        match url::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(DescopeError::Config(format!(
                    "DESCOPE_BASE_URL must be an http(s) URL, got {base_url:?}"
                )));
            }
        }

        let mut headers = HeaderMap::new();
        let version = HeaderValue::from_static(env!("CARGO_PKG_VERSION"));
        headers.insert("x-descope-sdk-name", HeaderValue::from_static(SDK_NAME));
        headers.insert("x-descope-sdk-version", version);
        headers.insert(
            "x-descope-project-id",
            HeaderValue::from_str(project_id).map_err(|_| {
                DescopeError::Config("DESCOPE_PROJECT_ID is not header-safe".into())
            })?,
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("descope-otp/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Never follow a redirect: it would carry a refresh token somewhere unexpected.
            // Python and Go do not follow redirects on POST either.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DescopeError::Config(format!("cannot build the HTTP client: {e}")))?;

        let jwks = JwksCache::new(config.jwks_refetch_cooldown);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                http,
                clock,
                jwks,
            }),
        })
    }

    pub fn project_id(&self) -> &str {
        &self.inner.config.project_id
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `POST /v1/auth/otp/signup/{m}`: creates the user and sends a code.
    pub async fn sign_up(
        &self,
        method: DeliveryMethod,
        login_id: &str,
        user: &SignUpUser,
        options: &SignUpOptions,
    ) -> Result<MaskedAddress, DescopeError> {
        let login_id = required(login_id, "login id is empty")?;
        let body = SignUpBody::new(method, login_id, user, options);
        let path = format!("/v1/auth/otp/signup/{}", method.as_str());
        let wire: MaskedWire = self.post(&path, None, &body).await?;
        Ok(wire.into_masked(method.is_phone()))
    }

    /// `POST /v1/auth/otp/signin/{m}`: sends a code to an existing user. With `stepup` or `mfa`
    /// the user's refresh JWT is required and sent in the bearer; otherwise it is not sent.
    pub async fn sign_in(
        &self,
        method: DeliveryMethod,
        login_id: &str,
        options: &LoginOptions,
        refresh_jwt: Option<&str>,
    ) -> Result<MaskedAddress, DescopeError> {
        let login_id = required(login_id, "login id is empty")?;
        let refresh = if options.stepup || options.mfa {
            let jwt = refresh_jwt.filter(|t| !t.trim().is_empty()).ok_or(
                DescopeError::InvalidArgument("step-up or MFA sign-in needs the refresh token"),
            )?;
            Some(jwt)
        } else {
            None
        };
        let body = LoginBody {
            login_id,
            login_options: LoginOptionsBody::for_sign_in(options),
        };
        let path = format!("/v1/auth/otp/signin/{}", method.as_str());
        let wire: MaskedWire = self.post(&path, refresh, &body).await?;
        Ok(wire.into_masked(method.is_phone()))
    }

    /// `POST /v1/auth/otp/signup-in/{m}`: sends a code, creating the user if needed.
    pub async fn sign_up_or_in(
        &self,
        method: DeliveryMethod,
        login_id: &str,
        options: &SignUpOptions,
    ) -> Result<MaskedAddress, DescopeError> {
        let login_id = required(login_id, "login id is empty")?;
        let body = LoginBody {
            login_id,
            login_options: LoginOptionsBody::for_sign_up(options),
        };
        let path = format!("/v1/auth/otp/signup-in/{}", method.as_str());
        let wire: MaskedWire = self.post(&path, None, &body).await?;
        Ok(wire.into_masked(method.is_phone()))
    }

    /// `POST /v1/auth/otp/verify/{m}`: exchanges the code for session and refresh JWTs.
    ///
    /// The returned tokens are not validated here; call [`Self::validate_session`] before
    /// trusting their claims.
    pub async fn verify(
        &self,
        method: DeliveryMethod,
        login_id: &str,
        code: &str,
    ) -> Result<AuthResponse, DescopeError> {
        let login_id = required(login_id, "login id is empty")?;
        let code = required(code, "code is empty")?;
        let path = format!("/v1/auth/otp/verify/{}", method.as_str());
        let request = VerifyBody { login_id, code };
        let (status, body) = self
            .request(Method::POST, &path, None, Some(&request))
            .await?;
        parse::<JwtWire>(status, body.as_ref())?.into_auth(status)
    }

    /// `POST /v1/auth/otp/update/email`: sends a code to `new_email`; verifying it (with
    /// [`Self::verify`] and method email) completes the change.
    pub async fn update_email(
        &self,
        login_id: &str,
        new_email: &str,
        refresh_jwt: &str,
        options: &UpdateOptions,
    ) -> Result<MaskedAddress, DescopeError> {
        let body = UpdateBody {
            login_id: required(login_id, "login id is empty")?,
            email: Some(required(new_email, "new email is empty")?),
            phone: None,
            add_to_login_ids: options.add_to_login_ids,
            on_merge_use_existing: options.on_merge_use_existing,
            template_options: options.template_options.as_ref(),
        };
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        let wire: MaskedWire = self
            .post("/v1/auth/otp/update/email", Some(refresh), &body)
            .await?;
        Ok(wire.into_masked(false))
    }

    /// `POST /v1/auth/otp/update/phone/{sms|voice|whatsapp}`. `DeliveryMethod::Email` is refused
    /// before any request.
    pub async fn update_phone(
        &self,
        method: DeliveryMethod,
        login_id: &str,
        new_phone: &str,
        refresh_jwt: &str,
        options: &UpdateOptions,
    ) -> Result<MaskedAddress, DescopeError> {
        if !method.is_phone() {
            return Err(DescopeError::InvalidArgument(
                "update_phone needs sms, voice or whatsapp",
            ));
        }
        let body = UpdateBody {
            login_id: required(login_id, "login id is empty")?,
            email: None,
            phone: Some(required(new_phone, "new phone is empty")?),
            add_to_login_ids: options.add_to_login_ids,
            on_merge_use_existing: options.on_merge_use_existing,
            template_options: options.template_options.as_ref(),
        };
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        let path = format!("/v1/auth/otp/update/phone/{}", method.as_str());
        let wire: MaskedWire = self.post(&path, Some(refresh), &body).await?;
        Ok(wire.into_masked(true))
    }

    /// `POST /v1/auth/refresh`: a new session JWT (and a new refresh JWT when rotation is on).
    ///
    /// The SDKs validate the refresh JWT locally first; callers do that with
    /// [`Self::validate_refresh`], which also tells "expired, sign in again" from "Descope down".
    pub async fn refresh(&self, refresh_jwt: &str) -> Result<AuthResponse, DescopeError> {
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        let (status, body) = self
            .request(
                Method::POST,
                "/v1/auth/refresh",
                Some(refresh),
                Some(&Empty {}),
            )
            .await?;
        parse::<JwtWire>(status, body.as_ref())?.into_auth(status)
    }

    /// `POST /v1/auth/logout`: revokes this refresh token. The body (a JWT response with empty
    /// tokens) is ignored, and may even be empty.
    pub async fn logout(&self, refresh_jwt: &str) -> Result<(), DescopeError> {
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        self.request(
            Method::POST,
            "/v1/auth/logout",
            Some(refresh),
            Some(&Empty {}),
        )
        .await?;
        Ok(())
    }

    /// `POST /v1/auth/logoutall`: revokes every refresh token of the user.
    pub async fn logout_all(&self, refresh_jwt: &str) -> Result<(), DescopeError> {
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        self.request(
            Method::POST,
            "/v1/auth/logoutall",
            Some(refresh),
            Some(&Empty {}),
        )
        .await?;
        Ok(())
    }

    /// `GET /v1/auth/me`: the signed-in user (the user object, not wrapped).
    pub async fn me(&self, refresh_jwt: &str) -> Result<UserResponse, DescopeError> {
        let refresh = required(refresh_jwt, "refresh token is empty")?;
        let (status, body) = self
            .request::<Empty>(Method::GET, "/v1/auth/me", Some(refresh), None)
            .await?;
        parse(status, body.as_ref())
    }

    /// `GET /v2/keys/{projectId}`: the public signing keys, uncached (the cache calls this).
    pub async fn keys(&self) -> Result<Jwks, DescopeError> {
        let path = format!("/v2/keys/{}", self.project_id());
        let (status, body) = self
            .request::<Empty>(Method::GET, &path, None, None)
            .await?;
        parse(status, body.as_ref())
    }

    /// Whether session JWTs can be validated now (for `/readyz`): keys are cached, or Descope
    /// hands them out now (they are then cached, so the first sign-in need not fetch them). A
    /// failed fetch is not retried within the JWKS cooldown, however often probes ask.
    pub async fn ensure_keys(&self) -> Result<(), DescopeError> {
        self.inner
            .jwks
            .ensure_any(self.inner.clock.now(), || self.keys())
            .await
    }

    /// Validates a session JWT (`drn` = `DS`) against the cached JWKS and the injected clock.
    pub async fn validate_session(&self, session_jwt: &str) -> Result<SessionClaims, TokenError> {
        self.validate(session_jwt, SESSION_DRN).await
    }

    /// The same checks for a refresh JWT (`drn` = `DSR`), as the SDKs do before refreshing.
    pub async fn validate_refresh(&self, refresh_jwt: &str) -> Result<SessionClaims, TokenError> {
        self.validate(refresh_jwt, REFRESH_DRN).await
    }

    async fn validate(&self, token: &str, drn: &'static str) -> Result<SessionClaims, TokenError> {
        let expected = Expected {
            project_id: self.project_id(),
            audience: self.inner.config.audience.as_deref(),
            drn,
            now: self.inner.clock.now(),
        };
        jwt::validate(token, &self.inner.jwks, &expected, || self.keys()).await
    }

    async fn post<R: DeserializeOwned>(
        &self,
        path: &str,
        refresh_jwt: Option<&str>,
        body: &impl Serialize,
    ) -> Result<R, DescopeError> {
        let (status, bytes) = self
            .request(Method::POST, path, refresh_jwt, Some(body))
            .await?;
        parse(status, bytes.as_ref())
    }

    /// Sends one request and returns the status and body of a 2xx answer; anything else
    /// becomes a [`DescopeError`]. Only the path and status are logged, never headers or bodies.
    async fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        refresh_jwt: Option<&str>,
        body: Option<&B>,
    ) -> Result<(StatusCode, impl AsRef<[u8]>), DescopeError> {
        let url = format!("{}{path}", self.inner.base_url);
        let mut request = self.inner.http.request(method, url).header(
            AUTHORIZATION,
            authorization(self.project_id(), refresh_jwt)?,
        );
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(path, error = %e, "Descope request failed");
            DescopeError::Transport(e)
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(DescopeError::Transport)?;
        if status.is_success() {
            tracing::debug!(path, status = status.as_u16(), "Descope answered");
            Ok((status, bytes))
        } else {
            let err = DescopeError::from_response(status, retry_after.as_deref(), &bytes);
            tracing::info!(path, error = %err, "Descope refused");
            Err(err)
        }
    }
}

/// `{}`: the body Python and Node send to refresh and logout.
#[derive(Serialize)]
struct Empty {}

fn parse<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, DescopeError> {
    serde_json::from_slice(body).map_err(|e| DescopeError::invalid_json(status, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descope::ErrorKind;
    use crate::descope::test_support::{Canned, Fixture, PROJECT_ID, jwks, sign};
    use secrecy::ExposeSecret;
    use serde_json::{Value, json};
    use std::time::Duration;

    const REFRESH: &str = "eyJhbGciOiJSUzI1NiJ9.eyJkcm4iOiJEU1IifQ.c2ln";

    fn route(path: &str, canned: Canned) -> (String, Canned) {
        (path.to_owned(), canned)
    }

    fn client_for(fixture: &Fixture, clock: Clock) -> DescopeClient {
        let mut config = DescopeConfig::new(PROJECT_ID);
        config.base_url = Some(format!("{}/", fixture.base_url));
        DescopeClient::new(config, clock).expect("client")
    }

    fn jwt_response() -> Value {
        json!({"sessionJwt": "s.e.s", "refreshJwt": "r.e.f", "cookieMaxAge": 60,
               "firstSeen": false, "user": {"userId": "U2x", "loginIds": ["a@x.com"]}})
    }

    #[test]
    fn the_bearer_is_the_project_id_alone_or_joined_with_the_refresh_token() {
        let public = authorization("P2abc", None).expect("valid");
        assert_eq!(public.to_str().expect("ascii"), "Bearer P2abc");
        let user = authorization("P2abc", Some("a.b.c")).expect("valid");
        assert_eq!(user.to_str().expect("ascii"), "Bearer P2abc:a.b.c");
        assert!(user.is_sensitive());
        assert!(authorization("P2abc", Some("a\nb")).is_err());
    }

    #[test]
    fn a_client_needs_a_project_id_and_an_http_base_url() {
        let clock = Clock::system;
        assert!(DescopeClient::new(DescopeConfig::new(" "), clock()).is_err());
        assert!(DescopeClient::new(DescopeConfig::new("P2a:b"), clock()).is_err());
        let mut config = DescopeConfig::new("P2abc");
        config.base_url = Some("ftp://example.com".into());
        assert!(DescopeClient::new(config, clock()).is_err());
        let client = DescopeClient::new(DescopeConfig::new(" P2abc\n"), clock()).expect("ok");
        assert_eq!(client.base_url(), "https://api.descope.com");
        assert_eq!(client.project_id(), "P2abc");
        assert!(!format!("{client:?}").is_empty());
    }

    #[tokio::test]
    async fn sign_up_posts_the_spec_body_with_descope_headers() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/signup/email",
            Canned::json(200, json!({"maskedEmail": "a***@x.com"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let user = SignUpUser {
            name: Some("Ada".into()),
            ..SignUpUser::default()
        };
        let masked = client
            .sign_up(
                DeliveryMethod::Email,
                "a@x.com",
                &user,
                &SignUpOptions::default(),
            )
            .await
            .expect("sent");
        assert_eq!(masked.masked, "a***@x.com");
        let request = fixture.last();
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, "/v1/auth/otp/signup/email");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {PROJECT_ID}").as_str())
        );
        assert_eq!(request.header("x-descope-project-id"), Some(PROJECT_ID));
        assert_eq!(request.header("x-descope-sdk-name"), Some("rust"));
        assert!(request.header("x-descope-sdk-version").is_some());
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.body,
            json!({"loginId": "a@x.com", "user": {"name": "Ada", "email": "a@x.com"}})
        );
    }

    #[tokio::test]
    async fn sign_in_sends_login_options_and_reads_the_masked_phone() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/signin/sms",
            Canned::json(200, json!({"maskedPhone": "+1***00"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let masked = client
            .sign_in(
                DeliveryMethod::Sms,
                "+15555550100",
                &LoginOptions::default(),
                Some(REFRESH),
            )
            .await
            .expect("sent");
        assert_eq!(masked.masked, "+1***00");
        let request = fixture.last();
        // Without step-up the refresh token is not needed, so it is not sent.
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {PROJECT_ID}").as_str())
        );
        assert_eq!(
            request.body,
            json!({"loginId": "+15555550100", "loginOptions": {"stepup": false, "mfa": false}})
        );
    }

    #[tokio::test]
    async fn step_up_sign_in_puts_the_refresh_token_in_the_bearer() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/signin/email",
            Canned::json(200, json!({"maskedEmail": "a***@x.com"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let options = LoginOptions {
            stepup: true,
            ..LoginOptions::default()
        };
        client
            .sign_in(DeliveryMethod::Email, "a@x.com", &options, Some(REFRESH))
            .await
            .expect("sent");
        let request = fixture.last();
        let expected = format!("Bearer {PROJECT_ID}:{REFRESH}");
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        assert_eq!(request.body["loginOptions"]["stepup"], true);
    }

    #[tokio::test]
    async fn step_up_sign_in_without_a_refresh_token_fails_before_any_request() {
        let fixture = Fixture::start([]).await;
        let client = client_for(&fixture, Clock::system());
        let options = LoginOptions {
            mfa: true,
            ..LoginOptions::default()
        };
        for refresh in [None, Some("")] {
            let err = client
                .sign_in(DeliveryMethod::Email, "a@x.com", &options, refresh)
                .await
                .expect_err("needs a refresh token");
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
        assert!(fixture.requests().is_empty());
    }

    #[tokio::test]
    async fn sign_up_or_in_always_sends_login_options() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/signup-in/whatsapp",
            Canned::json(200, json!({"maskedPhone": "+1***00"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        client
            .sign_up_or_in(
                DeliveryMethod::Whatsapp,
                "+15555550100",
                &SignUpOptions::default(),
            )
            .await
            .expect("sent");
        assert_eq!(
            fixture.last().body,
            json!({"loginId": "+15555550100", "loginOptions": {}})
        );
    }

    #[tokio::test]
    async fn verify_sends_the_code_and_returns_the_tokens() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/verify/email",
            Canned::json(200, jwt_response()),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let auth = client
            .verify(DeliveryMethod::Email, "a@x.com", "123456")
            .await
            .expect("verified");
        assert_eq!(auth.session_jwt.expose_secret(), "s.e.s");
        assert_eq!(
            auth.refresh_jwt.as_ref().map(|r| r.expose_secret()),
            Some("r.e.f")
        );
        assert_eq!(auth.user.expect("user").user_id, "U2x");
        assert_eq!(
            fixture.last().body,
            json!({"loginId": "a@x.com", "code": "123456"})
        );
    }

    #[tokio::test]
    async fn a_wrong_code_is_reported_as_wrong_code_without_echoing_it() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/verify/email",
            Canned::json(
                401,
                json!({"errorCode": "E061102", "errorDescription": "Wrong code"}),
            ),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let err = client
            .verify(DeliveryMethod::Email, "a@x.com", "999111")
            .await
            .expect_err("wrong code");
        assert_eq!(err.kind(), ErrorKind::WrongCode);
        assert!(!err.to_string().contains("999111"), "{err}");
    }

    #[tokio::test]
    async fn an_empty_code_or_login_id_is_refused_before_any_request() {
        let fixture = Fixture::start([]).await;
        let client = client_for(&fixture, Clock::system());
        let m = DeliveryMethod::Email;
        assert!(client.verify(m, "a@x.com", "").await.is_err());
        assert!(client.verify(m, " ", "123456").await.is_err());
        assert!(client.refresh("").await.is_err());
        assert!(fixture.requests().is_empty());
    }

    #[tokio::test]
    async fn a_rate_limit_carries_retry_after() {
        let mut canned = Canned::json(
            429,
            json!({"errorCode": "E130429", "errorDescription": "https://docs.descope.com/rate-limit"}),
        );
        canned.headers.push(("retry-after", "7".into()));
        let fixture = Fixture::start([route("/v1/auth/otp/signup-in/email", canned)]).await;
        let client = client_for(&fixture, Clock::system());
        let err = client
            .sign_up_or_in(DeliveryMethod::Email, "a@x.com", &SignUpOptions::default())
            .await
            .expect_err("rate limited");
        assert_eq!(
            err.kind(),
            ErrorKind::RateLimited {
                retry_after_secs: Some(7)
            }
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn a_non_json_error_page_becomes_an_error_not_a_panic() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/signin/email",
            Canned {
                status: 502,
                headers: vec![("content-type", "text/html".into())],
                body: "<html>Bad Gateway</html>".into(),
            },
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let err = client
            .sign_in(
                DeliveryMethod::Email,
                "a@x.com",
                &LoginOptions::default(),
                None,
            )
            .await
            .expect_err("gateway error");
        assert_eq!(err.kind(), ErrorKind::Unreachable);
        assert_eq!(err.code(), None);
    }

    #[tokio::test]
    async fn a_success_with_a_non_json_body_is_an_invalid_response() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/verify/email",
            Canned {
                status: 200,
                headers: vec![],
                body: "OK".into(),
            },
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let err = client
            .verify(DeliveryMethod::Email, "a@x.com", "123456")
            .await
            .expect_err("not JSON");
        assert!(
            matches!(err, DescopeError::InvalidResponse { status: 200, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_descope_is_reported_as_unreachable() {
        // A port bound but never listened on: connections to it are refused, and no other
        // process can take it while `socket` holds it (closing a free port instead would leave
        // it to chance).
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("literal"))
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        let mut config = DescopeConfig::new(PROJECT_ID);
        config.base_url = Some(format!("http://{addr}"));
        config.timeout = Duration::from_secs(2);
        let client = DescopeClient::new(config, Clock::system()).expect("client");
        let err = client.keys().await.expect_err("nothing listens");
        assert_eq!(err.kind(), ErrorKind::Unreachable);
        assert!(std::error::Error::source(&err).is_some());
        drop(socket);
    }

    #[tokio::test]
    async fn a_descope_slower_than_the_timeout_is_unreachable_not_a_hang() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let mut config = DescopeConfig::new(PROJECT_ID);
        config.base_url = Some(format!("http://{addr}"));
        config.timeout = Duration::from_millis(300);
        let client = DescopeClient::new(config, Clock::system()).expect("client");
        let err = client
            .refresh(REFRESH)
            .await
            .expect_err("no answer within the timeout");
        assert_eq!(err.kind(), ErrorKind::Unreachable, "{err:?}");
        silent.abort();
    }

    #[tokio::test]
    async fn update_email_sends_the_refresh_bearer_and_both_flags() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/update/email",
            Canned::json(200, json!({"maskedEmail": "b***@x.com"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let options = UpdateOptions {
            add_to_login_ids: true,
            ..UpdateOptions::default()
        };
        let masked = client
            .update_email("a@x.com", "b@x.com", REFRESH, &options)
            .await
            .expect("sent");
        assert_eq!(masked.masked, "b***@x.com");
        let request = fixture.last();
        let expected = format!("Bearer {PROJECT_ID}:{REFRESH}");
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        assert_eq!(
            request.body,
            json!({"loginId": "a@x.com", "email": "b@x.com", "addToLoginIDs": true,
                   "onMergeUseExisting": false})
        );
    }

    #[tokio::test]
    async fn update_phone_uses_the_method_in_the_path_and_refuses_email() {
        let fixture = Fixture::start([route(
            "/v1/auth/otp/update/phone/voice",
            Canned::json(200, json!({"maskedPhone": "+1***01"})),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let options = UpdateOptions::default();
        let err = client
            .update_phone(
                DeliveryMethod::Email,
                "a@x.com",
                "+15555550101",
                REFRESH,
                &options,
            )
            .await
            .expect_err("email is not a phone method");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(fixture.requests().is_empty());
        let masked = client
            .update_phone(
                DeliveryMethod::Voice,
                "a@x.com",
                "+15555550101",
                REFRESH,
                &options,
            )
            .await
            .expect("sent");
        assert_eq!(masked.masked, "+1***01");
        assert_eq!(fixture.last().body["phone"], "+15555550101");
    }

    #[tokio::test]
    async fn refresh_logout_and_logout_all_send_an_empty_object_with_the_refresh_bearer() {
        let fixture = Fixture::start([
            route(
                "/v1/auth/refresh",
                Canned::json(200, json!({"sessionJwt": "n.e.w"})),
            ),
            route(
                "/v1/auth/logout",
                Canned {
                    status: 200,
                    headers: vec![],
                    body: String::new(),
                },
            ),
            route(
                "/v1/auth/logoutall",
                Canned::json(200, json!({"sessionJwt": ""})),
            ),
        ])
        .await;
        let client = client_for(&fixture, Clock::system());
        let auth = client.refresh(REFRESH).await.expect("refreshed");
        assert_eq!(auth.session_jwt.expose_secret(), "n.e.w");
        assert!(auth.refresh_jwt.is_none(), "no rotation: keep the old one");
        client.logout(REFRESH).await.expect("an empty body is fine");
        client
            .logout_all(REFRESH)
            .await
            .expect("logged out everywhere");
        let expected = format!("Bearer {PROJECT_ID}:{REFRESH}");
        let requests = fixture.requests();
        let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/v1/auth/refresh", "/v1/auth/logout", "/v1/auth/logoutall"]
        );
        for request in &requests {
            assert_eq!(request.method, Method::POST);
            assert_eq!(request.header("authorization"), Some(expected.as_str()));
            assert_eq!(request.body, json!({}));
        }
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_is_unauthorized_and_not_shown_in_the_error() {
        let fixture = Fixture::start([route(
            "/v1/auth/refresh",
            Canned::json(
                401,
                json!({"errorCode": "E064001", "errorDescription": "Expired"}),
            ),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let err = client.refresh(REFRESH).await.expect_err("revoked");
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(!format!("{err} {err:?}").contains(REFRESH));
    }

    #[tokio::test]
    async fn me_gets_the_user_with_the_refresh_bearer() {
        let fixture = Fixture::start([route(
            "/v1/auth/me",
            Canned::json(
                200,
                json!({"userId": "U2x", "email": "a@x.com", "phone": null,
                                     "verifiedEmail": true, "loginIds": ["a@x.com"]}),
            ),
        )])
        .await;
        let client = client_for(&fixture, Clock::system());
        let user = client.me(REFRESH).await.expect("user");
        assert_eq!(user.email.as_deref(), Some("a@x.com"));
        assert!(user.phone.is_none());
        let request = fixture.last();
        assert_eq!(request.method, Method::GET);
        let expected = format!("Bearer {PROJECT_ID}:{REFRESH}");
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
    }

    fn keys_route() -> (String, Canned) {
        route(
            &format!("/v2/keys/{PROJECT_ID}"),
            Canned::json(200, serde_json::to_value(jwks()).expect("jwks")),
        )
    }

    fn session_token(clock: &Clock, kid_token: bool) -> String {
        let now = clock.now();
        let claims = json!({"sub": "U2x", "iss": PROJECT_ID, "iat": now, "exp": now + 60,
                            "drn": "DS", "amr": ["email"]});
        if kid_token {
            sign(&claims)
        } else {
            crate::descope::test_support::sign_with(
                jsonwebtoken::Algorithm::RS256,
                &crate::descope::test_support::test_key().encoding,
                "rotated-away",
                &claims,
            )
        }
    }

    #[tokio::test]
    async fn validate_session_fetches_the_keys_once_and_expires_with_the_clock() {
        let fixture = Fixture::start([keys_route()]).await;
        let clock = Clock::system();
        let client = client_for(&fixture, clock.clone());
        let keys_path = format!("/v2/keys/{PROJECT_ID}");
        let token = session_token(&clock, true);
        let claims = client.validate_session(&token).await.expect("valid");
        assert_eq!(claims.user_id(), "U2x");
        client.validate_session(&token).await.expect("still valid");
        assert_eq!(
            fixture.count(&keys_path),
            1,
            "the second check is a cache hit"
        );
        assert_eq!(
            fixture.last().header("authorization"),
            Some(format!("Bearer {PROJECT_ID}").as_str())
        );
        clock.advance(Duration::from_secs(60 + 6));
        let err = client.validate_session(&token).await.expect_err("expired");
        assert!(err.is_expired(), "{err:?}");
        let err = client
            .validate_refresh(&token)
            .await
            .expect_err("a session token");
        assert!(matches!(err, TokenError::WrongTokenType), "{err:?}");
    }

    #[tokio::test]
    async fn unknown_kids_refetch_once_per_cooldown_over_http() {
        let fixture = Fixture::start([keys_route()]).await;
        let clock = Clock::system();
        let client = client_for(&fixture, clock.clone());
        let keys_path = format!("/v2/keys/{PROJECT_ID}");
        let forged = session_token(&clock, false);
        for _ in 0..5 {
            let err = client
                .validate_session(&forged)
                .await
                .expect_err("unknown kid");
            assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
        }
        assert_eq!(fixture.count(&keys_path), 1);
        clock.advance(Duration::from_secs(31));
        let forged = session_token(&clock, false);
        let _ = client.validate_session(&forged).await;
        assert_eq!(fixture.count(&keys_path), 2);
    }

    #[tokio::test]
    async fn keys_that_cannot_be_fetched_are_unavailable_not_invalid() {
        let fixture = Fixture::start([]).await; // the keys path answers 404
        let clock = Clock::system();
        let client = client_for(&fixture, clock.clone());
        let err = client
            .validate_session(&session_token(&clock, true))
            .await
            .expect_err("no keys");
        assert!(matches!(err, TokenError::KeysUnavailable(_)), "{err:?}");
    }
}
