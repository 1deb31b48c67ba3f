//! The app's own rate limits, checked before any Descope call, so that a fork is no open relay
//! for codes (the "SMS pumping" fraud bills the owner for every message a script makes it send).
//!
//! Each limit is a GCRA ("generic cell rate algorithm") row per key: one timestamp, the
//! theoretical arrival time of the next request. A rule of `count` per `per` allows a burst of
//! `count` and then one more every `per / count`. The rows live in the app's database
//! ([`Db::take_rate`]), on SQLite as on PostgreSQL, so that every instance sharing the database
//! counts against the same limits, and one code path is tested on both backends. Time is the
//! app's [`Clock`], never the database's, so tests can move it.
//!
//! Codes sent by SMS, voice or WhatsApp are also counted against one budget shared by every
//! client (`RATE_LIMIT_SEND_GLOBAL`): the per-client limits alone do not stop a botnet, or one
//! owner of many addresses, from sending without bound, and each of those messages is billed.

use std::net::IpAddr;

use crate::clock::Clock;
use crate::error::AppError;
use crate::models::DeliveryMethod;
use crate::server::db::{Db, RateRefusal};
use crate::server::errors::unavailable;
use crate::server::settings::{RateLimits, RateRule};

/// What a request is about to do, and so which limits apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask Descope to send a code (sign-up, sign-in, resend, update, step-up) by this method.
    Send(DeliveryMethod),
    /// Check a code with Descope.
    Verify,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Send(_) => "send",
            Self::Verify => "verify",
        }
    }
}

pub struct Limiter {
    rules: RateLimits,
    clock: Clock,
    db: Db,
}

impl Limiter {
    pub fn new(rules: RateLimits, clock: Clock, db: Db) -> Self {
        Self { rules, clock, db }
    }

    /// Counts one `action` by `client` for `addresses` (login ids and destinations), and a code
    /// billed per message against the global budget, or refuses it with the wait. Every limit
    /// involved is checked before any is counted, so a refused request costs nothing.
    pub async fn check(
        &self,
        action: Action,
        client: Option<IpAddr>,
        addresses: &[&str],
    ) -> Result<(), AppError> {
        let (per_ip, per_address, global) = match action {
            Action::Send(method) => (
                self.rules.send_per_ip,
                self.rules.send_per_address,
                self.rules
                    .send_global
                    .filter(|_| billed_per_message(method)),
            ),
            Action::Verify => (
                self.rules.verify_per_ip,
                self.rules.verify_per_address,
                None,
            ),
        };
        let mut keys: Vec<(String, i64, i64)> = Vec::with_capacity(2 + addresses.len());
        if let Some(rule) = global {
            keys.push(key(GLOBAL_KEY.to_owned(), rule));
        }
        if let (Some(rule), Some(ip)) = (per_ip, client) {
            keys.push(key(format!("{}:ip:{}", action.name(), ip_key(ip)), rule));
        }
        if let Some(rule) = per_address {
            for address in addresses {
                let name = format!("{}:address:{}", action.name(), address_key(address));
                if !keys.iter().any(|(k, _, _)| *k == name) {
                    keys.push(key(name, rule));
                }
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        let taken = self
            .db
            .take_rate(&mut keys, self.clock.now_ms())
            .await
            .map_err(|e| unavailable("counting a rate limit", &e))?;
        taken.map_err(|RateRefusal { wait_ms, spent }| {
            if spent.iter().any(|k| k == GLOBAL_KEY) {
                // Every client is refused such codes until the budget refills: whoever runs the
                // app must hear of it, as it is either an attack or a budget set too low.
                tracing::warn!(
                    budget = "RATE_LIMIT_SEND_GLOBAL",
                    wait_ms,
                    "the budget for codes sent by SMS, voice and WhatsApp is spent for everyone"
                );
            } else {
                tracing::info!(action = action.name(), wait_ms, "rate limit reached");
            }
            AppError::RateLimited {
                retry_after_secs: (wait_ms as u64).div_ceil(1000).max(1),
            }
        })
    }

    /// Counts one wrong try at a code that was never sent to `destination` (see
    /// `PendingOtp::no_code`): `true` while it is one of the first [`WRONG_TRIES_BEFORE_LOCK`],
    /// `false` once the code would be locked. Descope keeps one code per login id, the newest,
    /// whichever browser asked for it; so does this counter: one per destination, started afresh
    /// by every code asked for it ([`Limiter::new_code_for`]). One atomic step in the database
    /// per try, so concurrent tries are all counted, on every instance, as Descope counts a real
    /// code's. Not a limit that settings can turn off: it is how such a code behaves.
    pub async fn wrong_try(&self, destination: &str) -> Result<bool, AppError> {
        // A burst of the allowed tries, then one more every six hours: a locked code stays locked
        // for longer than it lives, until a new one is asked for.
        let interval = 6 * 3600 * 1000;
        let mut keys = vec![(
            wrong_try_key(destination),
            interval,
            interval * i64::from(WRONG_TRIES_BEFORE_LOCK),
        )];
        let taken = self
            .db
            .take_rate(&mut keys, self.clock.now_ms())
            .await
            .map_err(|e| unavailable("counting a wrong try", &e))?;
        Ok(taken.is_ok())
    }

    /// A new code was asked for `destination`: its wrong tries start again, as Descope's do.
    pub async fn new_code_for(&self, destination: &str) -> Result<(), AppError> {
        self.db
            .delete_rate(&wrong_try_key(destination))
            .await
            .map_err(|e| unavailable("resetting wrong tries", &e))
    }

    /// Forgets counters whose window has passed (they count the same as no counter). Run from
    /// the periodic clean-up; harmless on several instances at once.
    pub async fn delete_spent(&self) -> Result<u64, sqlx::Error> {
        self.db.delete_spent_rates(self.clock.now_ms()).await
    }
}

/// An address as the counters name it: a digest of its lowercase form, so that the rate-limit
/// table (and its backups) holds no one's email address or phone number.
fn address_key(address: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, address.to_lowercase().as_bytes());
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn wrong_try_key(destination: &str) -> String {
    format!("wrong-try:{}", address_key(destination))
}

/// Wrong tries a code takes before it locks: the fifth is "too many", as the emulator's codes do.
/// Descope's own number is not documented (UNCONFIRMED); this is the most plausible, and the
/// emulator's `max_attempts` default agrees.
pub const WRONG_TRIES_BEFORE_LOCK: u32 = 4;

/// The one counter of [`RateLimits::send_global`], shared by every client and instance.
const GLOBAL_KEY: &str = "send:global:billed";

/// Whether each code sent this way costs the app's owner money: SMS, voice and WhatsApp are
/// billed per message, email is not, so only those count against the global budget.
fn billed_per_message(method: DeliveryMethod) -> bool {
    match method {
        DeliveryMethod::Email => false,
        DeliveryMethod::Sms | DeliveryMethod::Voice | DeliveryMethod::Whatsapp => true,
    }
}

/// A key with its rule as the GCRA needs it: the interval between requests and the window
/// (the burst is `window / interval` = `count`), in milliseconds.
fn key(name: String, rule: RateRule) -> (String, i64, i64) {
    let window = i64::try_from(rule.per.as_millis()).unwrap_or(i64::MAX / 4);
    let interval = window / i64::from(rule.count.max(1));
    (name, interval, window)
}

/// IPv6 clients are keyed by their /64: one home or one cloud host gets a whole /64, and keying
/// by full address would let it rotate through 2^64 addresses.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A limiter on a fresh SQLite file, its clock frozen so that waits are exact.
    async fn limiter(rules: RateLimits) -> (Limiter, Clock, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        let db = Db::connect(&url, 8).await.expect("the database opens");
        let clock = Clock::frozen();
        (Limiter::new(rules, clock.clone(), db), clock, dir)
    }

    fn only_send_per_ip(count: u32, per_secs: u64) -> RateLimits {
        RateLimits {
            send_per_ip: Some(RateRule::new(count, per_secs)),
            ..RateLimits::off()
        }
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));
    const EMAIL: DeliveryMethod = DeliveryMethod::Email;

