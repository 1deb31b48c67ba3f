//! The embedded Descope emulator, started when no Descope project is configured: the app's one
//! door to `crate::emulator`. A build without the `emulator` feature (`cargo build
//! --no-default-features --features ssr`) compiles none of the emulator, and there
//! [`Emulator`] is a type with no values, so the app's `Option<Emulator>` is always `None` and
//! the settings require `DESCOPE_PROJECT_ID`.

use crate::clock::Clock;
use crate::descope::DescopeConfig;
use crate::server::settings::DescopeTarget;

#[cfg(feature = "emulator")]
pub use with_emulator::Emulator;

/// What the Descope client talks to for `target`: the configured project, or the embedded
/// emulator, started here and kept running for as long as the returned [`Emulator`] lives.
pub async fn descope_config(
    target: &DescopeTarget,
    audience: Option<String>,
    clock: Clock,
) -> anyhow::Result<(Option<Emulator>, DescopeConfig)> {
    match target {
        DescopeTarget::Project {
            project_id,
            base_url,
        } => {
            let mut config = DescopeConfig::new(project_id.clone());
            config.base_url = base_url.clone();
            config.audience = audience;
            // The clock is for an emulator started here; a real project keeps its own.
            drop(clock);
            Ok((None, config))
        }
        #[cfg(feature = "emulator")]
        DescopeTarget::Emulator(settings) => {
            let (emulator, mut config) =
                with_emulator::start(settings, audience.clone(), clock).await?;
            config.audience = audience;
            Ok((Some(emulator), config))
        }
    }
}

#[cfg(feature = "emulator")]
mod with_emulator {
    use anyhow::Context;

    use crate::clock::Clock;
    use crate::descope::DescopeConfig;
    use crate::emulator::{DbLocation, EmulatorConfig};
    use crate::server::db::ensure_parent_dir;
    use crate::server::settings::EmulatorSettings;

    pub use crate::emulator::Emulator;

    /// Starts the emulator on its own SQLite file, and the client settings that talk to it.
    pub(super) async fn start(
        settings: &EmulatorSettings,
        audience: Option<String>,
        clock: Clock,
    ) -> anyhow::Result<(Emulator, DescopeConfig)> {
        ensure_parent_dir(&settings.db)?;
        let emulator = Emulator::start(
            EmulatorConfig {
                db: DbLocation::File(settings.db.clone()),
                allow_faults: settings.allow_faults,
                allow_time_travel: settings.allow_faults,
                fixed_codes: settings.fixed_codes.clone(),
                test_users_uncapped: settings.test_users_uncapped,
                rotate_refresh_tokens: settings.rotate_refresh_tokens,
                // Like a Descope project configured to add this audience to its tokens.
                audience,
                ..EmulatorConfig::default()
            },
            settings.addr,
            clock,
        )
        .await
        .with_context(|| {
            format!(
                "starting the embedded Descope emulator on {}",
                settings.addr
            )
        })?;
        tracing::info!(
            base_url = emulator.base_url(),
            outbox = %emulator.outbox_url(),
            "DESCOPE_PROJECT_ID is not set: using the embedded Descope emulator; codes appear in its outbox"
        );
        if !settings.fixed_codes.is_empty() || settings.test_users_uncapped {
            tracing::warn!(
                fixed_codes = settings.fixed_codes.len(),
                test_users_uncapped = settings.test_users_uncapped,
                "emulator test conveniences are on (EMULATOR_FIXED_CODES, EMULATOR_TEST_USERS_UNCAPPED)"
            );
        }
        let mut config = DescopeConfig::new(emulator.project_id().to_owned());
        config.base_url = Some(emulator.base_url().to_owned());
        Ok((emulator, config))
    }
}

/// No emulator in this build: a type with no values.
#[cfg(not(feature = "emulator"))]
#[derive(Debug)]
pub enum Emulator {}

#[cfg(not(feature = "emulator"))]
impl Emulator {
    pub fn outbox_url(&self) -> String {
        match *self {}
    }

    pub async fn shutdown(self) {
        match self {}
    }
}
