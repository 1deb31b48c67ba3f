//! The session cookie: its name and attributes, and the tower-sessions layer that sets it.

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use super::store::SessionRows;
use crate::server::settings::Settings;

/// The name of the session cookie. It holds only an opaque id.
pub const SESSION_COOKIE: &str = "sid";
/// Its name in production mode: browsers accept a `__Host-` cookie only if it is `Secure`, has
/// `Path=/` and no `Domain`, so no subdomain and no plain-HTTP page can set or overwrite it.
pub const SESSION_COOKIE_PRODUCTION: &str = "__Host-sid";

/// The session layer over `store`: an HttpOnly, SameSite=Lax cookie for the whole site, `Secure`
/// as configured, forgotten after `SESSION_IDLE_DAYS` without use.
pub fn layer(settings: &Settings, store: SessionRows) -> SessionManagerLayer<SessionRows> {
    let cookie_name = if settings.is_production() {
        SESSION_COOKIE_PRODUCTION
    } else {
        SESSION_COOKIE
    };
    SessionManagerLayer::new(store)
        .with_name(cookie_name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.cookie_secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(settings.session_idle.as_secs() as i64),
        ))
}
