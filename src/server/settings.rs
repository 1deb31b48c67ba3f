//! Every environment variable the app reads, typed and validated once at start-up.
//!
//! The list here is the list in `.env.example` and the README; keep the three in step.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use crate::server::session::seal::SessionSecret;
use crate::server::session::seal::{DEVELOPMENT_KEY_FILE, SessionKey, SessionKeys};

/// Where the Descope API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DescopeTarget {
    /// `DESCOPE_PROJECT_ID` is set: talk to that real Descope project.
    Project {
        project_id: String,
        /// `DESCOPE_BASE_URL`; unset means "derive from the project id as the SDKs do". Plain
        /// `http` is refused in production mode, except to a loopback address.
        base_url: Option<String>,
    },
    /// No project configured: start the embedded emulator and talk to it. Only in a build with
    /// the `emulator` feature (the default); a lean build requires `DESCOPE_PROJECT_ID`.
    #[cfg(feature = "emulator")]
    Emulator(EmulatorSettings),
}

/// The emulator's test conveniences. Each is off by default and refused in production mode and
/// in a build without the emulator: set there, it would be a mistake, never a wish.
const EMULATOR_TEST_CONVENIENCES: [&str; 3] = [
    "EMULATOR_ALLOW_FAULTS",
    "EMULATOR_FIXED_CODES",
    "EMULATOR_TEST_USERS_UNCAPPED",
];

/// `APP_ENV`: how careful the app must be about where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    /// The default: the embedded emulator when no project is set, readable logs.
    Development,
    /// `APP_ENV=production`: a Descope project is required (never the emulator), the session
    /// cookie is `__Host-` prefixed and `Secure`, HSTS is sent, logs are JSON lines.
    Production,
}

/// A rate limit: at most `count` in any `per`, refilled evenly (`RATE_LIMIT_*` = `"10/10m"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateRule {
    pub count: u32,
    pub per: Duration,
}

impl RateRule {
    pub const fn new(count: u32, per_secs: u64) -> Self {
        Self {
            count,
            per: Duration::from_secs(per_secs),
        }
    }
}

/// The app's own rate limits, checked before any Descope call. `None` turns one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// `RATE_LIMIT_SEND_PER_IP`: codes sent at the request of one client address.
    pub send_per_ip: Option<RateRule>,
    /// `RATE_LIMIT_SEND_PER_ADDRESS`: codes sent for one login id, and to one destination.
    pub send_per_address: Option<RateRule>,
    /// `RATE_LIMIT_VERIFY_PER_IP`: codes tried from one client address.
    pub verify_per_ip: Option<RateRule>,
    /// `RATE_LIMIT_VERIFY_PER_ADDRESS`: codes tried for one login id.
    pub verify_per_address: Option<RateRule>,
    /// `RATE_LIMIT_SEND_GLOBAL`: codes sent by SMS, voice and WhatsApp (billed per message; email
    /// is not counted) at the request of all clients together, on every instance. The limits
    /// above are per client and per destination; this one bounds what a botnet, or one owner of
    /// many addresses, can make the app's owner pay for. 1000 an hour by default: more phone
    /// codes than a small or mid-sized site sends in its busiest hour, yet about 25 000 messages
    /// a day at most (a burst of 1000, then 1000 an hour) however many clients ask, instead of no
    /// bound at all. A busier site raises it (the log warns whenever it is reached).
    pub send_global: Option<RateRule>,
}

impl Default for RateLimits {
    /// Never met by a person signing in, even with a few resends; a script is stopped within ten.
    fn default() -> Self {
        Self {
            send_per_ip: Some(RateRule::new(10, 600)),
            send_per_address: Some(RateRule::new(5, 600)),
            verify_per_ip: Some(RateRule::new(30, 600)),
            verify_per_address: Some(RateRule::new(10, 600)),
            send_global: Some(RateRule::new(1000, 3600)),
        }
    }
}

