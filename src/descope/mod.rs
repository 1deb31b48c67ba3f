//! The Descope client: OTP sign-up/sign-in, sessions and session-JWT validation.
//!
//! Server-side only, and deliberately free of Leptos and axum: it speaks Descope's REST API as the
//! official SDKs use it, with one `reqwest::Client`, and validates JWTs locally against a cached
//! JWKS, as the official SDKs do.
//!
//! `API.md` in this folder describes that API as we use it; comments cite it as `API.md §N`.
//!
//! - [`client`]: [`DescopeClient`], one method per REST call.
//! - [`error`]: [`DescopeError`] and the [`ErrorKind`] the app branches on.
//! - [`types`]: what goes over the wire. Tokens are `SecretString`, so `Debug` never shows them.
//! - [`jwt`]: [`JwksCache`], [`SessionClaims`] and [`TokenError`].

pub mod client;
pub mod error;
pub mod jwt;
pub mod types;

#[cfg(test)]
mod test_support;

use std::time::Duration;

pub use client::DescopeClient;
pub use error::{DescopeError, ErrorKind};
pub use jwt::{JwksCache, SessionClaims, TokenError};
pub use types::{
    AuthResponse, Jwk, Jwks, LoginOptions, MaskedAddress, SignUpOptions, SignUpUser, UpdateOptions,
    UserResponse,
};

/// Where Descope lives when no base URL is configured and the project id names no region.
pub const DEFAULT_BASE_URL: &str = "https://api.descope.com";

/// Everything the client needs to know, read once by the app's settings.
#[derive(Clone, Debug)]
pub struct DescopeConfig {
    /// `DESCOPE_PROJECT_ID`: sent in every request and expected as the tokens' issuer.
    pub project_id: String,
    /// `DESCOPE_BASE_URL`: e.g. the local emulator. `None` derives it from the project id.
    pub base_url: Option<String>,
    /// `DESCOPE_AUDIENCE`: when set, a token's `aud` must contain it. When unset, a token that
    /// carries an `aud` other than the project id is rejected: such a token was minted for some
    /// other service, and a valid signature alone must not make us accept it (this is also what
    /// the Python SDK does).
    pub audience: Option<String>,
    /// Whole-request timeout, also used as the connect timeout.
    pub timeout: Duration,
    /// Minimum gap between JWKS fetches caused by unknown key ids, so that a stream of forged
    /// tokens cannot make us hammer Descope.
    pub jwks_refetch_cooldown: Duration,
}

impl DescopeConfig {
    /// A config with the defaults we recommend: Descope's own base URL, no audience, 10 s
    /// timeout, 30 s JWKS cooldown.
    pub fn new(project_id: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            base_url: None,
            audience: None,
            timeout: Duration::from_secs(10),
            jwks_refetch_cooldown: Duration::from_secs(30),
        }
    }

    /// The base URL without a trailing slash (so `format!("{base}/v1/...")` never gives `//`).
    ///
    /// Without an override this follows the Python and Go SDKs (API.md §1): project ids of 32 or
    /// more characters carry a region in characters 1..5 (`Puse1...` → `api.use1.descope.com`);
    /// ordinary 28-character ids use `api.descope.com`.
    pub fn resolved_base_url(&self) -> String {
        if let Some(url) = self.base_url.as_deref().map(str::trim)
            && !url.is_empty()
        {
            return url.trim_end_matches('/').to_owned();
        }
        if self.project_id.len() >= 32
            && let Some(region) = self.project_id.get(1..5)
        {
            return format!("https://api.{region}.descope.com");
        }
        DEFAULT_BASE_URL.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_28_character_project_id_uses_the_global_api() {
        let config = DescopeConfig::new("P2abcdefghijklmnopqrstuvwxyz");
        assert_eq!(config.project_id.len(), 28);
        assert_eq!(config.resolved_base_url(), "https://api.descope.com");
    }

    #[test]
    fn a_32_character_project_id_names_its_region() {
        let config = DescopeConfig::new("Puse12abcdefghijklmnopqrstuvwxyz");
        assert_eq!(config.project_id.len(), 32);
        assert_eq!(config.resolved_base_url(), "https://api.use1.descope.com");
    }

    #[test]
    fn an_explicit_base_url_wins_over_the_region() {
        let mut config = DescopeConfig::new("Puse12abcdefghijklmnopqrstuvwxyz");
        config.base_url = Some("http://127.0.0.1:4000".into());
        assert_eq!(config.resolved_base_url(), "http://127.0.0.1:4000");
    }

    #[test]
    fn trailing_slashes_are_trimmed_from_the_base_url() {
        let mut config = DescopeConfig::new("P2abc");
        config.base_url = Some("http://localhost:4000//".into());
        assert_eq!(config.resolved_base_url(), "http://localhost:4000");
    }

    #[test]
    fn an_empty_base_url_falls_back_to_the_derived_one() {
        let mut config = DescopeConfig::new("P2abcdefghijklmnopqrstuvwxyz");
        config.base_url = Some("  ".into());
        assert_eq!(config.resolved_base_url(), "https://api.descope.com");
    }

    #[test]
    fn defaults_are_ten_seconds_and_thirty_seconds() {
        let config = DescopeConfig::new("P2abc");
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.jwks_refetch_cooldown, Duration::from_secs(30));
        assert!(config.audience.is_none());
    }
}
