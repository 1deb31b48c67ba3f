//! The one source of "now" on the server side.
//!
//! Code expiry, lock-outs and token lifetimes (in the emulator) and token expiry checks (in the
//! app) all read a [`Clock`] handed to them, never the wall clock directly, so that tests can move
//! time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an offset that tests (and only tests or explicit dev tooling) move.
///
/// Cloning shares the offset, so a test that holds one handle moves time for every component
/// that was given a clone.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
    /// For a clock that stands still: the wall time it was stopped at, in milliseconds.
    frozen_at_ms: Option<i64>,
}

impl Clock {
    /// The real time, unshifted.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock stopped at the current time: only [`Clock::advance`] and [`Clock::rewind`] move
    /// it. For tests that step to just inside a limit ("299 s of a 300 s code"), where the wall
    /// clock crossing a second boundary in between would otherwise decide the outcome.
    pub fn frozen() -> Self {
        Self {
            offset_secs: Arc::default(),
            frozen_at_ms: Some(wall_ms()),
        }
    }

    /// Seconds since the Unix epoch, as JWT `iat`/`exp` claims count them.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Milliseconds since the Unix epoch, for ordering events within one second.
    pub fn now_ms(&self) -> i64 {
        let wall = self.frozen_at_ms.unwrap_or_else(wall_ms);
        wall + self.offset_secs.load(Ordering::Relaxed) * 1000
    }

    /// Moves this clock, and every clone of it, forward.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.as_secs() as i64, Ordering::Relaxed);
    }

    /// Moves this clock, and every clone of it, backward (to issue tokens that are already old).
    pub fn rewind(&self, by: Duration) {
        self.offset_secs
            .fetch_sub(by.as_secs() as i64, Ordering::Relaxed);
    }
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        // A clock set before 1970 is a broken machine; treat it as the epoch rather than panic.
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_every_handle() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = clock.now();
        other.advance(Duration::from_secs(3600));
        assert!(clock.now() >= before + 3600);
        clock.rewind(Duration::from_secs(3600));
        assert!(other.now() < before + 3600);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced_and_every_clone_with_it() {
        let clock = Clock::frozen();
        let other = clock.clone();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        other.advance(Duration::from_secs(299));
        assert_eq!(clock.now(), start + 299);
        assert_eq!(clock.now_ms().div_euclid(1000), start + 299);
    }
}