impl RateLimits {
    /// Every limit off: for load tests and benchmarks that sign many people in from one address.
    pub fn off() -> Self {
        Self {
            send_per_ip: None,
            send_per_address: None,
            verify_per_ip: None,
            verify_per_address: None,
            send_global: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// `APP_ENV`: `development` (default) or `production`.
    pub env: AppEnv,
    pub descope: DescopeTarget,
    /// `DESCOPE_AUDIENCE`: when set, session JWTs must carry this `aud`.
    pub audience: Option<String>,
    /// `DATABASE_URL`: the app's database, `sqlite://…` (the default) or `postgres://…`
    /// (`postgresql://`): sessions, sign-out-everywhere marks and rate-limit counters. In
    /// production mode a PostgreSQL URL beyond this machine must carry `sslmode=require`,
    /// `verify-ca` or `verify-full` (see `db::encrypted_or_local`).
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`: at most this many connections to it, per instance (default 8).
    pub database_pool_size: u32,
    /// `COOKIE_SECURE`: mark the session cookie `Secure` (turn on behind HTTPS).
    pub cookie_secure: bool,
    /// `SESSION_IDLE_DAYS`: a session cookie unused this long is forgotten.
    pub session_idle: Duration,
    /// `SESSION_SECRET`: the key session rows are sealed with at rest (AES-256-GCM), 32 random
    /// bytes as 64 hex digits or in base64. Required when APP_ENV=production. In development,
    /// unset means a key made on the first start and kept in `session-secret` beside the SQLite
    /// database (`data/session-secret` for PostgreSQL or a database in memory).
    /// `SESSION_SECRET_PREVIOUS`: a comma-separated list of earlier keys, still accepted for
    /// reading rows sealed before a rotation; every write seals with `SESSION_SECRET`.
    pub session_secret: SessionSecret,
    /// `RESEND_COOLDOWN_SECS`: how long the code page makes a person wait before "send again".
    pub resend_cooldown: Duration,
    /// `CODE_EXPIRY_SECS`: a code is refused as expired this long after it was sent, by the app
    /// itself, before Descope is asked. Keep it no longer than the Descope project's OTP
    /// expiration time (3 minutes by default here, the low end of what Descope recommends): then
    /// a real code and a code that was never sent (an address without an account) expire alike,
    /// and "expired" tells no one that an account exists.
    pub code_expiry: Duration,
    /// `STEP_UP_MAX_AGE_MINUTES`: changing email or phone needs a code verified within this window.
    pub step_up_max_age: Duration,
    /// `APP_ORIGIN`: the origin people reach the app at (`https://app.example.com`), for the
    /// cross-site check behind a proxy that rewrites `Host`. Unset: the request's `Host`.
    pub app_origin: Option<url::Origin>,
    /// `TRUSTED_PROXIES`: the addresses of the proxies in front of the app, as comma-separated
    /// ranges (`10.0.0.0/8, 2001:db8::/32`; a bare address is a range of one). `X-Forwarded-For`
    /// is read only from a socket peer inside them; any other peer is the client itself, so a
    /// client that reaches the app directly cannot pick its address. Empty (the default): the
    /// header is never read.
    pub trusted_proxies: Vec<IpNet>,
    /// `TRUSTED_PROXY_HOPS`: how many proxies in front of the app append to `X-Forwarded-For`.
    /// 0 (the default without `TRUSTED_PROXIES`): the client address is the socket's, and the
    /// header is ignored. 1 by default once `TRUSTED_PROXIES` is set. Set without
    /// `TRUSTED_PROXIES`, or 0 with it, the app refuses to start: either would believe, or
    /// ignore, the header against what the other setting says.
    pub trusted_proxy_hops: usize,
    pub rate_limits: RateLimits,
    /// `REVEAL_ACCOUNT_EXISTENCE`: say "no account for that address" at sign-in and "already
    /// registered" at sign-up. Off by default, so that no one can probe who has an account.
    pub reveal_account_existence: bool,
    /// `CODE_ANSWER_MIN_MS`: while account existence is hidden, sending a code and refusing one
    /// answer no sooner than this, so that the time to answer does not tell a known address from
    /// an unknown one (an unknown one costs one Descope call less on sign-up, and no Descope call
    /// at all on verify). 400 ms by default; above the slowest Descope answer you see is safest.
    /// 0 turns it off.
    pub code_answer_min: Duration,
    /// `USER_DETAILS_MAX_AGE_MINUTES`: the profile shows the person's details kept in the session
    /// (from the verify or refresh that last carried them) and asks Descope's `me` only once they
    /// are this old. 60 by default; 0 asks on every profile view.
    pub user_details_max_age: Duration,
    /// `SHUTDOWN_GRACE_SECS`: on SIGTERM or Ctrl-C the app stops taking connections and lets the
    /// requests in flight finish for at most this long, then exits. 10 by default.
    pub shutdown_grace: Duration,
    /// `HEADER_READ_TIMEOUT_SECS`: a request's head (request line and headers) must arrive within
    /// this long, or the connection is closed. It also bounds how long a kept-alive connection may
    /// sit idle waiting for its next request. 10 by default, 1 to 300.
    pub header_read_timeout: Duration,
    /// `BODY_READ_TIMEOUT_SECS`: a request's body (at most 64 KiB) must arrive within this long
    /// once its head has, or the request is answered 408 and the connection closed. 10 by
    /// default, 1 to 300.
    pub body_read_timeout: Duration,
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
        let vars = Vars(lookup);

        let env = match vars.get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(SettingsError {
                    var: "APP_ENV",
                    problem: format!("{other:?} is neither \"development\" nor \"production\""),
                });
            }
        };
        let production = env == AppEnv::Production;

        let descope = descope_target(&vars, production)?;

        let cookie_secure: bool =
            vars.parse("COOKIE_SECURE", if production { "true" } else { "false" })?;
        if production && !cookie_secure {
            return Err(SettingsError {
                var: "COOKIE_SECURE",
                problem: "must stay on when APP_ENV=production (the cookie is __Host- prefixed)"
                    .into(),
            });
        }
        let defaults = RateLimits::default();
        let rate_limits = RateLimits {
            send_per_ip: vars.rate("RATE_LIMIT_SEND_PER_IP", defaults.send_per_ip)?,
            send_per_address: vars
                .rate("RATE_LIMIT_SEND_PER_ADDRESS", defaults.send_per_address)?,
            verify_per_ip: vars.rate("RATE_LIMIT_VERIFY_PER_IP", defaults.verify_per_ip)?,
            verify_per_address: vars
                .rate("RATE_LIMIT_VERIFY_PER_ADDRESS", defaults.verify_per_address)?,
            send_global: vars.rate("RATE_LIMIT_SEND_GLOBAL", defaults.send_global)?,
        };

        let (trusted_proxies, trusted_proxy_hops) = trusted_proxies(&vars)?;

        let database_url = vars
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://data/app.db".into());
        let backend =
            crate::server::db::Backend::of(&database_url).map_err(|problem| SettingsError {
                var: "DATABASE_URL",
                problem,
            })?;
        // Sessions cross that connection: in production it is encrypted unless it stays on this
        // machine.
        if production && backend == crate::server::db::Backend::Postgres {
            crate::server::db::encrypted_or_local(&database_url).map_err(|problem| {
                SettingsError {
                    var: "DATABASE_URL",
                    problem,
                }
            })?;
        }

