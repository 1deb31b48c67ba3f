//! `descope-emulator`: the Descope-compatible local service as a standalone process.
//!
//! Every flag can also come from an environment variable (`--help` names each). They are the
//! names the app reads for its embedded emulator (`EmulatorSettings`), so a setting has one name
//! wherever the emulator runs. A variable both read means the same to both, except that here the
//! database is in memory unless `EMULATOR_DB` names a file (the app's defaults to
//! `data/emulator.db`), `EMULATOR_ADDR` may be any address (the app's must be loopback), and
//! `EMULATOR_ALLOW_FAULTS` opens faults and key rotation only (the app's opens its clock too; here
//! that is `EMULATOR_ALLOW_TIME_TRAVEL`). The names this binary read before, `DESCOPE_EMULATOR_*`,
//! are refused rather than ignored.
//!
//! When ready it prints one line to stdout:
//! `descope-emulator ready: base_url=http://127.0.0.1:4100 project_id=P2... outbox=http://127.0.0.1:4100/outbox`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use descope_otp::clock::Clock;
use descope_otp::emulator::{
    DEFAULT_MANAGEMENT_KEY, DEFAULT_PROJECT_ID, DbLocation, Emulator, EmulatorConfig,
    parse_fixed_code,
};

#[derive(Debug, Parser)]
#[command(
    name = "descope-emulator",
    about = "A Descope-compatible local service for OTP sign-in: codes go to an outbox page, not to inboxes"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "EMULATOR_ADDR", default_value = "127.0.0.1:4100")]
    addr: SocketAddr,
    /// Project id the emulator answers to.
    #[arg(long, env = "EMULATOR_PROJECT_ID", default_value = DEFAULT_PROJECT_ID)]
    project_id: String,
    /// Management key for the test-user API (`Bearer <projectId>:<key>`).
    #[arg(long, env = "EMULATOR_MANAGEMENT_KEY", default_value = DEFAULT_MANAGEMENT_KEY)]
    management_key: String,
    /// SQLite file for users, refresh tokens and the signing key. Omit for in-memory.
    #[arg(long, env = "EMULATOR_DB")]
    db: Option<PathBuf>,
    /// Seconds a one-time code stays valid.
    #[arg(long, env = "EMULATOR_CODE_TTL_SECS", default_value_t = 300)]
    code_ttl_secs: u64,
    /// Wrong attempts per code before it is burned.
    #[arg(long, env = "EMULATOR_MAX_ATTEMPTS", default_value_t = 5)]
    max_attempts: u32,
    /// Session JWT lifetime in seconds.
    #[arg(long, env = "EMULATOR_SESSION_TTL_SECS", default_value_t = 600)]
    session_ttl_secs: u64,
    /// Refresh JWT lifetime in seconds (default 30 days).
    #[arg(long, env = "EMULATOR_REFRESH_TTL_SECS", default_value_t = 2_592_000)]
    refresh_ttl_secs: u64,
    /// Messages per recipient per rate-limit window.
    #[arg(long, env = "EMULATOR_RATE_LIMIT_MAX", default_value_t = 5)]
    rate_limit_max: u32,
    /// Length of the rate-limit window in seconds.
    #[arg(long, env = "EMULATOR_RATE_LIMIT_WINDOW_SECS", default_value_t = 60)]
    rate_limit_window_secs: u64,
    /// Enable `POST /emulator/clock/advance {"seconds": N}` (for tests of expiry over HTTP).
    #[arg(long, env = "EMULATOR_ALLOW_TIME_TRAVEL")]
    allow_time_travel: bool,
    /// Enable fault injection (`/emulator/faults`: errors, delays, dropped connections) and
    /// `POST /emulator/keys/rotate`, for tests of how a client copes.
    #[arg(long, env = "EMULATOR_ALLOW_FAULTS")]
    allow_faults: bool,
    /// A code that never changes for one login id, as LOGIN_ID=CODE (six digits), e.g.
    /// `--fixed-code +15555550100=123456`; repeatable. The environment variable takes a
    /// comma-separated list. For tests that know a number's code; off by default.
    #[arg(
        long = "fixed-code",
        value_name = "LOGIN_ID=CODE",
        env = "EMULATOR_FIXED_CODES",
        value_delimiter = ',',
        value_parser = parse_fixed_code
    )]
    fixed_codes: Vec<(String, String)>,
    /// Exempt test users (management API) from the per-recipient message cap.
    #[arg(long, env = "EMULATOR_TEST_USERS_UNCAPPED")]
    test_users_uncapped: bool,
    /// Refresh-token rotation, as the Descope project setting: each refresh answers with a new
    /// refresh JWT and spends the old one.
    #[arg(long, env = "EMULATOR_ROTATE_REFRESH_TOKENS")]
    rotate_refresh_tokens: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    refuse_old_names(std::env::vars_os().map(|(name, _)| name))?;
    let config = EmulatorConfig {
        project_id: args.project_id,
        management_key: args.management_key,
        code_ttl: Duration::from_secs(args.code_ttl_secs),
        max_attempts: args.max_attempts,
        session_ttl: Duration::from_secs(args.session_ttl_secs),
        refresh_ttl: Duration::from_secs(args.refresh_ttl_secs),
        rate_limit_max: args.rate_limit_max,
        rate_limit_window: Duration::from_secs(args.rate_limit_window_secs),
        db: args.db.map_or(DbLocation::Memory, DbLocation::File),
        allow_time_travel: args.allow_time_travel,
        allow_faults: args.allow_faults,
        fixed_codes: args.fixed_codes.into_iter().collect(),
        test_users_uncapped: args.test_users_uncapped,
        rotate_refresh_tokens: args.rotate_refresh_tokens,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config, args.addr, Clock::system()).await?;
    println!(
        "descope-emulator ready: base_url={} project_id={} outbox={}",
        emulator.base_url(),
        emulator.project_id(),
        emulator.outbox_url()
    );
    stop_signal().await;
    tracing::info!("descope emulator stopping");
    emulator.shutdown().await;
    Ok(())
}

/// This binary's settings were once named `DESCOPE_EMULATOR_*`. One still set would now be
/// ignored and the emulator would quietly run on a default (an in-memory store where a file was
/// meant, faults off), so it stops instead and names the variable that replaced it.
fn refuse_old_names(names: impl Iterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    let mut old: Vec<String> = names
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.starts_with("DESCOPE_EMULATOR_"))
        .collect();
    old.sort();
    match old.first() {
        None => Ok(()),
        Some(name) => anyhow::bail!(
            "{name} is no longer read: use {}, the name the app's embedded emulator reads too \
             (old names set: {})",
            &name["DESCOPE_".len()..],
            old.join(", ")
        ),
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::refuse_old_names;

    fn names(list: &[&str]) -> impl Iterator<Item = std::ffi::OsString> {
        list.iter()
            .map(std::ffi::OsString::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn an_old_setting_name_is_refused_naming_its_replacement() {
        let err = refuse_old_names(names(&["PATH", "DESCOPE_EMULATOR_DB", "EMULATOR_ADDR"]))
            .expect_err("an old name is set");
        let message = err.to_string();
        assert!(
            message.starts_with("DESCOPE_EMULATOR_DB is no longer read: use EMULATOR_DB,"),
            "{message}"
        );
    }

    #[test]
    fn the_current_names_and_the_apps_own_pass() {
        refuse_old_names(names(&[
            "EMULATOR_DB",
            "DESCOPE_PROJECT_ID",
            "DESCOPE_BASE_URL",
        ]))
        .expect("no old name is set");
    }
}
