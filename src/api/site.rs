use leptos::prelude::*;

use crate::error::AppError;
use crate::models::SiteInfo;

#[server(endpoint = "site")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    use crate::server::context;
    let (state, _) = context().await?;
    Ok(SiteInfo {
        emulator_outbox_url: state.emulator_outbox_url.clone(),
    })
}