        let session_secret = session_secret(&vars, production, &database_url)?;

        Ok(Self {
            env,
            descope,
            audience: vars.get("DESCOPE_AUDIENCE"),
            database_url,
            database_pool_size: vars.number("DATABASE_POOL_SIZE", 8, 1..=1000)? as u32,
            cookie_secure,
            session_secret,
            session_idle: Duration::from_secs(
                vars.number("SESSION_IDLE_DAYS", 30, 1..=3650)? * 86_400,
            ),
            resend_cooldown: Duration::from_secs(vars.number(
                "RESEND_COOLDOWN_SECS",
                30,
                0..=3600,
            )?),
            code_expiry: Duration::from_secs(vars.number("CODE_EXPIRY_SECS", 180, 30..=3600)?),
            step_up_max_age: Duration::from_secs(
                vars.number("STEP_UP_MAX_AGE_MINUTES", 10, 1..=1440)? * 60,
            ),
            app_origin: vars
                .get("APP_ORIGIN")
                .map(|o| parse_origin(&o))
                .transpose()?,
            trusted_proxies,
            trusted_proxy_hops,
            rate_limits,
            reveal_account_existence: vars.parse("REVEAL_ACCOUNT_EXISTENCE", "false")?,
            code_answer_min: Duration::from_millis(vars.number(
                "CODE_ANSWER_MIN_MS",
                400,
                0..=10_000,
            )?),
            user_details_max_age: Duration::from_secs(
                vars.number("USER_DETAILS_MAX_AGE_MINUTES", 60, 0..=10_080)? * 60,
            ),
            shutdown_grace: Duration::from_secs(vars.number("SHUTDOWN_GRACE_SECS", 10, 1..=300)?),
            header_read_timeout: Duration::from_secs(vars.number(
                "HEADER_READ_TIMEOUT_SECS",
                10,
                1..=300,
            )?),
            body_read_timeout: Duration::from_secs(vars.number(
                "BODY_READ_TIMEOUT_SECS",
                10,
                1..=300,
            )?),
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }
}

/// The environment as the settings read it: each variable named once, where it is read, with its
/// default, its bounds and the message that says what is wrong with it. Unset and empty (or only
/// spaces) are the same: the default.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The variable's value, trimmed; `None` when unset or empty.
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The variable parsed as a `T`, or `default` parsed when unset.
    fn parse<T: std::str::FromStr>(
        &self,
        var: &'static str,
        default: &str,
    ) -> Result<T, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.get(var);
        let raw = value.as_deref().unwrap_or(default);
        raw.parse().map_err(|e: T::Err| SettingsError {
            var,
            problem: format!("{raw:?} is not valid: {e}"),
        })
    }

    /// A whole number within `range` (`default` when unset), so later arithmetic on it cannot
    /// overflow.
    fn number(
        &self,
        var: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, SettingsError> {
        let n: u64 = self.parse(var, &default.to_string())?;
        if range.contains(&n) {
            Ok(n)
        } else {
            Err(SettingsError {
                var,
                problem: format!("{n} is outside {}..={}", range.start(), range.end()),
            })
        }
    }

    /// A rate limit (`default` when unset): see [`rate_rule`].
    fn rate(
        &self,
        var: &'static str,
        default: Option<RateRule>,
    ) -> Result<Option<RateRule>, SettingsError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => rate_rule(var, &raw),
        }
    }
}

