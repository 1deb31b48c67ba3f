//! What every handler shares: settings, clock, store, signing key, codes, outbox.

use std::sync::Arc;

use tokio::sync::{Mutex, watch};

use super::EmulatorConfig;
use super::faults::Faults;
use super::keys::KeyRing;
use super::otp::{PendingCodes, RateLimiter};
use super::outbox::Outbox;
use super::store::Store;
use crate::clock::Clock;

/// The emulator's state as every handler receives it (`State<SharedState>`).
pub type SharedState = Arc<EmulatorState>;

/// Everything one running emulator holds. Not to be confused with the app's state
/// (`crate::server::state::AppState`): the app reaches the emulator over HTTP only, like any
/// Descope client.
pub struct EmulatorState {
    pub config: EmulatorConfig,
    pub clock: Clock,
    pub store: Store,
    /// The signing key, and the earlier ones still published after a rotation.
    pub keys: KeyRing,
    /// Held across a key rotation, so that the stored keys and the published ones change
    /// together when two rotations meet.
    pub rotation: Mutex<()>,
    /// `iss` of every token: `<base_url>/<projectId>` (the base URL is `http://HOST:PORT`, no
    /// trailing slash). Node requires the project id as the last
    /// path segment; Python and Go derive the project id from it.
    pub issuer: String,
    /// Codes and rate windows. An async mutex held across a whole OTP operation (including its
    /// store calls) so check-then-act sequences, like "user exists? then send", are atomic.
    pub auth: Mutex<AuthState>,
    pub outbox: Outbox,
    /// Active injected faults (only ever non-empty with `allow_faults`).
    pub faults: Faults,
    /// Flips to true when the server stops, releasing long polls early.
    pub shutting_down: watch::Receiver<bool>,
}

#[derive(Debug, Default)]
pub struct AuthState {
    pub codes: PendingCodes,
    pub rate: RateLimiter,
}

impl EmulatorState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
