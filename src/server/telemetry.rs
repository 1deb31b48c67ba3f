//! Logging set-up. `RUST_LOG` picks the levels; the default keeps request logs at info.
//!
//! In production mode (`APP_ENV=production`) every line is one JSON object, for a log pipeline.
//! What the app logs never holds a token or a code, and addresses only masked (`server::mask`);
//! `tests/app/production.rs` runs a whole journey in production mode and searches its logs.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn,tower_http=info"));
    // A second call (tests) keeps the first subscriber; that is fine.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
