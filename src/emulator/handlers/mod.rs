//! Descope's API as the emulator answers it: one file per route group, holding its endpoints and
//! what only they use. The route table itself, which names every endpoint, is `routes.rs`.
//!
//! - `sign_in.rs`: `POST /v1/auth/otp/{signup,signin,signup-in,verify}/{method}`, the calls that
//!   send a code and the verify that turns it into a session (and, for a sign-up, a user)
//! - `updates.rs`: `POST /v1/auth/otp/update/email` and `.../update/phone/{method}`, a signed-in
//!   user's new address, applied when its code is verified (merging two users if asked to)
//! - `session.rs`: refresh, logout, logout-all, `me` (with its history and tenants) and the
//!   public keys (`/v2/keys/{projectId}`, `/v1/keys/{projectId}`)
//! - `mgmt.rs`: `/v1/mgmt/...`, the management API tests use (test users, generated codes)
//! - `extract.rs`: what a request carries, read and checked: the lenient JSON body, every request
//!   body, the `Authorization: Bearer` value, the `{method}` path segment, the login id
//! - `shared.rs`: what several groups do: send a code (`Delivery`), pick the address an existing
//!   user's code goes to, the message cap's test-user exemption, the masked-address answer
//!
//! - `dev.rs`: the emulator's own endpoints (`/emulator/...`, `/outbox`): the outbox, fault
//!   injection, key rotation and the clock
//!
//! Handlers use the emulator's state and data (`state.rs`, `store.rs`, `outbox.rs`, `faults.rs`,
//! `tokens.rs`); none of those uses a handler.

pub(super) mod dev;
pub(super) mod extract;
pub(super) mod mgmt;
pub(super) mod session;
mod shared;
pub(super) mod sign_in;
pub(super) mod updates;
