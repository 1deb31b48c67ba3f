//! The app's own rate limits, checked before any Descope call, so that a fork is no open relay
//! for codes (the "SMS pumping" fraud bills the owner for every message a script makes it send).
//!
//! Each limit is a GCRA ("generic cell rate algorithm") row per key: one timestamp, the
//! theoretical arrival time of the next request. A rule of `count` per `per` allows a burst of
//! `count` and then one more every `per / count`. One row per key makes the counters easy to keep
//! in a shared database when the app runs as several instances: the whole interface is
//! [`Limiter::check`], and the in-process map behind it is the single-instance backend.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::AppError;
use crate::server::settings::{RateLimits, RateRule};

/// What a request is about to do, and so which limits apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask Descope to send a code (sign-up, sign-in, resend, update, step-up).
    Send,
    /// Check a code with Descope.
    Verify,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Verify => "verify",
        }
    }
}

/// Past this many keys, keys whose window has fully passed are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct Limiter {
    rules: RateLimits,
    clock: Clock,
    /// Key → theoretical arrival time of the next request, in milliseconds since the epoch.
    next_at_ms: Mutex<HashMap<String, i64>>,
}

impl Limiter {
    pub fn new(rules: RateLimits, clock: Clock) -> Self {
        Self {
            rules,
            clock,
            next_at_ms: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one `action` by `client` for `addresses` (login ids and destinations), or refuses it
    /// with the wait. Every limit involved is checked before any is counted, so a refused request
    /// costs nothing. Asynchronous so that a shared-database backend fits the same call.
    pub async fn check(
        &self,
        action: Action,
        client: Option<IpAddr>,
        addresses: &[&str],
    ) -> Result<(), AppError> {
        let (per_ip, per_address) = match action {
            Action::Send => (self.rules.send_per_ip, self.rules.send_per_address),
            Action::Verify => (self.rules.verify_per_ip, self.rules.verify_per_address),
        };
        let mut keys: Vec<(String, RateRule)> = Vec::with_capacity(1 + addresses.len());
        if let (Some(rule), Some(ip)) = (per_ip, client) {
            keys.push((format!("{}:ip:{}", action.name(), ip_key(ip)), rule));
        }
        if let Some(rule) = per_address {
            for address in addresses {
                let key = format!("{}:address:{}", action.name(), address.to_lowercase());
                if !keys.iter().any(|(k, _)| *k == key) {
                    keys.push((key, rule));
                }
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut table = self
            .next_at_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut updates = Vec::with_capacity(keys.len());
        let mut wait_ms = 0i64;
        for (key, rule) in keys {
            match gcra(table.get(&key).copied(), now, rule) {
                Ok(next) => updates.push((key, next)),
                Err(wait) => wait_ms = wait_ms.max(wait),
            }
        }
        if wait_ms > 0 {
            tracing::info!(action = action.name(), wait_ms, "rate limit reached");
            return Err(AppError::RateLimited {
                retry_after_secs: (wait_ms as u64).div_ceil(1000).max(1),
            });
        }
        if table.len() > PRUNE_ABOVE {
            table.retain(|_, next| *next > now);
        }
        table.extend(updates);
        Ok(())
    }
}

/// One GCRA step: the key's new theoretical arrival time if the request is allowed, else the
/// milliseconds until it would be.
fn gcra(stored: Option<i64>, now: i64, rule: RateRule) -> Result<i64, i64> {
    let window = i64::try_from(rule.per.as_millis()).unwrap_or(i64::MAX);
    let interval = window / i64::from(rule.count.max(1));
    let next = stored.unwrap_or(now).max(now).saturating_add(interval);
    let over = next.saturating_sub(now).saturating_sub(window);
    if over > 0 { Err(over) } else { Ok(next) }
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

/// The wait a limit imposed, for the `Retry-After` header.
pub fn retry_after(error: &AppError) -> Option<Duration> {
    match error {
        AppError::RateLimited { retry_after_secs } => Some(Duration::from_secs(*retry_after_secs)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rules: RateLimits) -> (Limiter, Clock) {
        let clock = Clock::system();
        (Limiter::new(rules, clock.clone()), clock)
    }

    fn only_send_per_ip(count: u32, per_secs: u64) -> RateLimits {
        RateLimits {
            send_per_ip: Some(RateRule::new(count, per_secs)),
            ..RateLimits::off()
        }
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));

    #[tokio::test]
    async fn a_burst_is_allowed_then_one_more_per_interval() {
        let (limiter, clock) = limiter(only_send_per_ip(3, 60));
        for _ in 0..3 {
            limiter
                .check(Action::Send, IP, &[])
                .await
                .expect("within the burst");
        }
        let refused = limiter
            .check(Action::Send, IP, &[])
            .await
            .expect_err("over");
        // 20 s, less the wall-clock time this test has taken so far.
        assert!(
            matches!(
                refused,
                AppError::RateLimited {
                    retry_after_secs: 15..=20
                }
            ),
            "{refused:?}"
        );
        clock.advance(Duration::from_secs(10));
        assert!(
            limiter.check(Action::Send, IP, &[]).await.is_err(),
            "not yet"
        );
        clock.advance(Duration::from_secs(10));
        limiter
            .check(Action::Send, IP, &[])
            .await
            .expect("one refilled");
        assert!(
            limiter.check(Action::Send, IP, &[]).await.is_err(),
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
        let (limiter, _) = limiter(rules);
        limiter
            .check(Action::Send, IP, &["a@example.com"])
            .await
            .expect("first");
        // The address is spent; the IP's second request must not be used up by this refusal.
        assert!(
            limiter
                .check(Action::Send, IP, &["A@example.com"])
                .await
                .is_err()
        );
        limiter
            .check(Action::Send, IP, &["b@example.com"])
            .await
            .expect("IP still has one");
    }

    #[tokio::test]
    async fn actions_and_clients_are_counted_apart() {
        let (limiter, _) = limiter(RateLimits {
            verify_per_ip: Some(RateRule::new(1, 60)),
            ..only_send_per_ip(1, 60)
        });
        limiter.check(Action::Send, IP, &[]).await.expect("send");
        limiter
            .check(Action::Verify, IP, &[])
            .await
            .expect("verify is another limit");
        let other: IpAddr = "198.51.100.1".parse().expect("literal");
        limiter
            .check(Action::Send, Some(other), &[])
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
        let (limiter, _) = limiter(only_send_per_ip(25, 3600));
        let limiter = std::sync::Arc::new(limiter);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let limiter = std::sync::Arc::clone(&limiter);
            tasks.spawn(async move { limiter.check(Action::Send, IP, &[]).await.is_ok() });
        }
        let mut allowed = 0;
        while let Some(ok) = tasks.join_next().await {
            allowed += usize::from(ok.expect("no panic"));
        }
        assert_eq!(allowed, 25);
    }
}
