//! Every journey over real HTTP, through the real router: the app and its embedded emulator on
//! port 0, a database each (a temporary SQLite file, or a fresh PostgreSQL database), and a
//! cookie-keeping client that behaves like a browser with JavaScript off (forms post with
//! `Accept: text/html`; redirects are inspected, not followed).
//!
//! One test binary (one link) with a module per concern:
//! - each journey on its own, by feature: `sign_up_and_in` (sign-up, sign-in, sign-up-or-in,
//!   their options, step-up and MFA), `codes` (wrong, expired and resent codes, the verify page),
//!   `gate_and_sessions` (the gate, `next=`, refresh, the cookie, sign-out, the header, the
//!   details kept in the session), `profile_updates` (a new email or phone, the step-up first),
//!   `pages_and_emulator` (the 404 page, server functions answering JSON, the emulator's faults
//!   and fixed codes through the app);
//! - `concurrency`: shared state (the gate, sessions, caches) under concurrent requests on a
//!   multi-threaded runtime, where one person's request must never see another's;
//! - `security`: the defences a fork ships with (cross-site check, rate limits, no account
//!   enumeration, headers, unforgeable errors, bounded input);
//! - `side_doors`: enumeration and lockout from the side (profile changes, step-up and MFA,
//!   concurrent wrong codes, timing with Descope slow, a second contact, template options);
//! - `races`: requests of one cookie racing (a sign-out while others refresh, many refreshes at
//!   once);
//! - `production`: the real binary in production mode (and in development mode, for its logs),
//!   and what its logs may not contain;
//! - `instances`: two instances on one database serving one person, starting and cleaning up
//!   at the same moment, and refreshing one rotating token at once;
//! - `health`: the `/healthz` and `/readyz` probes;
//! - `faults`: Descope or the database failing, Descope rotating its keys, and sign-in surviving it;
//! - `slow_clients`: a trickled head or body, or an idle kept-alive connection, cut off in seconds;
//! - `postgres_tls`: the app's PostgreSQL connections encrypted with `sslmode=require`;
//! - `writes`: what a request writes (a gated view that changes nothing: nothing);
//! - `session_rows`: the session store's rows: the mark read with the row, the seal, rows written
//!   before either;
//! - `load`: two hundred concurrent sign-up journeys (ignored: run on purpose, see the file);
//! - `benchmark`: the gate, the JWKS cache, and `/` and `/profile` under load, each against a
//!   baseline (ignored: run on purpose, see the file).
//!
//! The database is SQLite unless `TEST_DATABASE=postgres` (see `support`): `.ci/test` runs the
//! suite on SQLite, then again on PostgreSQL when one listens at `TEST_POSTGRES_URL`.

mod benchmark;
mod codes;
mod concurrency;
mod faults;
mod gate_and_sessions;
mod health;
mod instances;
mod load;
mod pages_and_emulator;
mod postgres_tls;
mod production;
mod profile_updates;
mod races;
mod security;
mod session_rows;
mod side_doors;
mod sign_up_and_in;
mod slow_clients;
mod support;
mod writes;