    /// A client address of its own for each `i`, none sharing a /64 or an IPv4 address.
    fn client(i: u16) -> Option<IpAddr> {
        Some(IpAddr::V6(std::net::Ipv6Addr::new(
            0x2001, 0xdb8, i, 0, 0, 0, 0, 1,
        )))
    }

    #[tokio::test]
    async fn the_global_budget_counts_sms_voice_and_whatsapp_from_every_client_but_not_email() {
        let rules = RateLimits {
            send_global: Some(RateRule::new(3, 3600)),
            ..RateLimits::default()
        };
        let (limiter, _, _dir) = limiter(rules).await;
        let billed = [
            DeliveryMethod::Sms,
            DeliveryMethod::Voice,
            DeliveryMethod::Whatsapp,
        ];
        // Three clients, three destinations, three methods: far inside every other limit.
        for (i, method) in (0..).zip(billed) {
            let phone = format!("+1415555010{i}");
            limiter
                .check(Action::Send(method), client(i), &[&phone])
                .await
                .expect("within the budget");
        }
        for (i, method) in (10..).zip(billed) {
            let phone = format!("+1415555011{i}");
            let refused = limiter
                .check(Action::Send(method), client(i), &[&phone])
                .await
                .expect_err("the budget is spent for every client and method");
            assert!(
                matches!(refused, AppError::RateLimited { retry_after_secs } if retry_after_secs > 0),
                "{refused:?}"
            );
        }
        for i in 20..30 {
            let email = format!("person{i}@example.com");
            limiter
                .check(Action::Send(EMAIL), client(i), &[&email])
                .await
                .expect("email is not counted against the budget");
        }
    }

