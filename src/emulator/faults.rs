//! Fault injection and key rotation, for tests of how a client copes when Descope misbehaves or
//! changes its keys: answer some calls with an error, late, or not at all; sign with a new key.
//! Off unless the emulator was started with `allow_faults` (`--allow-faults`); the endpoints
//! then answer 404, and no request is ever touched.
//!
//! - `POST /emulator/faults` `{"path", "status"?, "errorCode"?, "times"?, "delayMs"?, "answerDelayMs"?}` adds a
//!   fault: the next `times` calls whose path starts with `path` wait `delayMs`, then answer
//!   `status` with a Descope-shaped error body (`"status": 0` drops the connection instead; no
//!   status answers normally, only late). `times` absent: until cleared. `"answerDelayMs"` holds
//!   the answer instead: the call is handled at once (a code is sent, a token refreshed) and its
//!   answer leaves that much later, as when the way back is slow.
//! - `GET /emulator/faults` lists the active faults; `DELETE /emulator/faults` clears them.
//!
//! This file holds the faults themselves; the endpoints, and the middleware that lets a fault take
//! a call, are in `handlers/dev.rs`. Faults never apply to `/emulator/...` itself, so a fault can
//! always be cleared. The first matching fault, in the order they were added, takes the call.
//!
//! - `POST /emulator/keys/rotate` `{"retireOld"?: bool}`: a new signing key with a new `kid`
//!   signs from now on. The JWKS publishes it first, and the keys it replaced unless
//!   `retireOld` (then tokens they signed no longer verify here either). A file database keeps
//!   them all for the next start: the signing key and the replaced keys still published.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, codes};

/// The longest delay a fault may ask for: longer than every SDK's usual timeout, short enough
/// that a forgotten fault cannot hold a test run for long.
const MAX_DELAY_MS: u64 = 120_000;

/// One active fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Matches every call whose path starts with this.
    pub path: String,
    /// `None`: answer normally (after the delay); `Some(0)`: drop the connection; else the
    /// status of the error answer.
    pub status: Option<u16>,
    pub error_code: String,
    /// Calls it still takes; `None` until cleared.
    pub remaining: Option<u32>,
    pub delay_ms: u64,
    /// How long the answer of a call handled normally is held before it leaves.
    pub answer_delay_ms: u64,
}

/// The active faults, in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<Vec<Fault>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Vec<Fault>> {
        // Nothing panics while holding the lock; if something did, the list is still usable.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn add(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fault that takes a call to `path`, if any, counting the call against it (a fault
    /// whose calls are used up goes).
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut active = self.lock();
        let index = active.iter().position(|f| path.starts_with(&f.path))?;
        let fault = active[index].clone();
        match &mut active[index].remaining {
            Some(1) => {
                active.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultBody {
    path: Option<String>,
    status: Option<u16>,
    error_code: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    answer_delay_ms: Option<u64>,
}

impl FaultBody {
    pub(in crate::emulator) fn into_fault(self) -> ApiResult<Fault> {
        let path = self.path.unwrap_or_default();
        if !path.starts_with('/') {
            return Err(ApiError::invalid_argument(
                "The path argument is invalid: a path such as /v1/auth/refresh",
            ));
        }
        if path.starts_with("/emulator/") {
            return Err(ApiError::invalid_argument(
                "The path argument is invalid: faults never apply to /emulator/ itself",
            ));
        }
        if let Some(status) = self.status
            && status != 0
            && !(100..=599).contains(&status)
        {
            return Err(ApiError::invalid_argument(
                "The status argument is invalid: 0 (drop the connection) or 100 to 599",
            ));
        }
        if self.times == Some(0) {
            return Err(ApiError::invalid_argument(
                "The times argument is invalid: at least 1, or leave it out for until cleared",
            ));
        }
        let delay_ms = self.delay_ms.unwrap_or(0);
        if delay_ms > MAX_DELAY_MS {
            return Err(ApiError::invalid_argument(format!(
                "The delayMs argument is invalid: at most {MAX_DELAY_MS}"
            )));
        }
        let answer_delay_ms = self.answer_delay_ms.unwrap_or(0);
        if answer_delay_ms > MAX_DELAY_MS {
            return Err(ApiError::invalid_argument(format!(
                "The answerDelayMs argument is invalid: at most {MAX_DELAY_MS}"
            )));
        }
        if answer_delay_ms > 0 && self.status.is_some() {
            return Err(ApiError::invalid_argument(
                "The answerDelayMs argument is invalid: it holds a normal answer, so it takes no status",
            ));
        }
        let default_code = match self.status {
            Some(s) if s >= 500 => codes::INTERNAL,
            _ => codes::BAD_REQUEST,
        };
        Ok(Fault {
            path,
            status: self.status,
            error_code: self
                .error_code
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| default_code.to_string()),
            remaining: self.times,
            delay_ms,
            answer_delay_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: &str, remaining: Option<u32>) -> Fault {
        Fault {
            path: path.into(),
            status: Some(503),
            error_code: "E000000".into(),
            remaining,
            delay_ms: 0,
            answer_delay_ms: 0,
        }
    }

    #[test]
    fn a_fault_takes_the_calls_it_was_given_and_then_goes() {
        let faults = Faults::default();
        faults.add(fault("/v1/auth/refresh", Some(2)));
        assert!(faults.take("/v1/auth/me").is_none());
        assert_eq!(
            faults.take("/v1/auth/refresh").map(|f| f.remaining),
            Some(Some(2))
        );
        assert_eq!(
            faults.take("/v1/auth/refresh").map(|f| f.remaining),
            Some(Some(1))
        );
        assert!(faults.take("/v1/auth/refresh").is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_fault_without_times_stays_until_cleared_and_matches_by_prefix() {
        let faults = Faults::default();
        faults.add(fault("/v1/auth/otp/", None));
        for _ in 0..3 {
            assert!(faults.take("/v1/auth/otp/verify/email").is_some());
        }
        faults.clear();
        assert!(faults.take("/v1/auth/otp/verify/email").is_none());
    }
}
