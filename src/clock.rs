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
}

impl Clock {
    /// The real time, unshifted.
    pub fn system() -> Self {
        Self::default()
    }

    /// Seconds since the Unix epoch, as JWT `iat`/`exp` claims count them.
    pub fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            // A clock set before 1970 is a broken machine; treat it as the epoch rather than panic.
            .unwrap_or(0);
        wall + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Milliseconds since the Unix epoch, for ordering events within one second.
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
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
}
