//! Every environment variable the app reads, typed and validated once at start-up.
//!
//! The list here is the list in `.env.example` and the README; keep the three in step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the Descope API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DescopeTarget {
    /// `DESCOPE_PROJECT_ID` is set: talk to that real Descope project.
    Project {
        project_id: String,
        /// `DESCOPE_BASE_URL`; unset means "derive from the project id as the SDKs do".
        base_url: Option<String>,
    },
    /// No project configured: start the embedded emulator and talk to it.
    Emulator {
        /// `EMULATOR_ADDR`: where the embedded emulator listens (loopback only).
        addr: SocketAddr,
        /// `EMULATOR_DB`: the emulator's own SQLite file, so users and keys survive restarts.
        db: PathBuf,
    },
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub descope: DescopeTarget,
    /// `DESCOPE_AUDIENCE`: when set, session JWTs must carry this `aud`.
    pub audience: Option<String>,
    /// `DATABASE_URL`: the app's SQLite database (sessions, sign-out-everywhere marks).
    pub database_url: String,
    /// `COOKIE_SECURE`: mark the session cookie `Secure` (turn on behind HTTPS).
    pub cookie_secure: bool,
    /// `SESSION_IDLE_DAYS`: a session cookie unused this long is forgotten.
    pub session_idle: Duration,
    /// `RESEND_COOLDOWN_SECS`: how long the code page makes a person wait before "send again".
    pub resend_cooldown: Duration,
    /// `STEP_UP_MAX_AGE_MINUTES`: changing email or phone needs a code verified within this window.
    pub step_up_max_age: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct SettingsError {
    pub var: &'static str,
    pub problem: String,
}

impl Settings {
    /// Reads the process environment (after loading `.env`, if there is one).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let descope = match get("DESCOPE_PROJECT_ID") {
            Some(project_id) => {
                if project_id.contains(':') || project_id.chars().any(char::is_whitespace) {
                    return Err(SettingsError {
                        var: "DESCOPE_PROJECT_ID",
                        problem: "must be a bare project id such as P2abc…".into(),
                    });
                }
                DescopeTarget::Project {
                    project_id,
                    base_url: get("DESCOPE_BASE_URL")
                        .map(|u| parse_base_url(&u))
                        .transpose()?,
                }
            }
            None => {
                let addr: SocketAddr =
                    parse_or("EMULATOR_ADDR", get("EMULATOR_ADDR"), "127.0.0.1:4100")?;
                if !addr.ip().is_loopback() {
                    return Err(SettingsError {
                        var: "EMULATOR_ADDR",
                        problem: "the emulator only listens on a loopback address".into(),
                    });
                }
                DescopeTarget::Emulator {
                    addr,
                    db: get("EMULATOR_DB")
                        .unwrap_or_else(|| "data/emulator.db".into())
                        .into(),
                }
            }
        };

        Ok(Self {
            descope,
            audience: get("DESCOPE_AUDIENCE"),
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/app.db".into()),
            cookie_secure: parse_or("COOKIE_SECURE", get("COOKIE_SECURE"), "false")?,
            session_idle: Duration::from_secs(
                bounded(
                    "SESSION_IDLE_DAYS",
                    get("SESSION_IDLE_DAYS"),
                    "30",
                    1..=3650,
                )? * 86_400,
            ),
            resend_cooldown: Duration::from_secs(bounded(
                "RESEND_COOLDOWN_SECS",
                get("RESEND_COOLDOWN_SECS"),
                "30",
                0..=3600,
            )?),
            step_up_max_age: Duration::from_secs(
                bounded(
                    "STEP_UP_MAX_AGE_MINUTES",
                    get("STEP_UP_MAX_AGE_MINUTES"),
                    "10",
                    1..=1440,
                )? * 60,
            ),
        })
    }
}

fn parse_or<T: std::str::FromStr>(
    var: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    let raw = value.as_deref().unwrap_or(default);
    raw.parse().map_err(|e: T::Err| SettingsError {
        var,
        problem: format!("{raw:?} is not valid: {e}"),
    })
}

/// A whole number within `range`, so later arithmetic on it cannot overflow.
fn bounded(
    var: &'static str,
    value: Option<String>,
    default: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let n: u64 = parse_or(var, value, default)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(SettingsError {
            var,
            problem: format!("{n} is outside {}..={}", range.start(), range.end()),
        })
    }
}

fn parse_base_url(raw: &str) -> Result<String, SettingsError> {
    let url = url::Url::parse(raw).map_err(|e| SettingsError {
        var: "DESCOPE_BASE_URL",
        problem: format!("{raw:?} is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingsError {
            var: "DESCOPE_BASE_URL",
            problem: "must start with https:// (or http:// for a local emulator)".into(),
        });
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_project_id_means_the_embedded_emulator_on_loopback() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(
            s.descope,
            DescopeTarget::Emulator {
                addr: "127.0.0.1:4100".parse().expect("literal"),
                db: "data/emulator.db".into()
            }
        );
        assert!(!s.cookie_secure);
        assert_eq!(s.step_up_max_age, Duration::from_secs(600));
    }

    #[test]
    fn a_project_id_selects_real_descope_with_an_optional_base_url() {
        let s = settings(&[
            ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz"),
            ("DESCOPE_BASE_URL", "https://api.example.com/"),
        ])
        .expect("valid");
        assert_eq!(
            s.descope,
            DescopeTarget::Project {
                project_id: "P2abcdefghijklmnopqrstuvwxyz".into(),
                base_url: Some("https://api.example.com".into())
            }
        );
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = settings(&[("COOKIE_SECURE", "maybe")]).expect_err("invalid bool");
        assert_eq!(err.var, "COOKIE_SECURE");
        let err = settings(&[("EMULATOR_ADDR", "0.0.0.0:4100")]).expect_err("not loopback");
        assert_eq!(err.var, "EMULATOR_ADDR");
        let err = settings(&[("SESSION_IDLE_DAYS", "99999999999999")]).expect_err("too large");
        assert_eq!(err.var, "SESSION_IDLE_DAYS");
    }
}
