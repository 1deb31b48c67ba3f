use leptos::prelude::*;

use crate::error::AppError;
use crate::models::SiteInfo;

#[server(endpoint = "site")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    use crate::server::{context, gate, mask};
    let (state, session) = context().await?;
    // The header tells the truth: the full gate, so a session signed out everywhere or refused
    // by Descope shows as signed out. On a gated page this reuses the page's gate answer.
    let signed_in_as = gate::require_user(&state, &session)
        .await
        .ok()
        .map(|(current, _)| {
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
