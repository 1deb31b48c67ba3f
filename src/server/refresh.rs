//! One Descope refresh at a time per refresh token, within an instance.
//!
//! When a session JWT expires, every request of that browser that arrives before the refreshed
//! one is stored finds it expired: a page and its assets, several tabs, a burst of clicks. Each
//! refreshing on its own would be ten calls to Descope for one session, and with refresh-token
//! rotation on, all but the first would be refused and sign the person out. So the first request
//! makes the call and the others wait for its answer and share it ([`Refreshes::run`]).
//!
//! A success is kept for [`REUSE_FOR_MS`] after the call began (on the app's clock), for requests
//! that read the session row before the first one stored its new tokens but reach this point
//! after the call ended. A failure is shared with the requests that waited for it and then
//! forgotten, so the next request tries again.
//!
//! The flights are keyed by a SHA-256 of the refresh token: the map holds no token. Across
//! instances there is no shared flight; the gate settles that race from the stored row instead
//! (`server::gate`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::descope::{AuthResponse, SessionClaims};
use crate::error::AppError;

/// How long a successful refresh is handed to later requests with the same refresh token, in ms
/// of the app's clock.
pub const REUSE_FOR_MS: i64 = 30_000;

/// A refresh Descope answered, with the claims of its new session JWT, already validated.
pub struct Refreshed {
    pub response: AuthResponse,
    pub claims: SessionClaims,
}

/// Why a refresh did not give a session.
#[derive(Clone, Debug)]
pub enum RefreshFailure {
    /// Descope refused the refresh token (expired, revoked, or spent by a rotation).
    Refused,
    /// Anything else (Descope unreachable, a 5xx, a 429, keys unavailable): the person stays
    /// signed in and is told to retry.
    Failed(AppError),
}

pub type Outcome = Result<Arc<Refreshed>, RefreshFailure>;

struct Flight {
    outcome: Arc<OnceCell<Outcome>>,
    started_ms: i64,
}

/// The refreshes in flight, and the recent successful ones.
pub struct Refreshes {
    flights: Mutex<HashMap<[u8; 32], Flight>>,
    clock: Clock,
}

impl Refreshes {
    pub fn new(clock: Clock) -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The outcome of refreshing with `refresh_jwt`: `refresh` runs once for all the requests
    /// that ask at the same time. If the request running it is dropped (its client went away),
    /// one of the waiting requests runs it instead.
    pub async fn run<F, Fut>(&self, refresh_jwt: &str, refresh: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let key = key(refresh_jwt);
        let outcome = {
            let now_ms = self.clock.now_ms();
            let mut flights = self.lock();
            // Forget what is too old to reuse; a flight still running is held by its waiters.
            flights.retain(|_, f| (0..REUSE_FOR_MS).contains(&(now_ms - f.started_ms)));
            Arc::clone(
                &flights
                    .entry(key)
                    .or_insert_with(|| Flight {
                        outcome: Arc::new(OnceCell::new()),
                        started_ms: now_ms,
                    })
                    .outcome,
            )
        };
        let result = outcome.get_or_init(refresh).await.clone();
        if result.is_err() {
            let mut flights = self.lock();
            if flights
                .get(&key)
                .is_some_and(|f| Arc::ptr_eq(&f.outcome, &outcome))
            {
                flights.remove(&key);
            }
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Flight>> {
        // Nothing panics while holding the lock; if something did, the map is still usable.
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many flights are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn key(refresh_jwt: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, refresh_jwt.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn refreshed() -> Outcome {
        Ok(Arc::new(Refreshed {
            response: AuthResponse {
                session_jwt: "new".into(),
                refresh_jwt: None,
                cookie_max_age: None,
                cookie_expiration: None,
                user: None,
                first_seen: false,
            },
            claims: SessionClaims::default(),
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_share_one_call() {
        let refreshes = Arc::new(Refreshes::new(Clock::frozen()));
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (refreshes, calls, gate) = (refreshes.clone(), calls.clone(), gate.clone());
            tasks.spawn(async move {
                gate.wait().await;
                refreshes
                    .run("token", || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        refreshed()
                    })
                    .await
                    .is_ok()
            });
        }
        while let Some(ok) = tasks.join_next().await {
            assert!(ok.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_success_is_reused_for_a_while_and_a_failure_is_not() {
        let clock = Clock::frozen();
        let refreshes = Refreshes::new(clock.clone());
        let calls = AtomicUsize::new(0);
        let count = || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { refreshed() }
        };
        refreshes.run("a", count).await.unwrap();
        refreshes.run("a", count).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "reused");
        clock.advance(Duration::from_millis(REUSE_FOR_MS as u64));
        refreshes.run("a", count).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "too old to reuse");

        let failing = || async { Err(RefreshFailure::Refused) };
        assert!(refreshes.run("b", failing).await.is_err());
        refreshes.run("b", count).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a failure is tried again");
        assert_eq!(refreshes.len(), 2, "a and b, no token kept");
    }

    #[tokio::test]
    async fn a_dropped_caller_hands_the_call_to_a_waiting_one() {
        let refreshes = Arc::new(Refreshes::new(Clock::frozen()));
        let (started, running) = tokio::sync::oneshot::channel();
        let first = {
            let refreshes = refreshes.clone();
            tokio::spawn(async move {
                refreshes
                    .run("t", || async move {
                        let _ = started.send(());
                        std::future::pending::<Outcome>().await
                    })
                    .await
                    .is_ok()
            })
        };
        running.await.unwrap();
        let second = {
            let refreshes = refreshes.clone();
            tokio::spawn(async move { refreshes.run("t", || async { refreshed() }).await.is_ok() })
        };
        // On this one-thread runtime the yield runs the second caller until it waits on the
        // first's call: only then is the first dropped, so the hand-over is what is tested.
        tokio::task::yield_now().await;
        first.abort();
        let handed_over = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the waiting caller ran the call");
        assert!(handed_over.unwrap());
    }
}