    #[tokio::test]
    async fn a_request_refused_by_the_global_budget_costs_nothing_on_its_other_keys() {
        let rules = RateLimits {
            send_global: Some(RateRule::new(1, 3600)),
            send_per_ip: Some(RateRule::new(2, 3600)),
            send_per_address: Some(RateRule::new(1, 3600)),
            ..RateLimits::off()
        };
        let (limiter, _, _dir) = limiter(rules).await;
        let sms = Action::Send(DeliveryMethod::Sms);
        let other = client(1);
        limiter
            .check(sms, other, &["+14155550100"])
            .await
            .expect("spends the budget");
        assert!(
            limiter.check(sms, IP, &["+14155550101"]).await.is_err(),
            "the budget is spent"
        );
        // The refusal above took nothing from this client or that phone number.
        limiter
            .check(Action::Send(EMAIL), IP, &["+14155550101"])
            .await
            .expect("the number's one send and one of the client's two are left");
        assert!(
            limiter
                .check(Action::Send(EMAIL), IP, &["x@example.com"])
                .await
                .is_ok(),
            "the client's second send is left"
        );
    }

    #[tokio::test]
    async fn the_global_budget_can_be_turned_off() {
        let (limiter, _, _dir) = limiter(RateLimits {
            send_global: None,
            ..RateLimits::off()
        })
        .await;
        for i in 0..50 {
            limiter
                .check(Action::Send(DeliveryMethod::Sms), client(i), &[])
                .await
                .expect("no budget");
        }
    }

    #[tokio::test]
    async fn a_burst_is_allowed_then_one_more_per_interval() {
        let (limiter, clock, _dir) = limiter(only_send_per_ip(3, 60)).await;
        for _ in 0..3 {
            limiter
                .check(Action::Send(EMAIL), IP, &[])
                .await
                .expect("within the burst");
        }
        let refused = limiter
            .check(Action::Send(EMAIL), IP, &[])
            .await
            .expect_err("over");
        assert!(
            matches!(
                refused,
                AppError::RateLimited {
                    retry_after_secs: 20
                }
            ),
            "{refused:?}"
        );
        clock.advance(Duration::from_secs(10));
        assert!(
            limiter.check(Action::Send(EMAIL), IP, &[]).await.is_err(),
            "not yet"
        );
        clock.advance(Duration::from_secs(10));
        limiter
            .check(Action::Send(EMAIL), IP, &[])
            .await
            .expect("one refilled");
        assert!(
            limiter.check(Action::Send(EMAIL), IP, &[]).await.is_err(),
            "only one"
        );
    }

    #[tokio::test]
    async fn a_refused_request_costs_nothing_on_its_other_keys() {
        let rules = RateLimits {
            send_per_ip: Some(RateRule::new(2, 60)),
            send_per_address: Some(RateRule::new(1, 60)),
            ..RateLimits::off()
        };
        let (limiter, _, _dir) = limiter(rules).await;
        limiter
            .check(Action::Send(EMAIL), IP, &["a@example.com"])
            .await
            .expect("first");
        // The address is spent; the IP's second request must not be used up by this refusal.
        assert!(
            limiter
                .check(Action::Send(EMAIL), IP, &["A@example.com"])
                .await
                .is_err()
        );
        limiter
            .check(Action::Send(EMAIL), IP, &["b@example.com"])
            .await
            .expect("IP still has one");
    }

    #[tokio::test]
    async fn actions_and_clients_are_counted_apart() {
        let (limiter, _, _dir) = limiter(RateLimits {
            verify_per_ip: Some(RateRule::new(1, 60)),
            ..only_send_per_ip(1, 60)
        })
        .await;
        limiter
            .check(Action::Send(EMAIL), IP, &[])
            .await
            .expect("send");
        limiter
            .check(Action::Verify, IP, &[])
            .await
            .expect("verify is another limit");
        let other: IpAddr = "198.51.100.1".parse().expect("literal");
        limiter
            .check(Action::Send(EMAIL), Some(other), &[])
            .await
            .expect("another client");
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("literal");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("literal");
        assert_eq!(ip_key(a), ip_key(b));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().expect("literal");
        assert_eq!(ip_key(mapped), "203.0.113.7");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_never_exceed_the_burst() {
        let (limiter, _, _dir) = limiter(only_send_per_ip(25, 3600)).await;
        let limiter = std::sync::Arc::new(limiter);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let limiter = std::sync::Arc::clone(&limiter);
            tasks.spawn(async move { limiter.check(Action::Send(EMAIL), IP, &[]).await.is_ok() });
        }
        let mut allowed = 0;
        while let Some(ok) = tasks.join_next().await {
            allowed += usize::from(ok.expect("no panic"));
        }
        assert_eq!(allowed, 25);
    }

    #[tokio::test]
    async fn spent_counters_are_deleted_and_deleting_twice_is_harmless() {
        let (limiter, clock, _dir) = limiter(only_send_per_ip(1, 60)).await;
        limiter
            .check(Action::Send(EMAIL), IP, &[])
            .await
            .expect("first");
        assert_eq!(
            limiter.delete_spent().await.expect("delete"),
            0,
            "still counting"
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(limiter.delete_spent().await.expect("delete"), 1);
        assert_eq!(limiter.delete_spent().await.expect("again"), 0);
        limiter
            .check(Action::Send(EMAIL), IP, &[])
            .await
            .expect("a fresh window");
    }
}
