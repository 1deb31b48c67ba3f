use leptos::prelude::*;

use crate::error::AppError;
use crate::models::SiteInfo;

#[server(endpoint = "site")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    use crate::server::{context, gate, mask};
    let (state, session) = context().await?;
    // The header tells the truth: the full gate, so a session signed out everywhere or refused
    // by Descope shows as signed out. On a gated page this reuses the page's gate answer. When
    // the gate cannot decide (Descope or the database out), the session was kept, and so the
    // person is shown as still signed in, from the session alone.
    let current = match gate::require_user(&state, &session).await {
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
    Ok(SiteInfo {
        emulator_outbox_url: state.emulator_outbox_url.clone(),
        signed_in_as,
    })
}
