//! What a page shows is loaded before it renders ([`PageData`]), so that the render is one
//! synchronous pass over data in hand: no resource, no `<Suspense>`, no server function called
//! from inside the render. That is most of a page's cost in Leptos (the reactive machinery of a
//! resource and of streaming costs far more than writing the HTML), and it keeps the order of
//! things plain: the gate answers, the session is written, then the page is drawn.
//!
//! The page layer (`server::http::pages`) runs the gate once per page request and calls [`load`]
//! with its answer; the render reads the result from its context.

use crate::error::AppError;
use crate::models::SiteInfo;
use crate::pages::PageData;
use crate::server::gate::require_user;
use crate::server::session::AuthSession;
use crate::server::state::AppState;
use crate::server::{mask, profile};

/// The data of the page at `path`, from the gate's answer that `session` carries.
pub async fn load(state: &AppState, session: &AuthSession, path: &str) -> PageData {
    let site = site_info(state, session).await;
    let profile = match path {
        "/profile" => Some(profile::load(state, session).await),
        _ => None,
    };
    PageData {
        path: path.to_owned(),
        site,
        profile,
    }
}

/// The header tells the truth: the full gate, so a session signed out everywhere or refused by
/// Descope shows as signed out. When the gate cannot decide (Descope or the database out), the
/// session was kept, and so the person is shown as still signed in, from the session alone.
async fn site_info(state: &AppState, session: &AuthSession) -> SiteInfo {
    let current = match require_user(state, session).await {
        Ok((current, _)) => Some(current),
        Err(AppError::NotSignedIn) => None,
        Err(_) => session.signed_in().await.ok().flatten(),
    };
    let signed_in_as = current.map(|current| {
        current
            .details
            .and_then(|d| d.name)
            .unwrap_or_else(|| mask::address(current.method, &current.login_id))
    });
    SiteInfo {
        emulator_outbox_url: state.emulator_outbox_url.clone(),
        signed_in_as,
    }
}