/// `SESSION_SECRET` and `SESSION_SECRET_PREVIOUS`; in development without a secret, the key
/// file beside the SQLite database (or under `data/`).
fn session_secret(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    production: bool,
    database_url: &str,
) -> Result<SessionSecret, SettingsError> {
    let previous = vars
        .get("SESSION_SECRET_PREVIOUS")
        .map(|list| {
            list.split(',')
                .filter(|entry| !entry.trim().is_empty())
                .map(SessionKey::parse)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|problem| SettingsError {
            var: "SESSION_SECRET_PREVIOUS",
            problem: format!("each key {problem}"),
        })?
        .unwrap_or_default();
    match vars.get("SESSION_SECRET") {
        Some(secret) => {
            let current = SessionKey::parse(&secret).map_err(|problem| SettingsError {
                var: "SESSION_SECRET",
                problem,
            })?;
            Ok(SessionSecret::Keys(SessionKeys::new(current, previous)))
        }
        None if production => Err(SettingsError {
            var: "SESSION_SECRET",
            problem: format!(
                "is required when APP_ENV=production: session rows are sealed with it; it {}",
                crate::server::session::seal::KEY_FORMAT
            ),
        }),
        None => {
            let dir = crate::server::db::sqlite_file(database_url)
                .and_then(|file| file.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("data"));
            Ok(SessionSecret::DevelopmentFile {
                path: dir.join(DEVELOPMENT_KEY_FILE),
                previous,
            })
        }
    }
}

/// `"10/10m"` (count per duration, in s, m or h), or `"off"`.
fn rate_rule(var: &'static str, raw: &str) -> Result<Option<RateRule>, SettingsError> {
    if raw == "off" {
        return Ok(None);
    }
    let invalid = || SettingsError {
        var,
        problem: format!(
            "{raw:?} is not a limit such as \"10/10m\" (count/duration in s, m or h) or \"off\""
        ),
    };
    let (count, per) = raw.split_once('/').ok_or_else(invalid)?;
    let count: u32 = count.trim().parse().map_err(|_| invalid())?;
    let per = per.trim();
    let unit_at = per.char_indices().last().map_or(0, |(i, _)| i);
    let (number, unit) = per.split_at(unit_at);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(invalid()),
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let per_secs = number
        .checked_mul(seconds)
        .filter(|s| (1..=86_400).contains(s));
    match (count, per_secs) {
        (1..=100_000, Some(per_secs)) => Ok(Some(RateRule::new(count, per_secs))),
        _ => Err(SettingsError {
            var,
            problem: format!("{raw:?}: the count must be 1 to 100000 and the duration 1 s to 24 h"),
        }),
    }
}

fn parse_origin(raw: &str) -> Result<url::Origin, SettingsError> {
    let url = url::Url::parse(raw).map_err(|e| SettingsError {
        var: "APP_ORIGIN",
        problem: format!("{raw:?} is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" || url.query().is_some() {
        return Err(SettingsError {
            var: "APP_ORIGIN",
            problem: format!("{raw:?} must be a bare origin such as https://app.example.com"),
        });
    }
    Ok(url.origin())
}

/// `TRUSTED_PROXIES` and `TRUSTED_PROXY_HOPS`, which only make sense together.
fn trusted_proxies(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
) -> Result<(Vec<IpNet>, usize), SettingsError> {
    let ranges = match vars.get("TRUSTED_PROXIES") {
        None => Vec::new(),
        Some(raw) => {
            let ranges = parse_ranges(&raw).map_err(|problem| SettingsError {
                var: "TRUSTED_PROXIES",
                problem,
            })?;
            if ranges.is_empty() {
                return Err(SettingsError {
                    var: "TRUSTED_PROXIES",
                    problem: format!("{raw:?} names no address"),
                });
            }
            ranges
        }
    };
    let default_hops = if ranges.is_empty() { 0 } else { 1 };
    let hops = vars.number("TRUSTED_PROXY_HOPS", default_hops, 0..=10)? as usize;
    match (ranges.is_empty(), hops) {
        (true, 1..) => Err(SettingsError {
            var: "TRUSTED_PROXY_HOPS",
            problem: format!(
                "is {hops} but TRUSTED_PROXIES is unset: list the proxies' addresses in \
                 TRUSTED_PROXIES (such as 10.0.0.0/8), or X-Forwarded-For would be believed from \
                 any client that reaches the app directly"
            ),
        }),
        (false, 0) => Err(SettingsError {
            var: "TRUSTED_PROXY_HOPS",
            problem: "is 0 while TRUSTED_PROXIES is set: leave TRUSTED_PROXY_HOPS unset (one \
                      proxy) or give the number of proxies, or unset TRUSTED_PROXIES"
                .into(),
        }),
        _ => Ok((ranges, hops)),
    }
}

/// Where Descope is: `DESCOPE_PROJECT_ID` (with `DESCOPE_BASE_URL`), or else the embedded
/// emulator and its `EMULATOR_*` settings. The one place in the settings that knows whether this
/// build has the emulator (`server::embedded`, the app's door to it, is the other): a build without
/// it (`--no-default-features`) requires a project and refuses every `EMULATOR_*` setting.
fn descope_target(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    production: bool,
) -> Result<DescopeTarget, SettingsError> {
    if production
        && let Some(var) = EMULATOR_TEST_CONVENIENCES
            .into_iter()
            .find(|var| vars.get(var).is_some())
    {
        return Err(SettingsError {
            var,
            problem: "is an emulator test convenience, refused when APP_ENV=production".into(),
        });
    }
    let descope = match vars.get("DESCOPE_PROJECT_ID") {
        Some(project_id) => {
            if project_id.contains(':') || project_id.chars().any(char::is_whitespace) {
                return Err(SettingsError {
                    var: "DESCOPE_PROJECT_ID",
                    problem: "must be a bare project id such as P2abc…".into(),
                });
            }
            DescopeTarget::Project {
                project_id,
                base_url: vars
                    .get("DESCOPE_BASE_URL")
                    .map(|u| {
                        let allow_http: bool =
                            vars.parse("DESCOPE_BASE_URL_ALLOW_HTTP", "false")?;
                        parse_base_url(&u, production && !allow_http, production)
                    })
                    .transpose()?,
            }
        }
        // A typo in a production environment must not quietly run on fake sign-in.
        None if production => {
            return Err(SettingsError {
                var: "DESCOPE_PROJECT_ID",
                problem:
                    "is required when APP_ENV=production (the emulator never runs in production)"
                        .into(),
            });
        }
        #[cfg(feature = "emulator")]
        None => DescopeTarget::Emulator(emulator::read(vars)?),
        #[cfg(not(feature = "emulator"))]
        None => {
            return Err(SettingsError {
                var: "DESCOPE_PROJECT_ID",
                problem: "is required: this build has no embedded emulator (it was built without the `emulator` feature)".into(),
            });
        }
    };
    #[cfg(not(feature = "emulator"))]
    if let Some(var) = [
        "EMULATOR_ADDR",
        "EMULATOR_DB",
        "EMULATOR_ROTATE_REFRESH_TOKENS",
    ]
    .into_iter()
    .chain(EMULATOR_TEST_CONVENIENCES)
    .find(|var| vars.get(var).is_some())
    {
        return Err(SettingsError {
            var,
            problem: "this build has no embedded emulator (built without the `emulator` feature)"
                .into(),
        });
    }
    Ok(descope)
}

/// The embedded emulator's settings: compiled only into a build with the emulator.
#[cfg(feature = "emulator")]
mod emulator {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use super::{SettingsError, Vars};

    /// The embedded emulator's `EMULATOR_*` settings. The standalone `descope-emulator` reads the
    /// same names for the same settings, and a few of its own (its doc lists the defaults that
    /// differ).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct EmulatorSettings {
        /// `EMULATOR_ADDR`: where the embedded emulator listens (loopback only).
        pub addr: SocketAddr,
        /// `EMULATOR_DB`: the emulator's own SQLite file, so users and keys survive restarts.
        pub db: PathBuf,
        /// `EMULATOR_ALLOW_FAULTS`: opens the emulator's fault-injection, key-rotation and clock
        /// endpoints, for outage tests.
        pub allow_faults: bool,
        /// `EMULATOR_FIXED_CODES`: `LOGIN_ID=CODE,…`, codes that never change for those login ids.
        pub fixed_codes: BTreeMap<String, String>,
        /// `EMULATOR_TEST_USERS_UNCAPPED`: test users skip the emulator's per-recipient message cap.
        pub test_users_uncapped: bool,
        /// `EMULATOR_ROTATE_REFRESH_TOKENS`: the emulator behaves as a Descope project with
        /// refresh-token rotation on (each refresh answers with a new refresh JWT and spends the old).
        pub rotate_refresh_tokens: bool,
    }

    impl EmulatorSettings {
        /// An emulator at `addr` on the file `db`, with no test conveniences.
        pub fn new(addr: SocketAddr, db: PathBuf) -> Self {
            Self {
                addr,
                db,
                allow_faults: false,
                fixed_codes: BTreeMap::new(),
                test_users_uncapped: false,
                rotate_refresh_tokens: false,
            }
        }
    }

    /// `EMULATOR_*`, read when no Descope project is set.
    pub(super) fn read(
        vars: &Vars<impl Fn(&str) -> Option<String>>,
    ) -> Result<EmulatorSettings, SettingsError> {
        let addr: SocketAddr = vars.parse("EMULATOR_ADDR", "127.0.0.1:4100")?;
        if !addr.ip().is_loopback() {
            return Err(SettingsError {
                var: "EMULATOR_ADDR",
                problem: "the emulator only listens on a loopback address".into(),
            });
        }
        let fixed_codes = vars
            .get("EMULATOR_FIXED_CODES")
            .map(|list| {
                list.split(',')
                    .filter(|entry| !entry.trim().is_empty())
                    .map(crate::emulator::parse_fixed_code)
                    .collect::<Result<BTreeMap<_, _>, _>>()
            })
            .transpose()
            .map_err(|problem| SettingsError {
                var: "EMULATOR_FIXED_CODES",
                problem,
            })?
            .unwrap_or_default();
        Ok(EmulatorSettings {
            addr,
            db: vars
                .get("EMULATOR_DB")
                .unwrap_or_else(|| "data/emulator.db".into())
                .into(),
            allow_faults: vars.parse("EMULATOR_ALLOW_FAULTS", "false")?,
            fixed_codes,
            test_users_uncapped: vars.parse("EMULATOR_TEST_USERS_UNCAPPED", "false")?,
            rotate_refresh_tokens: vars.parse("EMULATOR_ROTATE_REFRESH_TOKENS", "false")?,
        })
    }
}
#[cfg(feature = "emulator")]
pub use emulator::EmulatorSettings;

/// `DESCOPE_BASE_URL`. In production mode it must be `https://`: the app sends codes and refresh
/// tokens there, and fetches the keys it trusts sessions by. The one exception is a loopback
/// address, whose traffic never leaves the machine (a local TLS-terminating sidecar, or the
/// standalone emulator in a rehearsal of production mode).
/// `DESCOPE_BASE_URL`: https, or in development plain http too (an emulator on another machine).
/// In production mode plain http is refused (`refuse_http`), unless `DESCOPE_BASE_URL_ALLOW_HTTP`
/// loosens that, and then only to a loopback address: a proxy on the same machine that adds TLS,
/// so that tokens never cross a network in clear.
fn parse_base_url(raw: &str, refuse_http: bool, production: bool) -> Result<String, SettingsError> {
    let url = url::Url::parse(raw).map_err(|e| SettingsError {
        var: "DESCOPE_BASE_URL",
        problem: format!("{raw:?} is not a URL: {e}"),
    })?;
    match url.scheme() {
        "https" => {}
        "http" if !production => {}
        "http" if !refuse_http && is_loopback(&url) => {}
        "http" => {
            return Err(SettingsError {
                var: "DESCOPE_BASE_URL",
                problem: format!(
                    "{raw:?} is plain http, refused when APP_ENV=production: use https:// \
                     (DESCOPE_BASE_URL_ALLOW_HTTP=true allows http to a loopback address only)"
                ),
            });
        }
        _ => {
            return Err(SettingsError {
                var: "DESCOPE_BASE_URL",
                problem: "must start with https:// (or http:// for a local emulator)".into(),
            });
        }
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Whether `url` names this machine: `localhost` or a loopback address.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `TRUSTED_PROXIES`: comma-separated ranges such as `10.0.0.0/8, 2001:db8::/32`; a bare address
/// is a range of one (`/32` or `/128`). An empty list is an error of its own in the settings.
pub fn parse_ranges(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "{entry:?} is not an address or a range such as 10.0.0.0/8 or 2001:db8::/32"
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        #[allow(unused_mut)]
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Without the emulator nothing starts without a project: give every test one.
        #[cfg(not(feature = "emulator"))]
        map.entry("DESCOPE_PROJECT_ID".into())
            .or_insert_with(|| "P2abcdefghijklmnopqrstuvwxyz".into());
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    /// A valid `SESSION_SECRET`, which production mode requires.
    const SECRET: (&str, &str) = (
        "SESSION_SECRET",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );

    #[test]
    fn production_refuses_to_start_without_a_session_secret_and_a_bad_one_is_named() {
        let project = ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz");
        let err = settings(&[("APP_ENV", "production"), project]).expect_err("no secret");
        assert_eq!(err.var, "SESSION_SECRET");
        assert!(err.problem.contains("production"), "{}", err.problem);
        let s = settings(&[("APP_ENV", "production"), project, SECRET]).expect("valid");
        assert!(matches!(s.session_secret, SessionSecret::Keys(_)));

        for (var, value) in [
            ("SESSION_SECRET", "hunter2"),
            ("SESSION_SECRET", "c2hvcnQgYnV0IHZhbGlkIGJhc2U2NA=="),
            ("SESSION_SECRET_PREVIOUS", "hunter2"),
            ("SESSION_SECRET_PREVIOUS", &format!("{},hunter2", SECRET.1)),
        ] {
            let err = settings(&[(var, value)]).expect_err(value);
            assert_eq!(err.var, var, "{value}");
            assert!(err.problem.contains("32 random bytes"), "{}", err.problem);
            assert!(
                !err.to_string().contains("hunter2"),
                "the value is not repeated: {err}"
            );
        }
        let s = settings(&[
            SECRET,
            (
                "SESSION_SECRET_PREVIOUS",
                "yBTb9dw9o8KQ0jArzEE7a8S9tBN4GhE6Fv1MYGUO2yQ=, yBTb9dw9o8KQ0jArzEE7a8S9tBN4GhE6Fv1MYGUO2yQ",
            ),
        ])
        .expect("a list of previous keys");
        let SessionSecret::Keys(keys) = s.session_secret else {
            panic!("a secret was set");
        };
        assert_eq!(
            format!("{keys:?}").matches("SessionKey(").count(),
            3,
            "{keys:?}"
        );
    }

    #[test]
    fn without_a_secret_development_keeps_its_key_beside_the_sqlite_database() {
        let file = |vars: &[(&str, &str)]| match settings(vars).expect("valid").session_secret {
            SessionSecret::DevelopmentFile { path, .. } => path,
            SessionSecret::Keys(_) => panic!("no secret was set"),
        };
        assert_eq!(file(&[]), PathBuf::from("data/session-secret"));
        assert_eq!(
            file(&[("DATABASE_URL", "sqlite:///var/lib/app/app.db?mode=rwc")]),
            PathBuf::from("/var/lib/app/session-secret")
        );
        assert_eq!(
            file(&[("DATABASE_URL", "sqlite://app.db")]),
            PathBuf::from("session-secret")
        );
        assert_eq!(
            file(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/app")]),
            PathBuf::from("data/session-secret")
        );
        assert_eq!(
            file(&[("DATABASE_URL", "sqlite::memory:")]),
            PathBuf::from("data/session-secret")
        );
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn no_project_id_means_the_embedded_emulator_on_loopback() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(
            s.descope,
            DescopeTarget::Emulator(EmulatorSettings::new(
                "127.0.0.1:4100".parse().expect("literal"),
                "data/emulator.db".into(),
            ))
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
    fn production_refuses_a_descope_base_url_over_plain_http() {
        let project = ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz");
        let production = ("APP_ENV", "production");
        let allow = ("DESCOPE_BASE_URL_ALLOW_HTTP", "true");
        let secret = SECRET;
        for remote in [
            "http://api.descope.com",
            "http://10.0.0.5:8080/",
            "http://[2001:db8::1]",
        ] {
            for vars in [
                vec![production, project, secret, ("DESCOPE_BASE_URL", remote)],
                // The loosening setting reaches no further than this machine.
                vec![
                    production,
                    project,
                    secret,
                    allow,
                    ("DESCOPE_BASE_URL", remote),
                ],
            ] {
                let err = settings(&vars).expect_err(remote);
                assert_eq!(err.var, "DESCOPE_BASE_URL", "{remote}");
                assert!(err.problem.contains("https://"), "{}", err.problem);
            }
            // Development mode keeps allowing it, for an emulator on another machine.
            settings(&[project, ("DESCOPE_BASE_URL", remote)]).expect(remote);
        }
        for local in [
            "http://127.0.0.1:4100",
            "http://localhost:4100/",
            "http://[::1]:4100",
        ] {
            let err = settings(&[production, project, secret, ("DESCOPE_BASE_URL", local)])
                .expect_err("refused by default, loopback too");
            assert_eq!(err.var, "DESCOPE_BASE_URL");
            assert!(
                err.problem.contains("DESCOPE_BASE_URL_ALLOW_HTTP"),
                "{}",
                err.problem
            );
            settings(&[
                production,
                project,
                secret,
                allow,
                ("DESCOPE_BASE_URL", local),
            ])
            .expect(local);
        }
        settings(&[
            production,
            project,
            secret,
            ("DESCOPE_BASE_URL", "https://api.descope.com"),
        ])
        .expect("https");
        let err = settings(&[project, ("DESCOPE_BASE_URL", "ftp://api.descope.com")])
            .expect_err("not http");
        assert_eq!(err.var, "DESCOPE_BASE_URL");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = settings(&[("COOKIE_SECURE", "maybe")]).expect_err("invalid bool");
        assert_eq!(err.var, "COOKIE_SECURE");
        let err = settings(&[("SESSION_IDLE_DAYS", "99999999999999")]).expect_err("too large");
        assert_eq!(err.var, "SESSION_IDLE_DAYS");
        let err = settings(&[("APP_ORIGIN", "https://app.example.com/path")]).expect_err("a path");
        assert_eq!(err.var, "APP_ORIGIN");
        let err = settings(&[("APP_ENV", "prod")]).expect_err("unknown env");
        assert_eq!(err.var, "APP_ENV");
        let err = settings(&[("DATABASE_POOL_SIZE", "0")]).expect_err("no connections");
        assert_eq!(err.var, "DATABASE_POOL_SIZE");
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn the_emulator_settings_read_their_variables_and_name_the_bad_one() {
        let err = settings(&[("EMULATOR_ADDR", "0.0.0.0:4100")]).expect_err("not loopback");
        assert_eq!(err.var, "EMULATOR_ADDR");
        let s = settings(&[
            (
                "EMULATOR_FIXED_CODES",
                "+15555550100=123456, qa@example.com=000111,",
            ),
            ("EMULATOR_TEST_USERS_UNCAPPED", "true"),
        ])
        .expect("valid");
        let DescopeTarget::Emulator(emulator) = s.descope else {
            panic!("no project id: the emulator");
        };
        assert_eq!(
            emulator.fixed_codes,
            std::collections::BTreeMap::from([
                ("+15555550100".to_string(), "123456".to_string()),
                ("qa@example.com".to_string(), "000111".to_string()),
            ])
        );
        assert!(emulator.test_users_uncapped);
        assert!(!emulator.allow_faults);
        for bad in [
            "+15555550100",
            "=123456",
            "+15555550100=12345",
            "+15555550100=12345a",
        ] {
            let err = settings(&[("EMULATOR_FIXED_CODES", bad)]).expect_err(bad);
            assert_eq!(err.var, "EMULATOR_FIXED_CODES", "{bad}");
        }
        let err = settings(&[("EMULATOR_TEST_USERS_UNCAPPED", "yes")]).expect_err("not a bool");
        assert_eq!(err.var, "EMULATOR_TEST_USERS_UNCAPPED");
    }

    #[test]
    fn production_refuses_every_emulator_test_convenience() {
        let production = [
            ("APP_ENV", "production"),
            ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz"),
            SECRET,
        ];
        settings(&production).expect("production with a project is valid");
        for (var, value) in [
            ("EMULATOR_ALLOW_FAULTS", "true"),
            ("EMULATOR_FIXED_CODES", "+15555550100=123456"),
            ("EMULATOR_TEST_USERS_UNCAPPED", "true"),
        ] {
            let mut vars = production.to_vec();
            vars.push((var, value));
            let err = settings(&vars).expect_err(var);
            assert_eq!(err.var, var);
            assert!(err.problem.contains("production"), "{}", err.problem);
        }
    }

    #[cfg(not(feature = "emulator"))]
    #[test]
    fn a_build_without_the_emulator_requires_a_project_and_refuses_emulator_settings() {
        let err = Settings::from_lookup(|_| None).expect_err("no emulator to fall back on");
        assert_eq!(err.var, "DESCOPE_PROJECT_ID");
        assert!(
            err.problem.contains("`emulator` feature"),
            "{}",
            err.problem
        );
        let project = ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz");
        settings(&[project]).expect("a project is enough");
        for var in ["EMULATOR_ADDR", "EMULATOR_DB", "EMULATOR_FIXED_CODES"] {
            let err = settings(&[project, (var, "x")]).expect_err(var);
            assert_eq!(err.var, var);
        }
    }

    #[test]
    fn the_database_url_picks_sqlite_or_postgres_and_refuses_anything_else() {
        let default = settings(&[]).expect("defaults");
        assert_eq!(default.database_url, "sqlite://data/app.db");
        assert_eq!(default.database_pool_size, 8);
        for url in [
            "postgres://postgres@127.0.0.1:5432/app",
            "postgresql://postgres@127.0.0.1:5432/app",
        ] {
            let chosen =
                settings(&[("DATABASE_URL", url), ("DATABASE_POOL_SIZE", "20")]).expect("postgres");
            assert_eq!(chosen.database_url, url);
            assert_eq!(chosen.database_pool_size, 20);
        }
        for url in ["mysql://db/app", "data/app.db", "redis://127.0.0.1:6379"] {
            let err = settings(&[("DATABASE_URL", url)]).expect_err("not a backend");
            assert_eq!(err.var, "DATABASE_URL");
            assert!(err.problem.contains("postgres://"), "{}", err.problem);
        }
    }

    #[test]
    fn production_mode_refuses_postgres_across_a_network_without_tls() {
        let production = [
            ("APP_ENV", "production"),
            ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz"),
            SECRET,
        ];
        let with_url = |url: &'static str| {
            let mut vars = production.to_vec();
            vars.push(("DATABASE_URL", url));
            settings(&vars)
        };
        let err = with_url("postgres://app:secret@db.example.com:5432/app")
            .expect_err("plaintext across a network");
        assert_eq!(err.var, "DATABASE_URL");
        assert!(err.to_string().starts_with("DATABASE_URL: "), "{err}");
        assert!(err.problem.contains("?sslmode=require"), "{}", err.problem);
        assert!(!err.problem.contains("secret"), "{}", err.problem);
        for url in [
            "postgres://db.example.com/app?sslmode=prefer",
            "postgres://db.example.com/app?sslmode=allow",
            "postgres://db.example.com/app?sslmode=disable",
        ] {
            assert_eq!(with_url(url).expect_err(url).var, "DATABASE_URL", "{url}");
        }
        for url in [
            "postgres://db.example.com/app?sslmode=require",
            "postgres://db.example.com/app?sslmode=verify-full",
            "postgres://127.0.0.1:5432/app",
            "postgres://postgres@localhost/app",
            "postgres:///app?host=/var/run/postgresql",
            "sqlite://data/app.db",
        ] {
            with_url(url).expect(url);
        }
        // Development mode leaves the choice to the URL.
        settings(&[("DATABASE_URL", "postgres://db.example.com/app")])
            .expect("development takes any sslmode");
    }

    #[test]
    fn production_mode_refuses_to_run_without_a_project_or_with_insecure_cookies() {
        let err = Settings::from_lookup(|k| (k == "APP_ENV").then(|| "production".into()))
            .expect_err("no project id");
        assert_eq!(err.var, "DESCOPE_PROJECT_ID");
        let project = ("DESCOPE_PROJECT_ID", "P2abcdefghijklmnopqrstuvwxyz");
        let s = settings(&[("APP_ENV", "production"), project, SECRET]).expect("valid");
        assert!(s.is_production() && s.cookie_secure);
        let err = settings(&[
            ("APP_ENV", "production"),
            project,
            SECRET,
            ("COOKIE_SECURE", "false"),
        ])
        .expect_err("insecure cookie");
        assert_eq!(err.var, "COOKIE_SECURE");
    }

    #[test]
    fn trusted_proxies_are_ranges_and_go_with_their_hops() {
        let none = settings(&[]).expect("defaults");
        assert!(none.trusted_proxies.is_empty());
        assert_eq!(none.trusted_proxy_hops, 0);

        let one = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::1")]).expect("valid");
        let ranges: Vec<String> = one
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(ranges, ["10.0.0.0/8", "2001:db8::1/128"]);
        assert_eq!(one.trusted_proxy_hops, 1, "one proxy unless told otherwise");
        let two = settings(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
            ("TRUSTED_PROXY_HOPS", "2"),
        ])
        .expect("valid");
        assert_eq!(two.trusted_proxy_hops, 2);

        // Hops without proxies would believe the header from anyone: refused, naming both.
        let err = settings(&[("TRUSTED_PROXY_HOPS", "1")]).expect_err("no proxies named");
        assert_eq!(err.var, "TRUSTED_PROXY_HOPS");
        assert!(err.problem.contains("TRUSTED_PROXIES"), "{}", err.problem);
        let err = settings(&[("TRUSTED_PROXIES", "10.0.0.1"), ("TRUSTED_PROXY_HOPS", "0")])
            .expect_err("proxies that are never believed");
        assert_eq!(err.var, "TRUSTED_PROXY_HOPS");
        assert!(err.problem.contains("TRUSTED_PROXIES"), "{}", err.problem);

        for bad in ["10.0.0.0/33", "proxy.internal", ",", "10.0.0.1, nope"] {
            let err = settings(&[("TRUSTED_PROXIES", bad)]).expect_err(bad);
            assert_eq!(err.var, "TRUSTED_PROXIES", "{bad}");
        }
    }

    #[test]
    fn slow_client_deadlines_have_defaults_and_bounds_that_name_their_variable() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.body_read_timeout, Duration::from_secs(10));
        let s = settings(&[
            ("HEADER_READ_TIMEOUT_SECS", "3"),
            ("BODY_READ_TIMEOUT_SECS", "300"),
        ])
        .expect("within bounds");
        assert_eq!(s.header_read_timeout, Duration::from_secs(3));
        assert_eq!(s.body_read_timeout, Duration::from_secs(300));
        for var in ["HEADER_READ_TIMEOUT_SECS", "BODY_READ_TIMEOUT_SECS"] {
            // 0 would turn the deadline off: a defence stays on.
            for bad in ["0", "301", "-1", "ten"] {
                let err = settings(&[(var, bad)]).expect_err(bad);
                assert_eq!(err.var, var, "{bad}");
            }
        }
    }

    #[test]
    fn rate_limits_have_defaults_and_read_count_per_duration_or_off() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.rate_limits, RateLimits::default());
        let s = settings(&[
            ("RATE_LIMIT_SEND_PER_IP", "3/90s"),
            ("RATE_LIMIT_VERIFY_PER_IP", "off"),
            ("RATE_LIMIT_SEND_PER_ADDRESS", "100/2h"),
            ("RATE_LIMIT_SEND_GLOBAL", "off"),
        ])
        .expect("valid");
        assert_eq!(s.rate_limits.send_global, None);
        assert_eq!(
            RateLimits::default().send_global,
            Some(RateRule::new(1000, 3600)),
            "the global budget is on by default"
        );
        assert_eq!(s.rate_limits.send_per_ip, Some(RateRule::new(3, 90)));
        assert_eq!(s.rate_limits.verify_per_ip, None);
        assert_eq!(
            s.rate_limits.send_per_address,
            Some(RateRule::new(100, 7200))
        );
        let s = settings(&[("RATE_LIMIT_SEND_GLOBAL", "50/1h")]).expect("valid");
        assert_eq!(s.rate_limits.send_global, Some(RateRule::new(50, 3600)));
        let err = settings(&[("RATE_LIMIT_SEND_GLOBAL", "lots")]).expect_err("not a limit");
        assert_eq!(err.var, "RATE_LIMIT_SEND_GLOBAL");
        for bad in [
            "10",
            "10/",
            "10/5é",
            "0/1m",
            "ten/1m",
            "10/0s",
            "10/5d",
            "10/99999h",
        ] {
            let err = settings(&[("RATE_LIMIT_SEND_PER_IP", bad)]).expect_err(bad);
            assert_eq!(err.var, "RATE_LIMIT_SEND_PER_IP", "{bad}");
        }
    }
}
