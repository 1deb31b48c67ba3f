//! Serves the app. All the work is in the library (`server::startup`); this reads settings,
//! builds the application and runs it.
//!
//! `descope-otp --migrate` only brings the database (`DATABASE_URL`) up to date and exits: for a
//! deployment that runs its migrations once, as a step of its own, before starting instances.

use std::process::ExitCode;

use descope_otp::clock::Clock;
use descope_otp::server::db::Db;
use descope_otp::server::settings::Settings;
use descope_otp::server::startup::Application;
use descope_otp::server::telemetry;

/// mimalloc rather than glibc's malloc: a request's allocations are often freed on another
/// thread than the one that made them (tokio moves tasks between workers; sqlx's SQLite rows come
/// from its connection threads), and glibc then takes that arena's lock, which under load becomes
/// the server's busiest lock. Measured in `.ci/bench` (see `.ci/BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A local `.env` is a convenience for development; real deployments set the environment.
    let _ = dotenvy::dotenv();

    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let _logs = telemetry::init(settings.is_production());
    if std::env::args().nth(1).as_deref() == Some("--migrate") {
        return match Db::connect(&settings.database_url, 1).await {
            Ok(_) => {
                tracing::info!("the database is up to date");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("migrating failed: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // cargo-leptos passes the site options in LEPTOS_* variables; a plain `cargo run` reads
    // them from Cargo.toml's [package.metadata.leptos] instead.
    let config_file = std::path::Path::new("Cargo.toml")
        .exists()
        .then_some("Cargo.toml");
    let mut leptos_options = match leptos::config::get_configuration(config_file) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            eprintln!("configuration error: Leptos options: {e}");
            return ExitCode::from(2);
        }
    };
    if settings.is_production() {
        leptos_options.env = leptos::config::Env::PROD;
    }

    let app = match Application::build(settings, leptos_options, Clock::system()).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("start-up failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{}", app.local_addr());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}
